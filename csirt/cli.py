"""Subcomandos de `pukara csirt`."""

import typer

app = typer.Typer(
    help=(
        "CSIRT: incidentes, observables, contención, cadena de custodia y exportaciones "
        "(en preparación: aún sin órdenes)."
    ),
    no_args_is_help=True,
)
