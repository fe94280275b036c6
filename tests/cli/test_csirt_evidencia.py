"""`pukara csirt evidencia`: add, list, custody, a manifest for sha256sum, and verification that
catches every kind of tampering with the blobs, the custody file and the database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cli import main
from csirt.casos import open_incident
from csirt.records import CUSTODY, EVIDENCE, TIMELINE, command
from pukara.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
PUKARA = str(Path(sys.executable).parent / "pukara")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pukara.db"


@pytest.fixture
def evidence_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "pukara" / "evidencia"


def _incident(db: Path) -> dict[str, Any]:
    with SQLiteStore(db) as store, command(store, "ana") as cmd:
        return open_incident(cmd, title="Intrusión en gw1", severity=3)


def _add(
    capsys: pytest.CaptureFixture[str], db: Path, inc: str, path: Path, *extra: str
) -> dict[str, Any]:
    code, out, err = run(capsys, "--base-datos", str(db), "--analista", "ana", "csirt",
                         "evidencia", "agregar", inc, str(path), "--equipo", "ws-ana",
                         "--formato", "json", *extra)  # fmt: skip
    assert code == 0, err
    [doc] = json.loads(out)
    return dict(doc)


def _verify(
    capsys: pytest.CaptureFixture[str], db: Path, *scope: str
) -> tuple[int, list[dict[str, Any]], str]:
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "verificar",
                         *scope, "--formato", "json")  # fmt: skip
    return code, json.loads(out), err


@pytest.fixture
def case(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path) -> dict[str, Any]:
    """Two incidents, three items (one content shared by both incidents)."""
    a, b = _incident(db), _incident(db)
    files = {}
    for name, data in (("ss.txt", b"ESTAB 0 0 198.18.1.2:22\n"), ("auth.log", b"Failed password\n"),
                       ("ps.txt", b"PID CMD\n1 init\n")):  # fmt: skip
        files[name] = tmp_path / name
        files[name].write_bytes(data)
    items = [
        _add(capsys, db, a["number"], files["ss.txt"]),
        _add(capsys, db, a["number"], files["auth.log"], "--tipo", "registro"),
        _add(capsys, db, b["id"], files["ss.txt"]),
        _add(capsys, db, b["number"], files["ps.txt"], "--proposito", "procesos"),
    ]
    return {"a": a, "b": b, "items": items}


def test_add_list_custody_and_verify_all_well(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    ss_a, _, ss_b, _ = case["items"]
    assert ss_a["sha256"] == ss_b["sha256"] and ss_a["id"] != ss_b["id"]
    assert ss_a["incident_number"] == case["a"]["number"] and ss_a["host"] == "ws-ana"
    code, out, _ = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "listar",
                       case["a"]["number"], "--formato", "json")  # fmt: skip
    assert code == 0 and [d["name"] for d in json.loads(out)] == ["ss.txt", "auth.log"]
    code, out, _ = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "custodia",
                       ss_a["id"], "--formato", "json")  # fmt: skip
    [entry] = json.loads(out)
    assert entry["action"] == "agregada" and entry["analyst"] == "ana"
    assert entry["sha256_before"] == entry["sha256_after"] == ss_a["sha256"]
    assert entry["purpose"] == "análisis del incidente INC-2026-0001"
    code, out, _ = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "custodia",
                       ss_a["id"])  # fmt: skip
    assert code == 0 and "agregada por un analista" in out
    with SQLiteStore(db) as store:
        line = [e for e in store.scan(TIMELINE, (case["a"]["id"],)) if e["kind"] == "evidencia"]
    assert sorted(e["raw_ref"] for e in line) == sorted([ss_a["id"], case["items"][1]["id"]])
    assert all(e["fields"]["sha256"] in e["message"] for e in line)
    code, findings, err = _verify(capsys, db)
    assert (code, findings) == (0, []), err
    assert "todo en orden" in err and "4 evidencias" in err and "3 copias" in err
    blobs = [p for p in (evidence_dir / "sha256").rglob("*") if p.is_file()]
    assert len(blobs) == 3  # the shared content once


def _blob(evidence_dir: Path, item: dict[str, Any]) -> Path:
    return evidence_dir / item["stored_path"]


def _custody_lines(evidence_dir: Path) -> list[str]:
    return (evidence_dir / "custodia.jsonl").read_text().splitlines()


def _write_custody(evidence_dir: Path, lines: list[str]) -> None:
    (evidence_dir / "custodia.jsonl").write_text("".join(line + "\n" for line in lines))


def test_an_empty_listing_says_so_and_odd_names_are_data(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    number = _incident(db)["number"]
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "listar", number)
    assert code == 0 and out == "" and f"No hay evidencia en el incidente {number}" in err
    odd = tmp_path / "$(reboot); rm -rf ~.txt"
    odd.write_text("x")
    doc = _add(capsys, db, number, odd, "--nombre", "<script>alert(1)</script>")
    assert doc["name"] == "<script>alert(1)<_script>"  # a file name: no "/" in it
    code, out, _ = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "custodia",
                       doc["id"], "--formato", "json")  # fmt: skip
    assert json.loads(out)[0]["where"].endswith("$(reboot); rm -rf ~.txt")
    assert _verify(capsys, db)[0] == 0


def test_tampered_blob_is_caught_and_named(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    item = case["items"][1]  # auth.log, one item
    blob = _blob(evidence_dir, item)
    blob.chmod(0o600)  # chmod u+w, as someone would
    with blob.open("ab") as f:
        f.write(b"Accepted password\n")
    blob.chmod(0o400)
    code, findings, err = _verify(capsys, db)
    assert code == 3, err
    [f] = findings
    assert f["kind"] == "alterada" and f["evidence_id"] == item["id"]
    assert "auth.log" in f["message"] and "el contenido cambió" in f["message"]
    # the other incident is untouched
    assert _verify(capsys, db, case["b"]["number"])[0] == 0


def test_blob_left_writable_is_a_finding(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    _blob(evidence_dir, case["items"][3]).chmod(0o600)
    code, findings, _ = _verify(capsys, db, case["items"][3]["id"])
    assert code == 3 and [f["kind"] for f in findings] == ["permisos"]


def test_renamed_blob_is_caught_with_its_new_name(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    item = case["items"][0]  # shared by both incidents
    blob = _blob(evidence_dir, item)
    blob.parent.chmod(0o700)
    blob.rename(blob.parent / "otro-nombre")
    blob.parent.chmod(0o500)  # a careful hand puts the folder back as it was
    code, findings, _ = _verify(capsys, db)
    assert code == 3
    [f] = findings
    assert f["kind"] == "renombrada" and "otro-nombre" in f["message"]
    assert item["id"] in f["message"] and case["items"][2]["id"] in f["message"]


def test_deleted_blob_and_extra_file_are_caught(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    item = case["items"][3]
    blob = _blob(evidence_dir, item)
    blob.parent.chmod(0o700)
    blob.unlink()
    (blob.parent / "intruso").write_bytes(b"no es evidencia")
    code, findings, _ = _verify(capsys, db)
    assert code == 3
    kinds = {f["kind"]: f for f in findings}
    assert set(kinds) == {"falta", "sobrante", "permisos"}
    folder = blob.parent.relative_to(evidence_dir).as_posix()
    assert kinds["permisos"]["message"].startswith(f"{folder}/: permisos 0700")
    assert kinds["falta"]["evidence_id"] == item["id"] and "ps.txt" in kinds["falta"]["message"]
    assert "intruso" in kinds["sobrante"]["message"]
    # scoped to the other incident, neither is its business
    assert _verify(capsys, db, case["a"]["number"])[0] == 0


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_deleted_custody_line_is_caught(
    capsys: pytest.CaptureFixture[str],
    db: Path,
    case: dict[str, Any],
    evidence_dir: Path,
    where: str,
) -> None:
    lines = _custody_lines(evidence_dir)
    index = {"first": 0, "middle": 1, "last": len(lines) - 1}[where]
    gone = json.loads(lines.pop(index))
    _write_custody(evidence_dir, lines)
    code, findings, _ = _verify(capsys, db)
    assert code == 3
    messages = " | ".join(f["message"] for f in findings)
    assert f"evidencia {gone['evidence_id']} nº 1: falta su línea" in messages
    if where != "last":  # the line after the hole no longer chains
        assert "no encadena" in messages


def test_edited_custody_line_is_caught(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    lines = _custody_lines(evidence_dir)
    doc = json.loads(lines[1])
    doc["analyst"] = "mallory"
    lines[1] = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    _write_custody(evidence_dir, lines)
    code, findings, _ = _verify(capsys, db)
    assert code == 3
    messages = [f["message"] for f in findings]
    assert any("línea 2" in m and "no coincide con el registro" in m and "analyst" in m
               for m in messages), messages  # fmt: skip
    assert any("línea 3" in m and "no encadena" in m for m in messages), messages


def test_reordered_custody_lines_are_caught_reading_the_file_alone(
    db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    from csirt import custodia

    lines = _custody_lines(evidence_dir)
    lines[1], lines[2] = lines[2], lines[1]
    _write_custody(evidence_dir, lines)
    _, findings = custodia.check_file(evidence_dir / "custodia.jsonl")  # no database
    assert [f.message.split(":")[0] for f in findings] == [
        "custodia.jsonl, línea 2 (evidencia " + json.loads(lines[1])["evidence_id"] + " nº 1)",
        "custodia.jsonl, línea 3 (evidencia " + json.loads(lines[2])["evidence_id"] + " nº 1)",
        "custodia.jsonl, línea 4 (evidencia " + json.loads(lines[3])["evidence_id"] + " nº 1)",
    ]


def test_record_edited_behind_the_store_is_caught(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any]
) -> None:
    item = case["items"][0]
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE entities SET doc = json_set(doc, '$.purpose', 'otro') WHERE collection = ?"
            " AND key = ?", (CUSTODY, json.dumps([item["id"], 1], separators=(",", ":"))),
        )  # fmt: skip
    conn.close()
    code, findings, _ = _verify(capsys, db)
    assert code == 3
    kinds = {f["kind"] for f in findings}
    assert "registro" in kinds and "custodia" in kinds  # the file says otherwise too


def test_manifest_is_accepted_by_sha256sum(
    capsys: pytest.CaptureFixture[str],
    db: Path,
    case: dict[str, Any],
    evidence_dir: Path,
    tmp_path: Path,
) -> None:
    code, out, _ = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "manifiesto",
                       case["b"]["number"])  # fmt: skip
    assert code == 0 and len(out.splitlines()) == 2
    manifest = tmp_path / "manifiesto.sha256"
    manifest.write_text(out)
    done = subprocess.run(["sha256sum", "-c", str(manifest)], capture_output=True, text=True,
                          check=False, cwd="/")  # fmt: skip
    assert done.returncode == 0 and done.stdout.count(": OK") == 2, done.stdout + done.stderr
    code, listed, _ = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "listar",
                          "--formato", "sha256sum")  # fmt: skip
    assert len(listed.splitlines()) == 3  # every item, each stored copy once
    blob = _blob(evidence_dir, case["items"][3])
    blob.chmod(0o600)
    blob.write_bytes(b"otra cosa\n")
    done = subprocess.run(["sha256sum", "-c", str(manifest)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 1 and "FAILED" in done.stdout


def test_custody_transfer_is_recorded_and_chains(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    item = case["items"][1]
    code, out, err = run(capsys, "--base-datos", str(db), "--analista", "luis", "csirt",
                         "evidencia", "custodia", item["id"], "--registrar", "transferida",
                         "--proposito", "peritaje", "--lugar", "Fiscalía", "--formato", "json")  # fmt: skip
    assert code == 0, err
    entries = json.loads(out)
    assert [(e["seq"], e["action"], e["analyst"]) for e in entries] == [
        (1, "agregada", "ana"), (2, "transferida", "luis")]  # fmt: skip
    assert entries[1]["where"] == "Fiscalía"
    assert _verify(capsys, db)[0] == 0
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "verificar",
                       case["a"]["number"], "--registrar")  # fmt: skip
    assert code == 0, err
    with SQLiteStore(db) as store:
        actions = [e["action"] for e in store.entities(CUSTODY)]
    assert actions.count("verificada") == 2
    assert _verify(capsys, db)[0] == 0


def test_a_tampered_copy_cannot_be_transferred(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path
) -> None:
    item = case["items"][1]
    blob = _blob(evidence_dir, item)
    blob.chmod(0o600)
    blob.write_bytes(b"x")
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "custodia",
                       item["id"], "--registrar", "transferida", "--proposito", "p")  # fmt: skip
    assert code == 1 and "ya no tiene el SHA-256 registrado" in err
    with SQLiteStore(db) as store:
        assert len(list(store.entities(CUSTODY))) == 4


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["INC-2026-0099"], "no existe el incidente INC-2026-0099"),
        (["$(reboot)"], "no es un número de incidente"),
        (["EL", "--tipo", "; rm -rf /"], "tipo de evidencia inválido"),
        (["EL", "--adquirida", "ayer"], "hora de adquisición inválida"),
    ],
)
def test_bad_input_says_why_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path, evidence_dir: Path,
    args: list[str], needle: str,
) -> None:  # fmt: skip
    number = _incident(db)["number"]
    src = tmp_path / "a.txt"
    src.write_text("a")
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "agregar",
                       number if args[0] == "EL" else args[0], str(src), *args[1:])  # fmt: skip
    assert code == 2 and needle in err, err
    with SQLiteStore(db) as store:
        assert list(store.entities(EVIDENCE)) == []
    assert not (evidence_dir / "sha256").exists() or not any(
        p.is_file() for p in (evidence_dir / "sha256").rglob("*")
    )


def test_ctrl_c_mid_copy_leaves_no_half_file_and_no_record(
    db: Path, tmp_path: Path, evidence_dir: Path
) -> None:
    number = _incident(db)["number"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env["PYTHONPATH"] = str(ROOT)
    argv = [PUKARA, "--base-datos", str(db), "csirt", "evidencia", "agregar", number,
            "-", "--nombre", "disco.img", "--equipo", "ws1"]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(os.urandom(3 << 20))  # a multi-chunk start of a longer stream
        proc.stdin.flush()
        incoming = evidence_dir / "tmp"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            partial = list(incoming.glob(".entrante-*")) if incoming.exists() else []
            if partial and partial[0].stat().st_size >= 1 << 20:
                break
            time.sleep(0.05)
        else:
            pytest.fail("la copia no empezó")
        proc.send_signal(signal.SIGINT)
        _, raw = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    err = raw.decode()
    assert proc.returncode == 130, err
    assert [p for p in evidence_dir.rglob("*") if p.is_file()] == []
    with SQLiteStore(db) as store:
        assert list(store.entities(EVIDENCE)) == [] and list(store.entities(CUSTODY)) == []


def _pukara(db: Path, *args: str, stdin: int | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([PUKARA, "--base-datos", str(db), *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # fmt: skip


def test_the_database_is_free_while_a_long_copy_runs(db: Path, evidence_dir: Path) -> None:
    number = _incident(db)["number"]
    proc = _pukara(db, "csirt", "evidencia", "agregar", number, "-", "--nombre", "disco.img",
                   "--equipo", "ws1", "--formato", "json", stdin=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None
    try:
        first = os.urandom(2 << 20)
        proc.stdin.write(first)
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        while not list((evidence_dir / "tmp").glob(".entrante-*")):
            assert time.monotonic() < deadline, "la copia no empezó"
            time.sleep(0.05)
        # another analyst's command does not wait for the copy
        started = time.monotonic()
        with SQLiteStore(db, busy_timeout_ms=2000) as store, command(store, "luis") as cmd:
            open_incident(cmd, title="Otro caso", severity=1)
        assert time.monotonic() - started < 2
        rest = os.urandom(1 << 20)
        out, err = proc.communicate(input=rest, timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err.decode()
    [doc] = json.loads(out)
    assert doc["size"] == len(first) + len(rest)
    assert (evidence_dir / doc["stored_path"]).read_bytes() == first + rest


def test_a_large_file_is_copied_without_loading_it(
    db: Path, tmp_path: Path, evidence_dir: Path
) -> None:
    number = _incident(db)["number"]
    big = tmp_path / "grande.img"
    size = 192 << 20
    with big.open("wb") as f:  # mostly a hole: cheap to make, read back as zeros
        f.write(os.urandom(1 << 20))
        f.truncate(size)
    # measured by a small parent of its own: a child forked from this (large) test process
    # would count this process's memory in its peak until it runs pukara
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, PUKARA, "--base-datos", str(db), "csirt", "evidencia",
         "agregar", number, str(big), "--formato", "json"],
        capture_output=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    out, _, peak_line = done.stdout.decode().rpartition("pico=")
    assert done.returncode == 0, done.stderr.decode()
    [doc] = json.loads(out)
    assert doc["size"] == size
    peak = int(peak_line) * 1024  # Linux: KiB
    assert peak < size / 2, f"pico de memoria {peak} bytes para un archivo de {size}"


_PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], check=False)
sys.stdout.flush()
print(f"pico={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", end="")
sys.exit(done.returncode)
"""


def test_a_command_that_fails_after_adding_leaves_no_item_and_its_line_is_explained(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], evidence_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    from csirt import evidencia
    from pukara.config import load_settings

    settings = load_settings({"db": db}, environ={})
    item = case["items"][1]

    def fails_after_writing() -> None:
        with SQLiteStore(db) as store, command(store, "ana") as cmd:
            incident = evidencia.find_incident(cmd, case["a"]["number"])
            evidencia.add_bytes(cmd, settings, incident, "nuevo.txt", b"contenido nuevo",
                                kind="archivo", host="ws1", purpose="p")  # fmt: skip
            evidencia.record_custody(cmd, settings, dict(item), action="transferida",
                                     purpose="q")  # fmt: skip
            raise RuntimeError("falla después")  # the command rolls back

    with pytest.raises(RuntimeError):
        fails_after_writing()
    with SQLiteStore(db) as store:
        assert len(list(store.entities(EVIDENCE))) == 4
    # a later transfer of the same item takes the same number: both lines are told apart
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "custodia",
                       item["id"], "--registrar", "transferida", "--proposito", "r")  # fmt: skip
    assert code == 0, err
    code, findings, _ = _verify(capsys, db)
    assert code == 3 and len(findings) == 3, findings
    why = "de un comando que falló o se interrumpió antes de guardar"
    assert [f["kind"] for f in findings] == ["sobrante", "custodia", "custodia"]
    assert all(why in f["message"] for f in findings), findings


def test_export_copies_with_a_manifest_sha256sum_accepts_and_custody_exportada(
    capsys: pytest.CaptureFixture[str], db: Path, case: dict[str, Any], tmp_path: Path,
    evidence_dir: Path,
) -> None:  # fmt: skip
    out_dir = tmp_path / "para-fiscalia"
    code, out, err = run(capsys, "--base-datos", str(db), "--analista", "luis", "csirt",
                         "evidencia", "exportar", case["a"]["number"], "--carpeta", str(out_dir),
                         "--lugar", "Fiscalía de Lima", "--formato", "json")  # fmt: skip
    assert code == 0, err
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == sorted(["SHA256SUMS", "custodia.json", *(d["name"] for d in json.loads(out))])
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out_dir, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.count(": OK") == 2, done.stdout + done.stderr
    chain = json.loads((out_dir / "custodia.json").read_text())
    assert [[c["action"] for c in i["custody"]] for i in chain["items"]] == [
        ["agregada", "exportada"], ["agregada", "exportada"]]  # fmt: skip
    assert chain["items"][0]["custody"][1]["analyst"] == "luis"
    assert chain["items"][0]["custody"][1]["where"] == "Fiscalía de Lima"
    assert _verify(capsys, db)[0] == 0
    # a tampered copy is not exported, and the folder must be new
    blob = _blob(evidence_dir, case["items"][3])
    blob.chmod(0o600)
    blob.write_bytes(b"cambiado")
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "exportar",
                       case["b"]["number"], "--carpeta", str(tmp_path / "otra"))  # fmt: skip
    assert code == 1 and "no se exporta" in err
    assert not (tmp_path / "otra").exists()  # all or nothing
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "exportar",
                       case["a"]["number"], "--carpeta", str(out_dir))  # fmt: skip
    assert code == 2 and "debe ser una carpeta nueva o vacía" in err
