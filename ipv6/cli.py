"""Subcomandos de `pukara ipv6`."""

import typer

from ipv6 import cli_dominios, cli_equipos, cli_informe, cli_plan, cli_servidores

app = typer.Typer(
    help=(
        "Transición IPv4 a IPv6: plan de direccionamiento, preparación de equipos y servicios "
        "públicos en doble pila."
    ),
    no_args_is_help=True,
)

app.add_typer(cli_plan.app, name="plan")
cli_equipos.register(app)  # equipos
cli_dominios.register(app)  # dominios
cli_servidores.register(app)  # servidores
cli_informe.register(app)  # informe, diff
