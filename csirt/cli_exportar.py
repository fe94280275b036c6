"""`pukara csirt`: exportar."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pukara.config import Settings
from pukara.console import SilenciosoOpt, message, output_file


class FormatoExport(StrEnum):
    stix = "stix"
    misp = "misp"


class Destino(StrEnum):
    publico = "publico"
    comunidad = "comunidad"
    sector = "sector"
    organizacion = "organizacion"
    nombres = "nombres"


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to `pukara csirt`."""
    app.command("exportar")(exportar)


def exportar(
    ctx: typer.Context,
    incidente: Annotated[
        str,
        typer.Argument(metavar="INCIDENTE", help="Número del incidente (INC-2026-0001) o su id."),
    ],
    destino: Annotated[
        Destino,
        typer.Option(
            "--destino",
            "-d",
            help="Quién lo recibe y hasta qué TLP puede ver: publico (CLEAR), comunidad "
            "(GREEN), sector (AMBER), organizacion (AMBER+STRICT), nombres (RED).",
        ),
    ],
    formato: Annotated[
        FormatoExport,
        typer.Option("--formato", "-f", help="stix (paquete STIX 2.1) o misp (evento MISP)."),
    ] = FormatoExport.stix,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo", "-o", help="Escribir aquí en vez de la salida.", callback=output_file
        ),
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Exporta un incidente en STIX 2.1 o MISP para compartirlo, con el TLP aplicado.

    Un incidente con TLP por encima del destino no se exporta; los observables y entradas
    de la línea de tiempo por encima se retienen y se listan en la salida de errores.
    """  # fmt: skip
    from csirt import exportar as ex
    from pukara.files import write_atomically
    from pukara.store import opened_store
    from pukara.text import count

    settings: Settings = ctx.obj
    with opened_store(settings) as store:
        result = ex.export(store, incidente, formato.value, destino.value, now=_now())
        if result.held:  # said even with --silencioso: nothing is held back silently
            message(
                f"Retenidos por TLP (destino {result.audience}, hasta TLP:{result.limit}): "
                f"{count(len(result.held), 'elemento', 'elementos')}.",
                style="yellow",
            )
            for item in result.held:
                message(f"  {item.text()}")
        if archivo is None:
            sys.stdout.write(result.text)
            sys.stdout.flush()
        else:
            write_atomically(archivo, result.text, mode=0o600)
        ex.record(store, settings.analyst, result)
    if archivo is not None:
        message(
            f"{result.number} exportado en {result.fmt.upper()} para «{result.audience}» en "
            f"{archivo}.",
            quiet=silencioso,
        )


def _now() -> str:
    from pukara.events import format_timestamp, utc_now

    return format_timestamp(utc_now())
