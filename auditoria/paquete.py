"""The sealed evidence bundle of one audit run, and its offline verification.

A bundle is a directory ``auditoria-<run id>/``::

    manifest.json      sorted keys: run, operator, scope, sampling, host identity, versions and
                       content hashes, observation times, and SHA-256 + size of every file below
    manifest.sig       Ed25519 signature of manifest.json's bytes (base64, one line)
    clave.pub          the signer's public key (PEM); the manifest names its fingerprint
    results.jsonl      one result per line, by check id, host, source
    raw/<host>.json    the raw collections of each host (what the checks judged); the name is
                       escaped to one file per host (:func:`raw_file`), the manifest's
                       ``raw`` maps each host to its file
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
import stat
import tempfile
from collections.abc import Mapping
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
from pukara.text import clean_line

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


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_LONGEST = 120  # characters of a raw file's stem before it is cut and hashed


def raw_file(host: str) -> str:
    """``raw/<stem>.json`` for ``host``, one file per host name (injective): every byte
    outside ``[A-Za-z0-9_.-]`` is written ``~XX`` (``~`` included, and a leading ``.``, so a
    name can be neither hidden nor a path); a stem too long for a file name keeps its start
    and gains the name's SHA-256."""
    data = host.encode("utf-8")
    stem = (
        "".join(
            chr(b) if chr(b) in _SAFE or (chr(b) == "." and i > 0) else f"~{b:02X}"
            for i, b in enumerate(data)
        )
        or "~"
    )
    if len(stem) > _LONGEST:
        stem = f"{stem[:_LONGEST]}~~{hashlib.sha256(data).hexdigest()}"
    return f"raw/{stem}.json"


def artifacts(run: AuditRun) -> dict[str, bytes]:
    """Every file of the bundle but the seals, by relative path."""
    results = sorted(run.results, key=lambda r: (r.check_id, r.host, r.source))
    files = {
        "results.jsonl": _jsonl([r.to_dict() for r in results]),
        "events/ansible.jsonl": _jsonl([dict(job) for job in run.job_events]),
    }
    for host in sorted(run.raw):
        files[raw_file(host)] = _json(dict(run.raw[host]))
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
        "raw": {host: raw_file(host) for host in sorted(run.raw)},
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


NO_TRUSTED_KEY = (
    "sin clave de confianza no se puede saber quién firmó: hace falta la clave pública del "
    "firmante (indique --clave, o verifique en el equipo que lo firmó, con su clave local)"
)


def _name(name: str) -> str:
    """A bundle's file name as it may be shown: on one line, without control characters."""
    return clean_line(name)


def _walk(root: Path, report: Verification) -> set[str]:
    """The bundle's regular files; a symlink, fifo, device or socket is a problem (the bundle
    must be self-contained, and nothing in it is followed)."""
    files: set[str] = set()
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for entry in sorted(dirs + names):
            path = base / entry
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                continue
            if stat.S_ISREG(mode):
                files.add(rel)
            else:
                what = "un enlace simbólico" if stat.S_ISLNK(mode) else "un archivo especial"
                report.problems.append(f"{_name(rel)}: no es un archivo regular (es {what})")
    return files


def _open(path: Path) -> int:
    """A regular file opened without following a symlink at its last component."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(path)
    return fd


def _absent(bundle: Path, name: str, report: Verification, missing: str) -> None:
    """A name that is not a regular file of the bundle: missing, or a folder (a symlink or
    a special file was already named by :func:`_walk`)."""
    path = bundle / name
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        return
    if path.is_dir():
        report.problems.append(f"{_name(name)}: no es un archivo regular (es una carpeta)")
    else:
        report.problems.append(f"{_name(name)}: {missing}")


def _read(bundle: Path, name: str, present: set[str], report: Verification) -> bytes | None:
    if name not in present:
        _absent(bundle, name, report, "falta (sin él el paquete no puede verificarse)")
        return None
    try:
        with os.fdopen(_open(bundle / name), "rb") as f:
            return f.read()
    except OSError as e:
        report.problems.append(f"{name}: no se pudo leer: {os_reason(e)}")
        return None


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
    if trusted is None:
        report.problems.append(f"{SIGNATURE}: {NO_TRUSTED_KEY}")


def _seals(
    bundle: Path, present: set[str], report: Verification, trusted: Ed25519PublicKey | None
) -> tuple[bytes | None, Ed25519PublicKey | None]:
    """The manifest's bytes and the embedded key, with the signature checked (None: unusable)."""
    body = _read(bundle, MANIFEST, present, report)
    sig_text = _read(bundle, SIGNATURE, present, report)
    pem = _read(bundle, PUBLIC_KEY, present, report)
    embedded = None
    if pem is not None:
        try:
            embedded = claves.parse_public(pem, PUBLIC_KEY)
        except claves.SigningKeyError as e:
            report.problems.append(str(e))
    if body is not None and sig_text is not None and embedded is not None:
        _check_signature(report, body, sig_text, embedded, trusted)
    elif body is not None and sig_text is not None and trusted is not None:
        try:
            trusted.verify(base64.b64decode(sig_text.strip(), validate=True), body)
        except (ValueError, InvalidSignature):
            report.problems.append(f"{SIGNATURE}: la firma no corresponde a {MANIFEST}")
        else:
            report.signer, report.trusted = claves.fingerprint(trusted), True
    return body, embedded


def _bad_name(name: object) -> bool:
    """A manifest name that could leave the bundle or name it ambiguously."""
    if not isinstance(name, str) or not name or name in SEALS:
        return True
    parts = name.split("/")
    return (
        name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("", ".", "..") for part in parts)
    )


def _parse_manifest(body: bytes, report: Verification) -> dict[str, Any] | None:
    """The manifest's files table, with every entry's shape checked (None: unreadable)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        report.problems.append(f"{MANIFEST}: no es un manifiesto de paquete legible (JSON)")
        return None
    run, listed, signature = data.get("run"), data.get("files"), data.get("signature")
    for field_name, value in (("run", run), ("files", listed), ("signature", signature)):
        if not isinstance(value, dict):
            report.problems.append(f"{MANIFEST}: el campo «{field_name}» falta o no es un objeto")
    if not isinstance(run, dict) or not isinstance(listed, dict):
        return None
    report.run_id = _name(str(run.get("id", "")))
    report.complete = run.get("complete") is True
    hosts = data.get("hosts") or data.get("observed") or {}
    report.hosts = len(hosts) if isinstance(hosts, dict) else 0
    report.files = len(listed)
    good: dict[str, Any] = {}
    for name, entry in sorted(listed.items()):
        if _bad_name(name):
            report.problems.append(
                f"{MANIFEST}: nombre de archivo no válido «{_name(name)}» (ruta absoluta, "
                "«..» o un sello)"
            )
        elif not (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("bytes"), int)
        ):
            report.problems.append(
                f"{MANIFEST}: la entrada de «{_name(name)}» no tiene sha256 y bytes"
            )
        else:
            good[name] = entry
    data["files"] = good
    return data


def _digest(path: Path) -> tuple[str, int, int]:
    """SHA-256, size and line count of a regular file read without following links."""
    digest = hashlib.sha256()
    size = lines = 0
    with os.fdopen(_open(path), "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), size, lines


def verify(bundle: Path, trusted: Ed25519PublicKey | None = None) -> Verification:
    """Check the bundle offline: every listed file present, regular, with its hash and size,
    nothing added, the manifest signed by ``trusted``. Without a trusted key the signature
    proves nothing about who signed, so the bundle does not verify (:data:`NO_TRUSTED_KEY`)."""
    if bundle.is_symlink() or not bundle.is_dir():
        raise BundleError(f"{bundle}: no existe o no es la carpeta de un paquete")
    report = Verification(bundle)
    try:
        present = _walk(bundle, report)
    except OSError as e:
        raise BundleError(f"{bundle}: no se pudo recorrer: {os_reason(e)}") from None
    body, embedded = _seals(bundle, present, report, trusted)
    data = _parse_manifest(body, report) if body is not None else None
    if data is None:
        return report
    listed: dict[str, Any] = data["files"]
    signature = data.get("signature")
    named = signature.get("key_sha256") if isinstance(signature, dict) else None
    if embedded is not None and named != claves.fingerprint(embedded):
        report.problems.append(f"{PUBLIC_KEY}: no es la clave que nombra {MANIFEST}")
    for name in sorted(listed):
        if name not in present:
            _absent(bundle, name, report, "falta (está en el manifiesto)")
            continue
        entry = listed[name]
        try:
            sha, size, lines = _digest(bundle / name)
        except OSError as e:
            report.problems.append(f"{_name(name)}: no se pudo leer: {os_reason(e)}")
            continue
        if sha != entry["sha256"] or size != entry["bytes"]:
            report.problems.append(
                f"{_name(name)}: modificado (su SHA-256 no es el del manifiesto)"
            )
        elif name == "results.jsonl":
            report.results = lines
    for name in sorted(present - set(listed) - set(SEALS)):
        report.problems.append(f"{_name(name)}: añadido (no está en el manifiesto)")
    return report
