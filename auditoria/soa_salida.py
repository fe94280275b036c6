"""The SoA written as XLSX (openpyxl), self-contained HTML (Jinja2), Markdown or CSV.

Every format writes the same cells (:meth:`auditoria.soa.Row.cells`); text that could run as
a spreadsheet formula is defused with :func:`pukara.text.csv_cell` in CSV and XLSX.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from auditoria import catalogo
from auditoria.soa import COLUMNS, STATUS_TEXT, Row
from pukara import formats
from pukara.text import clean_line, csv_cell

FORMATS = ("xlsx", "html", "md", "csv")
XLSX_CELL_MAX = 32_000  # a spreadsheet cell holds at most 32,767 characters
WIDTHS = {"control": 11, "label": 44, "group": 18, "applicable": 8, "justification": 52,
          "status": 18, "evidence": 48, "evidence_age_days": 12, "freshness": 10}  # fmt: skip


def _text(value: Any) -> str:
    return "" if value is None else clean_line(str(value))


def _xlsx_cell(key: str, value: Any) -> Any:
    if isinstance(value, int):
        return value
    text = _text(value)
    if key == "evidence" and len(text) > XLSX_CELL_MAX:
        kept = text[:XLSX_CELL_MAX].rsplit(" ", 1)[0]
        left = len(text.split()) - len(kept.split())
        text = f"{kept} … (+{left} evidencias más: ver el CSV)"
    return csv_cell(text)


def to_csv(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(COLUMNS.values()))
    for row in rows:
        writer.writerow([csv_cell(_text(v)) for v in row.cells().values()])
    return out.getvalue()


def _md_cell(value: Any) -> str:
    return _text(value).replace("\\", "\\\\").replace("|", "\\|")


def to_markdown(rows: Sequence[Row], edition: str, generated: datetime) -> str:
    lines = [
        f"# Declaración de aplicabilidad — ISO/IEC 27001:{edition}",
        "",
        f"Generada el {formats.datetime_text(generated)} · {formats.number(len(rows))} controles",
        "",
        "| " + " | ".join(COLUMNS.values()) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(v) for v in row.cells().values()) + " |")
    return "\n".join(lines) + "\n"


def to_xlsx(rows: Sequence[Row], edition: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = f"SoA {edition}"
    sheet.append(list(COLUMNS.values()))
    for row in rows:
        sheet.append([_xlsx_cell(k, v) for k, v in row.cells().items()])
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F3A5F")
    for cell in sheet[1]:
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for n, key in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = WIDTHS[key]
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    # fixed document properties: the same SoA is the same file, byte for byte
    book.properties.creator = "pukara"
    stamp = datetime(2000, 1, 1)  # noqa: DTZ001 (openpyxl writes naive times)
    book.properties.created = stamp
    book.properties.modified = stamp
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_html(rows: Sequence[Row], edition: str, generated: datetime) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("auditoria", "plantillas"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )
    counts = Counter(row.status for row in rows)
    catalogue = catalogo.load(edition)
    summary = [(STATUS_TEXT[k], formats.number(counts.get(k, 0)), k) for k in STATUS_TEXT]
    return env.get_template("soa.html.j2").render(
        edition=edition,
        version=catalogue.version,
        generated=formats.datetime_text(generated),
        total=formats.number(len(rows)),
        applicable=formats.number(sum(1 for r in rows if r.applicable)),
        summary=summary,
        columns=COLUMNS,
        rows=[(row, row.cells()) for row in rows],
        groups=catalogue.groups,
        number=formats.number,
    )


def render(rows: Sequence[Row], fmt: str, edition: str, generated: datetime) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(rows, edition)
    if fmt == "html":
        return to_html(rows, edition, generated).encode("utf-8")
    if fmt == "md":
        return to_markdown(rows, edition, generated).encode("utf-8")
    return to_csv(rows).encode("utf-8")
