"""`pukara csirt contramedida ...`: Spanish, --formato on listar, exit 3 when vencer fails."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from cli import main
from csirt.records import COUNTERMEASURE, INCIDENT
from pukara.store import SQLiteStore

INC = {"id": "01JINCIDENTE0000000000000C", "number": "INC-2026-0007", "status": "analisis",
       "title": "prueba"}  # fmt: skip
# a host whose management address answers nothing on SSH: loopback, a closed port
HOST = {"name": "srv-local", "kind": "servidor_fisico", "mgmt_ipv4": "127.0.0.2",
        "preferred_family": "4", "credential_profile": "prueba"}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store, store.transaction("semilla") as tx:
        tx.put("asset", (HOST["name"],), HOST)
        tx.put(INCIDENT, (INC["id"],), INC)
    key = tmp_path / "llave"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    creds = tmp_path / "credenciales.toml"
    creds.write_text(f'[prueba]\nusername = "root"\nkey_file = "{key}"\n')
    creds.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "datos"))
    (tmp_path / "datos").mkdir(mode=0o700)
    return ["--base-datos", str(path)]


def _propose(
    capsys: pytest.CaptureFixture[str], db: list[str], *extra: str
) -> tuple[int, str, str]:
    return run(capsys, *db, "--analista", "ana", "csirt", "contramedida", "proponer", "INC-2026-0007",
               "--tipo", "bloquear_ip", "--equipo", "srv-local", *extra)  # fmt: skip


@pytest.mark.parametrize("address", ["$(reboot)", "; rm -rf /", "<script>", "999.1.1.1"])
def test_a_bad_target_is_refused_in_spanish_and_nothing_written(
    capsys: pytest.CaptureFixture[str], db: list[str], address: str
) -> None:
    code, out, err = _propose(capsys, db, "--direccion", address, "--expira", "4h")
    assert code == 2 and out == ""
    assert "no es una dirección IP" in err and "Traceback" not in err
    with SQLiteStore(Path(db[1])) as store:
        assert list(store.scan(COUNTERMEASURE)) == []


def test_no_expiry_and_allowlisted_target_refused(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, _, err = _propose(capsys, db, "--direccion", "198.51.100.7")
    assert code == 2 and "toda contramedida vence" in err
    code, _, err = _propose(capsys, db, "--direccion", "127.0.0.2", "--expira", "4h")
    assert code == 2 and "lista de permitidos" in err
    code, _, err = _propose(capsys, db, "--direccion", "198.51.100.7", "--expira", "2001-01-01")
    assert code == 2 and "ya pasó" in err


def test_propose_approve_list_and_a_failed_expiry_exits_3(
    capsys: pytest.CaptureFixture[str], db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _propose(capsys, db, "--direccion", "198.51.100.7", "--expira", "4h")
    assert code == 0, err
    cm_id = out.strip()
    monkeypatch.setenv("PUKARA_CSIRT_DOS_PERSONAS", "sí")
    code, _, err = run(capsys, *db, "--analista", "ana", "csirt", "contramedida", "aprobar", cm_id)
    assert code == 2 and "otro analista" in err
    code, _, err = run(capsys, *db, "--analista", "beto", "csirt", "contramedida", "aprobar", cm_id)
    assert code == 0 and "Aprobada por beto" in err

    code, out, _ = run(capsys, *db, "csirt", "contramedida", "listar", "--formato", "json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [cm_id]
    assert rows[0]["status"] == "pendiente" and rows[0]["incident_number"] == "INC-2026-0007"
    code, out, _ = run(capsys, *db, "csirt", "contramedida", "listar", "--formato", "csv",
                       "--estado", "pendiente")  # fmt: skip
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and table[0]["target.address"] == "198.51.100.7"
    code, out, _ = run(capsys, *db, "csirt", "contramedida", "listar", "--estado", "activa",
                       "--formato", "json")  # fmt: skip
    assert code == 0 and json.loads(out) == []
    code, _, err = run(capsys, *db, "csirt", "contramedida", "listar", "--estado", "viva")
    assert code == 2 and "--estado" in err

    assert run(capsys, *db, "csirt", "contramedida", "vencer")[0] == 0  # nothing due yet

    # active and past its expiry, on a host that does not answer: vencer fails it, exit 3
    with SQLiteStore(Path(db[1])) as store, store.transaction("prueba") as tx:
        doc = tx.get(COUNTERMEASURE, (cm_id,))
        assert doc is not None
        tx.put(COUNTERMEASURE, (cm_id,), {**doc, "status": "activa",
                                          "expires_at": "2026-01-01T00:00:00.000Z"})  # fmt: skip
    code, _, err = run(capsys, *db, "csirt", "contramedida", "vencer")
    assert code == 3, err
    assert cm_id in err and "inalcanzable" in err
    with SQLiteStore(Path(db[1])) as store:
        left = store.get(COUNTERMEASURE, [cm_id])
    assert left is not None and left["status"] == "pendiente_retiro" and left["claim"] is None
    code, _, err = run(capsys, *db, "csirt", "contramedida", "activar", cm_id)
    assert code == 2 and "pendiente_retiro" in err


def test_each_round_of_vigilar_runs_vencer(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, err = _propose(capsys, db, "--direccion", "198.51.100.8", "--expira", "4h")
    assert code == 0, err
    cm_id = out.strip()
    with SQLiteStore(Path(db[1])) as store, store.transaction("prueba") as tx:
        doc = tx.get(COUNTERMEASURE, (cm_id,))
        assert doc is not None
        tx.put(COUNTERMEASURE, (cm_id,), {**doc, "status": "activa", "approved_by": "beto",
                                          "expires_at": "2026-01-01T00:00:00.000Z"})  # fmt: skip
    code, _, err = run(capsys, *db, "monitoreo", "vigilar", "127.0.0.1", "--ronda", "1", "-c", "1",
                       "--rondas", "1", "--sin-snmp")  # fmt: skip
    assert code == 0, err  # the round is not the countermeasure's problem
    assert f"contramedida {cm_id} no retirada" in err and "inalcanzable" in err
    with SQLiteStore(Path(db[1])) as store:
        left = store.get(COUNTERMEASURE, [cm_id])
    assert left is not None and left["status"] == "pendiente_retiro"
    assert [r["playbook"] for r in left["runs"]] == ["csirt/desbloquear.yml"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [(("--direccion", "198.51.100.7", "--expira", "1000000000d"), "a lo sumo 30 días"),
     (("--direccion", "198.51.100.7", "--expira", "99999999999999999999m"), "a lo sumo 30 días"),
     (("--direccion", "::ffff:127.0.0.2", "--expira", "4h"), "IPv4 escrita como IPv6"),
     (("--direccion", "64:ff9b::127.0.0.2", "--expira", "4h"), "lista de permitidos"),
     (("--direccion", "16.0.0.0/4", "--expira", "4h"), "demasiado amplia")],
)  # fmt: skip
def test_huge_expiries_and_ipv4_as_ipv6_are_refused_in_spanish(
    capsys: pytest.CaptureFixture[str], db: list[str], extra: tuple[str, ...], words: str
) -> None:
    code, out, err = _propose(capsys, db, *extra)
    assert code == 2 and out == "" and words in err, err
    assert "Error inesperado" not in err
    with SQLiteStore(Path(db[1])) as store:
        assert list(store.scan(COUNTERMEASURE)) == []


def test_a_discarded_case_approves_and_activates_nothing(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, err = _propose(capsys, db, "--direccion", "198.51.100.7", "--expira", "4h")
    assert code == 0, err
    cm_id = out.strip()
    code, _, err = run(capsys, *db, "--analista", "ana", "csirt", "incidente", "descartar",
                       "INC-2026-0007", "--disposicion", "duplicate")  # fmt: skip
    assert code == 2 and "sin decidir" in err  # a proposal is decided before discarding
    # a case discarded before that rule (an older database): nothing is approved or run on it
    with SQLiteStore(Path(db[1])) as store, store.transaction("descartado antes") as tx:
        (case,) = [c for c in tx.scan(INCIDENT) if c["number"] == "INC-2026-0007"]
        tx.put(INCIDENT, (case["id"],), {**case, "status": "descartado"})
    code, _, err = run(capsys, *db, "--analista", "beto", "csirt", "contramedida", "aprobar", cm_id)
    assert code == 2 and "está descartado: no se aprueban" in err
    with SQLiteStore(Path(db[1])) as store, store.transaction("aprobada antes") as tx:
        doc = tx.get(COUNTERMEASURE, (cm_id,))
        assert doc is not None
        tx.put(COUNTERMEASURE, (cm_id,), {**doc, "approved_by": "beto"})
    code, _, err = run(capsys, *db, "--analista", "beto", "csirt", "contramedida", "activar", cm_id)
    assert code == 2 and "no se activan" in err and "inalcanzable" not in err  # nothing ran
    code, _, err = _propose(capsys, db, "--direccion", "198.51.100.9", "--expira", "4h")
    assert code == 2 and "no se proponen" in err


def test_the_same_system_user_approving_is_noted(
    capsys: pytest.CaptureFixture[str], db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _propose(capsys, db, "--direccion", "198.51.100.7", "--expira", "4h")
    cm_id = out.strip()
    monkeypatch.setenv("PUKARA_CSIRT_DOS_PERSONAS", "sí")
    code, _, err = run(capsys, *db, "--analista", "ANA", "csirt", "contramedida", "aprobar", cm_id)
    assert code == 2 and "otro analista" in err
    code, _, err = run(capsys, *db, "--analista", "beto", "csirt", "contramedida", "aprobar", cm_id)
    assert code == 0 and "mismo usuario del sistema" in err
    with SQLiteStore(Path(db[1])) as store:
        doc = store.get(COUNTERMEASURE, [cm_id])
    assert doc is not None and doc["proposed_by_os"] == doc["approved_by_os"]


def test_expiry_is_shown_as_a_person_reads_it_in_the_machines_zone(
    capsys: pytest.CaptureFixture[str], db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setenv("TZ", "America/Lima")
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = _propose(capsys, db, "--direccion", "198.51.100.7", "--expira", "4h")
    assert code == 0, err
    assert re.search(r"vence \d{1,2} \w+\.? \d{4}, \d{2}:\d{2} \S+", err), err
    assert "PET" in err and not re.search(r"\d{4}-\d{2}-\d{2}T", err)
    code, out, err = run(capsys, *db, "csirt", "contramedida", "listar")
    assert code == 0 and " PET" in out, out
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", out)
