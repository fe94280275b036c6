"""The sealed evidence bundle of one audit run, and its offline verification.

A bundle is a directory ``auditoria-<run id>/``::

    manifest.json      sorted keys: run, operator, scope, sampling, host identity, versions and
                       content hashes, observation times, and SHA-256 + size of every file below
    manifest.sig       Ed25519 signature of manifest.json's bytes (base64, one line)
    clave.pub          the signer's public key (PEM); the manifest names its fingerprint
    results.jsonl      one result per line, by check id, host, source
    raw/<host>.json    the raw collections of each host (what the checks judged)
    events/ansible.jsonl   the Ansible job events, in the order emitted

Everything comes from the :class:`~auditoria.almacen.AuditRun` alone, in a fixed order, with
the run's end as every file's mtime, and Ed25519 is deterministic: exporting the same run twice
gives byte-identical bundles. It is written into a temporary folder beside the target and
renamed into place, so a bundle is either whole or absent (its folder is 0700, as mkdtemp
makes it: raw configuration is not for every local user). A run cut short (Ctrl-C) is written
with ``"complete": false``; ``verificar`` says so.

``verify`` needs nothing but the folder and, to know *who* signed, the trusted public key: it
names each changed, added or missing file, and a signature made with another key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditoria import claves
from auditoria.almacen import AuditRun
from pukara.errors import PukaraError, UsageError, os_reason
from pukara.events import parse_timestamp
from pukara.files import fsync_directory

FORMAT = "pukara-auditoria-paquete/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "clave.pub"
SEALS = (MANIFEST, SIGNATURE, PUBLIC_KEY)


class BundleError(PukaraError):
    """A bundle that cannot be written or read at all."""


def bundle_name(run_id: str) -> str:
    return f"auditoria-{run_id}"


def _jsonl(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n" for row in rows)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def _safe_host(host: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in host)
    return safe.lstrip(".") or "_"


def artifacts(run: AuditRun) -> dict[str, bytes]:
    """Every file of the bundle but the seals, by relative path."""
    results = sorted(run.results, key=lambda r: (r.check_id, r.host, r.source))
    files = {
        "results.jsonl": _jsonl([r.to_dict() for r in results]),
        "events/ansible.jsonl": _jsonl([dict(job) for job in run.job_events]),
    }
    for host in sorted(run.raw):
        files[f"raw/{_safe_host(host)}.json"] = _json(dict(run.raw[host]))
    return files


def _observed(run: AuditRun) -> dict[str, dict[str, str]]:
    """Per host: first and last observation (UTC) of its results."""
    out: dict[str, dict[str, str]] = {}
    for result in run.results:
        span = out.setdefault(
            result.host, {"first": result.observed_at, "last": result.observed_at}
        )
        span["first"] = min(span["first"], result.observed_at)
        span["last"] = max(span["last"], result.observed_at)
    return dict(sorted(out.items()))


def manifest(run: AuditRun, files: Mapping[str, bytes], signer: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "run": {
            "id": run.id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "complete": run.complete,
            "operator": run.operator,
            "counts": run.counts(),
        },
        "scope": dict(run.scope),
        "sampling": dict(run.sampling),
        "versions": dict(run.versions),
        "hosts": {name: dict(ident) for name, ident in sorted(run.hosts.items())},
        "observed": _observed(run),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
        "signature": {"algorithm": "Ed25519", "key_sha256": signer},
    }


def contents(run: AuditRun, key: Ed25519PrivateKey) -> dict[str, bytes]:
    """The whole bundle in memory: artifacts, manifest and its seals."""
    files = artifacts(run)
    public = key.public_key()
    body = _json(manifest(run, files, claves.fingerprint(public)))
    files[MANIFEST] = body
    files[SIGNATURE] = base64.b64encode(key.sign(body)) + b"\n"
    files[PUBLIC_KEY] = claves.public_pem(public).encode("ascii")
    return files


def write(run: AuditRun, key: Ed25519PrivateKey, out_dir: Path) -> Path:
    """Write ``out_dir/auditoria-<id>/`` whole (temporary folder, then rename); returns it."""
    target = out_dir / bundle_name(run.id)
    if target.exists():
        raise UsageError(f"{target}: ya existe (elija otra carpeta de salida o bórrelo)")
    if not out_dir.is_dir():
        raise UsageError(f"{out_dir}: no existe la carpeta de salida")
    files = contents(run, key)
    mtime = parse_timestamp(run.finished_at).timestamp()
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=out_dir))
    except OSError as e:
        raise BundleError(f"{out_dir}: no se puede escribir: {os_reason(e)}") from e
    try:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.utime(path, (mtime, mtime))
        for folder in sorted({p.parent for p in tmp.rglob("*")}, reverse=True):
            os.utime(folder, (mtime, mtime))
            fsync_directory(folder)
        os.rename(tmp, target)
        fsync_directory(out_dir)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"{target}: no se pudo escribir el paquete: {os_reason(e)}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


@dataclass(slots=True)
class Verification:
    bundle: Path
    run_id: str = ""
    complete: bool = True
    files: int = 0
    hosts: int = 0
    results: int = 0
    signer: str = ""  # fingerprint of the key that verified the signature
    trusted: bool = False  # verified against a key the caller gave (or this machine's own)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _walk(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink() or not path.is_dir():
            yield path.relative_to(root).as_posix()


def _read(bundle: Path, name: str) -> bytes:
    try:
        return (bundle / name).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{bundle}: falta {name}: no es un paquete completo") from None
    except OSError as e:
        raise BundleError(f"{bundle / name}: no se pudo leer: {os_reason(e)}") from None


def _check_signature(
    report: Verification, body: bytes, sig_text: bytes, embedded: Ed25519PublicKey,
    trusted: Ed25519PublicKey | None,
) -> None:  # fmt: skip
    try:
        signature = base64.b64decode(sig_text.strip(), validate=True)
    except ValueError:
        report.problems.append(f"{SIGNATURE}: no es una firma en base64")
        return
    key = trusted or embedded
    try:
        key.verify(signature, body)
    except InvalidSignature:
        if trusted is not None:
            try:
                embedded.verify(signature, body)
            except InvalidSignature:
                pass
            else:
                report.problems.append(
                    f"{SIGNATURE}: firmado con otra clave (huella "
                    f"{claves.fingerprint(embedded)[:16]}…, se esperaba "
                    f"{claves.fingerprint(trusted)[:16]}…)"
                )
                return
        report.problems.append(
            f"{SIGNATURE}: la firma no corresponde a {MANIFEST} (manifiesto alterado o firma "
            "cambiada)"
        )
        return
    report.signer = claves.fingerprint(key)
    report.trusted = trusted is not None


def verify(bundle: Path, trusted: Ed25519PublicKey | None = None) -> Verification:
    """Check the bundle offline: every listed file present with its hash and size, nothing
    added, the manifest signed by ``trusted`` (else by the key the bundle carries, which only
    proves integrity, not who signed)."""
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: no existe o no es la carpeta de un paquete")
    report = Verification(bundle)
    body = _read(bundle, MANIFEST)
    sig_text = _read(bundle, SIGNATURE)
    embedded = claves.parse_public(_read(bundle, PUBLIC_KEY), str(bundle / PUBLIC_KEY))
    _check_signature(report, body, sig_text, embedded, trusted)
    try:
        data = orjson.loads(body)
        listed: dict[str, Any] = dict(data["files"])
        run = data["run"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        report.problems.append(f"{MANIFEST}: no es un manifiesto de paquete legible")
        return report
    report.run_id = str(run.get("id", ""))
    report.complete = bool(run.get("complete", False))
    report.hosts = len(data.get("hosts") or data.get("observed") or {})
    report.files = len(listed)
    if data.get("signature", {}).get("key_sha256") != claves.fingerprint(embedded):
        report.problems.append(f"{PUBLIC_KEY}: no es la clave que nombra {MANIFEST}")
    present = set(_walk(bundle))
    for name in sorted(listed):
        path = bundle / name
        if name not in present:
            report.problems.append(f"{name}: falta (está en el manifiesto)")
            continue
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        entry = listed[name]
        if digest.hexdigest() != entry.get("sha256") or size != entry.get("bytes"):
            report.problems.append(f"{name}: modificado (su SHA-256 no es el del manifiesto)")
        elif name == "results.jsonl":
            report.results = size and path.read_bytes().count(b"\n")
    for name in sorted(present - set(listed) - set(SEALS)):
        report.problems.append(f"{name}: añadido (no está en el manifiesto)")
    return report
