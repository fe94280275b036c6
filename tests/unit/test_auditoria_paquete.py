"""The evidence bundle on real files: deterministic export, and each kind of tampering caught."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditoria import claves, paquete
from auditoria.almacen import AuditRun
from auditoria.modelo import Result, Status
from pukara.errors import UsageError


def sample_run(hosts: int = 3) -> AuditRun:
    results = []
    for n in range(hosts):
        host = f"srv-aud{n + 1}"
        for check, status in (("ssh_root_login", Status.PASS), ("ntp_sync", Status.FAIL)):
            at = f"2026-12-01T10:00:0{n}Z"
            results.append(Result(check, host, status, "ok", at, "2026-12-31T10:00:00Z"))
    return AuditRun(
        id="0193a1b2-0000-7000-8000-000000000001",
        started_at="2026-12-01T10:00:00Z",
        finished_at="2026-12-01T10:01:00Z",
        operator="jperez",
        complete=True,
        scope={"alcance": "todos"},
        sampling={"method": "aleatoria simple", "seed": 7, "population": 3, "selected": []},
        versions={"pukara": "0.1.0"},
        hosts={
            f"srv-aud{n + 1}": {"machine_id": f"m{n}", "hostname": f"srv-aud{n + 1}"}
            for n in range(hosts)
        },
        results=tuple(reversed(results)),
        raw={f"srv-aud{n + 1}": {"sshd": "permitrootlogin no"} for n in range(hosts)},
        job_events=({"event": "playbook_on_start", "counter": 1},),
    )


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return claves.signing_key(tmp_path / "datos")


@pytest.fixture
def bundle(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    out = tmp_path / "salida"
    out.mkdir()
    return paquete.write(sample_run(), key, out)


def test_key_is_created_private_and_reused(tmp_path: Path) -> None:
    first = claves.signing_key(tmp_path / "datos")
    path = claves.key_path(tmp_path / "datos")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = claves.signing_key(tmp_path / "datos")
    assert claves.fingerprint(first.public_key()) == claves.fingerprint(again.public_key())
    assert claves.public_pem(again.public_key()).startswith("-----BEGIN PUBLIC KEY-----")
    os.chmod(path, 0o644)
    with pytest.raises(claves.SigningKeyError, match="0600"):
        claves.signing_key(tmp_path / "datos")


def test_bundle_verifies_and_exports_byte_identical(
    tmp_path: Path, key: Ed25519PrivateKey, bundle: Path
) -> None:
    report = paquete.verify(bundle, key.public_key())
    assert report.ok, report.problems
    assert report.trusted and report.results == 6 and report.hosts == 3
    other = tmp_path / "otra"
    other.mkdir()
    again = paquete.write(sample_run(), key, other)
    names = sorted(p.relative_to(bundle) for p in bundle.rglob("*"))
    assert names == sorted(p.relative_to(again) for p in again.rglob("*"))
    for name in names:
        a, b = bundle / name, again / name
        assert a.stat().st_mtime == b.stat().st_mtime
        if a.is_file():
            assert a.read_bytes() == b.read_bytes(), name
    body = orjson.loads((bundle / "manifest.json").read_bytes())
    assert set(body["files"]) == {"results.jsonl", "events/ansible.jsonl"} | {
        f"raw/srv-aud{n}.json" for n in (1, 2, 3)
    }
    assert body["run"]["operator"] == "jperez"
    assert body["observed"]["srv-aud2"] == {
        "first": "2026-12-01T10:00:01Z",
        "last": "2026-12-01T10:00:01Z",
    }
    assert not list(other.glob(".*"))  # no temporary folder left behind
    with pytest.raises(UsageError, match="ya existe"):
        paquete.write(sample_run(), key, other)


def test_changed_file_is_named(key: Ed25519PrivateKey, bundle: Path) -> None:
    path = bundle / "results.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"fail"', b'"pass"'))
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == ["results.jsonl: modificado (su SHA-256 no es el del manifiesto)"]


def test_added_file_is_named(key: Ed25519PrivateKey, bundle: Path) -> None:
    (bundle / "raw" / "srv-aud9.json").write_text("{}")
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == ["raw/srv-aud9.json: añadido (no está en el manifiesto)"]


def test_deleted_file_is_named(key: Ed25519PrivateKey, bundle: Path) -> None:
    (bundle / "raw" / "srv-aud2.json").unlink()
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == ["raw/srv-aud2.json: falta (está en el manifiesto)"]


def test_edited_manifest_breaks_the_signature(key: Ed25519PrivateKey, bundle: Path) -> None:
    path = bundle / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"jperez"', b'"otro"'))
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == [
        "manifest.sig: la firma no corresponde a manifest.json (manifiesto alterado o firma "
        "cambiada)"
    ]


def test_resigning_with_another_key_is_caught(key: Ed25519PrivateKey, bundle: Path) -> None:
    """A forger changes a result, fixes the hash and re-signs with a key of their own."""
    results = bundle / "results.jsonl"
    results.write_bytes(results.read_bytes().replace(b'"fail"', b'"pass"'))
    forged = Ed25519PrivateKey.generate()
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    data = results.read_bytes()
    manifest["files"]["results.jsonl"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    manifest["signature"]["key_sha256"] = claves.fingerprint(forged.public_key())
    body = paquete._json(manifest)
    (bundle / "manifest.json").write_bytes(body)
    (bundle / "manifest.sig").write_bytes(base64.b64encode(forged.sign(body)) + b"\n")
    (bundle / "clave.pub").write_text(claves.public_pem(forged.public_key()))
    report = paquete.verify(bundle, key.public_key())
    assert len(report.problems) == 1
    assert report.problems[0].startswith("manifest.sig: firmado con otra clave")
    # without the trusted key the bundle is only self-consistent, and says so
    alone = paquete.verify(bundle)
    assert alone.ok and not alone.trusted  # fmt: skip
