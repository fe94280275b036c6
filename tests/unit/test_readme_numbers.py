"""The README writes figures as pukara's tables and reports do: es_PE CLDR, through Babel."""

import re
from pathlib import Path

from pukara import formats

README = Path(__file__).resolve().parents[2] / "README.md"
# 9,23 (decimal comma) or 1.000.000 (dot grouping): Spain's way, not Peru's as CLDR gives it
SPAIN_STYLE = re.compile(r"(?<![\d.,\w])(\d+,\d{1,2}|[1-9]\d{0,2}(?:\.\d{3})+)(?![\d.,]*\d)")


def test_readme_figures_are_written_as_formats_writes_them() -> None:
    assert formats.number(1234567.5, 2) == "1,234,567.50"  # the convention the README follows
    found = [
        f"línea {n}: {m.group(1)}"
        for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1)
        for m in SPAIN_STYLE.finditer(re.sub(r"`[^`]*`", "", line))  # code is no figure
    ]
    assert not found, found
