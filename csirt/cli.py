"""Subcomandos de `pukara csirt`: cada grupo vive en su módulo ``cli_*``."""

import typer

from csirt import (
    cli_alertas,
    cli_casos,
    cli_contramedidas,
    cli_evidencia,
    cli_exportar,
    cli_informes,
)

app = typer.Typer(
    help="CSIRT: alertas, incidentes, contención, cadena de custodia, métricas y exportaciones.",
    no_args_is_help=True,
)
app.add_typer(cli_alertas.app, name="alertas")
cli_casos.register(app)  # incidente, observable, tarea, linea
app.add_typer(cli_contramedidas.app, name="contramedida")
app.add_typer(cli_evidencia.app, name="evidencia")
cli_informes.register(app)  # metricas, informe, cnsd
cli_exportar.register(app)  # exportar
