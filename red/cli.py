"""Subcomandos de `pukara red`."""

import typer

app = typer.Typer(
    help=(
        "Equipos de red: sesiones, respaldo y comparación de configuraciones, cumplimiento "
        "(en preparación: aún sin órdenes)."
    ),
    no_args_is_help=True,
)
