"""Subcomandos de `pukara ipv6`."""

import typer

app = typer.Typer(
    help=(
        "Transición IPv4 a IPv6: servicios públicos en doble pila y preparación de equipos "
        "(en preparación: aún sin órdenes)."
    ),
    no_args_is_help=True,
)
