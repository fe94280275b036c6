"""Subcomandos de `pukara monitoreo`."""

import typer

app = typer.Typer(
    help="Monitoreo WAN/VPN de las misiones: sondeos, estados, alertas y SLA.", no_args_is_help=True
)
