"""Subcomandos de `pukara registros`."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, output_file, render
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


def _spool(data_dir: Path, mib: int, quiet: bool) -> Spool | None:
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
    if summary.failures:  # stored as they came, tagged: someone should look at them
        from pukara.text import count

        lines = count(summary.failures, "línea no tiene", "líneas no tienen")
        message(f"Código 3: {lines} forma de registro; se guardaron igual, con la etiqueta "
                "registros_parse_failure (búsquelas con tags=registros_parse_failure).",
                quiet=silencioso)  # fmt: skip
        return ExitCode.PARTIAL
    return ExitCode.OK


# -- búsqueda: buscar, resumen -------------------------------------------------------------
FiltrosArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Filtros campo=valor, campo!=valor, campo=val* (patrón, sin distinguir mayúsculas).",
        show_default=False,
    ),
]
VentanaDesdeOpt = Annotated[
    str | None,
    typer.Option(
        "--desde",
        help="Inicio (incluido): -15m, -1h, -2d, -1sem, ahora, 2026-12-01 o 2026-12-01 08:30 "
        "(hora local salvo que indique la zona). Por omisión, 15 minutos antes de --hasta.",
    ),
]
VentanaHastaOpt = Annotated[
    str | None,
    typer.Option(
        "--hasta",
        help="Fin (excluido), como --desde; una fecha sola incluye todo ese día. Por omisión, "
        "ahora.",
    ),
]
TextoOpt = Annotated[
    str | None,
    typer.Option(
        "--texto",
        help="Palabras que deben aparecer todas en el mensaje, en cualquier parte de él (sin "
        "distinguir mayúsculas).",
    ),
]
ConjuntoOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--conjunto",
        help="Solo eventos de este conjunto (event.dataset, p. ej. registros.sshd); repetible.",
    ),
]


def _window_text(since: object, until: object) -> str:
    from datetime import datetime

    from pukara.formats import datetime_text
    from registros.search import local_zone

    tz = local_zone()

    def text(ts: object) -> str:
        return datetime_text(ts, tz, seconds=True) if isinstance(ts, datetime) else "ahora"

    return f"entre {text(since)} y {text(until)}"


@app.command()
def buscar(
    ctx: typer.Context,
    filtros: FiltrosArg = None,
    desde: VentanaDesdeOpt = None,
    hasta: VentanaHastaOpt = None,
    texto: TextoOpt = None,
    limite: Annotated[
        int,
        typer.Option(
            "--limite",
            min=0,
            help="Cuántos eventos, los más recientes de la ventana (0: todos).",
        ),
    ] = 100,
    formato: FormatoOpt = Formato.tabla,
    seguir: Annotated[
        bool,
        typer.Option(
            "--seguir",
            help="Tras mostrarlos, sigue mostrando los nuevos cada segundo, también los que se "
            "guardan hasta 30 s después de su hora (Ctrl-C para terminar).",
        ),
    ] = False,
    conjunto: ConjuntoOpt = None,
    campos: Annotated[
        str | None,
        typer.Option(
            "--campos",
            help="Columnas del CSV, nombres ECS separados por comas (p. ej. "
            "@timestamp,host.name,message).",
        ),
    ] = None,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo",
            "-o",
            callback=output_file,
            help="Escribir aquí en vez de la salida; el archivo aparece solo completo.",
        ),
    ] = None,
) -> int:
    """Busca eventos y registros: los más recientes de la ventana, del más antiguo al más
    reciente.

    Sin --desde la ventana son los últimos 15 minutos (como Kibana). JSON es la lista de los
    documentos ECS tal como están guardados; CSV tiene por columnas los nombres ECS."""
    from pukara.events import utc_now
    from pukara.store import opened_store
    from registros import listing
    from registros import search as s

    if seguir and hasta:
        raise UsageError("--seguir muestra lo que va llegando: no se combina con --hasta")
    fields = [f.strip() for f in campos.split(",") if f.strip()] if campos else None
    if campos is not None and not fields:
        raise UsageError("--campos: indique al menos un nombre de campo")
    for name in fields or ():
        if name != "@timestamp" and not s.FIELD_NAME.fullmatch(name):
            raise UsageError(f"--campos: «{name}» no es un nombre de campo (p. ej. user.name)")
    tz = s.local_zone()
    q = s.build_query(
        filtros or [], since=desde, until=hasta, text=texto, datasets=conjunto or (),
        limit=None if limite == 0 else limite + 1, now=utc_now(), tz=tz,
    )  # fmt: skip
    with opened_store(ctx.obj, read_only=True) as store, listing.output(archivo, sys.stdout) as out:
        w = listing.writer(formato, out, tz, fields)
        done = listing.emit(store, q, w, limit=limite, follow=seguir)
    if done.interrupted:
        return ExitCode.INTERRUPTED
    if not done.shown:
        message(f"Ningún evento {_window_text(q.since, q.until)}.")
    elif done.more:
        message(
            f"Se muestran los {limite} más recientes {_window_text(q.since, q.until)}; hay más: "
            "use --limite o acorte la ventana."
        )
    return ExitCode.OK


RESUMEN_CAMPOS = ("host.name", "event.action", "event.outcome", "source.ip", "user.name",
                  "log.syslog.appname")  # fmt: skip


@app.command()
def resumen(
    ctx: typer.Context,
    filtros: FiltrosArg = None,
    desde: VentanaDesdeOpt = None,
    hasta: VentanaHastaOpt = None,
    texto: TextoOpt = None,
    conjunto: ConjuntoOpt = None,
    campos: Annotated[
        str,
        typer.Option(
            "--campos",
            help="Campos ECS a resumir, separados por comas (por omisión: "
            + ", ".join(RESUMEN_CAMPOS)
            + ").",
            show_default=False,
        ),
    ] = ",".join(RESUMEN_CAMPOS),
    top: Annotated[
        int, typer.Option("--top", min=1, max=1000, help="Cuántos valores por campo.")
    ] = 5,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Los valores más frecuentes de cada campo en la ventana (el «top 5» de Kibana), con
    su cantidad, su proporción de los eventos hallados y cuántos no tienen el campo."""
    from pukara import formats
    from pukara.events import utc_now
    from pukara.store import opened_store
    from registros import search as s

    names = [f.strip() for f in campos.split(",") if f.strip()]
    if not names:
        raise UsageError("--campos: indique al menos un nombre de campo")
    for name in names:
        if not s.FIELD_NAME.fullmatch(name):
            raise UsageError(f"--campos: «{name}» no es un nombre de campo (p. ej. user.name)")
    q = s.build_query(
        filtros or [], since=desde, until=hasta, text=texto, datasets=conjunto or (),
        limit=None, now=utc_now(), tz=s.local_zone(),
    )  # fmt: skip
    with opened_store(ctx.obj, read_only=True) as store:
        tops = [store.top_values(name, q, top) for name in names]
    total = tops[0].total if tops else 0
    if not total:
        message(f"Ningún evento {_window_text(q.since, q.until)}.")
        if formato is not Formato.tabla:
            render([], formato, {"field": "", "value": "", "count": "", "share": ""})
        return
    rows: list[dict[str, object]] = []
    for t in tops:
        for value, count in t.values:
            rows.append({"field": t.field, "value": value, "count": count,
                         "share": count / t.total if t.total else 0.0})  # fmt: skip
        rows.append({"field": t.field, "value": None, "count": t.missing,
                     "share": t.missing / t.total if t.total else 0.0})  # fmt: skip
    columns = {"field": "Campo", "value": "Valor", "count": "Eventos", "share": "Proporción"}
    shown = {"count": formats.number, "share": lambda v: formats.percent(v * 100, 1)}
    if formato is Formato.tabla:
        # the field's name once, on its first row; "(sin valor)" for the events without it
        rows = [
            {**r, "field": r["field"] if i == 0 or rows[i - 1]["field"] != r["field"] else "",
             "value": "(sin valor)" if r["value"] is None else r["value"]}
            for i, r in enumerate(rows)
        ]  # fmt: skip
    render(rows, formato, columns, shown=shown,
           title=f"{formats.number(total)} eventos {_window_text(q.since, q.until)}")  # fmt: skip


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
        pending = reglas_cli.pending(source)
    message(f"{len(rules)} reglas, {len(found)} aciertos")
    render([reglas_cli.hit_row(a, None) for a in found], formato,
           {k: v for k, v in reglas_cli.HIT_COLUMNS.items() if k != "stored"},
           shown=reglas_cli.shown())  # fmt: skip
    _warn_pending(pending)
    if found or pending:
        raise typer.Exit(ExitCode.PARTIAL)


def _warn_pending(pending: int) -> None:
    if pending:
        message(f"aviso: {pending} eventos siguen en la cola local sin llegar al clúster; las "
                "reglas no los vieron: repita cuando el clúster los reciba (`pukara almacen "
                "enviar`)", style="yellow")  # fmt: skip


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
        pending = reglas_cli.pending(source)
    rows = []
    with opened_store(ctx.obj) as store:
        for doc in found:
            rows.append(reglas_cli.hit_row(doc, store.write_events([doc]) == 1))
    new = sum(1 for r in rows if r["stored"])
    message(f"{len(rules)} reglas, {len(rows)} alertas ({new} nuevas)")
    render(rows, formato, reglas_cli.HIT_COLUMNS, shown=reglas_cli.shown())
    _warn_pending(pending)
    if new or pending:
        raise typer.Exit(ExitCode.PARTIAL)
