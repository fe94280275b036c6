"""The chain of custody of each evidence item: who did what with it, when, why and where.

Every entry is a ``csirt.custodia`` record (key: evidence id and a sequence number from 1),
written through the command's transaction, so each one is also a signed line of the store's
hash-chained change log. The same entry is appended as one JSON line to ``custodia.jsonl``
next to the blob store; each line carries the SHA-256 of the line before it (``prev``), so a
line deleted, edited or moved is caught by anyone who reads that file alone
(:func:`check_file`), and the file is compared with the records (:func:`compare`).

The entries follow NIST's definition of custody (each handler, the time of each collection or
transfer and its purpose) and RFC 3227: the hash of the item before and after each action.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from csirt.records import CUSTODY, Command
from pukara.errors import UsageError
from pukara.files import fsync_directory, make_private_dirs
from pukara.text import clean_line

# what can happen to an item; the first two open its custody
ACTIONS = ("adquirida", "agregada", "verificada", "transferida", "recibida", "exportada",
           "devuelta")  # fmt: skip
ACTION_TEXT = {
    "adquirida": "adquirida en el equipo",
    "agregada": "agregada por un analista",
    "verificada": "verificada (hash recalculado)",
    "transferida": "transferida a otra persona o lugar",
    "recibida": "recibida de otra persona o lugar",
    "exportada": "copia exportada",
    "devuelta": "devuelta",
}
FILE_NAME = "custodia.jsonl"
GENESIS = "0" * 64  # the "previous line" of the first line
# the fields of an entry, in the record and in its line
FIELDS = ("evidence_id", "seq", "ts", "analyst", "action", "purpose", "sha256_before",
          "sha256_after", "where", "incident_id", "request_id")  # fmt: skip
_TAIL = 65536  # a line is far shorter than this


def check_action(action: str) -> str:
    text = action.strip().lower()
    if text not in ACTIONS:
        raise UsageError(
            f"acción de custodia desconocida «{clean_line(action)}»: use una de "
            f"{', '.join(ACTIONS)}"
        )
    return text


def check_purpose(purpose: str) -> str:
    text = clean_line(purpose).strip()
    if not text:
        raise UsageError("falta el propósito de la acción de custodia (--proposito)")
    return text[:500]


def line_hash(raw: bytes) -> str:
    """The SHA-256 of one line of the file (without its newline): the next line's ``prev``."""
    return hashlib.sha256(raw).hexdigest()


def encode(entry: Mapping[str, Any], prev: str) -> bytes:
    """The file line of ``entry`` (sorted keys, no newline)."""
    doc = {k: entry.get(k) for k in FIELDS}
    doc["prev"] = prev
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def append(
    cmd: Command,
    root: Path,
    evidence: Mapping[str, Any],
    *,
    action: str,
    purpose: str,
    sha256_before: str | None,
    sha256_after: str | None,
    where: str = "",
) -> dict[str, Any]:
    """Add an entry to the custody of ``evidence`` (a ``csirt.evidencia`` record)."""
    action = check_action(action)
    purpose = check_purpose(purpose)
    prior = cmd.tx.scan(CUSTODY, (evidence["id"],))
    entry: dict[str, Any] = {
        "evidence_id": evidence["id"],
        "seq": max((int(e["seq"]) for e in prior), default=0) + 1,
        "ts": cmd.now,
        "analyst": cmd.analyst,
        "action": action,
        "purpose": purpose,
        "sha256_before": sha256_before,
        "sha256_after": sha256_after,
        "where": clean_line(where).strip(),
        "incident_id": evidence["incident_id"],
        "request_id": cmd.request_id,
    }
    cmd.insert(CUSTODY, entry)
    append_line(root, entry)
    cmd.emit(
        "custodia", action,
        f"custodia de la evidencia {evidence['name']}: {ACTION_TEXT[action]} ({purpose})",
        fields={"csirt.incident.id": evidence["incident_id"],
                "csirt.evidence.id": evidence["id"], "csirt.custody.seq": entry["seq"],
                "file.hash.sha256": evidence["sha256"]},
    )  # fmt: skip
    return entry


def append_line(root: Path, entry: Mapping[str, Any]) -> None:
    """Append ``entry``'s line to the custody file, chained to its last line, on disk.

    The file is locked (``flock``) from reading its last line to writing the new one: two
    writers (two databases sharing the data directory) never chain to the same line.
    """
    import fcntl

    make_private_dirs(root)
    path = root / FILE_NAME
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = last_line(path)
        line = encode(entry, GENESIS if last is None else line_hash(last))
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)  # and the lock with it
    if new:
        fsync_directory(root)


def last_line(path: Path) -> bytes | None:
    """The file's last non-empty line, or None for a missing or empty file."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(0, end - _TAIL))
            tail = f.read()
    except FileNotFoundError:
        return None
    lines = [ln for ln in tail.split(b"\n") if ln.strip()]
    return lines[-1] if lines else None


def history(store_or_tx: Any, evidence_id: str) -> list[dict[str, Any]]:
    """The custody entries of one item, oldest first."""
    rows = store_or_tx.scan(CUSTODY, (evidence_id,))
    return sorted(rows, key=lambda e: int(e["seq"]))


# -- verification ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based line number in the file
    doc: dict[str, Any] | None  # None: not a JSON object


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # alterada, renombrada, falta, sobrante, permisos, custodia
    evidence_id: str | None
    message: str  # Spanish, for a person


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines with their numbers (streamed; empty lines skipped)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for number, raw in enumerate(f, start=1):
            raw = raw.rstrip(b"\n")
            if raw.strip():
                yield number, raw


def check_file(path: Path) -> tuple[list[Line], list[Finding]]:
    """The custody file's lines, and every line that does not chain to the one before it."""
    lines: list[Line] = []
    findings: list[Finding] = []
    prev = GENESIS
    for number, raw in read_lines(path):
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            findings.append(Finding("custodia", None, f"{path.name}, línea {number}: ilegible "
                                    "(no es un objeto JSON)"))  # fmt: skip
            lines.append(Line(number, None))
            prev = line_hash(raw)
            continue
        evid = str(doc.get("evidence_id") or "") or None
        if doc.get("prev") != prev:
            findings.append(Finding(
                "custodia", evid,
                f"{path.name}, línea {number} ({_entry_name(doc)}): no encadena con la línea "
                "anterior (se borró, editó o movió una línea antes de ella)",
            ))  # fmt: skip
        lines.append(Line(number, doc))
        prev = line_hash(raw)
    return lines, findings


def _entry_name(doc: Mapping[str, Any]) -> str:
    evid, seq = clean_line(str(doc.get("evidence_id"))), clean_line(str(doc.get("seq")))
    return f"evidencia {evid} nº {seq}"


def compare(
    lines: Iterable[Line],
    records: Iterable[Mapping[str, Any]],
    evidence: Mapping[str, Mapping[str, Any]],
    *,
    file_name: str = FILE_NAME,
    scope: set[str] | None = None,
    committed: set[str] | None = None,
) -> list[Finding]:
    """Lines against records: a record without its line, a line without its record, a line
    that says something else than its record, a numbering with gaps, and an entry whose hash
    after the action is not the item's. ``scope``: only these evidence ids (None: all);
    ``committed``: the request ids of the commands whose custody records were saved (a line
    of any other is from a command that failed or was interrupted before saving)."""
    by_key, findings = _index(lines, file_name, scope)
    seen: set[tuple[str, int, str]] = set()
    per_item: dict[str, list[int]] = {}
    for rec in records:
        key = (str(rec["evidence_id"]), int(rec["seq"]), str(rec.get("request_id")))
        if scope is None or key[0] in scope:
            seen.add(key)
            per_item.setdefault(key[0], []).append(key[1])
            findings += _check_record(rec, _line_for(by_key, key), evidence.get(key[0]),
                                      file_name)  # fmt: skip
    for key, line in sorted(by_key.items(), key=lambda kv: kv[1].number):
        if key in seen or any(_line_for(by_key, k) is line for k in seen if k[:2] == key[:2]):
            continue
        why = "línea agregada o editada"
        if committed is not None and key[2] not in committed:
            why += ", o de un comando que falló o se interrumpió antes de guardar"
        findings.append(Finding("custodia", key[0], f"{file_name}, línea {line.number} "
                                f"(evidencia {key[0]} nº {key[1]}): no hay registro así en la "
                                f"base ({why})"))  # fmt: skip
    for evid, seqs in per_item.items():
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            findings.append(Finding("custodia", evid, f"evidencia {evid}: la numeración de su "
                                    "custodia tiene huecos"))  # fmt: skip
    return findings


def _line_for(
    by_key: Mapping[tuple[str, int, str], Line], key: tuple[str, int, str]
) -> Line | None:
    """The line of a record: the one with its request id, else the one with its number (an
    edited request id is then a difference, not a missing line)."""
    line = by_key.get(key)
    if line is not None:
        return line
    same = [ln for k, ln in by_key.items() if k[:2] == key[:2]]
    return same[0] if len(same) == 1 else None


def _index(
    lines: Iterable[Line], file_name: str, scope: set[str] | None
) -> tuple[dict[tuple[str, int, str], Line], list[Finding]]:
    by_key: dict[tuple[str, int, str], Line] = {}
    findings: list[Finding] = []
    for line in lines:
        doc = line.doc
        if doc is None:
            continue
        key = (str(doc.get("evidence_id")), _int(doc.get("seq")), str(doc.get("request_id")))
        if scope is not None and key[0] not in scope:
            continue
        if key in by_key:
            findings.append(Finding("custodia", key[0], f"{file_name}, línea {line.number} "
                                    f"({_entry_name(doc)}): repite la línea "
                                    f"{by_key[key].number}"))  # fmt: skip
            continue
        by_key[key] = line
    return by_key, findings


def _check_record(
    rec: Mapping[str, Any],
    line: Line | None,
    item: Mapping[str, Any] | None,
    file_name: str,
) -> list[Finding]:
    evid = str(rec["evidence_id"])
    name = _entry_name(rec)
    out: list[Finding] = []
    if line is None or line.doc is None:
        out.append(Finding("custodia", evid, f"{name}: falta su línea en {file_name} (se borró)"))
    else:
        differ = [f for f in FIELDS if line.doc.get(f) != rec.get(f)]
        if differ:
            out.append(Finding(
                "custodia", evid,
                f"{file_name}, línea {line.number} ({name}): no coincide con el registro en la "
                f"base ({', '.join(differ)})",
            ))  # fmt: skip
    if item is None:
        out.append(Finding("custodia", evid, f"{name}: la evidencia no existe"))
    elif rec.get("sha256_after") not in (None, item["sha256"]):
        out.append(Finding("custodia", evid, f"{name}: el hash tras la acción no es el de la "
                           "evidencia"))  # fmt: skip
    return out


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
