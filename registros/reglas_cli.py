"""What the ``registros reglas`` commands share: the window, the source, rows to show."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pukara.config import Settings
from pukara.errors import UsageError
from pukara.events import get_field, parse_timestamp
from registros.detections import Hit, Rule, Source, alert

_RELATIVE = re.compile(r"-(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

_log = logging.getLogger("pukara.registros")
FLUSH_S = 60.0  # how long rules in cluster mode wait for the outbox to reach the cluster
RULE_COLUMNS = {
    "rule.id": "Id", "file": "Archivo", "rule.name": "Regla", "level": "Nivel",
    "kind": "Tipo", "rule.ruleset": "Conjunto", "tags": "Etiquetas",
}  # fmt: skip
HIT_COLUMNS = {
    "@timestamp": "Momento", "log.level": "Nivel", "rule.name": "Regla", "host.name": "Equipo",
    "pukara.alert.event_count": "Eventos", "message": "Detalle", "stored": "Guardada",
}  # fmt: skip
LEVEL_LABEL = {
    "informational": "informativo", "low": "bajo", "medium": "medio", "high": "alto",
    "critical": "crítico",
}  # fmt: skip
KIND_LABEL = {"simple": "simple", "correlation": "correlación", "silence": "silencio"}


def instant(text: str | None, option: str, now: datetime) -> datetime | None:
    """``-1h``/``-30m``/``-2d``/``ahora`` or ISO 8601 (without a zone: UTC)."""
    if text is None:
        return None
    value = text.strip()
    if value == "ahora":
        return now
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - timedelta(**{_UNITS[relative[2]]: int(relative[1])})
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text}: use -30m, -1h, -2d, ahora o una fecha ISO 8601 "
            "(AAAA-MM-DD o AAAA-MM-DDTHH:MM, UTC si no lleva zona)"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def window(desde: str | None, hasta: str | None) -> tuple[datetime | None, datetime]:
    now = datetime.now(UTC)
    since = instant(desde, "--desde", now)
    until = instant(hasta, "--hasta", now) or now
    if since is not None and since >= until:
        raise UsageError(f"--desde ({desde}) debe ser anterior a --hasta ({hasta or 'ahora'})")
    return since, until


def select(rules: list[Rule], wanted: Sequence[str]) -> list[Rule]:
    """Rules by id, file name (without .yml) or title; all when none is named."""
    if not wanted:
        return rules
    out = [r for r in rules if {r.id, r.path.stem, r.title} & set(wanted)]
    known = {name for r in out for name in (r.id, r.path.stem, r.title)}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise UsageError(
            f"--regla: no hay regla {', '.join(missing)} (vea `registros reglas listar`)"
        )
    return out


def rule_row(rule: Rule) -> dict[str, Any]:
    kind = "silence" if rule.silence else "correlation" if rule.correlation else "simple"
    return {
        "rule.id": rule.id, "file": rule.path.name, "rule.name": rule.title,
        "level": rule.level, "kind": kind, "rule.ruleset": rule.ruleset,
        "tags": " ".join(rule.tags), "description": rule.description,
    }  # fmt: skip


def hit_row(doc: dict[str, Any], stored: bool | None) -> dict[str, Any]:
    row = dict(doc)
    if stored is not None:
        row["stored"] = stored
    return row


def shown() -> dict[str, Any]:
    from pukara.formats import datetime_text

    return {
        "@timestamp": lambda v: datetime_text(parse_timestamp(v), seconds=True),
        "stored": lambda v: "nueva" if v else "ya estaba",
        "message": lambda v: str(v).partition(": ")[2] or v,  # the rule is its own column
        "log.level": lambda v: LEVEL_LABEL.get(v, v),
        "pukara.alert.event_count": lambda v: v,
    }


@contextmanager
def open_source(settings: Settings, events_file: Path | None) -> Iterator[Source]:
    """The events of a JSON-lines file, the cluster (``es_url``) or the SQLite store."""
    if events_file is not None:
        with tempfile.TemporaryDirectory(prefix="pukara-reglas-") as folder:
            path = Path(folder) / "eventos.db"
            _load_file(events_file, path)
            yield from _sqlite(path)
        return
    if settings.es_url:
        from pukara.store.cluster.client import connect
        from pukara.store.cluster.engine import ALL_STREAMS
        from registros.sigma_cluster import ClusterSource

        pending = flush_outbox(settings)
        engine = connect(settings)
        try:
            engine.refresh(ALL_STREAMS)  # what was just sent is searched too
            source = ClusterSource(engine)
            source.pending = pending
            yield source
        finally:
            engine.close()
        return
    if not settings.db.exists():
        raise UsageError(f"{settings.db}: no existe la base de datos (nada que revisar)")
    yield from _sqlite(settings.db)


def flush_outbox(settings: Settings, timeout_s: float = FLUSH_S) -> int:
    """Send what waits in the local outbox to the cluster, for at most ``timeout_s``, so
    rules see events that arrived while the cluster was away; how many still wait."""
    if not settings.db.exists():
        return 0  # no local store: nothing queued here
    from pukara.store.cluster.shipper import Shipper
    from pukara.store.elastic import cluster_engine
    from pukara.store.outbox import Outbox
    from pukara.store.sqlite import SQLiteStore

    with SQLiteStore(settings.db, actor=settings.analyst) as local:
        outbox = Outbox(local, limit=settings.outbox_limit, on_warning=_log.warning)
        if not outbox.backlog():
            return 0
        shipper = Shipper(
            outbox, lambda: cluster_engine(settings, install=True), on_warning=_log.warning
        )
        stop = threading.Event()
        timer = threading.Timer(timeout_s, stop.set)
        timer.start()
        try:
            shipper.drain(stop, below=1)
        finally:
            timer.cancel()
            if shipper.engine is not None:
                shipper.engine.close()
        return outbox.backlog()


def pending(source: Source) -> int:
    """Events of the local outbox the cluster source could not see (sent too late)."""
    return int(getattr(source, "pending", 0))


def _sqlite(path: Path) -> Iterator[Source]:
    from registros.sigma_sqlite import SQLiteSource

    source = SQLiteSource(path)
    try:
        yield source
    finally:
        source.close()


def _load_file(events_file: Path, db: Path) -> None:
    from pukara.errors import StoreError
    from pukara.store.sqlite import SQLiteStore

    def docs() -> Iterator[dict[str, Any]]:
        try:
            with events_file.open("rb") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        doc = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise UsageError(f"{events_file}:{n}: no es JSON") from None
                    if not isinstance(doc, dict):
                        raise UsageError(f"{events_file}:{n}: no es un documento JSON")
                    yield doc
        except OSError as e:
            raise UsageError(f"--eventos {events_file}: {e.strerror}") from None

    with SQLiteStore(db) as store:
        try:
            store.write_events(docs())
        except StoreError as e:
            raise UsageError(f"--eventos {events_file}: {e.message}") from None


def file_end(events_file: Path) -> datetime | None:
    """Just after the file's newest event: where a run over the whole file ends (a silence
    is judged there, not at today's date)."""
    newest: datetime | None = None
    try:
        with events_file.open("rb") as f:
            for line in f:
                try:
                    stamp = orjson.loads(line).get("@timestamp") if line.strip() else None
                    ts = parse_timestamp(stamp) if isinstance(stamp, str) else None
                except (orjson.JSONDecodeError, AttributeError, ValueError):
                    continue  # reported when the file is loaded
                if ts is not None and (newest is None or ts > newest):
                    newest = ts
    except OSError as e:
        raise UsageError(f"--eventos {events_file}: {e.strerror}") from None
    return None if newest is None else newest + timedelta(microseconds=1)


def alerts(hits: Iterator[Hit]) -> list[dict[str, Any]]:
    return [alert(hit) for hit in hits]


def event_id(doc: dict[str, Any]) -> str:
    return str(get_field(doc, "event.id"))
