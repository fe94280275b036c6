"""`pukara auditoria soa` and `pukara auditoria evidencia vencida`."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditoria.cli_controles import Edicion
from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, output_file, render
from pukara.errors import ExitCode, PukaraError, UsageError

if TYPE_CHECKING:
    from auditoria.modelo import Check, Result

evidencia = typer.Typer(
    help="Evidencias de auditoría guardadas en el almacén.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `soa` and `evidencia` to `pukara auditoria`."""
    app.command("soa")(soa)
    app.add_typer(evidencia, name="evidencia")


class FormatoSoa(StrEnum):
    xlsx = "xlsx"
    html = "html"
    md = "md"
    csv = "csv"


def _module(name: str, what: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise PukaraError(f"{what} no está disponible en esta instalación ({name})") from e


def latest_results(settings: Settings) -> list[Result]:
    """The newest result of every check, host and source stored by `auditoria ejecutar`."""
    from auditoria import almacen
    from pukara.store import opened_store

    with opened_store(settings, read_only=True) as store:
        return almacen.latest_results(store)


def checks() -> dict[str, Check]:
    comprobaciones = _module("auditoria.comprobaciones", "el catálogo de comprobaciones")
    loaded: dict[str, Check] = comprobaciones.load()  # type: ignore[attr-defined]
    return loaded


def soa(
    ctx: typer.Context,
    edicion: Annotated[
        Edicion, typer.Option("--edicion", help="Edición del Anexo A: 2013 o 2022.")
    ] = Edicion.e2022,
    formato: Annotated[
        FormatoSoa, typer.Option("--formato", "-f", help="xlsx, html, md o csv.")
    ] = FormatoSoa.xlsx,
    salida: Annotated[
        Path | None,
        typer.Option(
            "--salida",
            callback=output_file,
            help="Archivo a escribir; sin él, md y csv van a la salida estándar.",
        ),
    ] = None,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo",
            "-o",
            callback=output_file,
            help="Lo mismo que --salida (como en «auditoria informe -o»).",
        ),
    ] = None,
    aplicabilidad: Annotated[
        Path | None,
        typer.Option(
            "--aplicabilidad",
            help="Archivo de aplicabilidad; por omisión <datos>/auditoria/aplicabilidad.toml "
            "si existe, si no el que trae pukara.",
        ),
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Escribe la declaración de aplicabilidad (SoA) de una edición.

    Cada control con su aplicabilidad y justificación, su estado de implementación según
    los últimos resultados, las evidencias vinculadas, su antigüedad y su vigencia. Los
    títulos con licencia importados localmente nunca se incluyen.
    """
    import sys

    from auditoria import aplicabilidad as apl
    from auditoria import soa as soa_rows
    from auditoria import soa_salida
    from pukara.files import write_atomically
    from pukara.text import count

    settings: Settings = ctx.obj
    if salida is not None and archivo is not None and salida != archivo:
        raise UsageError("indique el archivo una sola vez: --salida o -o/--archivo")
    salida = salida or archivo
    if formato is FormatoSoa.xlsx and salida is None:
        raise UsageError("--formato xlsx necesita --salida ARCHIVO.xlsx")
    declared = apl.load(aplicabilidad, settings.data_dir)
    now = datetime.now(UTC)
    rows = soa_rows.build(edicion.value, latest_results(settings), checks(), declared, now=now)
    undeclared = [r.control for r in rows if r.applicable is None]
    if undeclared:
        message(
            f"Aviso: la aplicabilidad no declara {count(len(undeclared), 'control', 'controles')}"
            f" de la edición {edicion.value} (quedan «sin declarar» y la SoA está incompleta): "
            + ", ".join(undeclared)
        )
    data = soa_salida.render(rows, formato.value, edicion.value, now)
    if salida is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    write_atomically(salida, data)
    message(f"SoA {edicion.value}: {len(rows)} controles en {salida}", quiet=silencioso)


@evidencia.command("vencida")
def vencida(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> None:
    """Lista los resultados cuya vigencia (valid_until) ya pasó. Sale con 3 si hay alguno."""
    from auditoria import soa as soa_rows

    settings: Settings = ctx.obj
    now = datetime.now(UTC)
    stale = soa_rows.stale(latest_results(settings), now)
    rows = [
        {
            "id": soa_rows.result_id(r),
            "check_id": r.check_id,
            "host": r.host,
            "source": r.source,
            "status": r.status.value,
            "observed_at": r.observed_at,
            "valid_until": r.valid_until,
            "days_overdue": (now - soa_rows.parse_utc(r.valid_until)).days,
        }
        for r in stale
    ]
    columns = {
        "check_id": "Comprobación",
        "host": "Equipo",
        "source": "Fuente",
        "status": "Estado",
        "observed_at": "Observado",
        "valid_until": "Vigente hasta",
        "days_overdue": "Días vencida",
    }
    when = {"observed_at": _when, "valid_until": _when}
    if not rows and formato is Formato.tabla:
        message("Ninguna evidencia vencida: todos los últimos resultados siguen vigentes.")
        return
    render(rows, formato, columns, shown=when, title="Evidencia vencida")
    if rows:
        raise typer.Exit(ExitCode.PARTIAL)


def _when(text: str) -> str:
    from auditoria.soa import parse_utc
    from pukara.formats import datetime_text

    return datetime_text(parse_utc(text))
