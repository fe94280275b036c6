"""Subcomandos de `pukara registros`."""

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render
from pukara.errors import ExitCode, UsageError

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


# -- reglas: detecciones Sigma ----------------------------------------------------------------
reglas_app = typer.Typer(
    help=(
        "Reglas de detección Sigma (campos ECS): las incluidas en pukara y las del ministerio. "
        "Corren sobre la base SQLite o, con es_url, sobre el clúster, con los mismos aciertos."
    ),
    no_args_is_help=True,
)
app.add_typer(reglas_app, name="reglas")

ReglasOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--reglas", metavar="CARPETA",
        help="Carpeta con reglas propias (*.yml), además de las incluidas; se puede repetir.",
    ),
]  # fmt: skip
SinIncluidasOpt = Annotated[
    bool,
    typer.Option("--sin-incluidas", help="Solo las reglas de --reglas, sin las incluidas."),
]
ReglaOpt = Annotated[
    list[str] | None,
    typer.Option("--regla", metavar="REGLA",
                 help="Solo esta regla (id, nombre de archivo sin .yml o título); se puede repetir."),
]  # fmt: skip
DesdeOpt = Annotated[
    str, typer.Option("--desde", help="Inicio de la ventana: -1h, -30m, -2d o ISO 8601 (UTC).")
]
HastaOpt = Annotated[
    str | None, typer.Option("--hasta", help="Fin de la ventana (por omisión, ahora).")
]


def _rules(reglas: list[Path] | None, sin_incluidas: bool, regla: list[str] | None) -> list[Any]:
    from registros import detections, reglas_cli

    if sin_incluidas and not reglas:
        raise UsageError("--sin-incluidas necesita al menos una carpeta --reglas")
    loaded = detections.load_rules(reglas or [], shipped=not sin_incluidas)
    return reglas_cli.select(loaded, regla or [])


@reglas_app.command("listar")
def reglas_listar(
    reglas: ReglasOpt = None,
    sin_incluidas: SinIncluidasOpt = False,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Las reglas que se cargan (incluidas y propias), ya validadas."""
    from registros import reglas_cli

    rows = [reglas_cli.rule_row(r) for r in _rules(reglas, sin_incluidas, None)]
    render(
        rows,
        formato,
        reglas_cli.RULE_COLUMNS,
        shown={"kind": reglas_cli.KIND_LABEL.get, "level": reglas_cli.LEVEL_LABEL.get},
    )


@reglas_app.command("probar")
def reglas_probar(
    ctx: typer.Context,
    reglas: ReglasOpt = None,
    sin_incluidas: SinIncluidasOpt = False,
    regla: ReglaOpt = None,
    desde: DesdeOpt = "-24h",
    hasta: HastaOpt = None,
    eventos: Annotated[
        Path | None,
        typer.Option(
            "--eventos",
            metavar="ARCHIVO",
            help="Corre sobre los eventos ECS de este archivo JSON lines, no del almacén.",
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Corre las reglas sobre una ventana (o un archivo de eventos) y muestra los aciertos sin
    guardarlos. Una regla que no carga: código 2. Con aciertos: código 3."""
    from registros import detections, reglas_cli

    rules = _rules(reglas, sin_incluidas, regla)
    # over a file: every event in it unless a window is given
    since, end = reglas_cli.window(None if eventos else desde, hasta)
    until = reglas_cli.file_end(eventos) if eventos is not None and hasta is None else end
    with reglas_cli.open_source(ctx.obj, eventos) as source:
        found = reglas_cli.alerts(detections.run(source, rules, since, until))
    message(f"{len(rules)} reglas, {len(found)} aciertos")
    render([reglas_cli.hit_row(a, None) for a in found], formato,
           {k: v for k, v in reglas_cli.HIT_COLUMNS.items() if k != "stored"},
           shown=reglas_cli.shown())  # fmt: skip
    if found:
        raise typer.Exit(ExitCode.PARTIAL)


@reglas_app.command("ejecutar")
def reglas_ejecutar(
    ctx: typer.Context,
    reglas: ReglasOpt = None,
    sin_incluidas: SinIncluidasOpt = False,
    regla: ReglaOpt = None,
    desde: DesdeOpt = "-24h",
    hasta: HastaOpt = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Corre las reglas y guarda cada acierto como alerta (event.kind alert, dataset
    registros.alerta). Idempotente: una alerta ya guardada no se repite. Con alertas nuevas:
    código 3."""
    from pukara.store import opened_store
    from registros import detections, reglas_cli

    rules = _rules(reglas, sin_incluidas, regla)
    since, until = reglas_cli.window(desde, hasta)
    with reglas_cli.open_source(ctx.obj, None) as source:
        found = reglas_cli.alerts(detections.run(source, rules, since, until))
    rows = []
    with opened_store(ctx.obj) as store:
        for doc in found:
            rows.append(reglas_cli.hit_row(doc, store.write_events([doc]) == 1))
    new = sum(1 for r in rows if r["stored"])
    message(f"{len(rules)} reglas, {len(rows)} alertas ({new} nuevas)")
    render(rows, formato, reglas_cli.HIT_COLUMNS, shown=reglas_cli.shown())
    if new:
        raise typer.Exit(ExitCode.PARTIAL)
