"""Subcomandos de `pukara registros`."""

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pukara.console import SilenciosoOpt, message
from pukara.errors import ExitCode

if TYPE_CHECKING:
    from registros.spool import Spool

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
    cola_disco: Annotated[
        int,
        typer.Option(
            "--cola-disco",
            metavar="MiB",
            min=0,
            help="Tamaño máximo de la cola en disco (en la carpeta de datos, registros/cola) "
            "para lo que no cabe en memoria cuando llega más de lo que se alcanza a guardar "
            "(0: sin cola en disco; lo que no cabe se descarta).",
        ),
    ] = 2048,
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
    inbox = receiver.Inbox(spool=_spool(settings.data_dir, cola_disco, silencioso))
    rx = receiver.Receiver(lambda: open_store(settings), endpoints, resolver=Resolver,
                           inbox=inbox, on_ready=ready, figures=figures if cifras else None,
                           figures_s=cifras or 10.0)  # fmt: skip
    report = rx.run()
    for line in receiver.summary_lines(report):
        message(line)
    return ExitCode.INTERRUPTED if report.interrupted else ExitCode.OK


def _spool(data_dir: Path, mib: int, quiet: bool) -> "Spool | None":
    """The disk queue (None with 0 MiB), saying what a previous run left in it."""
    from pukara.formats import number
    from registros.receiver import mib as mib_text
    from registros.spool import Spool

    if not mib:
        return None
    spool = Spool(data_dir / "registros" / "cola", mib << 20)
    found = spool.found
    if found.torn_bytes:
        message(f"La cola en disco terminaba en un registro incompleto (una caída a mitad de "
                f"escritura): se descartaron sus {number(found.torn_bytes)} bytes")  # fmt: skip
    if found.items:
        message(f"La cola en disco tiene {number(found.items)} registros ({mib_text(found.size)}) "
                "de una ejecución anterior: se guardan primero", quiet=quiet)  # fmt: skip
    return spool


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
