"""The users' TOML and file errors reach them in Spanish, with file, line and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditoria import aplicabilidad, excepciones, importar, politica, titulos_locales
from pukara.errors import PukaraError

ENGLISH = ("Illegal", "Unclosed", "at line", "column ", "No such", "Errno", "directory")


def _spanish(e: pytest.ExceptionInfo[PukaraError]) -> str:
    message = e.value.message
    assert not [w for w in ENGLISH if w in message], message
    return message


def test_waiver_unclosed_string(tmp_path: Path) -> None:
    f = tmp_path / "malo.toml"
    f.write_text('[[waiver]]\nid = "EXC-1"\ncheck = "ssh_root_login\nhost = "x"\n')
    with pytest.raises(excepciones.WaiverError) as e:
        excepciones.load(f, {"ssh_root_login"})
    assert _spanish(e) == (
        f"{f}, línea 3, columna 24: TOML mal formado: carácter no permitido"
        " (¿falta cerrar una cadena?)"
    )


def test_applicability_unclosed_inline_table(tmp_path: Path) -> None:
    f = tmp_path / "ap.toml"
    f.write_text('[2022]\n"A.5.1" = { applicable = true, justification = "x" \n')
    with pytest.raises(aplicabilidad.ApplicabilityError) as e:
        aplicabilidad.load(f)
    assert "línea 2, columna" in _spanish(e)
    assert "tabla en línea sin cerrar" in e.value.message


def test_policy_malformed(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("[shell\n")
    with pytest.raises(PukaraError) as e:
        politica.load(path=f)
    assert f"{f}, línea 1, columna" in _spanish(e)


READERS: dict[str, Callable[[Path], object]] = {
    "waiver": lambda f: excepciones.load(f, set()),
    "applicability": aplicabilidad.load,
    "policy": lambda f: politica.load(path=f),
    "titles": lambda f: titulos_locales.import_csv(f, f.parent),
    "import": importar.lynis,
}


@pytest.mark.parametrize("what", sorted(READERS))
def test_missing_file_in_spanish(tmp_path: Path, what: str) -> None:
    f = tmp_path / "noexiste"
    with pytest.raises(PukaraError) as e:
        READERS[what](f)
    assert _spanish(e).startswith(f"{f}: ")
    assert "no existe" in e.value.message


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(importar.ImportFileError) as e:
        importar.openscap(tmp_path)
    assert _spanish(e) == f"{tmp_path}: no se pudo leer: es una carpeta, no un archivo"
