"""The ministry's licensed control titles: imported from its purchased copy, kept local.

The file lives in the data directory (``auditoria/titulos_locales.json``, 0600 in a 0700
folder) and is read only by ``controles listar --titulos-locales``. Nothing that leaves the
machine (SoA, report, evidence bundle) reads it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from auditoria import catalogo
from pukara import tomlfile
from pukara.errors import PukaraError
from pukara.files import make_private_dirs, write_atomically
from pukara.text import clean_line

FILE_MODE = 0o600
COLUMNS = ("edition", "id", "title")


class TitlesError(PukaraError):
    """The CSV of licensed titles cannot be used (file, line and field in the message)."""


def path(data_dir: Path) -> Path:
    return data_dir / "auditoria" / "titulos_locales.json"


def _parse(source: Path, text: str) -> dict[str, dict[str, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise TitlesError(
            f"{source}, línea 1: faltan las columnas {', '.join(missing)} "
            "(se esperan edition,id,title y opcionalmente text)"
        )
    titles: dict[str, dict[str, dict[str, str]]] = {"2013": {}, "2022": {}}
    for row in reader:
        line = reader.line_num
        try:
            edition = catalogo.check_edition(row.get("edition") or "")
            control = catalogo.require(edition, row.get("id") or "")
        except PukaraError as e:
            field = "edition" if "edición desconocida" in e.message else "id"
            raise TitlesError(f"{source}, línea {line}, campo {field}: {e.message}") from e
        title = clean_line(row.get("title") or "").strip()
        if not title:
            raise TitlesError(f"{source}, línea {line}, campo title: está vacío")
        entry = {"title": title}
        body = clean_line(row.get("text") or "").strip()
        if body:
            entry["text"] = body
        titles[edition][control.id] = entry
    return titles


def import_csv(source: Path, data_dir: Path) -> int:
    """Replace the local titles with those in ``source``; returns how many were read."""
    text = tomlfile.read_text(source, "el archivo de títulos", TitlesError, "utf-8-sig")
    titles = _parse(source, text)
    target = path(data_dir)
    make_private_dirs(target.parent)
    write_atomically(
        target, json.dumps(titles, ensure_ascii=False, indent=1, sort_keys=True), mode=FILE_MODE
    )
    return sum(len(v) for v in titles.values())


def load(data_dir: Path, edition: str) -> dict[str, dict[str, str]]:
    """The local titles of one edition (empty when none were imported)."""
    target = path(data_dir)
    try:
        data = json.loads(target.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise TitlesError(f"{target}: no se pudo leer: {tomlfile.os_text(e)}") from None
    except ValueError:
        raise TitlesError(f"{target}: no es JSON válido (vuelva a importar los títulos)") from None
    return dict(data.get(catalogo.check_edition(edition), {}))
