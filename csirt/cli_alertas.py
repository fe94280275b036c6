"""`pukara csirt alertas`."""

import typer

app = typer.Typer(
    help="Alertas: recibir sin duplicados, promover a incidente, unir o descartar.",
    no_args_is_help=True,
)
