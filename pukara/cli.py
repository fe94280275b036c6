"""Subcomandos de `pukara cambios` (el registro encadenado de cambios) y `pukara almacen`."""

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, message, render
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


def _date(option: str, text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """``AAAA-MM-DD`` (the whole day, UTC) or an ISO 8601 instant (UTC when it has no zone)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time(), UTC)
            return day + timedelta(days=1) if end_of_day else day
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: fecha inválida; use AAAA-MM-DD o AAAA-MM-DDTHH:MM[:SS][zona]"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


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
    since, until = _date("--desde", desde), _date("--hasta", hasta, end_of_day=True)
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


@almacen.command()
def estado(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> None:
    """Versión del esquema, tamaño del archivo y eventos por conjunto de datos."""
    settings: Settings = ctx.obj
    from pukara.store import opened_store

    with opened_store(settings) as store:
        info = store.info()
        stats = store.event_stats()
    records = [
        {"dataset": s.dataset, "count": s.count,
         "oldest": s.oldest and format_timestamp(s.oldest),
         "newest": s.newest and format_timestamp(s.newest)}
        for s in stats
    ]  # fmt: skip
    columns = {"dataset": "Conjunto de datos", "count": "Eventos",
               "oldest": "Más antiguo (UTC)", "newest": "Más reciente (UTC)"}  # fmt: skip
    render(records, formato, columns, shown={"count": _count, "oldest": _moment, "newest": _moment})
    message(f"{info.location}: esquema {info.schema_version}, {_size(info.size_bytes)} "
            f"({_size(info.free_bytes)} libres para reutilizar), "
            f"{_count(sum(s.count for s in stats))} eventos.")  # fmt: skip
