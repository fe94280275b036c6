"""`pukara auditoria exportar|verificar|informe|clave exportar` on a real store and files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditoria import almacen, claves
from cli import main
from pukara.store import SQLiteStore
from tests.unit.test_auditoria_paquete import sample_run

RUN_ID = sample_run().id


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "datos"))
    path = tmp_path / "a.db"
    with SQLiteStore(path) as store:
        almacen.save_run(store, sample_run())
    return path


def test_export_twice_is_identical_and_verifies(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "uno", tmp_path / "dos"
    one.mkdir()
    two.mkdir()
    code, out, err = run(
        capsys, "--base-datos", str(db), "auditoria", "exportar", RUN_ID, "--salida", str(one)
    )
    assert code == 1 and "aún no hay clave de firma" in err  # exportar never makes a new key
    code, pem, _ = run(capsys, "auditoria", "clave", "exportar")
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    for folder in (one, two):
        code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "exportar", RUN_ID,
                             "--salida", str(folder))  # fmt: skip
        assert code == 0, err
    a, b = one / f"auditoria-{RUN_ID}", two / f"auditoria-{RUN_ID}"
    assert out.strip() == str(b)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    code, out, err = run(capsys, "auditoria", "verificar", str(a))
    assert code == 0, err
    assert "Paquete íntegro" in err and "clave de confianza" in err
    # a tampered copy: exit 3, the file named
    (b / "results.jsonl").write_text("{}\n")
    (b / "raw" / "srv-aud1.json").unlink()
    code, out, err = run(capsys, "auditoria", "verificar", str(b))
    assert code == 3
    assert "results.jsonl: modificado" in err and "raw/srv-aud1.json: falta" in err
    # another signer's public key: the signature is not theirs
    other = tmp_path / "otra.pem"
    other.write_text(claves.public_pem(Ed25519PrivateKey.generate().public_key()))
    code, out, err = run(capsys, "auditoria", "verificar", str(a), "--clave", str(other))
    assert code == 3 and "firmado con otra clave" in err


def test_reports_in_every_format(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "informe", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["run"]["id"] == RUN_ID and len(data["results"]) == 6
    code, out, err = run(
        capsys, "--base-datos", str(db), "auditoria", "informe", RUN_ID, "-f", "csv"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("run_id,check_id,host,status") and len(lines) == 7
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "informe", "-f", "junit")
    assert code == 0, err
    root = ET.fromstring(out)  # noqa: S314 (our own output)
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 6 and root.get("failures") == "3"
    assert len(root.findall("./testsuite/testcase/failure")) == 3
    html = tmp_path / "informe.html"
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "informe", "-o", str(html))
    assert code == 0, err
    text = html.read_text("utf-8")
    assert "<svg" in text and "Informe de auditoría" in text and "<script" not in text
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "informe", "nada")
    assert code == 1 and "ninguna auditoría guardada con id nada" in err


def test_verify_without_a_trusted_key_fails_closed(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "salida"
    out_dir.mkdir()
    assert run(capsys, "auditoria", "clave", "exportar")[0] == 0
    code, _, err = run(capsys, "--base-datos", str(db), "auditoria", "exportar", RUN_ID,
                         "--salida", str(out_dir))  # fmt: skip
    assert code == 0, err
    bundle = out_dir / f"auditoria-{RUN_ID}"
    (bundle / "raw" / "\x1b[2Jx.json").write_text("{}")
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "auditor"))  # no key of its own
    code, _, err = run(capsys, "auditoria", "verificar", str(bundle))
    assert code == 3
    assert "sin clave de confianza no se puede saber quién firmó" in err and "--clave" in err
    assert "Paquete íntegro" not in err
    assert "\x1b" not in err and "raw/x.json: añadido" in err
