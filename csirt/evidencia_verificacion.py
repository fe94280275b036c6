"""``evidencia verificar``: every blob hashed again, the custody file and records compared.

Caught and named: a blob whose content changed (``alterada``), moved under another name
(``renombrada``: its content found elsewhere in the store), gone (``falta``), a file in the
store that no item points to (``sobrante``, only when the whole store is checked), a blob that
is no longer read-only or no longer a plain file (``permisos``), any custody line that does not
chain or does not match its record, any record missing its line or the reverse
(``custodia``), and an evidence or custody record that differs from what the store's
hash-chained change log says was written, or a broken change log (``registro``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from csirt import custodia
from csirt.custodia import Finding
from csirt.evidencia import BLOB_MODE, BLOBS, SEALED_DIR, evidence_root, hash_file
from csirt.records import CUSTODY, EVIDENCE, key_of
from pukara.config import Settings
from pukara.errors import os_reason
from pukara.store import Store


@dataclass
class Report:
    items: int = 0  # evidence records checked
    blobs: int = 0  # distinct contents hashed
    bytes: int = 0
    custody_entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)  # items found intact

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(
    store: Store, settings: Settings, items: Iterable[Mapping[str, Any]] | None = None
) -> Report:
    """Check ``items`` (evidence records; None: every item, and the store for extra files)."""
    everything = {e["id"]: e for e in store.entities(EVIDENCE)}
    whole = items is None
    chosen = list(everything.values()) if items is None else [dict(e) for e in items]
    scope = None if whole else {e["id"] for e in chosen}
    root = evidence_root(settings)
    report = Report(items=len(chosen))
    broken = _check_blobs(root, chosen, report, whole)
    records = list(store.entities(CUSTODY))
    lines, chain = custodia.check_file(root / custodia.FILE_NAME)
    report.findings += [f for f in chain if scope is None or f.evidence_id in (None, *scope)]
    committed = {c.request_id for c in store.changes(collection=CUSTODY) if c.request_id}
    report.findings += custodia.compare(lines, records, everything, scope=scope,
                                        committed=committed)  # fmt: skip
    in_scope = [r for r in records if scope is None or r["evidence_id"] in scope]
    report.custody_entries = len(in_scope)
    opened = {r["evidence_id"] for r in in_scope}
    for e in chosen:
        if e["id"] not in opened:
            report.findings.append(Finding("custodia", e["id"], f"evidencia {e['id']} "
                                           f"({e['name']}): no tiene cadena de custodia"))  # fmt: skip
    report.findings += _check_log(store, chosen, in_scope)
    bad = broken | {f.evidence_id for f in report.findings if f.evidence_id}
    report.verified = [e for e in chosen if e["id"] not in bad]
    return report


def _check_blobs(
    root: Path, items: Sequence[Mapping[str, Any]], report: Report, whole: bool
) -> set[str]:
    """Hash each item's blob once; the ids of items whose blob is missing or changed."""
    by_sha: dict[str, list[Mapping[str, Any]]] = {}
    for e in items:
        by_sha.setdefault(e["sha256"], []).append(e)
    missing: dict[str, list[Mapping[str, Any]]] = {}
    broken: set[str] = set()
    for sha, group in sorted(by_sha.items()):
        verdict = _check_blob(root, sha, group, report)
        if verdict == "missing":
            missing[sha] = group
        if verdict != "ok":
            broken |= {e["id"] for e in group}
    extras = _extra_files(root, {e["stored_path"] for e in items})
    found = _find_renamed(root, extras, set(missing)) if missing else {}
    for sha, group in sorted(missing.items()):
        rel = group[0]["stored_path"]
        if sha in found:
            extras.discard(found[sha])
            report.findings.append(Finding("renombrada", group[0]["id"], f"{rel} "
                                           f"({_names(group)}): se movió o renombró a "
                                           f"{found[sha]}"))  # fmt: skip
        else:
            report.findings.append(Finding("falta", group[0]["id"], f"{rel} "
                                           f"({_names(group)}): no está (se borró)"))  # fmt: skip
    if whole:
        report.findings += _check_folders(root)
        for rel in sorted(extras):
            report.findings.append(Finding("sobrante", None, f"{rel}: ninguna evidencia "
                                           "registrada apunta a este archivo (puesto a mano, "
                                           "o de un comando que falló o se interrumpió antes "
                                           "de guardar)"))  # fmt: skip
    return broken


def _check_blob(root: Path, sha: str, group: list[Mapping[str, Any]], report: Report) -> str:
    """``ok``, ``missing`` or ``broken`` (unreadable, not a file, changed content)."""
    rel = group[0]["stored_path"]
    first = group[0]["id"]
    shown = f"{rel} ({_names(group)})"
    path = root / rel
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            report.findings.append(Finding("permisos", first, f"{shown}: ya no es un archivo "
                                           "regular (¿un enlace?)"))  # fmt: skip
            return "broken"
        got, size = hash_file(path)
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        report.findings.append(Finding("falta", first, f"{shown}: no se puede leer: "
                                       f"{os_reason(e)}"))  # fmt: skip
        return "broken"
    mode = stat.S_IMODE(info.st_mode)
    if mode != BLOB_MODE:
        report.findings.append(Finding("permisos", first, f"{shown}: permisos {mode:04o}, se "
                                       f"esperaba {BLOB_MODE:04o} (solo lectura)"))  # fmt: skip
    report.blobs += 1
    report.bytes += size
    if got != sha:
        report.findings.append(Finding("alterada", first, f"{shown}: el contenido cambió: "
                                       f"SHA-256 {got}, registrado {sha}"))  # fmt: skip
        return "broken"
    return "ok"


def _names(group: list[Mapping[str, Any]]) -> str:
    shown = ", ".join(f"{e['id']} «{e['name']}»" for e in group[:3])
    return shown + (f" y {len(group) - 3} más" if len(group) > 3 else "")


def _extra_files(root: Path, expected: set[str]) -> set[str]:
    """Paths (relative to ``root``) of every file under the blob store but the expected ones."""
    out: set[str] = set()
    for folder, dirs, files in os.walk(root / BLOBS, onerror=None):
        dirs.sort()
        for name in files:
            rel = (Path(folder) / name).relative_to(root).as_posix()
            if rel not in expected:
                out.add(rel)
    return out


def _check_folders(root: Path) -> list[Finding]:
    """The evidence folder private (0700) and every folder of the blob store sealed (0500)."""
    out: list[Finding] = []
    try:
        mode = stat.S_IMODE(root.stat().st_mode)
    except OSError:
        return out  # nothing stored yet
    if mode & 0o077:
        out.append(Finding("permisos", None, f"{root}: permisos {mode:04o}; la carpeta de la "
                           "evidencia debe ser solo de su dueño (0700)"))  # fmt: skip
    for folder, dirs, _ in os.walk(root / BLOBS):
        dirs.sort()
        mode = stat.S_IMODE(Path(folder).stat().st_mode)
        if mode != SEALED_DIR:
            rel = Path(folder).relative_to(root).as_posix()
            out.append(Finding("permisos", None, f"{rel}/: permisos {mode:04o}, se esperaba "
                               f"{SEALED_DIR:04o} (nadie agrega ni quita copias a mano)"))  # fmt: skip
    return out


def _find_renamed(root: Path, extras: set[str], wanted: set[str]) -> dict[str, str]:
    """For each wanted SHA-256, an extra file that holds that content."""
    found: dict[str, str] = {}
    for rel in sorted(extras):
        if len(found) == len(wanted):
            break
        try:
            sha, _ = hash_file(root / rel)
        except OSError:
            continue
        if sha in wanted and sha not in found:
            found[sha] = rel
    return found


def _check_log(
    store: Store, items: Sequence[Mapping[str, Any]], custody: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """Records against the change log: each one as its last logged change left it."""
    chain = store.verify_changes()
    out: list[Finding] = []
    if not chain.ok:
        out.append(Finding("registro", None, f"el registro de cambios de la base no encadena "
                           f"(nº {chain.broken_seq}): {chain.reason}"))  # fmt: skip
    logged: dict[tuple[str, str], Any] = {}
    for collection in (EVIDENCE, CUSTODY):
        for change in store.changes(collection=collection):
            logged[(collection, change.key)] = change.after
    for collection, docs in ((EVIDENCE, items), (CUSTODY, custody)):
        for doc in docs:
            key = orjson.dumps(list(key_of(collection, doc))).decode()
            if logged.get((collection, key)) != dict(doc):
                what = "evidencia" if collection == EVIDENCE else "custodia"
                evid = doc["id"] if collection == EVIDENCE else doc["evidence_id"]
                out.append(Finding("registro", evid, f"registro de {what} {key}: no es el que "
                                   "dejó el registro de cambios (se editó la base por fuera)"))  # fmt: skip
    return out
