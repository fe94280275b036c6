"""The evidence bundle on real files: deterministic export, and each kind of tampering caught."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

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
    # without a trusted key the forgery is self-consistent: that proves nothing, so it fails
    alone = paquete.verify(bundle)
    assert not alone.ok and not alone.trusted
    assert alone.problems == [f"manifest.sig: {paquete.NO_TRUSTED_KEY}"]


def _resign(bundle: Path, key: Ed25519PrivateKey, edit: Any) -> None:
    """Edit the manifest as a forger holding the signing key would, and sign it again."""
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    edit(manifest)
    body = paquete._json(manifest)
    (bundle / "manifest.json").write_bytes(body)
    (bundle / "manifest.sig").write_bytes(base64.b64encode(key.sign(body)) + b"\n")


def test_symlinks_and_special_files_are_refused(
    tmp_path: Path, key: Ed25519PrivateKey, bundle: Path
) -> None:
    raw = bundle / "raw" / "srv-aud1.json"
    outside = tmp_path / "fuera.json"
    outside.write_bytes(raw.read_bytes())  # same bytes: the hash alone would match
    raw.unlink()
    raw.symlink_to(outside)
    os.mkfifo(bundle / "raw" / "tubo")
    (bundle / "enlace").symlink_to(tmp_path, target_is_directory=True)
    report = paquete.verify(bundle, key.public_key())
    assert sorted(report.problems) == [
        "enlace: no es un archivo regular (es un enlace simbólico)",
        "raw/srv-aud1.json: no es un archivo regular (es un enlace simbólico)",
        "raw/tubo: no es un archivo regular (es un archivo especial)",
    ]


def test_a_symlinked_seal_is_refused(tmp_path: Path, key: Ed25519PrivateKey, bundle: Path) -> None:
    sig = bundle / "manifest.sig"
    copy = tmp_path / "firma"
    copy.write_bytes(sig.read_bytes())
    sig.unlink()
    sig.symlink_to(copy)
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == ["manifest.sig: no es un archivo regular (es un enlace simbólico)"]
    assert not report.trusted


def test_missing_seals_are_listed_not_raised(key: Ed25519PrivateKey, bundle: Path) -> None:
    (bundle / "manifest.sig").unlink()
    (bundle / "clave.pub").write_text("basura")
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == [
        "manifest.sig: falta (sin él el paquete no puede verificarse)",
        "clave.pub: no es una clave pública PEM válida",
    ]


def test_traversal_in_manifest_names_is_refused(
    tmp_path: Path, key: Ed25519PrivateKey, bundle: Path
) -> None:
    secret = tmp_path / "secreto.txt"
    secret.write_text("x")
    entry = {"sha256": hashlib.sha256(b"x").hexdigest(), "bytes": 1}

    def edit(manifest: dict[str, Any]) -> None:
        manifest["files"]["../secreto.txt"] = entry
        manifest["files"][str(secret)] = entry

    _resign(bundle, key, edit)
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == [
        f"manifest.json: nombre de archivo no válido «{name}» (ruta absoluta, «..» o un sello)"
        for name in sorted(["../secreto.txt", str(secret)])
    ]


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["files"].__setitem__("results.jsonl", "x"),
        lambda m: m.__setitem__("run", "x"),
        lambda m: m.__setitem__("signature", ["x"]),
        lambda m: m.__setitem__("files", None),
    ],
)
def test_a_malformed_manifest_is_a_problem_not_a_crash(
    key: Ed25519PrivateKey, bundle: Path, edit: Any
) -> None:
    _resign(bundle, key, edit)
    report = paquete.verify(bundle, key.public_key())
    assert any(p.startswith("manifest.json: ") for p in report.problems), report.problems


def test_control_characters_in_names_never_reach_the_report(
    key: Ed25519PrivateKey, bundle: Path
) -> None:
    (bundle / "raw" / "\x1b[2Jx\x07.json").write_text("{}")
    report = paquete.verify(bundle, key.public_key())
    assert report.problems == ["raw/x.json: añadido (no está en el manifiesto)"]


def test_raw_file_names_are_one_per_host() -> None:
    hosts = ["a/b", "a_b", "a~2Fb", "a b", ".oculto", "~2Eoculto", "..", ".", "", "ñandú",
             "srv-aud1", "srv.lab.test", "x" * 300, "x" * 300 + "y"]  # fmt: skip
    names = [paquete.raw_file(h) for h in hosts]
    assert len(set(names)) == len(hosts), names
    assert paquete.raw_file("srv-aud1") == "raw/srv-aud1.json"
    assert paquete.raw_file("srv.lab.test") == "raw/srv.lab.test.json"
    for name in names:
        stem = name.removeprefix("raw/")
        assert "/" not in stem and not stem.startswith(".") and len(stem) < 255


def test_two_hosts_that_looked_alike_keep_their_own_raw_file(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    run = replace(sample_run(), raw={"a/b": {"k": "uno"}, "a_b": {"k": "dos"}})
    files = paquete.artifacts(run)
    raws = {n: orjson.loads(d) for n, d in files.items() if n.startswith("raw/")}
    assert sorted(v["k"] for v in raws.values()) == ["dos", "uno"]
    bundle = paquete.write(run, key, tmp_path)
    body = orjson.loads((bundle / "manifest.json").read_bytes())
    assert body["raw"] == {"a/b": "raw/a~2Fb.json", "a_b": "raw/a_b.json"}
    assert orjson.loads((bundle / body["raw"]["a/b"]).read_bytes()) == {"k": "uno"}
    assert paquete.verify(bundle, key.public_key()).ok
