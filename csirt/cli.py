"""Subcomandos de `pukara csirt`."""

import typer

app = typer.Typer(
    help="CSIRT: incidentes, observables, contención, cadena de custodia y exportaciones.",
    no_args_is_help=True,
)
