"""`pukara csirt contramedida`."""

import typer

app = typer.Typer(
    help="Contramedidas: proponer, aprobar, activar, retirar y vencer (siempre con expiración).",
    no_args_is_help=True,
)
