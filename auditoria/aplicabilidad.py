"""Which controls apply, and why: the ministry-editable applicability file of the SoA.

One table per edition, one line per control::

    [2022]
    "A.8.11" = { applicable = false, justification = "No se procesan datos de prueba reales" }

The shipped default (``datos/aplicabilidad.toml``) is used unless the ministry keeps its
own file in the data directory (``auditoria/aplicabilidad.toml``) or names one with
``--aplicabilidad``. A malformed file is an error naming the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from auditoria import catalogo
from auditoria.modelo import EDITIONS
from pukara import tomlfile
from pukara.errors import PukaraError

FIELDS = ("applicable", "justification")
_KEY = re.compile(r'^\s*"?([^"=\s]+)"?\s*=')
_HEADER = re.compile(r"^\s*\[\s*\"?([^\]\"]+)\"?\s*\]")


class ApplicabilityError(PukaraError):
    """The applicability file cannot be used (file, line and field in the message)."""


@dataclass(frozen=True, slots=True)
class Applicability:
    control: str
    applicable: bool
    justification: str


def user_file(data_dir: Path) -> Path:
    return data_dir / "auditoria" / "aplicabilidad.toml"


def _lines(text: str) -> dict[tuple[str, str], int]:
    """(section, key) -> the line where that key is written."""
    where: dict[tuple[str, str], int] = {}
    section = ""
    for n, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            section = header.group(1).strip()
            where.setdefault((section, ""), n)
            continue
        key = _KEY.match(line)
        if key:
            where.setdefault((section, key.group(1)), n)
    return where


def _entry(name: str, line: int, cid: str, value: Any) -> Applicability:
    where = f"{name}, línea {line}"
    if not isinstance(value, dict):
        raise ApplicabilityError(
            f'{where}, control {cid}: se espera {{ applicable = true|false, justification = "..." }}'
        )
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ApplicabilityError(f"{where}, campo {unknown[0]}: campo desconocido")
    applicable = value.get("applicable")
    if not isinstance(applicable, bool):
        raise ApplicabilityError(f"{where}, campo applicable: se espera true o false")
    justification = value.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        raise ApplicabilityError(f"{where}, campo justification: falta la justificación")
    return Applicability(cid, applicable, justification.strip())


def parse(text: str, name: str) -> dict[str, dict[str, Applicability]]:
    """edition -> control id -> applicability; the IDs are checked against the catalogue."""
    data = tomlfile.loads(text, name, ApplicabilityError)
    lines = _lines(text)
    out: dict[str, dict[str, Applicability]] = {edition: {} for edition in EDITIONS}
    for section, table in data.items():
        line = lines.get((section, ""), 1)
        if section not in EDITIONS or not isinstance(table, dict):
            raise ApplicabilityError(
                f"{name}, línea {line}, tabla [{section}]: se esperan las tablas [2013] y [2022]"
            )
        for cid, value in table.items():
            line = lines.get((section, cid), lines.get((section, ""), 1))
            try:
                control = catalogo.require(section, cid)
            except PukaraError as e:
                raise ApplicabilityError(f"{name}, línea {line}, campo id: {e.message}") from e
            out[section][control.id] = _entry(name, line, control.id, value)
    return out


def default_text() -> str:
    return resources.files("auditoria").joinpath("datos", "aplicabilidad.toml").read_text("utf-8")


def load(
    path: Path | None = None, data_dir: Path | None = None
) -> dict[str, dict[str, Applicability]]:
    """The given file, else the data directory's own, else the shipped default."""
    if path is None and data_dir is not None and user_file(data_dir).exists():
        path = user_file(data_dir)
    if path is None:
        return parse(default_text(), "aplicabilidad.toml (predeterminado)")
    text = tomlfile.read_text(path, "el archivo de aplicabilidad", ApplicabilityError)
    return parse(text, str(path))
