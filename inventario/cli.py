"""Subcomandos de `pukara inventario`."""

import typer

app = typer.Typer(
    help="Inventario de sedes y activos: importar, exportar y descubrir equipos.",
    no_args_is_help=True,
)
