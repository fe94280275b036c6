"""The Statement of Applicability: one row per control of an edition.

Each row joins the catalogue, the applicability file and the newest results: a control's
evidence is every result of a check linked to it in that edition (the 2013 edition reads the
checks' 2013 links). The licensed local titles are never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from auditoria import catalogo
from auditoria.aplicabilidad import Applicability
from auditoria.modelo import Check, Relation, Result, Status

IMPLEMENTED = "implemented"
PARTIAL = "partial"
WAIVED = "waived"  # a finding accepted by a waiver: risk accepted, control not in place
NOT_IMPLEMENTED = "not implemented"
NOT_ASSESSED = "not assessed"
STATUS_TEXT = {
    IMPLEMENTED: "implementado",
    PARTIAL: "parcial",
    WAIVED: "exceptuado",
    NOT_IMPLEMENTED: "no implementado",
    NOT_ASSESSED: "no evaluado",
}
CURRENT, STALE = "vigente", "vencida"
NOT_DECLARED = "sin declarar"  # the applicability file does not name the control
COLUMNS = {  # key -> Spanish header, in the order every format writes them
    "control": "Control",
    "label": "Etiqueta",
    "group": "Tema o cláusula",
    "applicable": "Aplica",
    "justification": "Justificación",
    "status": "Estado de implementación",
    "evidence": "Evidencias",
    "evidence_age_days": "Antigüedad (días)",
    "freshness": "Vigencia",
}


@dataclass(frozen=True, slots=True)
class Row:
    control: str
    label: str
    group: str
    applicable: bool | None  # None: the file does not declare it
    justification: str
    status: str
    evidence: tuple[str, ...]  # result ids: "check_id@host" (source appended when not pukara)
    evidence_age_days: int | None
    freshness: str  # vigente, vencida, or "" without evidence

    def cells(self) -> dict[str, str | int | None]:
        """The row as people read it (the values every format writes)."""
        return {
            "control": self.control,
            "label": self.label,
            "group": self.group,
            "applicable": NOT_DECLARED
            if self.applicable is None
            else ("sí" if self.applicable else "no"),
            "justification": self.justification,
            "status": STATUS_TEXT[self.status],
            "evidence": " ".join(self.evidence),
            "evidence_age_days": self.evidence_age_days,
            "freshness": self.freshness,
        }


def result_id(result: Result) -> str:
    base = f"{result.check_id}@{result.host}"
    return base if result.source == "pukara" else f"{base}#{result.source}"


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def is_stale(result: Result, now: datetime) -> bool:
    return parse_utc(result.valid_until) < now


def stale(results: Iterable[Result], now: datetime | None = None) -> list[Result]:
    """Results whose ``valid_until`` has passed: what ``evidencia vencida`` lists."""
    moment = now or datetime.now(UTC)
    return [r for r in results if is_stale(r, moment)]


def _status(results: list[tuple[Result, Relation]], now: datetime) -> str:
    """A waived finding is its own state («exceptuado»), never «implementado»; once its
    evidence is stale (the waiver ended) it counts as the fail it is."""
    counted = [(r, rel) for r, rel in results if r.status is not Status.NOT_APPLICABLE]
    if not counted:
        return NOT_ASSESSED
    good = [r for r, _ in counted if r.status is Status.PASS]
    waived = [r for r, _ in counted if r.status is Status.WAIVED and not is_stale(r, now)]
    if not good and not waived:
        return NOT_IMPLEMENTED
    if len(good) + len(waived) < len(counted):
        return PARTIAL
    if waived:
        return WAIVED
    if all(rel is Relation.PARTIALLY_SUPPORTS for _, rel in counted):
        return PARTIAL  # every check only partly evidences the control
    return IMPLEMENTED


def build(
    edition: str,
    results: Iterable[Result],
    checks: Mapping[str, Check],
    applicability: Mapping[str, Mapping[str, Applicability]],
    *,
    now: datetime | None = None,
) -> list[Row]:
    """Every control of ``edition`` in catalogue order with its applicability and evidence."""
    catalogue = catalogo.load(edition)
    moment = now or datetime.now(UTC)
    linked: dict[str, list[tuple[Result, Relation]]] = {}
    for result in results:
        check = checks.get(result.check_id)
        if check is None:
            continue  # a reference tool's own rule: no link to a control
        for link in check.links:
            if link.edition == catalogue.edition:
                linked.setdefault(link.control, []).append((result, link.relation))
    declared = applicability.get(catalogue.edition, {})
    rows = []
    for cid, control in catalogue.controls.items():
        evidence = sorted(linked.get(cid, []), key=lambda pair: result_id(pair[0]))
        decl = declared.get(cid)
        age = None
        freshness = ""
        if evidence:
            oldest = min(parse_utc(r.observed_at) for r, _ in evidence)
            age = max(0, (moment - oldest).days)
            freshness = STALE if any(is_stale(r, moment) for r, _ in evidence) else CURRENT
        rows.append(
            Row(
                control=cid,
                label=control.label,
                group=control.group,
                applicable=None if decl is None else decl.applicable,
                justification="" if decl is None else decl.justification,
                status=_status(evidence, moment),
                evidence=tuple(dict.fromkeys(result_id(r) for r, _ in evidence)),
                evidence_age_days=age,
                freshness=freshness,
            )
        )
    return rows
