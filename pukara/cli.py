"""Subcomandos de `pukara cambios`: el registro encadenado de cambios."""

from typing import Annotated

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, message, render
from pukara.errors import ExitCode
from pukara.store import open_store

cambios = typer.Typer(help="Registro de cambios encadenado por hash.", no_args_is_help=True)


@cambios.command()
def listar(
    ctx: typer.Context,
    ultimos: Annotated[int, typer.Option("--ultimos", "-n", min=1, help="Cuántos mostrar.")] = 50,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Muestra los últimos cambios de entidades, del más antiguo al más reciente."""
    settings: Settings = ctx.obj
    store = open_store(settings)
    try:
        records = [
            {"seq": c.seq, "@timestamp": c.ts, "collection": c.collection, "key": c.key,
             "action": c.action, "hash": c.hash[:16]}
            for c in store.changes(limit=ultimos)
        ]  # fmt: skip
    finally:
        store.close()
    columns = {"seq": "N.º", "@timestamp": "Fecha (UTC)", "collection": "Colección",
               "key": "Clave", "action": "Acción", "hash": "Hash"}  # fmt: skip
    render(records, formato, columns)


@cambios.command()
def verificar(ctx: typer.Context) -> None:
    """Recorre la cadena de hashes y señala el primer eslabón roto."""
    settings: Settings = ctx.obj
    store = open_store(settings)
    try:
        report = store.verify_changes()
    finally:
        store.close()
    if report.ok:
        message(f"Cadena íntegra: {report.checked} cambios verificados.")
        return
    message(
        f"Cadena ROTA en el cambio n.º {report.broken_seq}: {report.reason} "
        f"({report.checked} cambios válidos antes).",
        style="bold red",
    )
    raise typer.Exit(ExitCode.ERROR)
