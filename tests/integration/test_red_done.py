"""Issue 16 "done when", on one lab, through the CLI: backups, diff, secrets, compliance,
remediation, a cutting change rolled back by itself, Ctrl-C in the middle of a backup run.

Two standard sites, one site of every non-standard kind ``lab.frr.NONSTANDARD`` declares, and
headquarters' ``gw-lima``. Runs only with the lab (root, FRR):
``flock /tmp/pukara-lab.lock pytest tests/integration/test_red_done.py``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import main
from lab import manage
from lab.sites import LabSite
from red.cumplimiento import FEATURES
from red.repositorio import LOCK_NAME, ConfigRepo
from red.verificaciones import KINDS as CHECKS
from tests.conftest import running_lab

PUKARA = str(Path(sys.executable).parent / "pukara")
KINDS = ("sin-syslog", "ruta-extra", "prefijo-abierto", "ref-indefinida", "as-errado",
         "ip-duplicada")  # fmt: skip
# indexes of their own (3781-3790), away from every other lab of the tests
SITES = [LabSite(index=3781, code="d1"), LabSite(index=3782, code="d2")] + [
    LabSite(index=3783 + i, code=f"d{3 + i}", router=kind) for i, kind in enumerate(KINDS)
]
DECLARED = {s.hostname: s.router for s in SITES if s.router}
ALL = ["gw-lima", *(s.hostname for s in SITES)]
HAND_CHANGE = "ip prefix-list PL-PRUEBA seq 5 permit 198.18.99.0/24"


def test_every_kind_is_known() -> None:
    from lab import frr

    assert set(KINDS) == set(frr.NONSTANDARD)


@pytest.fixture(scope="module")
def done_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    for the_lab in running_lab(tmp_path_factory, SITES, "pko"):
        manage.wait_ready(the_lab, 90)
        yield the_lab


def _inventory(folder: Path) -> list[Path]:
    from lab import frr

    hq_v4, hq_v6 = frr.hq_address(SITES)
    folder.mkdir(parents=True, exist_ok=True)
    sedes = folder / "sedes.csv"
    sedes.write_text(
        "code,name,kind,country,city,timezone,vpn_kit,vpn_probe\n"
        "lima,Sede central,sede_central,PE,Lima,America/Lima,no,\n"
        + "".join(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Lima,no,{s.lan}\n"
            for s in SITES
        )
    )
    activos = folder / "activos.csv"
    rows = [f"gw-lima,router,lima,{hq_v4},{hq_v6},FRRouting,activo"]
    rows += [f"{s.hostname},router,{s.code},{s.v4},{s.v6},FRRouting,activo" for s in SITES]
    activos.write_text("name,kind,site,mgmt_ipv4,mgmt_ipv6,os,status\n" + "\n".join(rows) + "\n")
    return [sedes, activos]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def _backup(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, doc, err = _cli(capsys, "red", "respaldar", "--formato", "json")
    assert doc is not None, err
    return code, doc


def _changed(doc: dict[str, Any]) -> list[str]:
    return [d["device"] for d in doc["devices"] if d["status"] == "changed"]


def _diff_lines(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if line[:1] in "+-" and line[:3] not in ("+++", "---")]  # fmt: skip


def _compliance(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, report, err = _cli(capsys, "red", "cumplimiento", "--formato", "json")
    assert report is not None, err
    assert {d["device"] for d in report["devices"]} == set(ALL), report
    clean = {d["status"] for d in report["devices"]} == {"compliant"} and not report["findings"]
    assert code == (0 if clean else 3), err  # drift to review exits 3
    return report  # type: ignore[no-any-return]


def _running(lab: manage.Lab, code: str) -> str:
    from lab import frr

    return frr.vtysh(lab, code, "show running-config")


def _wait_bgp(lab: manage.Lab, sites: list[LabSite], timeout_s: float = 30) -> bool:
    from lab import frr

    deadline = time.monotonic() + timeout_s
    while not (up := all(frr.bgp_established(lab, s) for s in sites)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return up


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def _repository_bytes(repo: Path) -> bytes:
    """Every object (loose or packed, reachable or not) in full, every commit's patch, the
    refs and reflogs as git shows them, and every file of the repository as it lies on disk."""
    parts = [
        _git(repo, "cat-file", "--batch-all-objects", "--batch", "--unordered").stdout,
        _git(repo, "log", "--all", "--reflog", "-p", "--format=raw").stdout,
        _git(repo, "for-each-ref").stdout,
        _git(repo, "reflog", "--all").stdout,
    ]
    parts += [p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()]
    return b"\n".join(parts)


def _data_bytes(data: Path, repo: Path) -> bytes:
    """The data directory's other files as they lie on disk, and every row of every SQLite
    database there (the event store included) as SQL text."""
    parts: list[bytes] = []
    for path in sorted(data.rglob("*")):
        if not path.is_file() or path.is_relative_to(repo):
            continue
        parts.append(path.read_bytes())
        if parts[-1].startswith(b"SQLite format 3\0"):
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                parts.append("\n".join(con.iterdump()).encode())
            finally:
                con.close()
    return b"\n".join(parts)


def _events(data: Path) -> list[dict[str, Any]]:
    """Every event the runs wrote (backups, remediations), from the store itself."""
    from pukara.config import load_settings
    from pukara.store import opened_store

    settings = load_settings()
    assert settings.db.is_relative_to(data), settings.db
    with opened_store(settings, read_only=True) as store:
        assert store.count_events() > 0
        return list(store.search_events())


def _ssh_connections(pid: int) -> int:
    """Established TCP connections of process ``pid`` to an SSH port."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", "( dport = :22 )"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return sum(f"pid={pid}," in line for line in out.splitlines())


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_issue_16_done_when(
    done_lab: manage.Lab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lab import frr

    timings: list[tuple[str, float]] = []
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings.append((step, now - clock))
        clock = now

    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(done_lab.credentials_file))
    for path in _inventory(tmp_path / "inv"):
        assert main(["inventario", "importar", str(path), "--silencioso"]) == 0
    capsys.readouterr()
    repo = ConfigRepo(data / "red" / "respaldos")

    # (a) two backup runs over every device: exactly one commit
    code, first = _backup(capsys)
    assert code == 0 and sorted(_changed(first)) == sorted(ALL), first
    code, second = _backup(capsys)
    assert code == 0 and second["commit"] is None and _changed(second) == [], second
    assert {d["status"] for d in second["devices"]} == {"ok"}
    log = repo.log()
    assert len(log) == 1 and log[0].commit == first["commit"], log
    assert sorted(repo.latest()) == sorted(
        ["lima/gw-lima.cfg", *(f"{s.code}/{s.hostname}.cfg" for s in SITES)]
    )
    lap("(a) dos respaldos")

    # (b) a change by hand on one router: a one-device commit whose diff is exactly that change
    frr.vtysh(done_lab, "d2", "configure terminal\n" + HAND_CHANGE)
    code, doc = _backup(capsys)
    assert code == 0 and _changed(doc) == ["gw-d2"], doc
    log = repo.log()
    assert len(log) == 2 and log[0].commit == doc["commit"]
    assert log[0].message.startswith("Respaldo: gw-d2\n"), log[0].message
    code = main(["red", "diff", "gw-d2"])
    diff = capsys.readouterr().out
    assert code == 0 and _diff_lines(diff) == ["+" + HAND_CHANGE], diff
    assert "d2/gw-d2.cfg" in diff
    # undone by hand: again one device, the line gone
    frr.vtysh(done_lab, "d2", "configure terminal\nno " + HAND_CHANGE)
    code, doc = _backup(capsys)
    assert code == 0 and _changed(doc) == ["gw-d2"], doc
    assert main(["red", "diff", "gw-d2"]) == 0
    assert _diff_lines(capsys.readouterr().out) == ["-" + HAND_CHANGE]
    assert len(repo.log()) == 3
    lap("(b) cambio a mano y diff")

    # (d) the compliance report finds exactly the declared non-standard sites
    report = _compliance(capsys)
    status = {d["device"]: d["status"] for d in report["devices"]}
    assert {n for n, st in status.items() if st != "compliant"} == set(DECLARED), status
    for device in report["devices"]:
        failing = {f["feature"] for f in device["features"] if not f["compliant"]}
        must = frr.NONSTANDARD.get(DECLARED.get(device["device"], ""), ())
        assert failing == {m for m in must if m in FEATURES}, device
        found = {f["kind"] for f in report["findings"] if f["device"] == device["device"]}
        assert {m for m in must if m in CHECKS} <= found, (device["device"], found)
    for finding in report["findings"]:
        # a standard device shows up only as the other side of a non-standard one's fault
        assert finding["device"] in DECLARED or finding["peer"] in DECLARED, finding
        assert finding["kind"] in CHECKS
    lap("(d) cumplimiento")

    # (e) remediation brings them to standard; then a fresh backup and the report are clean
    wrong_as = next(s for s in SITES if s.router == "as-errado")
    dup = next(s for s in SITES if s.router == "ip-duplicada")
    assert not frr.bgp_established(done_lab, wrong_as)
    assert f" ip address {SITES[0].v4}/32" in _running(done_lab, dup.code).splitlines()
    code, doc, err = _cli(capsys, "red", "remediar", "--todos", "--formato", "json",
                          "--perfil-snmp", "lab")  # fmt: skip
    assert code == 0, (doc, err)
    by = {d["device"]: d["status"] for d in doc}
    assert by == {n: "aplicado" if n in DECLARED else "sin_cambios" for n in ALL}, doc
    assert _wait_bgp(done_lab, SITES), {s.code: frr.bgp_established(done_lab, s) for s in SITES}
    assert f" ip address {SITES[0].v4}/32" not in _running(done_lab, dup.code).splitlines()
    code, doc = _backup(capsys)
    assert code == 0 and sorted(_changed(doc)) == sorted(DECLARED), doc
    report = _compliance(capsys)
    assert {d["status"] for d in report["devices"]} == {"compliant"}, report
    assert report["findings"] == [], report["findings"]
    lap("(e) remediar --todos")

    # (f) a cutting change is rolled back by itself
    site = SITES[0]
    before = _running(done_lab, site.code)
    head = repo.head()
    orders = tmp_path / "corte.txt"
    orders.write_text(
        f"router bgp {frr.asn(site)}\n neighbor {site.v4_host} remote-as 65099\nexit\n"
    )
    code, doc, err = _cli(capsys, "red", "remediar", "--formato", "json", "--perfil-snmp", "lab",
                          "--ordenes", str(orders), "--espera-bgp", "10", site.code)  # fmt: skip
    assert code == 3, (doc, err)
    (out,) = doc
    assert out["status"] == "revertido" and out["rollback_ok"] is True, out
    assert _wait_bgp(done_lab, [site], 20)
    assert _running(done_lab, site.code) == before
    # equal to the backup: a new run finds nothing changed on any device
    code, doc = _backup(capsys)
    assert code == 0 and doc["commit"] is None and _changed(doc) == [], doc
    assert repo.head() == head
    lap("(f) cambio que corta, revertido")

    # (g) Ctrl-C in the middle of a backup run: no half commit, git fsck clean, HEAD unchanged
    frr.vtysh(done_lab, "d1", "configure terminal\n" + HAND_CHANGE)  # the run would commit
    env = {**os.environ, "PUKARA_DATA_DIR": str(data),
           "PUKARA_CREDENTIALS": str(done_lab.credentials_file)}  # fmt: skip
    proc = subprocess.Popen(
        [PUKARA, "red", "respaldar", "--paralelo", "1", "--formato", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_sigint_default, process_group=0,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if _ssh_connections(proc.pid):
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: git children too
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, stdout, stderr)
    assert repo.head() == head
    fsck = _git(repo.path, "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0 and not fsck.stdout.strip(), fsck
    # no lock git left behind (the repository's own flock file stays, by design), no scratch
    assert [p.name for p in repo.path.rglob("*.lock")] == [LOCK_NAME]
    assert not list(repo.path.glob("pukara-*"))
    code, doc = _backup(capsys)  # the repository still takes the next run
    assert code == 0 and _changed(doc) == ["gw-d1"], doc
    assert _git(repo.path, "fsck", "--strict").returncode == 0
    frr.vtysh(done_lab, "d1", "configure terminal\nno " + HAND_CHANGE)
    lap("(g) Ctrl-C a media corrida")

    # (c) no lab secret anywhere: repository (all history), the data directory, the events
    secrets = frr.secrets(done_lab)
    assert len(secrets) == 3 * (len(SITES) + 1)
    everything = _repository_bytes(repo.path)
    assert b"password <secreto:hmac-sha256:" in everything
    leaks = [s for s in secrets if s.encode() in everything]
    assert leaks == [], leaks
    events = json.dumps(_events(data), ensure_ascii=False, default=str).encode()
    assert b"respaldo de gw-d1" in events
    leaks = [s for s in secrets if s.encode() in events]
    assert leaks == [], leaks
    elsewhere = _data_bytes(data, repo.path)
    leaks = [s for s in secrets if s.encode() in elsewhere]
    assert leaks == [], leaks
    lap("(c) secretos")

    with capsys.disabled():
        sys.stdout.write("\n" + "".join(f"  {step}: {secs:.1f} s\n" for step, secs in timings))
