"""run() through the real ansible-runner: a host nobody answers for is an error, never a pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from auditoria import linux, politica
from auditoria.modelo import Status
from pukara.config import Settings
from pukara.errors import Interrupted, UsageError


@pytest.fixture
def creds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "llave"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text("")
    path = tmp_path / "credenciales.toml"
    path.write_text(f'[auditoria]\nusername = "auditoria"\nkey_file = "{key}"\n'
                    f'known_hosts = "{known}"\n')  # fmt: skip
    path.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(path))
    return key


def test_unreachable_and_unusable_hosts_get_an_error_on_every_check(
    settings: Settings, creds: Path
) -> None:
    targets = [
        linux.Target("srv-cerrado", "127.0.0.1"),  # nothing listens on 127.0.0.1:22
        linux.Target("srv-sin-perfil", "127.0.0.1", profile="no-existe"),
    ]
    done = linux.run(targets, settings, politica.load(), observed_at="2026-12-01T23:00:00Z")
    assert len(done.results) == 2 * len(linux.EVALUATORS)
    assert {r.status for r in done.results} == {Status.ERROR}
    closed = [r for r in done.results if r.host == "srv-cerrado"]
    assert [r.check_id for r in closed] == list(linux.EVALUATORS)
    assert all(r.message.startswith("equipo inalcanzable:") for r in closed)
    assert all(r.observed_at == "2026-12-01T23:00:00Z" for r in closed)
    other = [r for r in done.results if r.host == "srv-sin-perfil"]
    assert all("credenciales" in r.message and "no-existe" in r.message for r in other)
    assert done.job_id and done.events  # ansible-runner's job events, for the bundle
    assert any(e.get("pukara_host") == "srv-cerrado" for e in done.events)
    assert str(creds) not in "".join(r.message for r in done.results)


def test_cancel_stops_the_run(settings: Settings, creds: Path) -> None:
    with pytest.raises(Interrupted):
        linux.run([linux.Target("srv", "127.0.0.1")], settings, politica.load(),
                  cancel=lambda: True)  # fmt: skip


def test_a_name_twice_in_the_scope_is_refused(settings: Settings, creds: Path) -> None:
    with pytest.raises(UsageError, match="dos veces"):
        linux.run([linux.Target("a", "127.0.0.1"), linux.Target("a", "127.0.0.2")], settings,
                  politica.load())  # fmt: skip


def test_no_targets_is_no_run(settings: Settings) -> None:
    assert linux.run([], settings, politica.load()).results == []


def _event(kind: str, host: str, task: str, res: dict[str, object]) -> dict[str, object]:
    # the shape of ansible-runner's job events (artifacts/<id>/job_events/*.json)
    return {"event": kind, "counter": 1, "event_data": {"host": host, "task": task, "res": res}}


def test_a_host_that_stops_answering_keeps_what_it_gave() -> None:
    from auditoria.linux_run import Watch, settle

    watch = Watch({"h0": "srv-a", "h1": "srv-b"}, linux.KEYS, None, "ab12")
    watch(_event("runner_on_ok", "h0", "sshd", {"stdout": "@@ab12 sshd_effective rc=0\nport 22"}))
    watch(_event("runner_on_failed", "h0", "sudoers", {"msg": "Missing sudo password"}))
    watch(_event("runner_on_unreachable", "h0", "lastlog", {"msg": "ssh: connection reset"}))
    watch(_event("runner_on_unreachable", "h1", "host_identity", {"msg": "ssh: timed out"}))
    settle(watch.hosts, linux.KEYS, "failed")
    a, b = watch.hosts["srv-a"], watch.hosts["srv-b"]
    assert a.unreachable is None and set(a.raw) == {"sshd"}
    assert a.errors["sudoers"] == "Missing sudo password"
    assert a.errors["lastlog"].startswith("el equipo dejó de responder")
    assert b.unreachable and "timed out" in b.unreachable
    results = linux.evaluate_host(
        linux.Target("srv-a", "x"),
        a.raw,
        politica.load(),
        observed_at="2026-12-01T23:00:00Z",
        task_errors=a.errors,
    )
    by_id = {r.check_id: r for r in results}
    assert by_id["sudo_nopasswd"].status == Status.ERROR
    assert "Missing sudo password" in by_id["sudo_nopasswd"].message
    assert by_id["ssh_root_login"].status == Status.FAIL  # "port 22" alone: no PermitRootLogin
    assert {r.status for r in results} <= {Status.ERROR, Status.FAIL}
