"""Reading a CSV plan: the separator Excel uses in es_PE, and a header without a prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipv6 import plan

ROWS = ("2800:4f0::/32", "allocation", "", "LACNIC"), ("2800:4f0:10::/48", "site", "lima", "Lima")


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_semicolon_tab_or_comma_with_a_bom(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "plan.csv"
    lines = [sep.join(("prefix", "kind", "site", "name"))] + [sep.join(r) for r in ROWS]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    entries = plan.read_plan(path)
    assert [(e.prefix, e.kind, e.site, e.name, e.problem) for e in entries] == [
        (*r, None) for r in ROWS
    ]
    assert plan.check(entries, ["lima"]) == []


def test_a_comma_inside_a_semicolon_plan_stays_in_its_cell() -> None:
    text = "prefijo;tipo;sede;nombre\n2800:4f0::/32;allocation;;LACNIC, bloque\n"
    (entry,) = plan.parse_plan(text, origin="p.csv", yaml_format=False)
    assert (entry.prefix, entry.name) == ("2800:4f0::/32", "LACNIC, bloque")


def test_a_missing_prefix_column_says_which_columns_it_read() -> None:
    with pytest.raises(plan.PlanError) as caught:
        plan.parse_plan("red;tipo;sede\n2800::/32;allocation;\n", origin="p.csv",
                        yaml_format=False)  # fmt: skip
    assert caught.value.message == (
        "p.csv, línea 1: la primera fila debe nombrar las columnas (prefix,kind,site,name); "
        "no tiene la columna prefix (columnas leídas, separadas por «;»: «red», «tipo», «sede»)"
    )
