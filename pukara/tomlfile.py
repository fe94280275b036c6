"""Reading a user's TOML file with every error in Spanish.

``tomllib`` and the C library speak English ("Illegal character", "No such file or
directory"); a person reading pukara's messages does not. :func:`read_text` and
:func:`loads` raise the caller's :class:`PukaraError` subclass with the file, and for a
malformed file its line and column, in Spanish.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pukara.errors import _ERRNO_TEXT, ConfigError, PukaraError

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")

# tomllib's messages (Python 3.11-3.13), by how they start.
_REASONS = (
    ("Illegal character", "carácter no permitido (¿falta cerrar una cadena?)"),
    ("Unclosed inline table", "tabla en línea sin cerrar (falta «}» en la misma línea)"),
    ("Unclosed array", "lista sin cerrar (falta «]»)"),
    ("Unterminated string", "cadena sin cerrar"),
    ("Cannot declare", "clave o tabla declarada dos veces"),
    ("Cannot overwrite", "clave declarada dos veces"),
    ("Cannot mutate", "no se puede modificar una tabla en línea ya cerrada"),
    ("Cannot redefine", "tabla redefinida"),
    ("Duplicate inline table key", "clave repetida en una tabla en línea"),
    ("Expected '=' after a key", "falta «=» después de la clave"),
    ("Expected ']' at the end", "falta «]» al final de la declaración de tabla"),
    ("Expected ']]' at the end", "falta «]]» al final de la declaración de tabla"),
    ("Expected", "falta un separador («,», «=» o el cierre)"),
    ("Invalid initial character", "carácter no válido al comenzar una clave"),
    ("Invalid date", "fecha u hora no válida"),
    ("Invalid hex value", "valor hexadecimal no válido"),
    ("Escaped character", "carácter escapado no válido"),
    ("Unescaped '\\'", "«\\» sin escapar en una cadena"),
    ("Found invalid character", "carácter no válido"),
    ("Invalid statement", "línea no válida"),
    ("Invalid value", "valor no válido (¿faltan comillas en una cadena?)"),
)


def toml_reason(e: tomllib.TOMLDecodeError) -> tuple[str, int | None, int | None]:
    """The Spanish reason of a TOML error, and its line and column when tomllib gives them."""
    text = str(e)
    found = _AT.search(text)
    line = int(found.group(1)) if found and found.group(1) else None
    column = int(found.group(2)) if found and found.group(2) else None
    message = text[: found.start()] if found else text
    reason = next((es for en, es in _REASONS if message.startswith(en)), "sintaxis no válida")
    return reason, line, column


def loads(text: str, source: str, error: type[PukaraError] = ConfigError) -> dict[str, Any]:
    """``tomllib.loads``; a malformed text raises ``error`` naming source, line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        reason, line, column = toml_reason(e)
        at = f", línea {line}, columna {column}" if line is not None else ""
        raise error(f"{source}{at}: TOML mal formado: {reason}") from None


def os_text(e: OSError) -> str:
    """Why a file could not be read, in Spanish only."""
    text = _ERRNO_TEXT.get(e.errno) if e.errno is not None else None
    return text or "error del sistema al leerlo"


def read_text(
    path: Path, what: str, error: type[PukaraError] = ConfigError, encoding: str = "utf-8"
) -> str:
    """The text of ``path`` (``what`` says which file it is, «el archivo de excepciones»)."""
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{path}: no existe {what}") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: {what} no está en UTF-8 (byte {e.start})") from None
    except OSError as e:
        raise error(f"{path}: no se pudo leer {what}: {os_text(e)}") from None
