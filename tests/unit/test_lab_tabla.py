"""`pukara lab arriba --tabla`: the ipv6 column, and a column the table does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.sites import read_site_table
from pukara.errors import LabError

HEAD = "codigo,retardo_ms,variacion_ms,perdida_pct,caida"


def test_the_ipv6_column_gives_each_site_its_kind(tmp_path: Path) -> None:
    table = tmp_path / "sedes.csv"
    table.write_text(f"{HEAD},ipv6\nlim,10,0,0,no,\nar,10,0,0,no,sin-ipv6\n"
                     "bo,10,0,0,no,Solo-Enlace-Local\ncl,10,0,0,no,dual\n")  # fmt: skip
    assert [s.ipv6 for s in read_site_table(table)] == ["", "sin-ipv6", "solo-enlace-local", ""]


def test_a_bad_ipv6_value_names_the_file_the_line_and_the_value(tmp_path: Path) -> None:
    table = tmp_path / "sedes.csv"
    table.write_text(f"{HEAD},ipv6\nlim,10,0,0,no,\nar,10,0,0,no,solo-v4\n")
    with pytest.raises(LabError) as caught:
        read_site_table(table)
    said = caught.value.message
    assert said.startswith(f"{table}, línea 3: «ipv6» debe ser dual (o vacío), sin-ipv6, ")
    assert "'solo-v4'" in said


def test_an_unknown_column_is_an_error_not_ignored(tmp_path: Path) -> None:
    table = tmp_path / "sedes.csv"
    table.write_text(f"{HEAD},ipv66\nlim,10,0,0,no,sin-ipv6\n")
    with pytest.raises(LabError, match=r"línea 1: columna desconocida «ipv66» \(las opcionales"):
        read_site_table(table)
    table.write_text(f"{HEAD},padre,tunel,snmp,snmp_malo,syslog,router,ipv6\n"
                     "lim,10,0,0,no,,sí,v2c,no,tcp,,sin-ipv6\n")  # fmt: skip
    (site,) = read_site_table(table)
    assert (site.tunnel, site.snmp_only, site.syslog, site.ipv6) == (True, "v2c", "tcp", "sin-ipv6")
