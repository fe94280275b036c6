"""Subcomandos de `pukara red`."""

import typer

app = typer.Typer(
    help=(
        "Equipos de red: sesiones, respaldo y comparación de configuraciones, cumplimiento "
        "(en preparación: aún sin órdenes)."
    ),
    no_args_is_help=True,
)

from red import cli_remediar  # noqa: E402

cli_remediar.register(app)  # remediar
