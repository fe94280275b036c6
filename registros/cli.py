"""Subcomandos de `pukara registros`."""

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pukara.console import SilenciosoOpt, message
from pukara.errors import ExitCode

app = typer.Typer(
    help=(
        "Registros de equipos y servidores: recepción syslog, importación de archivos, "
        "búsqueda y detecciones Sigma."
    ),
    no_args_is_help=True,
)


# -- recepción e importación (registros.receiver, registros.importar) -----------------------
@app.command()
def recibir(
    ctx: typer.Context,
    udp: Annotated[
        list[str] | None,
        typer.Option(
            "--udp",
            metavar="HOST:PUERTO",
            help="Escucha syslog UDP aquí (IPv6 entre corchetes, p. ej. [::1]:5514; el puerto "
            "0 elige uno libre). Se puede repetir.",
        ),
    ] = None,
    tcp: Annotated[
        list[str] | None,
        typer.Option(
            "--tcp",
            metavar="HOST:PUERTO",
            help="Escucha syslog TCP aquí (conteo de "
            "octetos o fin de línea, RFC 6587). Se puede repetir.",
        ),
    ] = None,
    cifras: Annotated[
        float,
        typer.Option(
            "--cifras", min=0, help="Segundos entre líneas de cifras por origen (0: ninguna)."
        ),
    ] = 10.0,
    silencioso: SilenciosoOpt = False,
) -> int:
    """Recibe syslog (RFC 5424 y 3164) por UDP y TCP y lo guarda como eventos ECS, hasta Ctrl-C.

    Sin --udp ni --tcp escucha en el puerto 514 de todas las direcciones (IPv4 e IPv6).
    """  # fmt: skip
    from pukara.store import open_store, opened_store
    from registros import receiver
    from registros.hosts import Resolver

    endpoints = [receiver.Endpoint("udp", *receiver.parse_endpoint(t, "--udp")) for t in udp or []]
    endpoints += [receiver.Endpoint("tcp", *receiver.parse_endpoint(t, "--tcp")) for t in tcp or []]
    endpoints = endpoints or receiver.default_endpoints()
    previous: dict[str, float] = {}

    def ready(bound: list[receiver.Endpoint]) -> None:
        message(f"Escuchando en {', '.join(str(b) for b in bound)} (Ctrl-C para terminar)",
                quiet=silencioso)  # fmt: skip

    def figures(report: receiver.Report, elapsed_s: float) -> None:
        message(f"{time.strftime('%H:%M:%S')} "
                f"{receiver.figures_line(report, elapsed_s, previous=previous)}",
                quiet=silencioso)  # fmt: skip

    settings = ctx.obj
    with opened_store(settings):  # a store that cannot be opened is said before listening
        pass
    rx = receiver.Receiver(lambda: open_store(settings), endpoints, resolver=Resolver,
                           on_ready=ready, figures=figures if cifras else None,
                           figures_s=cifras or 10.0)  # fmt: skip
    report = rx.run()
    for line in receiver.summary_lines(report):
        message(line)
    return ExitCode.INTERRUPTED if report.interrupted else ExitCode.OK


class Tipo(StrEnum):
    auto = "auto"
    syslog = "syslog"
    auth = "auth"
    nftables = "nftables"
    jsonl = "jsonl"


@app.command()
def importar(
    ctx: typer.Context,
    archivos: Annotated[
        list[Path],
        typer.Argument(
            help="Archivos de registro: auth.log, syslog, kern.log (también .gz), líneas JSON.",
            readable=False,
        ),
    ],
    tipo: Annotated[
        Tipo, typer.Option("--tipo", help="Tipo de los archivos (auto: por nombre y contenido).")
    ] = Tipo.auto,
    sede: Annotated[
        str | None,
        typer.Option("--sede", help="Sede de los eventos cuyo equipo no está en el inventario."),
    ] = None,
    anio: Annotated[
        int | None,
        typer.Option(
            "--anio",
            min=1970,
            max=9999,
            help="Año de las fechas que no lo dicen (por omisión, según la fecha de "
            "modificación del archivo).",
        ),
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> int:
    """Importa archivos de registro como eventos ECS; importar otra vez no duplica nada."""  # fmt: skip
    from pukara.console import ByteProgress
    from pukara.store import opened_store
    from registros import importar as imp
    from registros.hosts import Resolver

    imp.check_files(archivos)
    with opened_store(ctx.obj) as store, ByteProgress(quiet=silencioso) as bar:
        summary = imp.import_files(store, archivos, kind=imp.Kind(tipo.value), site=sede,
                                   year=anio, resolve=Resolver(store),
                                   progress=lambda p, size: bar.task(p.name, size))  # fmt: skip
    for line in imp.summary_lines(summary):
        message(line, quiet=silencioso)
    return ExitCode.OK
