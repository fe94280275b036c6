"""Subcomandos de `pukara registros`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pukara.console import Formato, FormatoOpt, message, output_file, render
from pukara.errors import ExitCode, UsageError

app = typer.Typer(
    help=(
        "Registros de equipos y servidores: recepción syslog, importación de archivos, "
        "búsqueda y detecciones Sigma."
    ),
    no_args_is_help=True,
)


# -- búsqueda: buscar, resumen -------------------------------------------------------------
FiltrosArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Filtros campo=valor, campo!=valor, campo=val* (patrón, sin distinguir mayúsculas).",
        show_default=False,
    ),
]
DesdeOpt = Annotated[
    str | None,
    typer.Option(
        "--desde",
        help="Inicio (incluido): -15m, -1h, -2d, -1sem, ahora, 2026-12-01 o 2026-12-01 08:30 "
        "(hora local salvo que indique la zona). Por omisión, 15 minutos antes de --hasta.",
    ),
]
HastaOpt = Annotated[
    str | None,
    typer.Option(
        "--hasta",
        help="Fin (excluido), como --desde; una fecha sola incluye todo ese día. Por omisión, "
        "ahora.",
    ),
]
TextoOpt = Annotated[
    str | None,
    typer.Option(
        "--texto",
        help="Palabras que deben aparecer todas en el mensaje, en cualquier parte de él (sin "
        "distinguir mayúsculas).",
    ),
]
ConjuntoOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--conjunto",
        help="Solo eventos de este conjunto (event.dataset, p. ej. registros.sshd); repetible.",
    ),
]


def _window_text(since: object, until: object) -> str:
    from datetime import datetime

    from pukara.formats import datetime_text
    from registros.search import local_zone

    tz = local_zone()

    def text(ts: object) -> str:
        return datetime_text(ts, tz, seconds=True) if isinstance(ts, datetime) else "ahora"

    return f"entre {text(since)} y {text(until)}"


@app.command()
def buscar(
    ctx: typer.Context,
    filtros: FiltrosArg = None,
    desde: DesdeOpt = None,
    hasta: HastaOpt = None,
    texto: TextoOpt = None,
    limite: Annotated[
        int,
        typer.Option(
            "--limite",
            min=0,
            help="Cuántos eventos, los más recientes de la ventana (0: todos).",
        ),
    ] = 100,
    formato: FormatoOpt = Formato.tabla,
    seguir: Annotated[
        bool,
        typer.Option(
            "--seguir", help="Tras mostrarlos, sigue mostrando los nuevos cada segundo (Ctrl-C)."
        ),
    ] = False,
    conjunto: ConjuntoOpt = None,
    campos: Annotated[
        str | None,
        typer.Option(
            "--campos",
            help="Columnas del CSV, nombres ECS separados por comas (p. ej. "
            "@timestamp,host.name,message).",
        ),
    ] = None,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo",
            "-o",
            callback=output_file,
            help="Escribir aquí en vez de la salida; el archivo aparece solo completo.",
        ),
    ] = None,
) -> int:
    """Busca eventos y registros: los más recientes de la ventana, del más antiguo al más
    reciente.

    Sin --desde la ventana son los últimos 15 minutos (como Kibana). JSON es la lista de los
    documentos ECS tal como están guardados; CSV tiene por columnas los nombres ECS."""
    from pukara.events import utc_now
    from pukara.store import opened_store
    from registros import listing
    from registros import search as s

    if seguir and hasta:
        raise UsageError("--seguir muestra lo que va llegando: no se combina con --hasta")
    fields = [f.strip() for f in campos.split(",") if f.strip()] if campos else None
    if campos is not None and not fields:
        raise UsageError("--campos: indique al menos un nombre de campo")
    tz = s.local_zone()
    q = s.build_query(
        filtros or [], since=desde, until=hasta, text=texto, datasets=conjunto or (),
        limit=None if limite == 0 else limite + 1, now=utc_now(), tz=tz,
    )  # fmt: skip
    with opened_store(ctx.obj, read_only=True) as store, listing.output(archivo, sys.stdout) as out:
        w = listing.writer(formato, out, tz, fields)
        done = listing.emit(store, q, w, limit=limite, follow=seguir)
    if done.interrupted:
        return ExitCode.INTERRUPTED
    if not done.shown:
        message(f"Ningún evento {_window_text(q.since, q.until)}.")
    elif done.more:
        message(
            f"Se muestran los {limite} más recientes {_window_text(q.since, q.until)}; hay más: "
            "use --limite o acorte la ventana."
        )
    return ExitCode.OK


RESUMEN_CAMPOS = ("host.name", "event.action", "event.outcome", "source.ip", "user.name",
                  "log.syslog.appname")  # fmt: skip


@app.command()
def resumen(
    ctx: typer.Context,
    filtros: FiltrosArg = None,
    desde: DesdeOpt = None,
    hasta: HastaOpt = None,
    texto: TextoOpt = None,
    conjunto: ConjuntoOpt = None,
    campos: Annotated[
        str,
        typer.Option(
            "--campos",
            help="Campos ECS a resumir, separados por comas (por omisión: "
            + ", ".join(RESUMEN_CAMPOS)
            + ").",
            show_default=False,
        ),
    ] = ",".join(RESUMEN_CAMPOS),
    top: Annotated[
        int, typer.Option("--top", min=1, max=1000, help="Cuántos valores por campo.")
    ] = 5,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Los valores más frecuentes de cada campo en la ventana (el «top 5» de Kibana), con
    su cantidad, su proporción de los eventos hallados y cuántos no tienen el campo."""
    from pukara import formats
    from pukara.events import utc_now
    from pukara.store import opened_store
    from registros import search as s

    names = [f.strip() for f in campos.split(",") if f.strip()]
    if not names:
        raise UsageError("--campos: indique al menos un nombre de campo")
    for name in names:
        if not s.FIELD_NAME.fullmatch(name):
            raise UsageError(f"--campos: «{name}» no es un nombre de campo (p. ej. user.name)")
    q = s.build_query(
        filtros or [], since=desde, until=hasta, text=texto, datasets=conjunto or (),
        limit=None, now=utc_now(), tz=s.local_zone(),
    )  # fmt: skip
    with opened_store(ctx.obj, read_only=True) as store:
        tops = [store.top_values(name, q, top) for name in names]
    total = tops[0].total if tops else 0
    rows: list[dict[str, object]] = []
    for t in tops:
        for value, count in t.values:
            rows.append({"field": t.field, "value": value, "count": count,
                         "share": count / t.total if t.total else 0.0})  # fmt: skip
        rows.append({"field": t.field, "value": None, "count": t.missing,
                     "share": t.missing / t.total if t.total else 0.0})  # fmt: skip
    columns = {"field": "Campo", "value": "Valor", "count": "Eventos", "share": "Proporción"}
    shown = {"count": formats.number, "share": lambda v: formats.percent(v * 100, 1)}
    if formato is Formato.tabla:
        # the field's name once, on its first row; "(sin valor)" for the events without it
        rows = [
            {**r, "field": r["field"] if i == 0 or rows[i - 1]["field"] != r["field"] else "",
             "value": "(sin valor)" if r["value"] is None else r["value"]}
            for i, r in enumerate(rows)
        ]  # fmt: skip
    render(rows, formato, columns, shown=shown,
           title=f"{formats.number(total)} eventos {_window_text(q.since, q.until)}")  # fmt: skip
