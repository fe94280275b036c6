"""Subcomandos de `pukara monitoreo`."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitoreo.thresholds import ISOLATED_MIN_SITES, ISOLATED_PCT  # no imports: cheap at start
from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, output_file, render
from pukara.errors import ExitCode, PukaraError, UsageError
from pukara.text import count

# Everything else is imported inside the command that uses it: `pukara --help` must not load
# pysnmp (monitoreo.device), jinja2 (monitoreo.report), the store or the prober.
if TYPE_CHECKING:
    from collections.abc import Callable

    from monitoreo.device import Poller, SnmpChange
    from monitoreo.sites import Site
    from monitoreo.spool import WriterHealth
    from monitoreo.states import Notice

app = typer.Typer(
    help="Monitoreo WAN/VPN de las misiones: sondeos, estados, alertas y SLA.", no_args_is_help=True
)


class Familia(StrEnum):
    v4 = "4"
    v6 = "6"


ROUND_COLUMNS = {
    "target": "Objetivo", "address": "Dirección", "method": "Método", "result": "Resultado",
    "sent": "Env.", "received": "Recib.", "refused": "Rechaz.", "loss_pct": "Pérdida (%)",
    "loss_high_pct": "Pérdida máx. IC95 (%)",
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
    float | None,
    typer.Option(
        "--espera", "-t", min=1, max=60000,
        help="Tiempo de espera de una respuesta (ms); por omisión, timeout_s de la configuración.",
    ),
]  # fmt: skip
MAX_WAIT_MS = 60000.0
SECONDS_LIKE_MS = 20  # no WAN answers this fast: a wait this short was meant in seconds


def round_wait_ms(wait_ms: float, round_s: float, count: int, period_ms: float) -> float:
    """The wait of vigilar's probes: what the round leaves after its last probe, less a margin
    (a tenth of the round, at most 500 ms) for the round's own work, so a lost probe does not
    make every round overrun its period."""
    left = round_s * 1000 - (count - 1) * period_ms
    return min(wait_ms, left - min(round_s * 100, 500.0))


def _wait_ms(espera: float | None, settings: Settings) -> float:
    if espera is not None and espera < SECONDS_LIKE_MS:  # discovery's -t is in seconds
        message(f"Aviso: --espera va en milisegundos, como en fping: -t {espera:g} espera "
                f"{espera:g} ms; ¿quiso decir -t {espera * 1000:g}?", style="yellow")  # fmt: skip
    return espera if espera is not None else min(settings.timeout_s * 1000, MAX_WAIT_MS)


TcpOpt = Annotated[
    int | None,
    typer.Option("--tcp", min=1, max=65535, help="Conexión TCP a este puerto en vez de eco ICMP."),
]
FamiliaOpt = Annotated[
    Familia | None, typer.Option("--familia", help="4 o 6: dirección de la pasarela a usar.")
]


def _family(f: Familia | None) -> int | None:
    return None if f is None else int(f.value)


@app.command()
def sondear(
    ctx: typer.Context,
    objetivos: Annotated[
        list[str] | None,
        typer.Argument(
            help="Códigos de sede, direcciones o nombres (por omisión, las sedes marcadas para "
            "monitoreo: etiqueta «monitoreo» en su pasarela)."
        ),
    ] = None,
    cuenta: CuentaOpt = 5,
    intervalo: IntervaloOpt = 10.0,
    periodo: PeriodoOpt = 1000.0,
    espera: EsperaOpt = None,
    tcp: TcpOpt = None,
    familia: FamiliaOpt = None,
    vpn: Annotated[
        bool,
        typer.Option("--vpn/--sin-vpn", help="Sondea también a través del túnel de cada sede."),
    ] = True,
    guardar: Annotated[
        bool, typer.Option("--guardar/--no-guardar", help="Guarda la ronda en el almacén.")
    ] = True,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Una ronda de sondeos (eco ICMP o TCP) con pérdida, latencias y jitter por objetivo."""
    from monitoreo import rounds, sites
    from monitoreo.prober import ProbeOptions
    from pukara.store import opened_store

    options = ProbeOptions(cuenta, intervalo, periodo, _wait_ms(espera, ctx.obj))
    with opened_store(ctx.obj) as store:
        known = sites.load_sites(store, family=_family(familia))
        targets = sites.resolve(objetivos or [], known, port=tcp, family=_family(familia))
        if not targets:
            raise sites.not_marked("sondear", known, _family(familia))
        if tcp is None and vpn:
            targets += sites.vpn_targets(known.values(), {t.site for t in targets if t.site})
        n = len(targets)
        message(f"Sondeando {count(n, 'objetivo', 'objetivos')} "
                f"({count(cuenta, 'sondeo', 'sondeos')} cada uno)…", quiet=silencioso)  # fmt: skip
        rnd = rounds.run_round(targets, options)
        if guardar:
            store.write_events(rounds.round_events(rnd))
    render([rounds.to_row(r) for r in rnd.results], formato, ROUND_COLUMNS)
    if any(r.failed for r in rnd.results):
        raise typer.Exit(ExitCode.PARTIAL)


def _stamp() -> str:
    return datetime.now().astimezone().strftime("%H:%M:%S")


def _line(notice: Notice) -> None:
    style = {"alert": "bold red", "recovery": "green", "flapping": "yellow", "isolated": "bold red",
             "isolated_end": "green"}.get(notice.kind)  # fmt: skip
    muted = f" [silenciada: {notice.muted}]" if notice.muted else ""
    message(f"{_stamp()} {KIND_LABELS[notice.kind]}: {notice.message}{muted}", style=style)


def watch_poller(settings: Settings, round_s: float | None = None) -> Poller:
    """The SNMP poller of ``vigilar``, with the settings' timeout and concurrency.

    A device that does not answer costs its timeout once per try: the wait is cut so that
    both tries fit in most of the round, and one dead router does not stretch every round.
    """
    from monitoreo.device import Poller

    poller = Poller(timeout_s=settings.timeout_s, concurrency=settings.concurrency)
    if round_s is not None:
        poller.timeout_s = min(poller.timeout_s, 0.8 * round_s / (poller.retries + 1))
    return poller


class _Overrun:
    """Says on the console when rounds take longer than ``--ronda``, at most once a minute."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, took_s: float, period_s: float) -> None:
        now = time.monotonic()
        if now - self._last >= 60:
            self._last = now
            from pukara.formats import number

            message(f"{_stamp()} la ronda tardó {number(took_s, 2)} s, más que --ronda "
                    f"{number(period_s, 2)} s: suba --ronda o baje --cuenta/--periodo/--espera",
                    style="yellow")  # fmt: skip


def _snmp(change: SnmpChange) -> None:
    """A device's SNMP failure, once per cause, and its end."""
    message(f"{_stamp()} {change.message}", style="green" if change.now.ok else "yellow")


def _health(h: WriterHealth) -> None:
    for problem in h.reports:
        message(f"{_stamp()} almacén: {problem}", style="yellow")
    if h.ok:
        message(f"{_stamp()} almacén: eventos de nuevo al día", style="green")
    elif not h.reports:
        error = f"; último error: {h.last_error}" if h.last_error else ""
        if h.spooled or h.in_memory or h.summaries is None:
            message(f"{_stamp()} almacén: {h.spooled} eventos en la cola local, {h.in_memory} en "
                    f"memoria{error}", style="yellow")  # fmt: skip
        else:
            s = h.summaries
            error = f"; último error: {s.last_error}" if s.last_error else error
            message(f"{_stamp()} almacén: {s.pending} resúmenes por ronda esperan"
                    f"{error}", style="yellow")  # fmt: skip
    if not h.alive:
        message(f"{_stamp()} almacén: el escritor de eventos se detuvo; se reinicia", style="red")


KIND_LABELS = {
    "alert": "ALERTA", "recovery": "RECUPERADA", "state": "estado", "flapping": "OSCILA",
    "flapping_end": "estable", "isolated": "ALERTA", "isolated_end": "RECUPERADA",
}  # fmt: skip


@app.command()
def vigilar(
    ctx: typer.Context,
    objetivos: Annotated[
        list[str] | None,
        typer.Argument(
            help="Códigos de sede (por omisión, las sedes marcadas para monitoreo: etiqueta "
            "«monitoreo» en su pasarela)."
        ),
    ] = None,
    ronda: Annotated[
        float, typer.Option("--ronda", min=1, help="Segundos entre el inicio de dos rondas.")
    ] = 30.0,
    cuenta: CuentaOpt = 5,
    intervalo: IntervaloOpt = 10.0,
    periodo: PeriodoOpt = 1000.0,
    espera: EsperaOpt = None,
    rondas: Annotated[
        int | None,
        typer.Option("--rondas", min=1, help="Termina tras N rondas (por omisión, nunca)."),
    ] = None,
    snmp: Annotated[
        bool,
        typer.Option(
            "--snmp/--sin-snmp", help="Contadores del enlace y estado del túnel por SNMP."
        ),
    ] = True,
    caidas: Annotated[
        int, typer.Option("--confirmar", min=1, help="Rondas seguidas para confirmar un problema.")
    ] = 2,
    recuperacion: Annotated[
        int,
        typer.Option(
            "--recuperar", min=1, help="Rondas seguidas para dar por recuperada una sede."
        ),
    ] = 3,
    aislamiento: Annotated[
        float,
        typer.Option(
            "--aislamiento",
            min=1,
            max=100,
            help="Porcentaje de las sedes vigiladas sin respuesta en una misma ronda que indica "
            f"que el monitor quedó aislado (con {ISOLATED_MIN_SITES} sedes o más).",
        ),
    ] = ISOLATED_PCT,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Sondea las sedes vigiladas cada ronda hasta Ctrl-C: estados, alertas y datos al almacén."""
    from monitoreo import sites
    from monitoreo.notify import Hooks
    from monitoreo.prober import ProbeOptions
    from monitoreo.spool import SpoolBusy
    from monitoreo.states import Policy, Tracker
    from monitoreo.watch import Watcher
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    hooks = Hooks.from_settings(settings.alert_webhook, settings.alert_command)
    wait = _wait_ms(espera, settings)
    if espera is None:  # the configured wait, but never longer than the round leaves room for
        wait = round_wait_ms(wait, ronda, cuenta, periodo)
    options = ProbeOptions(cuenta, intervalo, periodo, wait)
    if wait < 1 or (cuenta - 1) * periodo + wait > ronda * 1000:
        raise UsageError(
            "la ronda es más corta que sus sondeos: suba --ronda o baje --cuenta/--periodo"
        )
    with opened_store(ctx.obj) as store:
        known = sites.load_sites(store)
        targets = sites.resolve(objetivos or [], known)
        if not targets:
            raise sites.not_marked("vigilar", known)
        watcher = Watcher(
            store, known, targets, options, settings.data_dir / "cola" / "monitoreo.jsonl",
            tracker=Tracker(Policy(fall_rounds=caidas, rise_rounds=recuperacion,
                                   isolated_fraction=aislamiento / 100)), hooks=hooks,
            snmp=snmp, on_notice=_line, on_health=_health, on_snmp=_snmp,
            on_hook_error=lambda e: message(f"aviso no entregado: {e}", style="yellow"),
            poller=watch_poller(settings, ronda), on_overrun=_Overrun(),
            retention_days=settings.retention_days, each_round=_round_tasks(settings),
        )  # fmt: skip
        try:
            watcher.start()
        except SpoolBusy as e:
            who = f"el proceso {e.pid}" if e.pid else "otro proceso"
            raise PukaraError(
                f"la carpeta de datos {settings.data_dir} ya está en uso: {who} ejecuta "
                "«pukara monitoreo vigilar» con ella; deténgalo o use otra carpeta de datos "
                "(PUKARA_DATA_DIR)"
            ) from None
        n = len(targets)
        message(f"Vigilando {count(n, 'sede', 'sedes')} cada {ronda:g} s (Ctrl-C para "
                "terminar)…", quiet=silencioso)  # fmt: skip
        report = watcher.watch(ronda, max_rounds=rondas)
    for line in report.leftovers():
        message(line, style="yellow")


def _round_tasks(settings: Settings) -> Callable[[], None] | None:
    """What other areas asked to run after each round (:mod:`pukara.hooks`): csirt's
    ``contramedida vencer``. Each task runs on, whatever the one before it did."""
    from pukara import hooks

    tasks = hooks.each_round()
    if not tasks:
        return None

    def run() -> None:
        failed: list[str] = []
        for task in tasks:
            try:
                task(settings)
            except Exception as e:  # told by the watcher, after the other tasks ran
                failed.append(str(e))
        if failed:
            raise RuntimeError("; ".join(failed))

    return run


STATE_COLUMNS = {"entity": "Sede/túnel", "state": "Estado", "since": "Desde",
                 "flapping": "Oscila", "alert": "Alerta abierta", "snmp_device": "Equipo",
                 "snmp": "SNMP", "snmp_reason": "Motivo SNMP",
                 "snmp_since": "SNMP desde"}  # fmt: skip
# on a narrow terminal the least telling columns go first: whether SNMP answers stays
STATE_PRIORITY = {"entity": 0, "state": 0, "snmp": 1, "since": 2, "alert": 3, "snmp_reason": 4,
                  "snmp_device": 5, "flapping": 6, "snmp_since": 7}  # fmt: skip


@app.command()
def estado(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> None:
    """Estado actual de cada sede y túnel según la última vigilancia, y el último resultado SNMP
    del equipo de cada sede (con el motivo si falló)."""
    from monitoreo.states import Tracker
    from monitoreo.watch import HEALTH_DATASET, SNMP_COLLECTION, STATE_COLLECTION, states_table
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        tracker = Tracker()
        tracker.load(store.entities(STATE_COLLECTION))
        snmp_docs = list(store.entities(SNMP_COLLECTION))

        def cell(ts: str) -> str:  # one unbreakable cell: a time never wraps over four lines
            text = _moment(ts)
            return text if text == ts else text.replace(" ", "\u00a0")  # not a time: as stored

        shown = {"since": cell, "snmp_since": cell}
        render(states_table(tracker, snmp_docs), formato, STATE_COLUMNS, shown=shown,
               priority=STATE_PRIORITY)  # fmt: skip
        last = list(store.search_events(dataset=HEALTH_DATASET, newest_first=True, limit=1))
    if last:
        health = last[0]
        ok = health.get("event", {}).get("outcome") == "success"
        message(f"Escritor de eventos ({_moment(health['@timestamp'])}): "
                f"{health.get('message', '')}",
                style=None if ok else "yellow")  # fmt: skip


def _moment(ts: str) -> str:
    """A stored UTC instant as a person reads it: ``1 dic. 2026, 11:34:20 UTC``."""
    from datetime import UTC

    from pukara.events import parse_timestamp
    from pukara.formats import datetime_text

    try:
        return datetime_text(parse_timestamp(ts), UTC, seconds=True)
    except (TypeError, ValueError):
        return str(ts)


mantenimiento_app = typer.Typer(help="Ventanas de mantenimiento por sede.", no_args_is_help=True)
app.add_typer(mantenimiento_app, name="mantenimiento")
MAINT_COLUMNS = {"site": "Sede", "start": "Inicio (hora local)", "end": "Fin (hora local)",
                 "end_utc": "Fin (UTC)", "reason": "Motivo", "entered_by": "Registrada por",
                 "entered_utc": "Registrada el (UTC)", "after_the_fact": "Registro"}  # fmt: skip


def _site(known: dict[str, Site], code: str) -> Site:
    try:
        return known[code.lower()]
    except KeyError:
        raise UsageError(f"la sede «{code}» no está en el inventario") from None


@mantenimiento_app.command("agregar")
def mantenimiento_agregar(
    ctx: typer.Context,
    sede: Annotated[str, typer.Argument(help="Código de la sede.")],
    desde: Annotated[
        str, typer.Option("--desde", help="Inicio, AAAA-MM-DD HH:MM, hora de la sede.")
    ],
    hasta: Annotated[str, typer.Option("--hasta", help="Fin, AAAA-MM-DD HH:MM, hora de la sede.")],
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué.")] = "",
    silencioso: SilenciosoOpt = False,
) -> None:
    """Agrega una ventana: sus alertas se silencian y el SLA la excluye."""
    from monitoreo import maintenance, sites
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        site = _site(sites.load_sites(store), sede)
        start = maintenance.parse_local(desde, site.timezone, "--desde")
        end = maintenance.parse_local(hasta, site.timezone, "--hasta")
        maintenance.add(store, site.code, start, end, motivo)
    message(f"Mantenimiento de {site.code} registrado.", quiet=silencioso)


@mantenimiento_app.command("listar")
def mantenimiento_listar(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> None:
    """Lista las ventanas de mantenimiento: quién registró cada una y cuándo, y si fue a posteriori.

    Una ventana registrada después de su inicio («a posteriori») excluye del SLA tiempo ya
    transcurrido. JSON y CSV dan además start_utc, end_utc y after_the_fact (true/false).
    """
    from zoneinfo import ZoneInfo

    from monitoreo import maintenance, sites
    from pukara import formats
    from pukara.events import parse_timestamp
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        tz = {c: s.timezone for c, s in sites.load_sites(store).items()}
        rows = maintenance.records(maintenance.windows(store), tz, maintenance.entered(store))
    utc = ZoneInfo("UTC")
    shown = {
        "start": lambda v: v,
        "end": lambda v: v,
        "end_utc": lambda v: formats.datetime_text(parse_timestamp(v), utc),
        "entered_utc": lambda v: formats.datetime_text(parse_timestamp(v), utc),
        "after_the_fact": lambda v: "a posteriori" if v else "previa",
    }
    if formato is Formato.tabla:
        for r in rows:
            r["entered_by"] = r["entered_by"] or "desconocido"
    render(rows, formato, MAINT_COLUMNS, shown=shown)


@mantenimiento_app.command("borrar")
def mantenimiento_borrar(
    ctx: typer.Context,
    sede: Annotated[str, typer.Argument(help="Código de la sede.")],
    desde: Annotated[str, typer.Option("--desde", help="Inicio de la ventana a borrar.")],
    silencioso: SilenciosoOpt = False,
) -> None:
    """Borra una ventana de mantenimiento."""
    from monitoreo import maintenance, sites
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        site = _site(sites.load_sites(store), sede)
        if not maintenance.remove(
            store, site.code, maintenance.parse_local(desde, site.timezone, "--desde")
        ):
            raise UsageError(f"no hay mantenimiento de {site.code} que empiece en {desde}")
    message("Mantenimiento borrado.", quiet=silencioso)


SLA_COLUMNS = {
    "site": "Sede", "name": "Nombre", "availability_pct": "Disponibilidad",
    "target_pct": "Meta", "coverage_pct": "Cobertura", "verdict": "Veredicto",
    "down_minutes": "Caída (min)", "excluded_minutes": "Excluido (min)",
    "incidents": "Incidentes", "rounds": "Rondas",
}  # fmt: skip


@app.command()
def informe(
    ctx: typer.Context,
    mes: Annotated[str, typer.Option("--mes", help="Mes calendario, AAAA-MM.")],
    html_file: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Escribe además una página HTML autónoma.", callback=output_file
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Disponibilidad mensual por sede (SLA), kits VPN operativos, velocidad y uso de enlaces.

    Solo una sede observada al menos sla_min_coverage_pct del mes (90 %) recibe veredicto.
    """
    from monitoreo import report, sites
    from pukara.files import write_atomically
    from pukara.store import opened_store
    from pukara.text import clean_line

    settings: Settings = ctx.obj
    with opened_store(settings) as store:
        known = sites.load_sites(store)
        data = report.build(store, known, mes, min_coverage_pct=settings.sla_min_coverage_pct)
        if html_file:
            write_atomically(html_file, report.html(data))
    if formato is Formato.json:  # one object: month, in_progress, summary, rows... (README)
        sys.stdout.write(json.dumps({k: v for k, v in data.items() if k != "results"},
                                    ensure_ascii=False, indent=1, default=str) + "\n")  # fmt: skip
    elif formato is Formato.csv:  # every site, raw numbers and the machine verdict
        render(data["rows"], formato, SLA_COLUMNS)
    else:  # the summary first, then the table: both data, on stdout (-q silences neither)
        sys.stdout.write("".join(clean_line(line) + "\n" for line in report.summary_lines(data)))
        sys.stdout.write("\n")
        sys.stdout.flush()
        render(report.table_rows(data), formato, SLA_COLUMNS,
               title=f"Disponibilidad {report.period_text(data)}")  # fmt: skip
    if html_file:
        message(f"Informe HTML escrito en {html_file}.", quiet=silencioso)


HOP_COLUMNS = {"ttl": "Salto", "address": "Dirección", "rtt_ms": "RTT (ms)", "reached": "Destino"}


@app.command()
def ruta(
    ctx: typer.Context,
    objetivo: Annotated[str, typer.Argument(help="Código de sede, dirección o nombre.")],
    familia: FamiliaOpt = None,
    saltos: Annotated[
        int, typer.Option("--saltos", min=1, max=64, help="Saltos como máximo.")
    ] = 30,
    mtu: Annotated[
        bool, typer.Option("--mtu/--sin-mtu", help="Mide además la MTU de la ruta (DF activo).")
    ] = True,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Traza la ruta hasta una sede (IPv4 o IPv6) y mide la MTU del camino."""
    from monitoreo import path, sites
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        known = sites.load_sites(store, family=_family(familia))
        (target,) = sites.resolve([objetivo], known, family=_family(familia))
    hops = path.trace(target.address, max_hops=saltos)
    render([dataclasses.asdict(h) for h in hops], formato, HOP_COLUMNS, title=f"Ruta a {objetivo}")
    if mtu:
        found = path.path_mtu(target.address)
        told = f"; un equipo anunció {found['told']}" if found["told"] else ""
        text = f"MTU de la ruta a {target.address}: {found['mtu'] or 'sin respuesta'} bytes{told}"
        message(text, quiet=silencioso)
    if not hops or not hops[-1].reached:
        raise typer.Exit(ExitCode.PARTIAL)
