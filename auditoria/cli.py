"""Subcomandos de `pukara auditoria`."""

import typer

from auditoria import cli_controles, cli_ejecutar, cli_importar, cli_soa

app = typer.Typer(
    help=(
        "Auditoría ISO/IEC 27001 (2013 y 2022): controles, evidencias y declaración de aplicabilidad."
    ),
    no_args_is_help=True,
)
app.add_typer(cli_controles.app, name="controles")  # controles listar, mapear, importar-titulos
cli_soa.register(app)  # soa, evidencia vencida
cli_ejecutar.register(app)  # ejecutar, exportar, verificar, informe, clave
cli_importar.register(app)  # importar
