"""From parsed rows to a checked plan of changes, applied all at once or not at all.

Sites match by code. Assets match by the strongest identity the row carries (asset tag,
serial, management IPv4, IPv6, then name); a row whose identities point at two different
assets is a conflict, never a merge. Columns a file leaves out keep their stored values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from inventario.files import ParsedFile, Row
from inventario.model import (
    ASSET_MATCH_ORDER,
    ASSETS,
    FIELDS,
    KEYS,
    RETIRED,
    SITES,
    STATUSES,
    blank,
    canonical,
    date_problems,
    field_label,
)
from pukara.errors import PukaraError
from pukara.store import EntityBatch, Store
from pukara.text import count

MAX_SHOWN = 50
ADDRESSES = ("mgmt_ipv4", "mgmt_ipv6")


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    field: str | None
    message: str


class InvalidData(PukaraError):
    """Rows that cannot be applied; nothing was written."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        problems = sorted(problems, key=lambda p: _position(p.where))  # in the file's order
        self.problems = list(problems)
        lines = [
            f"{source}: {count(len(problems), 'error', 'errores')}; no se aplicó ningún cambio."
        ]
        for p in problems[:MAX_SHOWN]:
            what = f"campo «{field_label(p.field)}» ({p.field}): " if p.field else ""
            lines.append(f"  {source}: {p.where}: {what}{p.message}")
        if len(problems) > MAX_SHOWN:
            lines.append(f"  … y {count(len(problems) - MAX_SHOWN, 'error', 'errores')} más")
        super().__init__("\n".join(lines))


def _position(where: str) -> tuple[int, int]:
    """Where a row is in its file, to sort by: ``línea 12``, then ``sites[3]``, ``assets[0]``."""
    found = re.fullmatch(r"(línea |sites\[|assets\[)(\d+)\]?", where)
    if found is None:
        return (3, 0)
    return (("línea ", "sites[", "assets[").index(found[1]), int(found[2]))


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    key: str
    action: str  # "alta", "modificación", "renombre"
    fields: dict[str, tuple[Any, Any]]


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)
    upserts: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {SITES: [], ASSETS: []}
    )
    deletes: dict[str, list[str]] = field(default_factory=lambda: {SITES: [], ASSETS: []})
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not self.changes


def _parse_row(kind: str, row: Row, problems: list[Problem]) -> dict[str, Any] | None:
    doc: dict[str, Any] = {}
    ok = True
    for f in FIELDS[kind]:
        if f.name not in row.values:
            continue
        raw = row.values[f.name]
        if raw is None or (isinstance(raw, str | list) and not raw):
            doc[f.name] = None
            continue
        try:
            doc[f.name] = f.parse(raw)
        except ValueError as e:
            problems.append(Problem(row.where, f.name, str(e)))
            ok = False
    return doc if ok else None


def _required(kind: str, where: str, doc: Mapping[str, Any], problems: list[Problem]) -> bool:
    missing = [f.name for f in FIELDS[kind] if f.required and doc.get(f.name) in (None, "")]
    for name in missing:
        problems.append(Problem(where, name, "es obligatorio"))
    return not missing


def _diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    old = before or {}
    return {k: (old.get(k), v) for k, v in after.items() if old.get(k) != v}


def _plan_sites(
    rows: list[Row], existing: dict[str, dict[str, Any]], plan: Plan, problems: list[Problem]
) -> dict[str, dict[str, Any]]:
    final = dict(existing)
    seen: dict[str, str] = {}
    for row in rows:
        doc = _parse_row(SITES, row, problems)
        if doc is None:
            continue
        code = doc.get("code")
        if not code:
            problems.append(Problem(row.where, "code", "es obligatorio"))
            continue
        if code in seen:
            problems.append(Problem(row.where, "code", f"«{code}» duplicado ({seen[code]})"))
            continue
        seen[code] = row.where
        merged = canonical(SITES, {**existing.get(code, blank(SITES)), **doc})
        if not _required(SITES, row.where, merged, problems):
            continue
        final[code] = merged
    for code, where in seen.items():
        doc = final.get(code)
        if doc is None:
            continue
        parent, hops = doc.get("parent"), 0
        if parent and parent not in final:
            problems.append(Problem(where, "parent", f"sede superior «{parent}» desconocida"))
            continue
        while parent and hops <= len(final):
            if parent == code:
                problems.append(Problem(where, "parent", "la jerarquía de sedes forma un ciclo"))
                break
            parent, hops = final.get(parent, {}).get("parent"), hops + 1
        if doc != existing.get(code):
            plan.upserts[SITES].append(doc)
            action = "modificación" if code in existing else "alta"
            plan.changes.append(Change(SITES, code, action, _diff(existing.get(code), doc)))
        else:
            plan.unchanged += 1
    return final


def identity(field: str, value: Any) -> Any:
    """How a value identifies an asset: names in any case (``PC-01`` is ``pc-01``, as host
    names are), the other identities as written."""
    return value.casefold() if field == "name" and isinstance(value, str) else value


class AssetIndex:
    def __init__(self, assets: dict[str, dict[str, Any]]) -> None:
        self.by: dict[str, dict[Any, str]] = {f: {} for f in ASSET_MATCH_ORDER}
        for name, doc in assets.items():
            for f in ASSET_MATCH_ORDER:
                if doc.get(f):
                    self.by[f][identity(f, doc[f])] = name

    def get(self, field: str, value: Any) -> str | None:
        """The asset whose ``field`` is ``value`` (a name in any case)."""
        return self.by[field].get(identity(field, value)) if value else None

    def match(self, doc: Mapping[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
        """The asset the row is, and the (field, other asset) pairs that contradict it."""
        target, _, conflicts = self.match_by(doc)
        return target, conflicts

    def match_by(self, doc: Mapping[str, Any]) -> tuple[str | None, str, list[tuple[str, str]]]:
        """As :meth:`match`, with the field that decided the match."""
        hits = [(f, self.get(f, doc[f])) for f in ASSET_MATCH_ORDER if doc.get(f)]
        found = [(f, n) for f, n in hits if n is not None]
        if not found:
            return None, "", []
        rule, target = found[0]
        return target, rule, [(f, n) for f, n in found if n != target]


def _asset_ok(
    where: str,
    merged: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    target: str | None,
    index: AssetIndex,
    sites: Mapping[str, Any],
    problems: list[Problem],
    today: date,
) -> bool:
    if not _required(ASSETS, where, merged, problems):
        return False
    if merged["site"] and merged["site"] not in sites:
        problems.append(Problem(where, "site", f"sede «{merged['site']}» desconocida"))
        return False
    family = merged["preferred_family"]
    if family and not merged["mgmt_ipv4" if family == "4" else "mgmt_ipv6"]:
        problems.append(Problem(
            where, "preferred_family", f"prefiere IPv{family} pero no tiene esa dirección"
        ))  # fmt: skip
        return False
    other = index.get("name", merged["name"])
    if target is not None and other not in (None, target):
        problems.append(Problem(where, "name", f"«{merged['name']}» ya es otro activo («{other}»)"))
        return False
    stored = canonical(ASSETS, before) if before is not None else None
    changed = None if stored is None else {k for k, v in merged.items() if stored.get(k) != v}
    bad_dates = date_problems(merged, today, changed)
    for name, why in bad_dates:
        problems.append(Problem(where, name, why))
    return not bad_dates


IDENTITY_NAMES = {"asset_tag": "el código patrimonial", "serial": "el n.º de serie",
                  "mgmt_ipv4": "la IPv4 de gestión", "mgmt_ipv6": "la IPv6 de gestión",
                  "name": "el nombre"}  # fmt: skip


def _two_assets(doc: Mapping[str, Any], field: str, other: str, rule: str, target: Any) -> str:
    """Why a row whose identities point at two assets is refused, naming both."""
    first = (f"ya hay otro activo llamado «{other}»" if field == "name"
             else f"{IDENTITY_NAMES[field]} «{doc[field]}» es de «{other}»")  # fmt: skip
    return (f"{first}, y {IDENTITY_NAMES[rule]} «{doc[rule]}» es de «{target}»: una fila no "
            "puede ser dos activos; corrija uno de los dos valores")  # fmt: skip


def _ip_rename(
    where: str, doc: Mapping[str, Any], target: str, rule: str, problems: list[Problem]
) -> bool:
    """A row matched only by an address that names another asset: a conflict to confirm."""
    if rule not in ADDRESSES or not doc.get("name") or doc["name"] == target:
        return False
    problems.append(Problem(
        where, rule,
        f"la dirección {doc[rule]} ya es del activo «{target}» y la fila la da a «{doc['name']}»; "
        f"no se renombra «{target}» sin confirmación: si es el mismo equipo, repita con "
        "--renombrar; si no, corrija la dirección de uno de los dos",
    ))  # fmt: skip
    return True


def _repeated(
    where: str, doc: Mapping[str, Any], seen: dict[str, dict[Any, str]], problems: list[Problem]
) -> bool:
    """Whether an identity of the row was already used by an earlier row of the file."""
    clash = False
    for f in ASSET_MATCH_ORDER:
        value = doc.get(f)
        if value and identity(f, value) in seen[f]:
            problems.append(
                Problem(where, f, f"«{value}» duplicado ({seen[f][identity(f, value)]})")
            )
            clash = True
        elif value:
            seen[f][identity(f, value)] = where
    return clash


RETIREMENT = ("status", "retired_on", "retired_reason")


def _retirement(
    where: str,
    merged: dict[str, Any],
    row: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    day: date,
    problems: list[Problem],
) -> bool:
    """A row that retires an asset without saying when retires it on ``day`` (as ``baja``
    does); one that puts a retired asset back in any other status clears its retirement
    date and reason. A retirement needs its reason, and a date or reason of retirement on an
    asset that is not retired is a contradiction; both are checked when the row changes one
    of them, so an old inconsistent record does not block another change.
    """
    was_retired = (before or {}).get("status") == RETIRED
    if merged["status"] == RETIRED and not merged["retired_on"] and not was_retired:
        merged["retired_on"] = day.isoformat()
    if was_retired and merged["status"] != RETIRED:
        for name in ("retired_on", "retired_reason"):
            if row.get(name) is None:
                merged[name] = None
    stored = canonical(ASSETS, before) if before is not None else None
    if stored is not None and all(stored[k] == merged[k] for k in RETIREMENT):
        return True
    ok = True
    if merged["status"] == RETIRED and not merged["retired_reason"]:
        problems.append(Problem(where, "retired_reason", "un activo dado de baja necesita su "
                                "motivo (como --motivo en «inventario baja»)"))  # fmt: skip
        ok = False
    if merged["status"] != RETIRED:
        for name in ("retired_on", "retired_reason"):
            if merged[name]:
                problems.append(Problem(
                    where, name, f"el estado es «{STATUSES[merged['status']]}», no «dado de "
                    "baja»: deje vacíos la fecha y el motivo de baja o ponga ese estado",
                ))  # fmt: skip
                ok = False
    return ok


@dataclass(frozen=True, slots=True)
class Options:
    rename_by_address: bool = False  # a row may rename the asset its address points at
    today: date | None = None  # for the date checks; by default today in UTC


def _plan_assets(
    rows: list[Row],
    existing: dict[str, dict[str, Any]],
    sites: Mapping[str, Any],
    plan: Plan,
    problems: list[Problem],
    options: Options,
) -> None:
    today = options.today or datetime.now(UTC).date()
    index = AssetIndex(existing)
    seen: dict[str, dict[Any, str]] = {f: {} for f in ASSET_MATCH_ORDER}
    for row in rows:
        doc = _parse_row(ASSETS, row, problems)
        if doc is None:
            continue
        if _repeated(row.where, doc, seen, problems):
            continue
        target, rule, conflicts = index.match_by(doc)
        for f, other in conflicts:
            problems.append(Problem(row.where, f, _two_assets(doc, f, other, rule, target)))
        if conflicts:
            continue
        if (
            target is not None
            and not options.rename_by_address
            and _ip_rename(row.where, doc, target, rule, problems)
        ):
            continue
        if target is not None and rule == "name":
            doc["name"] = target  # the same name in another case: the stored one stays
        before = existing.get(target) if target else None
        merged = canonical(ASSETS, {**(before or blank(ASSETS)), **doc})
        if not _retirement(row.where, merged, doc, before, today, problems):
            continue
        if not _asset_ok(row.where, merged, before, target, index, sites, problems, today):
            continue
        renamed = target is not None and merged["name"] != target
        if before is not None and merged == canonical(ASSETS, before):
            plan.unchanged += 1
            continue
        plan.upserts[ASSETS].append(merged)
        if renamed and target:
            plan.deletes[ASSETS].append(target)
        action = "renombre" if renamed else "modificación" if before else "alta"
        plan.changes.append(Change(ASSETS, merged["name"], action, _diff(before, merged)))


def build_plan(store: Store, parsed: ParsedFile, options: Options | None = None) -> Plan:
    """Check every row against the file and the store; raise ``InvalidData`` listing all.

    A row that reaches an asset only through its management address but names it otherwise
    (an address reused for another device) is a conflict unless ``rename_by_address``.
    """
    problems: list[Problem] = []
    plan = Plan()
    sites = {s["code"]: s for s in store.entities(SITES)}
    final_sites = _plan_sites(parsed.rows[SITES], sites, plan, problems)
    if parsed.rows[ASSETS]:
        assets = {a["name"]: a for a in store.entities(ASSETS)}
        _plan_assets(parsed.rows[ASSETS], assets, final_sites, plan, problems,
                     options or Options())  # fmt: skip
    if problems:
        raise InvalidData(parsed.source, problems)
    return plan


def apply_plan(store: Store, plan: Plan) -> None:
    """Write the whole plan in one transaction."""
    store.write_entities(
        [
            EntityBatch(SITES, KEYS[SITES], plan.upserts[SITES], plan.deletes[SITES]),
            EntityBatch(ASSETS, KEYS[ASSETS], plan.upserts[ASSETS], plan.deletes[ASSETS]),
        ]
    )
