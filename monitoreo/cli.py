"""Subcomandos de `pukara monitoreo`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

import typer

from monitoreo import rounds, sites
from monitoreo.prober import ProbeOptions
from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render
from pukara.errors import ExitCode, UsageError
from pukara.store import Store, open_store

app = typer.Typer(
    help="Monitoreo WAN/VPN de las misiones: sondeos, estados, alertas y SLA.", no_args_is_help=True
)


class Familia(StrEnum):
    v4 = "4"
    v6 = "6"


ROUND_COLUMNS = {
    "target": "Objetivo", "address": "Dirección", "method": "Método", "sent": "Env.",
    "received": "Recib.", "loss_pct": "Pérdida (%)", "loss_high_pct": "Pérdida máx. IC95 (%)",
    "min_ms": "Mín. (ms)", "median_ms": "Mediana (ms)", "mean_ms": "Media (ms)",
    "p95_ms": "P95 (ms)", "max_ms": "Máx. (ms)", "stddev_ms": "Desv. (ms)",
    "jitter_ms": "Jitter RFC 3550 (ms)", "error": "Error",
}  # fmt: skip

CuentaOpt = Annotated[
    int, typer.Option("--cuenta", "-c", min=1, max=100000, help="Sondeos por objetivo.")
]
IntervaloOpt = Annotated[
    float,
    typer.Option("--intervalo", "-i", min=0.1, help="Separación mínima entre dos envíos (ms)."),
]
PeriodoOpt = Annotated[
    float,
    typer.Option("--periodo", "-p", min=1, help="Separación entre sondeos a un objetivo (ms)."),
]
EsperaOpt = Annotated[
    float,
    typer.Option(
        "--espera", "-t", min=1, max=60000, help="Tiempo de espera de una respuesta (ms)."
    ),
]
TcpOpt = Annotated[
    int | None,
    typer.Option("--tcp", min=1, max=65535, help="Conexión TCP a este puerto en vez de eco ICMP."),
]
FamiliaOpt = Annotated[
    Familia | None, typer.Option("--familia", help="4 o 6: dirección de la pasarela a usar.")
]


@contextlib.contextmanager
def _store(ctx: typer.Context) -> Iterator[Store]:
    settings: Settings = ctx.obj
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def _family(f: Familia | None) -> int | None:
    return None if f is None else int(f.value)


@app.command()
def sondear(
    ctx: typer.Context,
    objetivos: Annotated[
        list[str] | None,
        typer.Argument(
            help="Códigos de sede, direcciones o nombres (por defecto, todas las sedes)."
        ),
    ] = None,
    cuenta: CuentaOpt = 5,
    intervalo: IntervaloOpt = 10.0,
    periodo: PeriodoOpt = 1000.0,
    espera: EsperaOpt = 1000.0,
    tcp: TcpOpt = None,
    familia: FamiliaOpt = None,
    guardar: Annotated[
        bool, typer.Option("--guardar/--no-guardar", help="Guarda la ronda en el almacén.")
    ] = True,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Una ronda de sondeos (eco ICMP o TCP) con pérdida, latencias y jitter por objetivo."""
    options = ProbeOptions(cuenta, intervalo, periodo, espera)
    with _store(ctx) as store:
        known = sites.load_sites(store, family=_family(familia))
        targets = sites.resolve(objetivos or [], known, port=tcp, family=_family(familia))
        if not targets:
            raise UsageError("no hay objetivos: el inventario no tiene sedes con pasarela")
        message(
            f"Sondeando {len(targets)} objetivos ({cuenta} sondeos cada uno)…", quiet=silencioso
        )
        rnd = rounds.run_round(targets, options)
        if guardar:
            store.write_events(rounds.round_events(rnd))
    render([rounds.to_row(r) for r in rnd.results], formato, ROUND_COLUMNS)
    if any(not r.reachable for r in rnd.results):
        raise typer.Exit(ExitCode.PARTIAL)
