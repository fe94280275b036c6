"""What discovery saw, kept apart from what people declared, and the reconciliation of both.

One observation per (target, source). Its document changes only when the facts change, so a
re-run over an unchanged network writes nothing to the entities or the change log; each
sighting is still an event (``inventario.descubrimiento``) with its time and outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inventario.files import ParsedFile, Row
from inventario.model import ASSETS, SITES
from inventario.plan import AssetIndex, Plan, apply_plan, build_plan
from pukara.events import format_timestamp, make_event, utc_now
from pukara.results import Result
from pukara.store import Store

COLLECTION = "observation"
KEY = ("target", "source")
DATASET = "inventario.descubrimiento"
# Declared fields discovery may fill or correct, and the fact each comes from
RECONCILED = ("serial", "vendor", "model", "os", "os_version")
# Measurements that move on every run: kept in the run's event, not in the observation
VOLATILE = ("cpu_used_pct", "memory_used_pct", "disk_used_pct", "load_avg")


def current(store: Store) -> list[dict[str, Any]]:
    return list(store.entities(COLLECTION))


def for_asset(store: Store, name: str) -> list[dict[str, Any]]:
    return [o for o in current(store) if o.get("asset") == name]


def _match(index: AssetIndex, target: str, facts: Mapping[str, Any]) -> tuple[str | None, str]:
    """The declared asset an observation is, by serial, then address, then name."""
    for field, value in (("serial", facts.get("serial")), ("mgmt_ipv4", target),
                         ("mgmt_ipv6", target), ("name", facts.get("name"))):  # fmt: skip
        name = index.get(field, value)
        if name:
            return name, field
    return None, ""


def record(store: Store, source: str, results: Sequence[Result]) -> tuple[int, int]:
    """Store one discovery run: events for every target, observations for the answers.

    Returns (observations changed or new, unchanged).
    """
    now = format_timestamp(utc_now())
    index = AssetIndex({a["name"]: a for a in store.entities(ASSETS)})
    known = {(o["target"], o["source"]): o for o in current(store)}
    events = []
    docs = []
    for r in results:
        facts, metrics = split_metrics(r.data.get("facts") or {})
        asset, rule = _match(index, r.target, facts) if facts else (None, "")
        events.append(make_event(
            DATASET,
            kind="event",
            outcome="failure" if r.failed else "success",
            message=r.error or f"{source}: {facts.get('name') or r.target}",
            fields={
                "event.action": f"descubrir-{source}", "host.ip": r.target,
                "host.name": facts.get("name"), "host.uptime": _uptime(r.data),
                "inventario.asset": asset, "inventario.credential": r.data.get("credential"),
                "error.message": r.error, "inventario.metrics": metrics or None,
            },
        ))  # fmt: skip
        if r.failed:
            continue
        old = known.get((r.target, source))
        doc = {
            "target": r.target, "source": source, "asset": asset, "match": rule or None,
            "credential": r.data.get("credential"), "facts": facts,
            "first_seen": old["first_seen"] if old else now,
            "changed_at": now,
        }  # fmt: skip
        if old and all(old.get(k) == doc[k] for k in doc if k not in ("changed_at",)):
            continue
        docs.append(doc)
    store.write_events(events)
    summary = store.upsert(COLLECTION, docs, key=KEY)
    ok = sum(1 for r in results if not r.failed)
    return summary.inserted + summary.updated, ok - summary.inserted - summary.updated


def split_metrics(facts: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stable facts, volatile measurements); disk sizes stay, their use moves out."""
    stable = {k: v for k, v in facts.items() if k not in VOLATILE}
    metrics = {k: facts[k] for k in VOLATILE if k in facts}
    if "disks" in facts:
        metrics["disks"] = facts["disks"]
        stable["disks"] = [{k: v for k, v in d.items() if k != "used_pct"} for d in facts["disks"]]
    return stable, metrics


def latest_metrics(store: Store, source: str = "ansible") -> dict[str, dict[str, Any]]:
    """asset -> the measurements of its most recent successful sighting by ``source``."""
    out: dict[str, dict[str, Any]] = {}
    for event in store.search_events(
        dataset=DATASET, where={"event.action": f"descubrir-{source}"}, newest_first=True
    ):
        info = event.get("inventario", {})
        asset, metrics = info.get("asset"), info.get("metrics")
        if asset and metrics and asset not in out:
            out[asset] = {**metrics, "@timestamp": event.get("@timestamp")}
    return out


def _uptime(data: Mapping[str, Any]) -> int | None:
    ticks = data.get("uptime_ticks")
    return ticks // 100 if isinstance(ticks, int) else None


def remembered_credentials(store: Store) -> dict[str, str]:
    """target -> the profile name that last worked for it over SNMP."""
    out = {}
    for obs in current(store):
        cred = obs.get("credential")
        if obs.get("source") == "snmp" and cred:
            out[obs["target"]] = str(cred).split("/")[0]
    return out


@dataclass(frozen=True, slots=True)
class Proposal:
    asset: str | None  # None: not in the inventory yet
    target: str
    source: str
    field: str
    declared: Any
    observed: Any
    note: str = ""


def proposals(store: Store) -> list[Proposal]:
    """Where observations and declarations differ, field by field."""
    assets = {a["name"]: a for a in store.entities(ASSETS)}
    index = AssetIndex(assets)
    out: list[Proposal] = []
    for obs in sorted(current(store), key=lambda o: (o["target"], o["source"])):
        facts = obs.get("facts") or {}
        name, _ = _match(index, obs["target"], facts)
        if name is None:
            out.append(Proposal(None, obs["target"], obs["source"], "name", None,
                                facts.get("name"), "equipo no inventariado"))  # fmt: skip
            continue
        declared = assets[name]
        for field in RECONCILED:
            seen = facts.get(field)
            if seen and declared.get(field) != seen:
                out.append(Proposal(name, obs["target"], obs["source"], field,
                                    declared.get(field), seen))  # fmt: skip
        if facts.get("name") and facts["name"] != name:
            out.append(Proposal(name, obs["target"], obs["source"], "name", name, facts["name"],
                                "nombre distinto; no se cambia solo"))  # fmt: skip
    return out


SOURCES = ("snmp", "ssh", "ansible")


def _most_seen(values: dict[str, Any]) -> Any:
    """The value most sources saw; on a tie, the one of the first source in SOURCES order."""
    seen = [values[s] for s in SOURCES if s in values]
    return max(seen, key=lambda v: (seen.count(v), -seen.index(v)))


AGREE, DIFFER, UNDECLARED, UNKNOWN_DEVICE = "coincide", "difiere", "sin declarar", "no inventariado"


def _by_source(obs: Iterable[Mapping[str, Any]], field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in obs:
        value = (o.get("facts") or {}).get(field)
        if value not in (None, "") and o["source"] not in out:
            out[o["source"]] = value
    return out


def comparison(store: Store, *, everything: bool = False) -> list[dict[str, Any]]:
    """One row per asset and field: what was declared (the import) and what each discovery
    source saw, which sources agree and which differ; then one row per device discovery
    found that the inventory does not have (``state`` «no inventariado»).

    Without ``everything``, fields where every source agrees are left out.
    """
    assets = {a["name"]: a for a in store.entities(ASSETS)}
    index = AssetIndex(assets)
    mine: dict[str, list[dict[str, Any]]] = {}
    strangers: dict[str, list[dict[str, Any]]] = {}
    for obs in sorted(current(store), key=lambda o: (o["target"], o["source"])):
        name, _ = _match(index, obs["target"], obs.get("facts") or {})
        (mine.setdefault(name, []) if name else strangers.setdefault(obs["target"], [])).append(obs)
    rows = []
    for name in sorted(mine):
        seen = mine[name]
        targets = ", ".join(sorted({o["target"] for o in seen}))
        for field in ("name", *RECONCILED):
            values = _by_source(seen, field)
            if not values:
                continue
            declared = assets[name].get(field)
            # nothing declared: the sources are compared with what most of them saw
            reference = _most_seen(values) if declared in (None, "") else declared
            agree = [s for s in SOURCES if s in values and values[s] == reference]
            differ = [s for s in SOURCES if s in values and values[s] != reference]
            state = UNDECLARED if declared in (None, "") else DIFFER if differ else AGREE
            if state == AGREE and not everything:
                continue
            rows.append({"asset": name, "target": targets, "field": field, "declared": declared,
                         **{s: values.get(s) for s in SOURCES}, "agree": agree,
                         "differ": differ, "state": state})  # fmt: skip
    for target in sorted(strangers):
        seen = strangers[target]
        names = _by_source(seen, "name")
        rows.append({"asset": None, "target": target, "field": "name", "declared": None,
                     **{s: names.get(s) for s in SOURCES}, "agree": [],
                     "differ": sorted({o["source"] for o in seen}), "state": UNKNOWN_DEVICE,
                     **{f: next(iter(_by_source(seen, f).values()), None)
                        for f in ("serial", "vendor", "model", "os")}})  # fmt: skip
    return rows


def _rows(store: Store, chosen: Iterable[Proposal], *, add_unknown: bool) -> ParsedFile:
    sites = list(store.entities(SITES))
    seen = current(store)
    parsed = ParsedFile("conciliación")
    updates: dict[str, dict[str, Any]] = {}
    for p in chosen:
        if p.note and p.asset is not None:
            continue  # informational only (a different name)
        if p.asset is None:
            if not (add_unknown and p.observed) or f"+{p.target}" in updates:
                continue
            updates[f"+{p.target}"] = _new_asset(p, [o for o in seen if o["target"] == p.target],
                                                 sites)  # fmt: skip
            continue
        updates.setdefault(p.asset, {"name": p.asset})[p.field] = p.observed
    for where, values in updates.items():
        parsed.rows[ASSETS].append(Row(f"activo {where}", values))
    return parsed


def _new_asset(
    p: Proposal, seen: Sequence[Mapping[str, Any]], sites: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A device discovery found and the inventory lacks, as an asset of kind «otro» with
    what the sources saw of it (SNMP first, then SSH, then Ansible)."""
    ordered = sorted(seen, key=lambda o: SOURCES.index(o["source"]) if o["source"] in SOURCES
                     else len(SOURCES))  # fmt: skip
    row = {"name": p.observed, "kind": "otro", "site": _site_for(sites, p.target),
           "mgmt_ipv6" if ":" in p.target else "mgmt_ipv4": p.target}  # fmt: skip
    for field in RECONCILED:
        value = next(iter(_by_source(ordered, field).values()), None)
        if value not in (None, ""):
            row[field] = value
    return row


def _site_for(sites: Sequence[Mapping[str, Any]], address: str) -> str | None:
    for site in sites:
        if site.get("vpn_peer") == address:
            return str(site["code"])
    return None


def apply(store: Store, chosen: Sequence[Proposal], *, add_unknown: bool = False) -> Plan:
    """Apply proposals through the same checks as an import, in one transaction.

    Devices the inventory does not have are added (kind «otro», with the name, address,
    serial, vendor, model and system seen) only with ``add_unknown``.
    """
    the_plan = build_plan(store, _rows(store, chosen, add_unknown=add_unknown))
    if not the_plan.empty:
        apply_plan(store, the_plan)
    return the_plan
