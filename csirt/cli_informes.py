"""`pukara csirt`: metricas, informe, cnsd."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to `pukara csirt`."""
