"""Subcomandos de `pukara cambios` (el registro encadenado de cambios) y `pukara almacen`."""

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, date_option, message, render
from pukara.errors import ExitCode, UsageError
from pukara.events import format_timestamp
from pukara.labels import (
    COLLECTIONS,
    action_label,
    collection_choices,
    collection_key,
    collection_label,
    key_label,
)

cambios = typer.Typer(help="Registro de cambios encadenado por hash.", no_args_is_help=True)
# the monitor's own state (every alert changes it): hidden from `cambios listar` unless asked
MONITOR_COLLECTIONS = tuple(k for k in COLLECTIONS if k.startswith("monitor_"))


def _entity_key(text: str | None) -> list[Any] | None:
    """``LIM`` for a one-field key, or the stored JSON form (``["a", "b"]``) for a composite."""
    if text is None:
        return None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list) or not value:
            raise UsageError(f"--clave {text!r}: una clave compuesta es una lista JSON no vacía")
        return value
    return [text]


@cambios.command()
def listar(
    ctx: typer.Context,
    ultimos: Annotated[int, typer.Option("--ultimos", "-n", min=1, help="Cuántos mostrar.")] = 50,
    analista: Annotated[
        str | None, typer.Option("--analista", help="Solo los cambios de este analista.")
    ] = None,
    coleccion: Annotated[
        str | None,
        typer.Option(
            "--coleccion",
            help="Solo esta colección: sede, activo, observación, mantenimiento, "
            "«estado de monitoreo», «estado SNMP»... (o su nombre en los datos: site, "
            "asset...).",
        ),
    ] = None,
    clave: Annotated[
        str | None,
        typer.Option("--clave", help='Solo esta entidad: LIM, o \'["a", "b"]\' si es compuesta.'),
    ] = None,
    desde: Annotated[
        str | None, typer.Option("--desde", help="Desde esta fecha (AAAA-MM-DD o ISO 8601, UTC).")
    ] = None,
    hasta: Annotated[
        str | None,
        typer.Option("--hasta", help="Hasta esta fecha; AAAA-MM-DD incluye todo ese día."),
    ] = None,
    todo: Annotated[
        bool,
        typer.Option(
            "--todos",
            help="Incluye los cambios de estado del monitoreo (estado de monitoreo, estado "
            "SNMP), que por omisión no se muestran.",
        ),
    ] = False,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Muestra los últimos cambios de entidades, del más antiguo al más reciente.

    Los cambios de estado que escribe `monitoreo vigilar` se omiten salvo con --todos o
    --coleccion."""
    settings: Settings = ctx.obj
    since, until = date_option("--desde", desde), date_option("--hasta", hasta, end_of_day=True)
    key = _entity_key(clave)
    collection = collection_key(coleccion) if coleccion else None
    if coleccion and collection is None:
        raise UsageError(
            f"--coleccion «{coleccion}»: colección desconocida; válidas: {collection_choices()}"
        )
    from pukara.store import opened_store

    hidden = () if todo or collection else MONITOR_COLLECTIONS
    with opened_store(settings) as store:
        records = [
            {"seq": c.seq, "@timestamp": c.ts, "actor": c.actor, "collection": c.collection,
             "key": c.key, "action": c.action, "hash": c.hash[:16]}
            for c in store.changes(limit=ultimos, actor=analista, collection=collection, key=key,
                                   since=since, until=until, exclude=hidden)
        ]  # fmt: skip
        left_out = [h for h in hidden if next(iter(store.changes(
            limit=1, actor=analista, collection=h, key=key, since=since, until=until)), None)]  # fmt: skip
    columns = {"seq": "N.º", "@timestamp": "Fecha (UTC)", "actor": "Analista",
               "collection": "Colección", "key": "Clave", "action": "Acción", "hash": "Hash"}  # fmt: skip
    shown = {"@timestamp": _moment, "collection": collection_label, "key": key_label,
             "action": action_label}  # fmt: skip
    render(records, formato, columns, shown=shown)
    if left_out:
        names = " y ".join(f"«{collection_label(h)}»" for h in left_out)
        message(f"No se muestran los cambios de {names} que escribe la vigilancia; "
                "véalos con --todos o con --coleccion.")  # fmt: skip


def _moment(ts: str) -> str:
    """A stored UTC instant as a person reads it: ``1 dic. 2026, 10:49:39 UTC``."""
    from pukara.formats import datetime_text

    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    return datetime_text(moment if moment.tzinfo else moment.replace(tzinfo=UTC), UTC, seconds=True)


@cambios.command()
def verificar(ctx: typer.Context) -> None:
    """Recorre la cadena de hashes y señala el primer eslabón roto."""
    settings: Settings = ctx.obj
    from pukara.store import opened_store

    with opened_store(settings) as store:
        report = store.verify_changes()
    if report.ok:
        message(f"Cadena íntegra: {_count(report.checked)} cambios verificados.")
        return
    message(
        f"Cadena ROTA en el cambio n.º {report.broken_seq}: {report.reason} "
        f"({_count(report.checked)} cambios válidos antes).",
        style="bold red",
    )
    raise typer.Exit(ExitCode.ERROR)


almacen = typer.Typer(
    help="Almacén de datos: estado y depuración de eventos por retención.", no_args_is_help=True
)


def _size(n: int) -> str:
    from pukara.formats import number

    return f"{number(n / 1_048_576, 1)}\u00a0MB"


def _count(n: int) -> str:
    from pukara.formats import number

    return number(n)


@almacen.command()
def depurar(
    ctx: typer.Context,
    retencion_dias: Annotated[
        int | None,
        typer.Option(
            "--retencion-dias",
            min=1,
            help="Días de eventos crudos de monitoreo que se conservan (por omisión "
            "retention_days, 30).",
        ),
    ] = None,
    simular: Annotated[
        bool, typer.Option("--simular", help="Solo cuenta lo que se borraría, sin borrar.")
    ] = False,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Borra los eventos crudos de sondeo, enlace y VPN más antiguos que la retención."""
    settings: Settings = ctx.obj
    days = retencion_dias or settings.retention_days
    from pukara.store import opened_store
    from pukara.store.retention import enforce_retention

    with opened_store(settings) as store:
        report = enforce_retention(store, days, simulate=simular)
    render(
        [{"target": name, "count": n} for name, n in report.counts.items()],
        formato,
        {"target": "Datos", "count": "A borrar" if simular else "Borrados"},
        shown={"count": _count},
    )
    since = _moment(format_timestamp(report.cutoff))
    if simular:
        message(f"Simulación: se borrarían {_count(report.total)} registros anteriores a {since} "
                f"(retención de {days} días); no se borró nada.")  # fmt: skip
        message("La simulación cuenta solo los eventos crudos; los resúmenes por ronda y los "
                "agregados más antiguos que su propia retención se depuran al ejecutar sin "
                "--simular.")  # fmt: skip
        return
    message(f"Depurados {_count(report.total)} registros anteriores a {since} (retención de {days} "
            f"días); {_size(report.freed_bytes)} devueltos al sistema de archivos.")  # fmt: skip


def _local(settings: Settings, *, read_only: bool = False) -> Any:
    """The SQLite store, also in cluster mode: the outbox and its dead letters live there."""
    from pukara.store import SQLiteStore, check_db_path

    check_db_path(settings)
    return SQLiteStore(settings.db, actor=settings.analyst, read_only=read_only)


def _cluster_state(settings: Settings) -> dict[str, Any]:
    from pukara.errors import PukaraError
    from pukara.store.cluster.client import connect

    try:
        engine = connect(settings)
    except PukaraError as e:
        return {"url": settings.es_url, "reachable": False, "error": e.message}
    try:
        health = engine.health()
    except PukaraError as e:
        return {"url": settings.es_url, "reachable": False, "engine": engine.info.label,
                "error": e.message}  # fmt: skip
    finally:
        engine.close()
    return {"url": settings.es_url, "reachable": True, "engine": engine.info.label,
            "cluster_name": engine.info.cluster_name, "status": health.get("status"),
            "nodes": health.get("number_of_nodes")}  # fmt: skip


def _cluster_stats(settings: Settings, cluster: dict[str, Any]) -> list[Any]:
    """Events per dataset as the cluster holds them; on failure, none (and why, in ``cluster``)."""
    from pukara.errors import PukaraError
    from pukara.store import opened_store

    try:
        with opened_store(settings, read_only=True) as store:
            return store.event_stats()
    except PukaraError as e:
        cluster["error"] = e.message
        return []


_HEALTH = {"green": "verde", "yellow": "amarillo", "red": "rojo"}


def _cluster_line(state: dict[str, Any]) -> str:
    if not state["reachable"]:
        return f"Clúster {state['url']}: no disponible: {state['error']}"
    return (f"Clúster {state['engine']} ({state['cluster_name']}): estado "
            f"{_HEALTH.get(state['status'], state['status'])}, {_count(state['nodes'] or 0)} "
            "nodos.")  # fmt: skip


@almacen.command()
def estado(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> int:
    """Esquema, tamaño y eventos por conjunto de datos; la cola hacia el clúster, sus cartas
    muertas por motivo y, con es_url, el estado del clúster. Sale con 3 si hay cartas muertas
    o el clúster no responde."""
    settings: Settings = ctx.obj
    from pukara.events import utc_now
    from pukara.store.outbox import Outbox

    with _local(settings, read_only=True) as store:
        info = store.info()
        stats = store.event_stats()
        box = Outbox(store, limit=settings.outbox_limit)
        backlog, oldest, groups = box.backlog(), box.oldest(), box.dead_letter_groups()
        letters = [
            {"id": d.id, "event.id": d.event_id, "stream": d.stream, "status": d.status,
             "error_type": d.error_type, "reason": d.reason,
             "failed_at": format_timestamp(d.failed_at)}
            for d in box.dead_letters(limit=1000)
        ]  # fmt: skip
    cluster = _cluster_state(settings) if settings.es_url else None
    local_events = sum(s.count for s in stats)
    in_cluster = False
    if cluster is not None and cluster["reachable"]:
        in_cluster = True
        stats = _cluster_stats(settings, cluster)  # in cluster mode the events live there
    records = [
        {"dataset": s.dataset, "count": s.count,
         "oldest": s.oldest and format_timestamp(s.oldest),
         "newest": s.newest and format_timestamp(s.newest)}
        for s in stats
    ]  # fmt: skip
    by_reason = [{"status": g.status, "error_type": g.error_type, "count": g.count,
                  "reason": g.example} for g in groups]  # fmt: skip
    if formato is Formato.json:
        print(json.dumps({
            "store": {"location": info.location, "schema_version": info.schema_version,
                      "size_bytes": info.size_bytes, "free_bytes": info.free_bytes},
            "datasets": records,
            "outbox": {"backlog": backlog, "limit": settings.outbox_limit,
                       "oldest": oldest and format_timestamp(oldest)},
            "dead_letters": {"count": sum(g.count for g in groups), "by_reason": by_reason,
                             "items": letters},
            "cluster": cluster,
        }, ensure_ascii=False, indent=2))  # fmt: skip
        return _estado_code(bool(groups), cluster)
    columns = {"dataset": "Conjunto de datos", "count": "Eventos",
               "oldest": "Más antiguo (UTC)", "newest": "Más reciente (UTC)"}  # fmt: skip
    render(records, formato, columns, shown={"count": _count, "oldest": _moment, "newest": _moment})
    if by_reason and formato is Formato.tabla:
        render(by_reason, formato, {"status": "HTTP", "error_type": "Error", "count": "Cartas muertas",
               "reason": "Motivo (la más reciente)"}, title="Cartas muertas (rechazadas por el clúster)",
               shown={"count": _count})  # fmt: skip
    message(f"{info.location}: esquema {info.schema_version}, {_size(info.size_bytes)} "
            f"({_size(info.free_bytes)} libres para reutilizar), "
            + (f"{_count(sum(s.count for s in stats))} eventos en el clúster." if in_cluster
               else f"{_count(local_events)} eventos en esta base."))  # fmt: skip
    if in_cluster and local_events:
        from pukara.text import count

        message(f"La base SQLite guarda además {count(local_events, 'evento', 'eventos')} de "
                "antes del clúster: `pukara almacen migrar` los copia a él (lo ya copiado no se "
                "repite).")  # fmt: skip
    if oldest is None:
        message("Cola hacia el clúster: vacía.")
    else:
        from pukara.formats import number

        wait_min = (utc_now() - oldest).total_seconds() / 60
        message(f"Cola hacia el clúster: {_count(backlog)} eventos en espera (límite "
                f"{_count(settings.outbox_limit)}); el más antiguo, en cola desde "
                f"{_moment(format_timestamp(oldest))} (hace {number(wait_min, 1)} min).")  # fmt: skip
    if by_reason:
        message(f"{_count(sum(g.count for g in groups))} cartas muertas: corrija el mapeo y "
                "envíelas de nuevo con `pukara almacen reintentar --todos` (o sus n.º, en "
                "--formato json).")  # fmt: skip
    if cluster is not None:
        message(_cluster_line(cluster))
    return _estado_code(bool(groups), cluster)


def _estado_code(dead_letters: bool, cluster: dict[str, Any] | None) -> int:
    """3 (something to act on) with dead letters or a cluster that does not answer."""
    down = cluster is not None and not cluster["reachable"]
    return ExitCode.PARTIAL if dead_letters or down else ExitCode.OK


def _shipper(settings: Settings, store: Any) -> Any:
    from pukara.errors import ConfigError
    from pukara.store.cluster.shipper import Shipper
    from pukara.store.outbox import Outbox

    if not settings.es_url:
        raise ConfigError(
            "no hay clúster configurado: indique es_url (PUKARA_ES_URL o pukara.toml)"
        )
    from pukara.store.elastic import cluster_engine

    def warn(text: str) -> None:
        message(text, style="yellow")

    outbox = Outbox(store, limit=settings.outbox_limit, on_warning=warn)
    # cluster_engine puts the lifecycle policy too: streams created here get their retention
    shipper = Shipper(outbox, lambda: cluster_engine(settings), on_warning=warn)
    from pukara.store.cluster.engine import EngineUnavailable

    try:  # a wrong URL, credential or certificate stops here; a cluster away is waited for
        shipper.connect()
    except EngineUnavailable as e:
        warn(f"{e.message}; se reintenta con espera creciente (hasta 60 s), sin perder eventos")
    return shipper


def _ship_summary(report: Any, backlog: int, dead_letters: int) -> str:
    return (f"Enviados {_count(report.stored)} eventos al clúster ({_count(report.duplicates)} "
            f"ya estaban), {_count(report.dead)} a cartas muertas; {_count(report.throttled)} "
            f"respuestas 429, {_count(report.blocked)} bloqueos de escritura, "
            f"{_count(report.unavailable)} envíos sin respuesta. Quedan {_count(backlog)} en la "
            f"cola y {_count(dead_letters)} cartas muertas.")  # fmt: skip


def _report_dict(report: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(report)


def _refreshed(shipper: Any) -> None:
    """Make what was sent searchable now (not at the next refresh), then let go of the
    engine: counts read right after `enviar` or `migrar` then add up."""
    from pukara.errors import PukaraError
    from pukara.store.cluster.engine import ALL_STREAMS

    engine = shipper.engine
    if engine is None:
        return
    try:
        engine.refresh(ALL_STREAMS)
    except PukaraError:
        pass  # the cluster went away at the end: the events are in, refreshed later
    finally:
        engine.close()


@almacen.command()
def enviar(
    ctx: typer.Context,
    seguir: Annotated[
        bool,
        typer.Option(
            "--seguir", help="No termina al vaciar la cola: espera eventos nuevos hasta Ctrl-C."
        ),
    ] = False,
    formato: FormatoOpt = Formato.tabla,
) -> int:
    """Envía al clúster los eventos de la cola local hasta vaciarla (con --seguir, hasta
    Ctrl-C); cada uno sale de la cola solo después de que el clúster respondió por él."""
    import threading

    settings: Settings = ctx.obj
    with _local(settings) as store:
        shipper = _shipper(settings, store)
        interrupted = False
        try:
            shipper.run(threading.Event(), until_empty=not seguir)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            _refreshed(shipper)
        report = shipper.total
        backlog, dead = shipper.outbox.backlog(), shipper.outbox.dead_letter_count()
    if formato is Formato.json:
        print(json.dumps({**_report_dict(report), "backlog": backlog, "dead_letters": dead}))
    message(_ship_summary(report, backlog, dead))
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.PARTIAL if report.dead else ExitCode.OK


@almacen.command()
def reintentar(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(
            help="N.º de las cartas muertas (almacen estado --formato json).", show_default=False
        ),
    ] = None,
    todos: Annotated[bool, typer.Option("--todos", help="Todas las cartas muertas.")] = False,
) -> None:
    """Devuelve cartas muertas a la cola hacia el clúster, después de corregir el mapeo."""
    settings: Settings = ctx.obj
    if not ids and not todos:
        raise UsageError("indique los n.º de las cartas muertas o --todos")
    if ids and todos:
        raise UsageError("indique los n.º de las cartas muertas o --todos, no ambos")
    from pukara.store.outbox import Outbox

    with _local(settings) as store:
        box = Outbox(store, limit=settings.outbox_limit)
        moved = box.retry_dead_letters(None if todos else ids)
        left = box.dead_letter_count()
    message(f"{_count(moved)} cartas muertas vuelven a la cola; se envían con `pukara almacen "
            f"enviar` o con el próximo envío. Quedan {_count(left)} cartas muertas.")  # fmt: skip


@almacen.command()
def migrar(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> int:
    """Copia al clúster los eventos de la base SQLite, por la misma cola y el mismo envío;
    se puede interrumpir y retomar, y lo que ya estaba en el clúster no se duplica."""
    import threading

    from pukara.console import RichReporter
    from pukara.store.cluster.migrate import migrate

    settings: Settings = ctx.obj
    stop = threading.Event()
    progress = RichReporter()
    with _local(settings) as store:
        shipper = _shipper(settings, store)
        progress.start(0, "Migrando eventos al clúster")
        interrupted = False
        try:
            result = migrate(shipper, stop, progress=progress.update)
        except KeyboardInterrupt:
            interrupted, result = True, None
        finally:
            progress.finish()
            _refreshed(shipper)
        report = shipper.total
        backlog, dead = shipper.outbox.backlog(), shipper.outbox.dead_letter_count()
    if formato is Formato.json:
        print(json.dumps({**_report_dict(report), "backlog": backlog, "dead_letters": dead,
                          "queued": result.queued if result else None,
                          "resumed": result.resumed if result else None}))  # fmt: skip
    if result is not None:
        resumed = " (retomada donde quedó la anterior)" if result.resumed else ""
        message(f"Migración{resumed}: {_count(result.queued)} eventos de la base SQLite puestos "
                "en la cola.")  # fmt: skip
    message(_ship_summary(report, backlog, dead))
    if interrupted:
        message("Interrumpida: la próxima `pukara almacen migrar` sigue desde donde quedó.")
        return ExitCode.INTERRUPTED
    return ExitCode.OK
