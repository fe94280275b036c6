"""`pukara csirt evidencia`."""

import typer

app = typer.Typer(
    help="Evidencia: agregar, recolectar, cadena de custodia y verificación.", no_args_is_help=True
)
