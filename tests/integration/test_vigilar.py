"""`pukara monitoreo vigilar` as a real process against the lab: windows, crashes, locks."""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from cli import main
from lab import manage
from lab.sites import LabSite
from monitoreo import maintenance
from pukara.config import Settings, load_settings
from pukara.events import make_event, utc_now
from pukara.store import SQLiteStore
from tests.conftest import running_lab, write_lab_inventory

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VIG_SITES = [
    LabSite(index=3701, code="v1", delay_ms=20.0),
    LabSite(index=3702, code="v2", delay_ms=20.0, down=True),
]
TOKEN = "T0KEN-avisos"


@pytest.fixture(scope="module")
def vlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, VIG_SITES, "pkv")


@pytest.fixture
def inventory(vlab: manage.Lab, tmp_path: Path) -> Settings:
    settings = load_settings({"data_dir": tmp_path / "data"}, environ={})
    settings.data_dir.mkdir(mode=0o700)  # as pukara makes it on first use
    for f in write_lab_inventory(tmp_path / "inv", VIG_SITES):
        assert main(["--base-datos", str(settings.db), "inventario", "importar", str(f), "-q"]) == 0
    return settings


def _env(settings: Settings, vlab: manage.Lab, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env.update(PYTHONPATH=str(ROOT), PUKARA_DATA_DIR=str(settings.data_dir),
               PUKARA_DB=str(settings.db), PUKARA_CREDENTIALS=str(vlab.credentials_file),
               **extra)  # fmt: skip
    return env


def _vigilar(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, str(ROOT / "cli.py"), "monitoreo", "vigilar", "--ronda", "1",
            "-c", "2", "-p", "50", "-t", "300", "--sin-snmp", *args]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


def _until(check: Callable[[], bool], timeout_s: float = 60.0, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step_s)
    return False


def _events(db: Path, dataset: str) -> list[dict[str, Any]]:
    with SQLiteStore(db) as s:
        return list(s.search_events(dataset=dataset))


def _no_duplicate_ids(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT json_extract(doc, '$.event.id')) FROM events"
        ).fetchone()
    finally:
        conn.close()
    assert total == distinct, f"{total - distinct} event.id repetidos en el almacén"
    return int(total)


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=60)
    finally:
        proc.kill()


def test_a_window_that_ends_while_the_site_is_down_raises_the_alert_then(
    vlab: manage.Lab, inventory: Settings, tmp_path: Path, receiver: int
) -> None:
    settings = inventory
    now = utc_now()
    with SQLiteStore(settings.db) as store:
        maintenance.add(store, "v2", now - timedelta(minutes=5), now + timedelta(hours=2), "obra")
    out = tmp_path / "avisos.jsonl"
    script = tmp_path / "aviso.py"
    script.write_text(
        "import json, os, sys, pathlib\n"
        f"with pathlib.Path({str(out)!r}).open('a') as fh:\n"
        "    fh.write(json.dumps({'event': json.load(sys.stdin), 'env': dict(os.environ)}) + '\\n')\n"
    )
    env = _env(settings, vlab, PUKARA_ALERT_COMMAND=f"{sys.executable} {script}",
               PUKARA_ALERT_WEBHOOK="perfil:avisos",
               PUKARA_CRED_AVISOS_URL=f"http://127.0.0.1:{receiver}/hooks/{TOKEN}",
               PUKARA_CRED_LAB_EXTRA="no-debe-verse")  # fmt: skip
    proc = _vigilar(env, "--confirmar", "2", "--recuperar", "2")
    try:

        def muted_down() -> bool:
            return any(e["monitoreo"]["entity"] == "v2" and e["monitoreo"].get("muted")
                       and e["monitoreo"]["state"]["current"] == "down"
                       for e in _events(settings.db, "monitoreo.estado"))  # fmt: skip

        assert _until(muted_down), "v2 no llegó a caída silenciada dentro de la ventana"
        time.sleep(2.5)  # a few more rounds, down and muted
        assert not out.exists() and _Receiver.received == []  # nothing went out in the window
        with SQLiteStore(settings.db) as store:  # the window ends now
            maintenance.add(store, "v2", now - timedelta(minutes=5), utc_now(), "obra")
        assert _until(lambda: out.exists() and bool(_Receiver.received), 30)
    finally:
        _, err = _stop(proc)
    assert proc.returncode == 130, err
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(g["event"]["monitoreo"]["entity"], g["event"]["event"]["action"]) for g in got] == [
        ("v2", "alert")
    ]  # fmt: skip
    assert "al terminar el mantenimiento" in got[0]["event"]["message"]
    child_env = got[0]["env"]
    assert not [k for k in child_env if k.startswith("PUKARA_CRED_")]
    assert "PUKARA_ALERT_WEBHOOK" not in child_env and TOKEN not in json.dumps(child_env)
    assert [(p, b["event"]["action"]) for p, b in _Receiver.received] == [
        (f"/hooks/{TOKEN}", "alert")
    ]  # fmt: skip
    assert "ALERTA: v2: sigue caída al terminar el mantenimiento" in err
    assert TOKEN not in err


def _prefill(spool: Path, n: int) -> set[str]:
    spool.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    docs = [make_event("prueba.relleno", fields={"host.name": "v1", "prueba.n": i})
            for i in range(n)]  # fmt: skip
    spool.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return {d["event"]["id"] for d in docs}


def test_sigkill_in_the_middle_of_a_replay_then_a_restart_loses_and_repeats_nothing(
    vlab: manage.Lab, inventory: Settings
) -> None:
    settings = inventory
    spool = settings.data_dir / "cola" / "monitoreo.jsonl"
    n = 300_000
    ids = _prefill(spool, n)  # what a previous run left in its spool

    def replayed() -> int:
        conn = sqlite3.connect(settings.db)
        try:
            return int(conn.execute(
                "SELECT count(*) FROM events WHERE dataset = 'prueba.relleno'"
            ).fetchone()[0])  # fmt: skip
        finally:
            conn.close()

    env = _env(settings, vlab)
    proc = _vigilar(env)
    try:
        assert _until(lambda: replayed() > 0, 60, 0.01)
        proc.send_signal(signal.SIGKILL)  # one transaction of the replay in, the rest not
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    first = replayed()
    assert 0 < first < n, f"la repetición no quedó a medias ({first} de {n})"
    assert len(spool.read_bytes().splitlines()) >= n  # not emptied: it was not finished
    again = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "monitoreo", "vigilar", "--ronda", "1",
         "--rondas", "2", "-c", "2", "-p", "50", "-t", "300", "--sin-snmp"],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"{first} eventos de la cola local ya estaban en el almacén" in again.stderr
    assert {e["event"]["id"] for e in _events(settings.db, "prueba.relleno")} == ids
    assert replayed() == n
    _no_duplicate_ids(settings.db)
    assert spool.stat().st_size == 0
    rounds = {e["monitoreo"]["round"] for e in _events(settings.db, "monitoreo.sondeo")}
    assert len(rounds) >= 2


def test_a_second_vigilar_on_the_same_data_directory_is_refused(
    vlab: manage.Lab, inventory: Settings
) -> None:
    settings = inventory
    env = _env(settings, vlab)
    first = _vigilar(env)
    try:
        lock = settings.data_dir / "cola" / "monitoreo.jsonl.lock"
        assert _until(lambda: lock.exists() and lock.read_text().strip() == str(first.pid))
        second = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "monitoreo", "vigilar", "--rondas", "1",
             "--sin-snmp"], capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert str(settings.data_dir) in second.stderr and str(first.pid) in second.stderr
        assert "ya está en uso" in second.stderr and "Traceback" not in second.stderr
    finally:
        _, err = _stop(first)
    assert first.returncode == 130, err


def test_a_database_locked_by_another_process_spools_then_everything_arrives(
    vlab: manage.Lab, inventory: Settings
) -> None:
    settings = inventory
    blocker = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(settings.db)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE'); print('bloqueada', flush=True); sys.stdin.read()\n"
         "c.execute('ROLLBACK')\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert blocker.stdout is not None and blocker.stdout.readline().strip() == "bloqueada"
        proc = _vigilar(_env(settings, vlab), "--rondas", "12")
        spool = settings.data_dir / "cola" / "monitoreo.jsonl"
        assert _until(lambda: spool.exists() and len(spool.read_bytes().splitlines()) >= 8, 60)
        assert _events(settings.db, "monitoreo.sondeo") == []  # nothing got through yet
    finally:
        blocker.communicate("", timeout=30)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "el almacén no recibe eventos" in err and "eventos de nuevo al día" in err
    rounds = {e["monitoreo"]["round"] for e in _events(settings.db, "monitoreo.sondeo")}
    assert len(rounds) == 12
    health = [e["event"]["outcome"] for e in _events(settings.db, "monitoreo.salud")]
    assert len(health) == 12 and "failure" in health and health[-1] == "success"
    _no_duplicate_ids(settings.db)


def test_snmp_failures_reach_the_console_once_per_cause_and_estado(
    snmp_lab: manage.Lab, tmp_path: Path
) -> None:
    from tests.integration.conftest import snmp_site

    settings = load_settings({"data_dir": tmp_path / "data"}, environ={})

    settings.data_dir.mkdir(mode=0o700)  # as pukara makes it on first use
    u1, u3, u4 = (snmp_site(c) for c in ("u1", "u3", "u4"))  # u3 speaks only SNMPv3
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "sedes.csv").write_text(
        "code,name,kind,country,city,timezone,parent\n"
        "lima,Sede central,sede_central,PE,Lima,America/Lima,\n"
        + "".join(f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,"
                  "America/Argentina/Buenos_Aires,lima\n" for s in (u1, u3, u4))
    )  # fmt: skip
    (inv / "activos.csv").write_text(
        "name,kind,site,mgmt_ipv4,credential_profile,tags,status\n"
        f"{u1.hostname},router,u1,{u1.v4},lab,wan|monitoreo,activo\n"
        f"{u3.hostname},router,u3,{u3.v4},malo,wan|monitoreo,activo\n"
        f"{u4.hostname},router,u4,{u4.v4},,wan|monitoreo,activo\n"
    )  # fmt: skip
    for f in ("sedes.csv", "activos.csv"):
        assert main(["--base-datos", str(settings.db), "inventario", "importar", str(inv / f),
                     "-q"]) == 0  # fmt: skip
    creds = tmp_path / "credenciales.toml"
    creds.write_text(snmp_lab.credentials_file.read_text())
    creds.chmod(0o644)  # as a copy often ends up: readable by everyone, so refused
    env = _env(settings, snmp_lab, PUKARA_CRED_MALO_SNMP_USER="pukara",
               PUKARA_CRED_MALO_AUTH_KEY="clave-equivocada",
               PUKARA_CRED_MALO_PRIV_KEY="otra-equivocada")  # fmt: skip
    env["PUKARA_CREDENTIALS"] = str(creds)
    err_file = tmp_path / "stderr.txt"
    argv = [sys.executable, str(ROOT / "cli.py"), "monitoreo", "vigilar", "--ronda", "1",
            "-c", "2", "-p", "50", "-t", "300"]  # fmt: skip
    with err_file.open("w") as err_fh:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err_fh, text=True, env=env)
    try:
        rounds = lambda: len(_events(settings.db, "monitoreo.salud"))  # noqa: E731
        assert _until(lambda: rounds() >= 4), err_file.read_text()
        creds.chmod(0o600)  # fixed while it runs
        at = rounds()
        assert _until(lambda: rounds() >= at + 4), err_file.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            proc.kill()
    err = err_file.read_text()
    assert proc.returncode == 130, err
    snmp_lines = [line.split(" ", 1)[1] for line in err.splitlines() if " SNMP" in line]
    by_site = {c: [x for x in snmp_lines if x.startswith(f"SNMP {c} ")] for c in ("u1", "u3", "u4")}
    # u1 and u3: the refused file, one line for both (one cause); then u1 answers and u3 says
    # its wrong key; u4: no profile
    opened = [x for x in snmp_lines if "demasiado abiertos" in x]
    assert len(opened) == 1 and "permisos -rw-r--r-- demasiado abiertos" in opened[0], err
    assert opened[0].startswith(f"SNMP: {creds}: ") and "(afecta a 2 equipos: u1, u3)" in opened[0]
    assert by_site["u1"] == [f"SNMP u1 ({u1.hostname}): recuperado, el equipo responde"]
    assert len(by_site["u3"]) == 1 and "credencial SNMP rechazada" in by_site["u3"][0]
    assert by_site["u4"] == [f"SNMP u4 ({u4.hostname}): sin credenciales: el equipo "
                             f"{u4.hostname} no tiene perfil de credenciales (credential_profile) "
                             "en el inventario"]  # fmt: skip
    assert "clave-equivocada" not in err and "Traceback" not in err
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "monitoreo", "estado",
                           "--formato", "json"], capture_output=True, text=True, env=env,
                          timeout=60, check=True)  # fmt: skip
    rows = {r["entity"]: r for r in json.loads(done.stdout)}
    assert rows["u1"]["snmp"] == "responde" and rows["u1"]["snmp_reason"] is None
    assert rows["u3"]["snmp"] == "falla" and "rechazada" in rows["u3"]["snmp_reason"]
    assert rows["u4"]["snmp"] == "falla" and rows["u4"]["snmp_device"] == u4.hostname
    links = [e for e in _events(settings.db, "monitoreo.enlace") if e["host"]["name"] == "u1"]
    assert links[-1]["event"]["outcome"] == "success"  # counters read once the file was fixed


def test_an_snmp_failure_fixed_while_stopped_is_recovered_at_the_next_start(
    snmp_lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from monitoreo import sites
    from monitoreo.device import Poller
    from monitoreo.prober import ProbeOptions
    from monitoreo.watch import Watcher
    from tests.integration.conftest import snmp_site

    u1 = snmp_site("u1")
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "sedes.csv").write_text("code,name,kind,country,city,timezone\n"
                                   "u1,Misión u1,embajada,AR,Buenos Aires,UTC\n")  # fmt: skip
    gateway = f"{u1.hostname},router,u1,{u1.v4},lab,wan|monitoreo,activo\n"
    (inv / "activos.csv").write_text(
        "name,kind,site,mgmt_ipv4,credential_profile,tags,status\n" + gateway
    )
    creds = tmp_path / "credenciales.toml"
    creds.write_text(snmp_lab.credentials_file.read_text())
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))

    def run(db: Path) -> tuple[list[str], dict[str, Any]]:
        db.parent.mkdir(mode=0o700, exist_ok=True)  # a --base-datos folder must exist
        for f in ("sedes.csv", "activos.csv"):
            assert main(["--base-datos", str(db), "inventario", "importar", str(inv / f),
                         "-q"]) == 0  # fmt: skip
        said: list[str] = []
        with SQLiteStore(db) as store:
            known = sites.load_sites(store)
            w = Watcher(store, known, sites.resolve([], known), ProbeOptions(1, 1, 20, 300),
                        db.parent / "cola" / "m.jsonl", poller=Poller(timeout_s=1, retries=0),
                        on_snmp=lambda c: said.append(c.message))  # fmt: skip
            w.watch(0.5, max_rounds=2)
        capsys.readouterr()
        assert main(["--base-datos", str(db), "monitoreo", "estado", "--formato", "json"]) == 0
        rows = {r["entity"]: r for r in json.loads(capsys.readouterr().out)}
        return said, rows["u1"]

    creds.chmod(0o644)  # refused: the device is not asked
    said, row = run(tmp_path / "a" / "p.db")
    assert len(said) == 1 and "demasiado abiertos" in said[0] and row["snmp"] == "falla"
    creds.chmod(0o600)  # fixed while vigilar was stopped
    said, row = run(tmp_path / "a" / "p.db")
    assert said == [f"SNMP u1 ({u1.hostname}): recuperado, el equipo responde"]
    assert row["snmp"] == "responde" and row["snmp_reason"] is None
    said, row = run(tmp_path / "b" / "p.db")  # a healthy first start: nothing said, but stored
    assert said == [] and row["snmp"] == "responde" and row["snmp_device"] == u1.hostname
