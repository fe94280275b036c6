"""`pukara auditoria importar`: resultados de OpenSCAP o Lynis al almacén."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pukara.config import Settings
from pukara.console import SilenciosoOpt, message


class Tipo(StrEnum):
    openscap = "openscap"
    lynis = "lynis"


def register(app: typer.Typer) -> None:
    """Add `importar` to `pukara auditoria`."""
    app.command("importar")(importar)


def importar(
    ctx: typer.Context,
    archivo: Annotated[
        Path,
        typer.Argument(
            metavar="ARCHIVO",
            help="Resultados de «oscap xccdf eval» (--results o --results-arf) o un "
            "lynis-report.dat.",
        ),
    ],
    tipo: Annotated[Tipo, typer.Option("--tipo", help="openscap o lynis.")],
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Nombre del equipo evaluado (por omisión, el que trae el archivo).",
        ),
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Importa los resultados de OpenSCAP (XCCDF o ARF) o de Lynis junto a los de pukara.

    Las reglas que pukara también comprueba quedan con el id de su comprobación; las demás
    como «openscap:<regla>» o «lynis:<prueba>». Importar dos veces el mismo archivo no
    duplica nada.
    """  # fmt: skip
    from auditoria import importar as imp
    from pukara.formats import number
    from pukara.store import opened_store
    from pukara.text import count

    settings: Settings = ctx.obj
    read = imp.openscap if tipo is Tipo.openscap else imp.lynis
    results = read(archivo, host)
    with opened_store(settings) as store:
        new = imp.save(store, results)
    counts = Counter(r.status.value for r in results)
    hosts = sorted({r.host for r in results})
    detail = ", ".join(f"{status} {number(n)}" for status, n in sorted(counts.items()))
    message(
        f"{tipo.value}: {count(len(results), 'resultado', 'resultados')} de "
        f"{', '.join(hosts) or '—'} ({detail or 'ninguno'}); "
        f"{count(new, 'nuevo', 'nuevos')} en el almacén.",
        quiet=silencioso,
    )
