"""The Annex A catalogue of both editions (2013: 114 controls, 2022: 93) and their crosswalk.

The data files under ``auditoria/datos/`` hold only control IDs, pukara's own short Spanish
labels, the 2022 themes and the plain-vocabulary 27002:2022 attributes; no ISO or INACAL
prose. Licensed titles live in a local file (:mod:`auditoria.titulos_locales`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from auditoria.modelo import EDITIONS
from pukara.errors import UsageError

DATA_FILES = ("controles_2013.toml", "controles_2022.toml", "correspondencia.toml")
RELATIONS = ("equal", "subset-of", "superset-of", "intersects-with")
INVERSE = {
    "equal": "equal",
    "subset-of": "superset-of",
    "superset-of": "subset-of",
    "intersects-with": "intersects-with",
}
CONTROL_TYPES = ("preventive", "detective", "corrective")
PROPERTIES = ("confidentiality", "integrity", "availability")
THEMES = ("organizacional", "personas", "físico", "tecnológico")
MAX_LABEL_WORDS = 12

_SHAPE = {
    "2013": re.compile(r"A\.(\d{1,2})\.(\d{1,2})\.(\d{1,2})"),
    "2022": re.compile(r"A\.[5-8]\.\d{1,2}"),
}


class CatalogueError(UsageError):
    """An unknown edition or control ID (with a suggestion when one is close)."""


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    edition: str
    label: str
    group: str  # 2013: its clause ("A.12"); 2022: its theme ("tecnológico")
    control_type: tuple[str, ...] = ()  # 2022 only
    properties: tuple[str, ...] = ()  # 2022 only


@dataclass(frozen=True, slots=True)
class Mapping:
    source: str
    source_edition: str
    target: str
    target_edition: str
    relation: str  # NIST OLIR, read from source to target
    rationale: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    edition: str
    version: str
    controls: dict[str, Control]
    groups: dict[str, str]  # 2013 clause -> label; 2022 theme -> label


def other(edition: str) -> str:
    return "2022" if edition == "2013" else "2013"


def sort_key(control_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", control_id))


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads(_raw(name).decode("utf-8"))


@cache
def _raw(name: str) -> bytes:
    return resources.files("auditoria").joinpath("datos", name).read_bytes()


def check_edition(edition: str) -> str:
    text = str(edition).strip()
    if text not in EDITIONS:
        raise CatalogueError(
            f"edición desconocida: {text!r}; las ediciones son 2013 (NTP-ISO/IEC 27001:2014) y 2022"
        )
    return text


def normalize(control_id: str) -> str:
    """``a.12.4.1`` and ``12.4.1`` become ``A.12.4.1``."""
    text = control_id.strip().upper()
    if text and text[0].isdigit():
        text = "A." + text
    return text


def infer_edition(control_id: str) -> str:
    """The edition an ID's shape belongs to: A.x.y.z is 2013, A.x.y is 2022."""
    text = normalize(control_id)
    for edition, pattern in _SHAPE.items():
        if pattern.fullmatch(text):
            return edition
    raise CatalogueError(
        f"el identificador {control_id!r} no tiene forma de control del Anexo A "
        "(2013: A.12.4.1; 2022: A.8.15)"
    )


@cache
def load(edition: str) -> Catalogue:
    edition = check_edition(edition)
    data = _read(f"controles_{edition}.toml")
    groups = dict(data["groups"] if edition == "2013" else data["themes"])
    controls: dict[str, Control] = {}
    for cid, entry in data["controls"].items():
        if edition == "2013":
            group = ".".join(cid.split(".")[:2])
            controls[cid] = Control(cid, edition, entry["label"], group)
        else:
            controls[cid] = Control(
                cid,
                edition,
                entry["label"],
                entry["theme"],
                tuple(entry["control_type"]),
                tuple(entry["properties"]),
            )
    return Catalogue(edition, str(data["version"]), controls, groups)


def require(edition: str, control_id: str) -> Control:
    """The control, or a Spanish error naming the closest IDs ("¿quiso decir …?")."""
    catalogue = load(edition)
    cid = normalize(control_id)
    found = catalogue.controls.get(cid)
    if found is not None:
        return found
    close = difflib.get_close_matches(cid, list(catalogue.controls), n=3, cutoff=0.6)
    hint = f"; ¿quiso decir {' o '.join(close)}?" if close else ""
    raise CatalogueError(
        f"el control {control_id.strip()!r} no existe en la edición {catalogue.edition} "
        f"({len(catalogue.controls)} controles){hint}"
    )


@cache
def _crosswalk() -> dict[str, dict[str, tuple[Mapping, ...]]]:
    data = _read("correspondencia.toml")
    out: dict[str, dict[str, tuple[Mapping, ...]]] = {}
    for edition in EDITIONS:
        table = data[f"from_{edition}"]
        out[edition] = {
            source: tuple(
                Mapping(source, edition, m["to"], other(edition), m["relation"], m["rationale"])
                for m in items
            )
            for source, items in table.items()
        }
    return out


def crosswalk(control_id: str, from_edition: str | None = None) -> list[Mapping]:
    """The controls of the other edition that ``control_id`` maps to, with their relation."""
    edition = check_edition(from_edition) if from_edition else infer_edition(control_id)
    control = require(edition, control_id)
    return list(_crosswalk()[edition].get(control.id, ()))


def all_mappings(from_edition: str) -> dict[str, tuple[Mapping, ...]]:
    return dict(_crosswalk()[check_edition(from_edition)])


def catalogue_version() -> dict[str, Any]:
    """What an evidence bundle records: the catalogue version and each data file's SHA-256."""
    return {
        "version": load("2013").version,
        "editions": {edition: load(edition).version for edition in EDITIONS},
        "crosswalk": str(_read("correspondencia.toml")["version"]),
        "files": {name: hashlib.sha256(_raw(name)).hexdigest() for name in DATA_FILES},
    }


def fold(text: str) -> str:
    """``text`` lower-cased and without accents, to compare what a person typed."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> int:
    return len(text.split())
