"""red.respaldo.run_backup: one commit per run, a failing device is its own error, events,
the notifier told once; red.historial over the resulting repository."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pukara.config import Settings
from pukara.errors import UsageError
from pukara.store import SQLiteStore
from red import historial
from red.equipos import NetDevice
from red.repositorio import ConfigRepo, default_path
from red.respaldo import fetch, key_path, run_backup

VERSION = "FRRouting 8.4.4 (gw) on Linux.\nbgpd uptime is {n}d"
CONFIG = "Building configuration...\n!\nhostname {name}\npassword {secret}\n!\nend\n"


def _device(name: str, site: str, address: str = "127.0.0.2") -> NetDevice:
    return NetDevice(name, site, "embajada", "router", address, "frr", "prueba", {})


class FakeRouters:
    """Device outputs kept here; the real fetch (a real, refused SSH) for unknown ones."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.calls = 0

    def __call__(self, device: NetDevice, profile: Any, **kw: Any) -> str:
        self.calls += 1
        if device.name not in self.secrets:
            return fetch(device, profile, **kw)
        from red.limpieza import stored_text

        running = CONFIG.format(name=device.name, secret=self.secrets[device.name])
        return stored_text(device.name, "frr", VERSION.format(n=self.calls), running, kw["key"])


@pytest.fixture
def creds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "llave"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    path = tmp_path / "credenciales.toml"
    path.write_text(f'[prueba]\nusername = "red"\nkey_file = "{key}"\n')
    path.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(path))


def test_runs_commit_once_then_only_changes(
    settings: Settings, store: SQLiteStore, creds: None, tmp_path: Path
) -> None:
    notices = tmp_path / "avisos.jsonl"
    settings = dataclasses.replace(settings, alert_command=f"sh -c 'cat >> {notices}'")
    routers = FakeRouters()
    routers.secrets = {"gw-a": "s3creto-a", "gw-b": "s3creto-b"}
    devices = [_device("gw-a", "a"), _device("gw-b", "b"), _device("gw-x", "x")]
    first = run_backup(store, settings, devices, fetcher=routers, timeout_s=2)
    assert first.commit and [d.status for d in first.devices] == ["changed", "changed", "error"]
    assert "SSH" in (first.failed[0].reason or "")
    for _ in range(9):
        again = run_backup(store, settings, devices, fetcher=routers, timeout_s=2)
        assert again.commit is None and not again.changed and len(again.failed) == 1
    repo = ConfigRepo(default_path(settings.data_dir))
    assert len(repo.log()) == 1
    routers.secrets["gw-b"] = "otro-secreto"
    third = run_backup(store, settings, devices, fetcher=routers, timeout_s=2)
    assert [d.device for d in third.changed] == ["gw-b"]
    log = repo.log()
    assert len(log) == 2 and log[0].message.startswith("Respaldo: gw-b\n")
    assert "Sin respaldo en esta corrida:\n  gw-x" in log[0].message
    # no secret anywhere; the key is outside the repository
    dump = subprocess.run(["grep", "-r", "-a", "-c", "s3creto", str(repo.path)],
                          capture_output=True, text=True)  # fmt: skip
    assert dump.stdout.strip().endswith(":0") or dump.returncode == 1
    assert key_path(settings.data_dir).parent != repo.path and key_path(settings.data_dir).exists()
    # events: one per device per run, with outcome and commit
    events = list(store.search_events(dataset="red.respaldo"))
    assert len(events) == 33
    changed = [e for e in events if e["red"]["respaldo"]["changed"]]
    assert [e["host"]["name"] for e in changed] == ["gw-a", "gw-b", "gw-b"]
    assert changed[-1]["red"]["respaldo"]["commit"] == third.commit
    assert {e["event"]["outcome"] for e in events if e["host"]["name"] == "gw-x"} == {"failure"}
    # the notifier was told twice (two runs changed something), with the changed devices
    told = [json.loads(line) for line in notices.read_text().splitlines()]
    assert [t["red"]["respaldo"]["devices"] for t in told] == [["gw-a", "gw-b"], ["gw-b"]]
    # history, diff and search over what was stored
    b = devices[1]
    assert [r.commit for r in historial.history(repo, b)] == [third.commit, first.commit]
    assert historial.history(repo, devices[0])[0].commit == first.commit
    diff = historial.diff(repo, b)
    assert diff.count("\n-password <secreto:hmac-sha256:") == 1
    assert diff.count("\n+password <secreto:hmac-sha256:") == 1 and "uptime" not in diff
    assert historial.diff(repo, b, third.commit) == ""
    early = historial.diff(repo, b, log[0].when.replace(year=2000, month=1, day=1))
    assert f"{b.path} (vacío)" in early  # no backup in force then: the diff starts from empty
    later = log[0].when.replace(year=log[0].when.year + 1)
    assert historial.diff(repo, b, later) == ""  # the backup in force then is the latest
    with pytest.raises(UsageError, match="«nada»"):
        historial.diff(repo, b, "nada")
    with pytest.raises(UsageError, match="aún no tiene respaldos"):
        historial.diff(repo, devices[2])
    hits = historial.search(repo, r"^hostname", context=1)
    assert [(m.path, m.line, m.context) for m in hits if not m.context] == [
        ("a/gw-a.cfg", 4, False), ("b/gw-b.cfg", 4, False)]  # fmt: skip
    assert len(hits) == 6
    with pytest.raises(UsageError, match=r"expresión regular inválida «\[a»"):
        historial.search(repo, "[a")


@pytest.mark.parametrize(
    ("site", "name"), [("", "gw-sin-sede"), ("../fuera", "gw-x"), ("a/b", "gw-x"),
                       ("con espacio", "gw-x"), ("a", "../gw-x"), ("a", "")],
)  # fmt: skip
def test_unsafe_site_or_name_is_that_devices_error(
    settings: Settings, store: SQLiteStore, creds: None, site: str, name: str
) -> None:
    routers = FakeRouters()
    routers.secrets = {"gw-a": "s3creto-a", name: "s3creto-x"}
    bad = _device(name, site)
    assert bad.path_problem is not None and _device("gw-a", "a").path_problem is None
    run = run_backup(store, settings, [_device("gw-a", "a"), bad], fetcher=routers, timeout_s=2)
    assert routers.calls == 1  # the unsafe one was never fetched
    assert run.commit is not None and [d.device for d in run.changed] == ["gw-a"]
    (failed,) = run.failed
    assert failed.device == name
    assert "vacío en el inventario" in (failed.reason or "") or "ruta" in (failed.reason or "")
    assert sorted(ConfigRepo(default_path(settings.data_dir)).latest()) == ["a/gw-a.cfg"]


def test_second_run_at_once_is_refused_and_nothing_changed_is_not_announced(
    settings: Settings,
    store: SQLiteStore,
    creds: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from red.respaldo import BackupBusy, run_lock

    notices = tmp_path / "avisos.jsonl"
    settings = dataclasses.replace(settings, alert_command=f"sh -c 'cat >> {notices}'")
    routers = FakeRouters()
    routers.secrets = {"gw-a": "s3creto-a"}
    devices = [_device("gw-a", "a")]
    # another run holds the lock (a real flock)
    with run_lock(settings.data_dir), pytest.raises(BackupBusy, match="otro respaldo en curso"):
        run_backup(store, settings, devices, fetcher=routers, timeout_s=2)
    assert routers.calls == 0
    # a run that fetched before another committed the same text: no change, no notice
    repo = ConfigRepo(default_path(settings.data_dir))

    original = ConfigRepo.changed_paths

    def racing(self: ConfigRepo, files: Any) -> list[str]:
        found = original(self, files)
        # another writer commits the very same content between the check and the commit
        repo.commit(dict(files), "otra corrida", author="x", when=_now())
        return found

    monkeypatch.setattr(ConfigRepo, "changed_paths", racing)
    first = run_backup(store, settings, devices, fetcher=routers, timeout_s=2)
    assert first.commit is None and not first.changed
    assert [d.status for d in first.devices] == ["ok"]
    events = list(store.search_events(dataset="red.respaldo"))
    assert [e["red"]["respaldo"]["changed"] for e in events] == [False]
    assert not notices.exists()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
