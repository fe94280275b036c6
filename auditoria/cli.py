"""Subcomandos de `pukara auditoria`."""

import typer

from auditoria import cli_ejecutar

app = typer.Typer(
    help=(
        "Auditoría ISO/IEC 27001 (2013 y 2022): controles, evidencias y declaración de aplicabilidad "
        "(en preparación: aún sin órdenes)."
    ),
    no_args_is_help=True,
)
cli_ejecutar.register(app)  # ejecutar, exportar, verificar, informe, clave
