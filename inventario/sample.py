"""The shipped EXAMPLE inventory of a foreign ministry: plain data in ``ejemplo/``.

``ejemplo/sedes.csv`` (real countries, cities and time zones) and ``ejemplo/activos.csv`` are
ordinary inventory files, read and checked like any import. Every site with a WAN link has a
gateway whose addresses, name and serial are those of a lab site, so that discovery and
monitoring of the example run against ``pukara lab arriba``: the lab reads these files to
know which of its sites carry which code. Headquarters equipment uses 198.19.0.0/16, inside
the lab's block, where nothing answers.
"""

from __future__ import annotations

from importlib import resources

from inventario.files import ParsedFile, Row, read_csv
from inventario.model import ASSETS, SITES

SOURCE = "ejemplo incorporado"
FILES = {SITES: "sedes.csv", ASSETS: "activos.csv"}


def text(kind: str) -> str:
    """The example's CSV text for ``kind`` (sites or assets)."""
    return resources.files("inventario").joinpath("ejemplo", FILES[kind]).read_text("utf-8")


def parsed() -> ParsedFile:
    """The example as if read from its files, ready for the same checks as any import."""
    out = ParsedFile(SOURCE)
    for kind, name in FILES.items():
        for row in read_csv(text(kind), name, kind).rows[kind]:
            out.rows[kind].append(Row(f"{name} {row.where}", row.values))
    return out
