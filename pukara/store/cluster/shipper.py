"""The shipper: takes the oldest events of the outbox to the cluster, one ``_bulk`` at a time.

An event leaves the outbox only after the engine answered for it: stored or already there
(acknowledged), or refused as it is (a dead letter, with the engine's reason). Everything
else (back-pressure, a write block, a node failure, the cluster away) keeps it, and the
shipper waits with exponential backoff and jitter before trying again. A shipper killed at
any moment loses nothing: what it sent but did not acknowledge is sent again, and the engine
answers 409 for what it had stored (``_id`` = ``event.id``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

from pukara.errors import PukaraError
from pukara.store.cluster import bulk
from pukara.store.cluster.bulk import Outcome
from pukara.store.cluster.engine import EngineRefused, EngineUnavailable, ItemResult, SearchEngine
from pukara.store.outbox import Outbox, OutboxItem

IDLE_S = 0.5  # how long an idle shipper waits for new events before looking again


@dataclass(slots=True)
class ShipReport:
    """What one or more bulks did; reports add up with ``+=``."""

    bulks: int = 0  # requests sent
    sent: int = 0  # documents sent (a resent one counts again)
    stored: int = 0
    duplicates: int = 0  # 409: the engine had them already
    dead: int = 0  # moved to the dead letters
    throttled: int = 0  # 429s seen: items, and whole requests
    blocked: int = 0  # items refused by a write block (403)
    retried: int = 0  # items kept for another try (any reason)
    unavailable: int = 0  # requests that got no usable answer (refused, timeout, 5xx)
    refused: int = 0  # whole requests the engine refused (4xx other than 429)
    bytes: int = 0
    seconds: float = 0.0

    def __iadd__(self, other: ShipReport) -> ShipReport:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def acked(self) -> int:
        return self.stored + self.duplicates

    @property
    def must_wait(self) -> bool:
        """Something was kept back: the next try waits (backoff) instead of hammering."""
        return bool(self.retried or self.unavailable or self.refused)


class Shipper:
    """Sends the outbox on: :meth:`ship_once` for one bulk, :meth:`run` for a loop, or
    :meth:`start_background` and :meth:`stop` for a thread beside the writers.

    ``connect`` builds the engine adapter; it is called again after it fails (the cluster
    may be away when the shipper starts). After each connection the templates are put once.
    """

    def __init__(
        self,
        outbox: Outbox,
        connect: Callable[[], SearchEngine],
        *,
        on_warning: Callable[[str], None] | None = None,
        max_docs: int = bulk.MAX_DOCS,
        max_bytes: int = bulk.MAX_BYTES,
        backoff: bulk.Backoff | None = None,
        idle_s: float = IDLE_S,
    ) -> None:
        self.outbox = outbox
        self._connect = connect
        self.on_warning = on_warning
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self.backoff = backoff or bulk.Backoff()
        self.idle_s = idle_s
        self.engine: SearchEngine | None = None
        self.total = ShipReport()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_until: float | None = None
        self._thread: threading.Thread | None = None
        self._trouble: str | None = None  # the kind of the last warning, said once per episode
        self._lock = threading.Lock()

    # -- one bulk ----------------------------------------------------------------------
    def _warn(self, kind: str, text: str) -> None:
        if self._trouble == kind:
            return
        self._trouble = kind
        if self.on_warning is not None:
            self.on_warning(text)

    def _recovered(self) -> None:
        if self._trouble is not None:
            was, self._trouble = self._trouble, None
            if self.on_warning is not None and was != "dead":
                self.on_warning(
                    f"el clúster vuelve a aceptar eventos; quedan {self.outbox.backlog()} en "
                    "la cola local"
                )

    def connect(self) -> SearchEngine:
        """The engine, connecting (and putting the templates) if not done yet. Raises what
        ``connect`` raises: ConfigError for what the operator must fix, EngineUnavailable
        while no node answers."""
        return self._engine()

    def _engine(self) -> SearchEngine:
        if self.engine is None:
            from pukara.store.cluster.templates import install

            engine = self._connect()
            try:
                install(engine)
            except BaseException:
                engine.close()
                raise
            self.engine = engine
        return self.engine

    def ship_once(self) -> ShipReport:
        """Send the oldest events in one bulk and settle them by the engine's answer.

        Never raises for the cluster's sake: a request that fails keeps its events and says
        so in the report (``unavailable``, ``refused``, ``throttled``)."""
        with self._lock:
            return self._ship_once()

    def _ship_once(self) -> ShipReport:
        report = ShipReport()
        items = self.outbox.take(self.max_docs, self.max_bytes)
        if not items:
            return report
        started = time.monotonic()
        payload = bulk.body(items)
        try:
            results = self._engine().bulk(payload)
        except EngineUnavailable as e:
            report.unavailable, report.retried = 1, len(items)
            report.throttled = 1 if e.status == 429 else 0
            self._warn("unavailable", f"{e.message}; {self.outbox.backlog()} eventos esperan en "
                       "la cola local y se enviarán cuando responda, sin perder ninguno")  # fmt: skip
            return report
        except EngineRefused as e:
            report.refused, report.retried = 1, len(items)
            if e.status in (401, 403):
                self.engine = None  # credentials may be fixed meanwhile: connect again
            self._warn("refused", f"{e.message}; los eventos siguen en la cola local")
            return report
        except PukaraError as e:  # a connect() that cannot work yet (configuration)
            report.refused, report.retried = 1, len(items)
            self._warn("refused", f"{e.message}; los eventos siguen en la cola local")
            return report
        report.bulks, report.sent, report.bytes = 1, len(items), len(payload)
        if len(results) != len(items):
            report.unavailable, report.retried = 1, len(items)
            self._warn("unavailable", f"el clúster respondió {len(results)} resultados a un "
                       f"envío de {len(items)} eventos; se reenvían todos")  # fmt: skip
            return report
        self._settle(items, results, report)
        report.seconds = time.monotonic() - started
        return report

    def _settle(
        self, items: list[OutboxItem], results: list[ItemResult], report: ShipReport
    ) -> None:
        acked: list[OutboxItem] = []
        dead: list[tuple[OutboxItem, ItemResult]] = []
        block: ItemResult | None = None
        missing: ItemResult | None = None
        for item, result in zip(items, results, strict=True):
            outcome = bulk.classify(result)
            if outcome is Outcome.STORED:
                report.stored += 1
                acked.append(item)
            elif outcome is Outcome.DUPLICATE:
                report.duplicates += 1
                acked.append(item)
            elif outcome is Outcome.DEAD:
                dead.append((item, result))
            else:
                report.retried += 1
                if outcome is Outcome.THROTTLED:
                    report.throttled += 1
                elif outcome is Outcome.BLOCKED:
                    report.blocked += 1
                    block = result
                elif outcome is Outcome.MISSING:
                    missing = result
        self.outbox.settle(acked, dead)
        report.dead = len(dead)
        self._say_settled(block, missing, dead)
        if not report.retried:
            self._recovered()

    def _say_settled(
        self,
        block: ItemResult | None,
        missing: ItemResult | None,
        dead: list[tuple[OutboxItem, ItemResult]],
    ) -> None:
        if missing is not None and self.engine is not None:
            self.engine.close()
            self.engine = None  # connect again: the templates are put again with it
        if missing is not None:
            self._warn("missing", f"ATENCIÓN: el clúster no tiene el índice o la plantilla de "
                       f"destino (HTTP {missing.status} {missing.error_type or ''}: "
                       f"{missing.reason or ''}); se reinstalan las plantillas y los eventos "
                       "esperan en la cola local")  # fmt: skip
        elif block is not None:
            self._warn("blocked", f"ATENCIÓN: el clúster bloquea la escritura (HTTP {block.status} "
                       f"{block.error_type or ''}: {block.reason or ''}); los eventos esperan en "
                       "la cola local hasta que se levante el bloqueo (revise el disco del "
                       "clúster y index.blocks.write)")  # fmt: skip
        elif dead:
            first = dead[0][1]
            self._warn("dead", f"el clúster rechazó {len(dead)} eventos tal como están (HTTP "
                       f"{first.status} {first.error_type or ''}: {first.reason or ''}); quedan "
                       "como cartas muertas: corrija el mapeo y use `pukara almacen reintentar`")  # fmt: skip

    # -- loops ---------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, until_empty: bool = False) -> ShipReport:
        """Ship until ``stop`` is set (or, with ``until_empty``, until the outbox is empty)."""
        return self.drain(stop, below=1 if until_empty else None)

    def drain(self, stop: threading.Event, *, below: int | None) -> ShipReport:
        """Ship until ``stop`` is set or fewer than ``below`` events wait (None: forever)."""
        total = ShipReport()
        while not stop.is_set():
            if below is not None and self.outbox.backlog() < below:
                break
            report = self.ship_once()
            total += report
            self.total += report
            if report.must_wait:
                if report.acked or report.dead:
                    self.backoff.reset()  # the engine takes some: wait little, not more and more
                stop.wait(self.backoff.next())
                continue
            self.backoff.reset()
            if not report.sent:
                self._wake.wait(self.idle_s)
                self._wake.clear()
        return total

    def wake(self) -> None:
        """New events are in the outbox: ship now rather than after the idle wait."""
        self._wake.set()

    def start_background(self) -> None:
        """Ship from a daemon thread until :meth:`stop` (again, if the thread ended)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._background, name="pukara-envio", daemon=True)
        self._thread.start()

    def _background(self) -> None:
        # the local store may fail for a while (locked past busy_timeout by another process,
        # a full disk): the thread says so, waits and goes on; it never ends on its own
        while not self._stop.is_set():
            try:
                self.run(self._stop)
            except PukaraError as e:
                self._warn("store", f"el envío al clúster no puede leer la cola local: "
                           f"{e.message}; se reintenta")  # fmt: skip
                self._stop.wait(self.backoff.next())
        # stop() asked: send what is left, for as long as it allows
        deadline = self._flush_until
        while deadline is not None and time.monotonic() < deadline:
            try:
                if not self.outbox.backlog():
                    break
                report = self.ship_once()
            except PukaraError:
                report = ShipReport(unavailable=1)
            self.total += report
            if report.must_wait:
                time.sleep(min(self.backoff.next(), max(0.0, deadline - time.monotonic())))

    def stop(self, flush_timeout_s: float) -> ShipReport:
        """Stop the background thread after it sent what waits, for at most
        ``flush_timeout_s`` seconds; what is still queued then stays for the next start."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._flush_until = time.monotonic() + flush_timeout_s
            self._stop.set()
            self._wake.set()
            thread.join(flush_timeout_s + 30)
            self._flush_until = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        return self.total
