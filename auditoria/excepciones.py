"""Waivers: an accepted finding, with its justification, approver and expiry.

The file is TOML, one ``[[waiver]]`` table per waiver::

    [[waiver]]
    id = "EXC-2026-001"
    check = "ssh_password_auth"
    host = "srv-aud3"          # or "*": every host
    justification = "Equipo heredado; se reemplaza en marzo"
    approver = "Oficial de seguridad"
    expires = 2027-03-31       # UTC date, last day it holds

A waiver turns a FAIL into WAIVED while it holds; once expired, the result stays FAIL and names
the waiver (an expired exception is a finding too). A pass, an error or a not-applicable
result is never waived: a waiver accepts a known finding, not an unknown one. A waived result
is evidence only while the waiver holds: its valid_until is the earlier of the check's own
validity and the day after the expiry (00:00Z), so it goes stale when the waiver ends.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from auditoria.modelo import Result, Status
from pukara import tomlfile
from pukara.errors import PukaraError

FIELDS = ("id", "check", "host", "justification", "approver", "expires")


class WaiverError(PukaraError):
    """A waiver file that cannot be used (file, line and field in the message)."""


@dataclass(frozen=True, slots=True)
class Waiver:
    id: str
    check: str
    host: str  # a host name, or "*"
    justification: str
    approver: str
    expires: date  # UTC date: the waiver holds through this day

    def matches(self, result: Result) -> bool:
        return self.check == result.check_id and self.host in ("*", result.host)

    def expired(self, today: date) -> bool:
        return today > self.expires


def _lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """For each ``[[waiver]]`` table in order: its header line and each field's line."""
    blocks: list[tuple[int, dict[str, int]]] = []
    field = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=")
    current: dict[str, int] | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = None
            if re.match(r"^\[\[\s*waiver\s*\]\]", stripped):
                current = {}
                blocks.append((n, current))
            continue
        found = field.match(line)
        if found and current is not None:
            current.setdefault(found.group(1), n)
    return blocks


def parse(text: str, source: str, known_checks: Collection[str]) -> list[Waiver]:
    """The waivers of one file's text; ``source`` names the file in errors."""
    data = tomlfile.loads(text, source, WaiverError)
    extra = sorted(set(data) - {"waiver"})
    if extra:
        raise WaiverError(
            f"{source}: sección desconocida «{extra[0]}» (se esperan tablas [[waiver]])"
        )
    tables = data.get("waiver", [])
    if not isinstance(tables, list):
        raise WaiverError(f"{source}: «waiver» debe escribirse como tablas [[waiver]]")
    lines = _lines(text)
    waivers: list[Waiver] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        header, fields = lines[i] if i < len(lines) else (0, {})
        waiver = _waiver(table, _Place(source, header, fields), known_checks)
        if waiver.id in seen:
            raise _Place(source, header, fields).error(
                "id", f"id repetido «{waiver.id}» (ya usado en la línea {seen[waiver.id]})"
            )
        seen[waiver.id] = fields.get("id", header)
        waivers.append(waiver)
    return waivers


@dataclass(frozen=True, slots=True)
class _Place:
    source: str
    header: int
    fields: dict[str, int]

    def error(self, field: str, why: str) -> WaiverError:
        at = self.fields.get(field, self.header)
        return WaiverError(f"{self.source}, línea {at}, campo «{field}»: {why}")


def _waiver(table: Any, place: _Place, known_checks: Collection[str]) -> Waiver:
    if not isinstance(table, dict):
        raise place.error("waiver", "debe ser una tabla [[waiver]]")
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise place.error(unknown[0], f"campo desconocido (se admiten: {', '.join(FIELDS)})")
    for name in FIELDS:
        if name not in table:
            why = (
                "falta la fecha de vencimiento (toda excepción vence; formato AAAA-MM-DD)"
                if name == "expires"
                else "falta este campo obligatorio"
            )
            raise place.error(name, why)
    for name in ("id", "check", "host", "justification", "approver"):
        if not isinstance(table[name], str) or not table[name].strip():
            raise place.error(name, "debe ser un texto no vacío")
    if table["check"] not in known_checks:
        raise place.error("check", f"comprobación desconocida «{table['check']}»")
    return Waiver(
        id=table["id"].strip(),
        check=table["check"],
        host=table["host"].strip(),
        justification=table["justification"].strip(),
        approver=table["approver"].strip(),
        expires=_expiry(table["expires"], place),
    )


def _expiry(value: Any, place: _Place) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise place.error("expires", f"fecha inválida «{value}» (AAAA-MM-DD)") from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise place.error("expires", "debe ser una fecha AAAA-MM-DD (UTC), sin hora")
    return value


def load(path: Path, known_checks: Collection[str]) -> list[Waiver]:
    text = tomlfile.read_text(path, "el archivo de excepciones", WaiverError)
    return parse(text, str(path), known_checks)


def _pick(waivers: Sequence[Waiver], result: Result) -> Waiver | None:
    """The host's own waiver wins over a ``*`` one."""
    exact = [w for w in waivers if w.check == result.check_id and w.host == result.host]
    star = [w for w in waivers if w.check == result.check_id and w.host == "*"]
    found = exact or star
    return found[0] if found else None


def waiver_end(waiver: Waiver) -> str:
    """The first instant (UTC) the waiver no longer holds: the day after its expiry, 00:00Z.
    A waived result is evidence only until then (its valid_until is never later)."""
    return f"{(waiver.expires + timedelta(days=1)).isoformat()}T00:00:00Z"


def apply(results: Iterable[Result], waivers: Sequence[Waiver], today: date) -> list[Result]:
    """Results with the waivers applied (see the module docstring)."""
    out: list[Result] = []
    for result in results:
        waiver = _pick(waivers, result) if result.status is Status.FAIL else None
        if waiver is None:
            out.append(result)
        elif waiver.expired(today):
            out.append(
                replace(
                    result,
                    waiver=waiver.id,
                    message=f"{result.message} — la excepción {waiver.id} venció el "
                    f"{waiver.expires.isoformat()}: sigue como fallo",
                )
            )
        else:
            out.append(
                replace(
                    result,
                    status=Status.WAIVED,
                    waiver=waiver.id,
                    valid_until=min(result.valid_until, waiver_end(waiver)),
                    message=f"{result.message} — exceptuado por {waiver.id} (aprobó "
                    f"{waiver.approver}; vence el {waiver.expires.isoformat()}): "
                    f"{waiver.justification}",
                )
            )
    return out


def as_dict(waiver: Waiver) -> dict[str, str]:
    return {
        "id": waiver.id,
        "check": waiver.check,
        "host": waiver.host,
        "justification": waiver.justification,
        "approver": waiver.approver,
        "expires": waiver.expires.isoformat(),
    }
