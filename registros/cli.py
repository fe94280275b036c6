"""Subcomandos de `pukara registros`."""

import typer

app = typer.Typer(
    help=(
        "Registros de equipos y servidores: recepción syslog, importación de archivos, "
        "búsqueda y detecciones Sigma."
    ),
    no_args_is_help=True,
)
