"""Text that came from outside (devices, files, users) made safe to show or to save.

Device banners, SNMP strings and log lines may carry terminal escape sequences or other
control characters; a spreadsheet treats a cell starting with ``= + - @`` as a formula.
"""

from __future__ import annotations

import re
from typing import Any

# ANSI escape sequences (CSI ... final byte, OSC ... BEL/ST, two-byte ESC x), removed whole
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
# C0 controls except TAB and LF, DEL, and C1 controls (which include the 8-bit CSI)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(text: str) -> str:
    """``text`` without control characters (tab and newline are kept)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def clean_line(text: str) -> str:
    """``text`` on one line: control characters removed, tabs and newlines as spaces."""
    return clean(text).replace("\t", " ").replace("\n", " ")


def csv_cell(value: Any) -> Any:
    """A CSV/spreadsheet cell that cannot run as a formula (OWASP CSV injection).

    Text starting with ``= + - @`` (or tab/CR) gets a leading apostrophe; a text that is a
    plain number (``-5``, ``+51 1 204 2400`` is not) is left as it is so that negative values
    stay numbers.
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def count(n: int, singular: str, plural: str) -> str:
    """``1 cambio``, ``0 cambios``, ``1,234 cambios``: the figure through pukara.formats and
    the words that follow it in agreement (Spanish takes the plural for every n but 1)."""
    from pukara.formats import number

    return f"{number(n)} {singular if n == 1 else plural}"
