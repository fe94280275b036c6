"""The incident state machine: NIST SP 800-61 phases with IRIS's and TheHive's names.

::

    nuevo -> analisis -> contencion -> erradicacion -> recuperacion -> post_incidente -> cerrado
                ^___________|______________|________________|   (back to analisis: NIST r2)
    cerrado -> reabierto -> analisis        (as RTIR allows; a reason is required)
    any open state -> descartado            (false positive, duplicate: a disposition required)

Guards (:func:`check`): closing needs a determination, a disposition, an impact and a lessons
note, and no active countermeasure past its expiry; contencion ends (forward, or discarded)
only when every countermeasure of the case is active, rejected or retired. A refused move
raises :class:`TransitionError` (Spanish, naming from, to and what is allowed) before anything
is written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from csirt.records import COUNTERMEASURE
from pukara.errors import UsageError

NEW = "nuevo"
ANALYSIS = "analisis"
CONTAINMENT = "contencion"
ERADICATION = "erradicacion"
RECOVERY = "recuperacion"
POST_INCIDENT = "post_incidente"
CLOSED = "cerrado"
REOPENED = "reabierto"
DISCARDED = "descartado"

STATES = (NEW, ANALYSIS, CONTAINMENT, ERADICATION, RECOVERY, POST_INCIDENT, CLOSED, REOPENED,
          DISCARDED)  # fmt: skip
LABELS = {
    NEW: "nuevo",
    ANALYSIS: "análisis",
    CONTAINMENT: "contención",
    ERADICATION: "erradicación",
    RECOVERY: "recuperación",
    POST_INCIDENT: "post-incidente",
    CLOSED: "cerrado",
    REOPENED: "reabierto",
    DISCARDED: "descartado",
}
FINAL = frozenset({CLOSED, DISCARDED})
OPEN = tuple(s for s in STATES if s not in FINAL)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (ANALYSIS, DISCARDED),
    ANALYSIS: (CONTAINMENT, DISCARDED),
    CONTAINMENT: (ERADICATION, ANALYSIS, DISCARDED),
    ERADICATION: (RECOVERY, ANALYSIS, DISCARDED),
    RECOVERY: (POST_INCIDENT, ANALYSIS, DISCARDED),
    POST_INCIDENT: (CLOSED, DISCARDED),
    CLOSED: (REOPENED,),
    REOPENED: (ANALYSIS, DISCARDED),
    DISCARDED: (),
}

# what closing needs, with the option that sets each
CLOSING_FIELDS = {
    "determination": "la determinación (--determinacion)",
    "disposition": "la disposición (--disposicion)",
    "impact": "el impacto (--impacto)",
    "lessons": "la nota de lecciones aprendidas (--lecciones)",
}
# countermeasure statuses that let containment end
SETTLED = frozenset({"activa", "rechazada", "retirada"})
CM_LABELS = {"pendiente": "pendiente de activación", "pendiente_retiro": "pendiente de retiro"}


class TransitionError(UsageError):
    """A change of status the state machine or one of its guards refuses."""


class Reader(Protocol):
    """What the guards read: a Store or a Transaction (inside a command)."""

    def scan(
        self,
        collection: str,
        prefix: Any = (),
        where: Mapping[str, Any] | None = None,
    ) -> Iterable[dict[str, Any]]: ...


def _key(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.strip().lower().replace("-", "_").replace(" ", "_")


_ALIASES = {_key(label): state for state, label in LABELS.items()} | {s: s for s in STATES}


def parse_state(text: str) -> str:
    """``análisis``, ``analisis``, ``post-incidente``... -> the stored name."""
    found = _ALIASES.get(_key(text))
    if found is None:
        names = ", ".join(LABELS.values())
        raise UsageError(f"«{text}» no es un estado de incidente; use uno de: {names}")
    return found


def allowed(current: str) -> tuple[str, ...]:
    return TRANSITIONS.get(current, ())


def _names(states: Iterable[str]) -> str:
    shown = [LABELS.get(s, s) for s in states]
    return ", ".join(shown) if shown else "ninguno (es un estado final)"


def check_transition(current: str, to: str) -> None:
    if to == current:
        raise TransitionError(
            f"el incidente ya está en «{LABELS.get(to, to)}»; desde ahí se puede pasar a: "
            f"{_names(allowed(current))}"
        )
    if to not in allowed(current):
        raise TransitionError(
            f"no se puede pasar de «{LABELS.get(current, current)}» a «{LABELS.get(to, to)}»; "
            f"desde «{LABELS.get(current, current)}» se puede pasar a: {_names(allowed(current))}"
        )


# still in force on the host: active, or its retirement not done yet
IN_FORCE = frozenset({"activa", "pendiente_retiro"})


def active_past_expiry(reader: Reader, incident_id: str, now: str) -> list[dict[str, Any]]:
    """Countermeasures of the case still in force after their expiry, as contencion
    decides it (:func:`csirt.contramedidas.active_past_expiry`)."""
    from csirt import contramedidas
    from pukara.events import parse_timestamp

    return contramedidas.active_past_expiry(reader, incident_id, parse_timestamp(now))


def unsettled(reader: Reader, incident_id: str) -> list[dict[str, Any]]:
    """Countermeasures of the case neither active, rejected nor retired."""
    return [c for c in reader.scan(COUNTERMEASURE, (), {"incident_id": incident_id})
            if c.get("status") not in SETTLED]  # fmt: skip


def _cm_list(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{c.get('id')} ({CM_LABELS.get(c.get('status', ''), c.get('status'))}"
                     f"{', vencía ' + str(c['expires_at']) if c.get('status') in IN_FORCE else ''})"
                     for c in items)  # fmt: skip


def check(
    reader: Reader,
    incident: Mapping[str, Any],
    to: str,
    *,
    reason: str = "",
    now: str,
) -> None:
    """Every guard of moving ``incident`` (with the fields of this change already applied)
    to ``to``; raises :class:`TransitionError` naming what is missing."""
    current = str(incident.get("status"))
    check_transition(current, to)
    move = f"pasar de «{LABELS.get(current, current)}» a «{LABELS[to]}»"
    if to == CLOSED:
        missing = [why for name, why in CLOSING_FIELDS.items() if not incident.get(name)]
        if missing:
            raise TransitionError(f"para cerrar el incidente falta {', '.join(missing)}")
        late = active_past_expiry(reader, str(incident["id"]), now)
        if late:
            raise TransitionError(
                "no se puede cerrar: hay contramedidas en vigor pasada su expiración; retírelas "
                f"antes (pukara csirt contramedida vencer): {_cm_list(late)}"
            )
    if to == REOPENED and not reason.strip():
        raise TransitionError(f"para {move} indique el motivo (--motivo)")
    if to == DISCARDED and not incident.get("disposition"):
        raise TransitionError(
            f"para {move} indique la disposición (--disposicion), p. ej. "
            "not-an-incident:faulty-indicator o duplicate"
        )
    if current == CONTAINMENT and to != ANALYSIS:
        pending = unsettled(reader, str(incident["id"]))
        if pending:
            raise TransitionError(
                f"no se puede {move}: toda contramedida del caso debe estar activa, rechazada o "
                f"retirada; falta: {_cm_list(pending)}"
            )
    if to in (CLOSED, DISCARDED):
        waiting = [c for c in reader.scan(COUNTERMEASURE, (), {"incident_id": str(incident["id"])})
                   if c.get("status") == "pendiente"]  # fmt: skip
        if waiting:
            raise TransitionError(
                f"no se puede {move}: hay contramedidas propuestas sin decidir; recházelas "
                f"(pukara csirt contramedida rechazar) o actívelas antes: {_cm_list(waiting)}"
            )
