"""Inventory files in and out: CSV (UTF-8 with or without BOM, ``,`` or ``;``) and JSON.

Reading keeps where each row came from (``línea 12``, ``assets[3]``) so that every error can
name it. Writing is canonical: fixed column order, rows sorted by natural key, one
representation per value, so ``exportar | importar`` is a no-op and a second export is
byte-identical.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventario.model import ASSETS, FIELDS, SECRET_COLUMN, SITES
from pukara.errors import PukaraError, UsageError, os_reason

FORMAT_VERSION = 1
KIND_NAMES = {"sedes": SITES, "activos": ASSETS}


class InvalidFile(PukaraError):
    """The file cannot be read as an inventory file at all."""


@dataclass(frozen=True, slots=True)
class Row:
    where: str  # "línea 12" or "assets[3]"
    values: dict[str, Any]


@dataclass(slots=True)
class ParsedFile:
    source: str
    rows: dict[str, list[Row]] = field(default_factory=lambda: {SITES: [], ASSETS: []})


def _check_columns(source: str, kind: str, columns: Iterable[str], where: str) -> None:
    _check_secrets(source, columns, where)
    known = [f.name for f in FIELDS[kind]]
    for column in columns:
        if column not in known:
            raise InvalidFile(
                f"{source}: {where}: columna desconocida «{column}» para "
                f"{'sedes' if kind == SITES else 'activos'}; válidas: {', '.join(known)}"
            )


def _check_secrets(source: str, columns: Iterable[str], where: str) -> None:
    for column in columns:
        if SECRET_COLUMN.search(column):
            raise InvalidFile(
                f"{source}: {where}: la columna «{column}» parece un secreto; pukara no guarda "
                "secretos en el inventario. Use credential_profile con el nombre de un perfil."
            )


def _guess_kind(header: list[str], source: str) -> str:
    """Sites or assets, by the columns only one of them has (``code``, ``timezone``… for
    sites; ``site``, ``serial``, ``custodian``… for assets)."""
    site_names = {f.name for f in FIELDS[SITES]}
    asset_names = {f.name for f in FIELDS[ASSETS]}
    of_sites = [h for h in header if h in site_names - asset_names]
    of_assets = [h for h in header if h in asset_names - site_names]
    if of_sites and not of_assets:
        return SITES
    if of_assets and not of_sites:
        return ASSETS
    why = (
        f"tiene columnas de sedes ({', '.join(of_sites)}) y de activos ({', '.join(of_assets)})"
        if of_sites
        else "sus columnas son comunes a sedes y activos o desconocidas"
    )
    raise InvalidFile(
        f"{source}: línea 1: no se reconoce si son sedes o activos ({why}); "
        "indique --tipo sedes|activos"
    )


def read_csv(text: str, source: str, kind: str | None) -> ParsedFile:
    delimiter = _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    parsed = ParsedFile(source)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if not header or header == [""]:
            raise InvalidFile(f"{source}: el archivo está vacío")
        if len(set(header)) != len(header):
            raise InvalidFile(f"{source}: línea 1: columnas repetidas en la cabecera")
        _check_secrets(source, header, "línea 1")
        kind = kind or _guess_kind(header, source)
        _check_columns(source, kind, header, "línea 1")
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InvalidFile(
                    f"{source}: línea {line}: tiene {len(cells)} columnas y la cabecera "
                    f"{len(header)}"
                )
            values = {h: restored(c) for h, c in zip(header, cells, strict=True)}
            parsed.rows[kind].append(Row(f"línea {line}", values))
    except csv.Error as e:
        raise InvalidFile(f"{source}: línea {reader.line_num}: CSV mal formado: {e}") from e
    return parsed


def read_json(text: str, source: str, kind: str | None) -> ParsedFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidFile(f"{source}: línea {e.lineno}: JSON inválido: {e.msg}") from e
    if isinstance(data, list):
        if kind is None:
            raise InvalidFile(f"{source}: una lista JSON necesita --tipo sedes|activos")
        data = {"sites" if kind == SITES else "assets": data}
    if not isinstance(data, dict):
        raise InvalidFile(f"{source}: se esperaba un objeto con «sites» y/o «assets»")
    unknown = set(data) - {"sites", "assets", "version", "generator"}
    if unknown:
        raise InvalidFile(f"{source}: claves desconocidas: {', '.join(sorted(unknown))}")
    parsed = ParsedFile(source)
    for key, entity in (("sites", SITES), ("assets", ASSETS)):
        items = data.get(key, [])
        if not isinstance(items, list):
            raise InvalidFile(f"{source}: «{key}» debe ser una lista")
        for i, item in enumerate(items):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                raise InvalidFile(f"{source}: {where}: se esperaba un objeto")
            _check_columns(source, entity, item, where)
            parsed.rows[entity].append(Row(where, dict(item)))
    return parsed


UTF8_HELP = (
    "guárdelo como UTF-8 (Excel: «Guardar como» > «CSV UTF-8 (delimitado por comas)»; "
    "LibreOffice: «Guardar como» > marque «Editar configuración del filtro» > juego de "
    "caracteres «Unicode (UTF-8)»), o impórtelo tal cual con --codificacion cp1252"
)


def _delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _where_in_csv(raw: bytes, start: int) -> str:
    """Where byte ``start`` sits in a CSV file: the column's name and number, never a value.

    A cell may hold anything, a secret in a column that the import refuses later included,
    so only the header (column names) is quoted.
    """
    line_start = raw.rfind(b"\n", 0, start) + 1
    header_end = raw.find(b"\n")
    header_text = raw[: header_end if header_end >= 0 else len(raw)].decode("cp1252", "replace")
    delimiter = _delimiter(header_text)
    prefix = raw[line_start:start].decode("cp1252", "replace")
    try:
        header = next(csv.reader([header_text.strip()], delimiter=delimiter), [])
        before = next(csv.reader([prefix], delimiter=delimiter), [""])
    except csv.Error:
        return ""
    index = max(len(before), 1)  # the cell the byte is in, from 1
    name = header[index - 1].strip() if index <= len(header) and line_start > 0 else ""
    column = f"columna {index}" + (f" («{name[:40]}»)" if name else "")
    return f"{column}, "


def _position(raw: bytes, start: int, *, table: bool) -> str:
    """``línea 2, columna 4 («comunidad»), carácter 17``: where a byte is, without its text."""
    line = raw[:start].count(b"\n") + 1
    line_start = raw.rfind(b"\n", 0, start) + 1
    char = len(raw[line_start:start].decode("cp1252", "replace")) + 1
    column = _where_in_csv(raw, start) if table else ""
    return f"línea {line}, {column}carácter {char}"


def _not_text(source: str, raw: bytes) -> InvalidFile | None:
    """The error for bytes that are not text at all: zero bytes (ASCII in UTF-16 without
    its BOM is valid UTF-8, with a zero byte after each letter)."""
    if raw.count(b"\x00") * 4 >= len(raw):  # every other byte zero: UTF-16 without its BOM
        return InvalidFile(f"{source}: el archivo no está en UTF-8; parece UTF-16 sin marca de "
                           "orden (BOM): guárdelo como UTF-8 o impórtelo con --codificacion "
                           "utf-16-le (o utf-16-be)")  # fmt: skip
    if b"\x00" in raw:
        return InvalidFile(f"{source}: tiene bytes nulos; no es un archivo de texto")
    return None


def _not_utf8(source: str, raw: bytes, e: UnicodeDecodeError, *, table: bool) -> InvalidFile:
    binary = _not_text(source, raw)
    if binary is not None:
        return binary
    where = f"{source}: {_position(raw, e.start, table=table)}: el archivo no está en UTF-8"
    if not table:
        return InvalidFile(f"{where}: guárdelo como UTF-8 o indique su codificación con "
                           "--codificacion (p. ej. cp1252)")  # fmt: skip
    return InvalidFile(f"{where}; parece Windows-1252 (así guarda Excel un «CSV»): {UTF8_HELP}")


# Byte order marks of the Unicode encodings read without --codificacion (UTF-32 first: its
# little-endian mark starts like UTF-16's)
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip


def decode(raw: bytes, source: str, encoding: str | None = None, *, table: bool = False) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16 or UTF-32 with their BOM, unless
    ``encoding`` names another codec.

    An error says where the first undecodable byte is (line, CSV column when ``table``,
    character) and never quotes the text around it.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageError(
                f"--codificacion {encoding}: codificación desconocida (p. ej. utf-8, cp1252)"
            ) from None
        try:
            return raw.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as e:
            where = _position(raw, e.start, table=table)
            raise InvalidFile(f"{source}: {where}: no es texto {encoding} válido") from None
    for bom, name in BOMS:
        if raw.startswith(bom):  # UTF-16 or UTF-32 with its mark (Windows' «Unicode»)
            try:
                return raw.decode(name).removeprefix("\ufeff")
            except UnicodeDecodeError:
                raise InvalidFile(f"{source}: empieza como {name.upper()} pero no es texto "
                                  f"{name.upper()} válido") from None  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _not_utf8(source, raw, e, table=table) from None
    binary = _not_text(source, raw) if "\x00" in text else None
    if binary is not None:
        raise binary
    return text


STDIN = "entrada estándar"


def read_file(path: Path, kind: str | None = None, encoding: str | None = None) -> ParsedFile:
    """Parse an inventory file; the format comes from its extension (.csv or .json)."""
    source = str(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InvalidFile(
            f"{source}: es una carpeta; indique un archivo .csv o .json dentro de ella"
        )
    if suffix not in (".json", ".csv", ".txt"):
        raise InvalidFile(f"{source}: extensión desconocida; use .csv o .json")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidFile(f"{source}: no se puede leer: {os_reason(e)}") from e
    return read_bytes(raw, source, "json" if suffix == ".json" else "csv", kind, encoding)


def sniffed_format(text: str) -> str:
    """``json`` when the text starts (after blanks) with ``{`` or ``[``, else ``csv``: no
    CSV header can, its columns being field names."""
    return "json" if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[") else "csv"


def read_bytes(
    raw: bytes,
    source: str = STDIN,
    fmt: str | None = None,
    kind: str | None = None,
    encoding: str | None = None,
) -> ParsedFile:
    """Parse an inventory read from elsewhere (standard input); ``fmt`` ``csv`` or ``json``,
    or None to tell them apart by the first character."""
    text = decode(raw, source, encoding, table=fmt != "json")
    fmt = fmt or sniffed_format(text)
    return read_json(text, source, kind) if fmt == "json" else read_csv(text, source, kind)


# A cell a spreadsheet would run as a formula: ``= + - @`` first, after any apostrophes
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralised(text: str) -> str:
    """A CSV cell that cannot run as a formula: a leading apostrophe (OWASP CSV injection).

    Text that already starts with apostrophes before a formula sign gets one more, so
    :func:`restored` gives back exactly what was exported; a plain number (``-5``) stays.
    """
    if _FORMULA.match(text) and not (text[0] != "'" and _is_number(text)):
        return "'" + text
    return text


def restored(text: str) -> str:
    """The value :func:`neutralised` protected: one leading apostrophe before a formula
    sign removed (what Excel and LibreOffice also do with it)."""
    return text[1:] if text.startswith("'") and _FORMULA.match(text) else text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, list):
        return neutralised("|".join(str(v) for v in value))
    return neutralised(str(value))


def to_csv(kind: str, docs: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = [f.name for f in FIELDS[kind]]
    writer.writerow(names)
    for doc in docs:
        writer.writerow([_csv_cell(doc.get(n)) for n in names])
    return out.getvalue()


def to_json(sites: Iterable[Mapping[str, Any]], assets: Iterable[Mapping[str, Any]]) -> str:
    document = {
        "generator": "pukara inventario",
        "version": FORMAT_VERSION,
        "sites": [{f.name: s.get(f.name) for f in FIELDS[SITES]} for s in sites],
        "assets": [{f.name: a.get(f.name) for f in FIELDS[ASSETS]} for a in assets],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
