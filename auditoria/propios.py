"""Checks 33–40 on pukara's own records (host ``pukara``): what the store holds is evidence.

Each check reads the store through the product's own functions (inventario's observations,
the change log's verify, the monitoring rollups, red's backup events, csirt's evidence
verification). An empty record is never a pass: it fails with its reason, or is
not-applicable where the issue says so (no CSIRT data at all).

- ``rec_asset_owners``: every active asset has a custodian (``custodian``).
- ``rec_inventory_reconciled``: inventario's reconciliation (:func:`observations.comparison`)
  finds no field that differs or is undeclared and no device outside the inventory, and every
  active asset with a management address was discovered.
- ``rec_change_log``: :meth:`Store.verify_changes` over the whole hash chain.
- ``rec_monitoring_capacity``: every monitored site has rollup buckets with probes in the last
  :data:`RECENT_HOURS` hours.
- ``rec_availability``: every monitored site has availability recorded over the last
  :data:`PERIOD_DAYS` days (time observed, time down, against its target).
- ``rec_config_backups``: every network device (red's selection) has a successful
  ``red.respaldo`` event in the last :data:`BACKUP_DAYS` days.
- ``rec_config_compliance``: a golden-config compliance run (``red.cumplimiento`` events)
  in the last :data:`PERIOD_DAYS` days; its drift is listed in the evidence.
- ``rec_csirt_cases``: each incident has its timeline (phases) recorded and csirt's evidence
  verification finds nothing; not-applicable when the store has no incident.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from auditoria.modelo import Result, Status
from pukara.config import Settings
from pukara.errors import PukaraError
from pukara.events import get_field
from pukara.store import Store

HOST = "pukara"
CHECKS = (
    "rec_asset_owners", "rec_inventory_reconciled", "rec_change_log", "rec_monitoring_capacity",
    "rec_availability", "rec_config_backups", "rec_config_compliance", "rec_csirt_cases",
)  # fmt: skip
RECENT_HOURS = 48
PERIOD_DAYS = 30
BACKUP_DAYS = 7
LISTED = 50  # items named in a result's evidence, at most
COMPLIANCE_DATASET = "red.cumplimiento"  # red.cumplimiento_registro.DATASET
BACKUP_DATASET = "red.respaldo"
RETIRED = "dado_de_baja"

Verdict = tuple[Status, str, dict[str, Any]]


def _active_assets(store: Store) -> list[dict[str, Any]]:
    from inventario.model import ASSETS

    return [a for a in store.entities(ASSETS) if (a.get("status") or "activo") != RETIRED]


def asset_owners(store: Store, now: datetime) -> Verdict:
    assets = _active_assets(store)
    if not assets:
        return Status.FAIL, "el inventario no tiene activos vigentes", {"assets": 0}
    missing = sorted(str(a["name"]) for a in assets if not str(a.get("custodian") or "").strip())
    evidence = {"assets": len(assets), "without_owner": missing[:LISTED],
                "without_owner_count": len(missing)}  # fmt: skip
    if missing:
        return Status.FAIL, f"{len(missing)} de {len(assets)} activos sin custodio", evidence
    return Status.PASS, f"los {len(assets)} activos vigentes tienen custodio", evidence


def inventory_reconciled(store: Store, now: datetime) -> Verdict:
    from inventario import observations

    seen = observations.current(store)
    if not seen:
        return Status.FAIL, "no hay descubrimientos registrados con que conciliar", {}
    rows = observations.comparison(store)
    differ = [r for r in rows if r["state"] != observations.AGREE]
    found = {str(o.get("asset")) for o in seen if o.get("asset")}
    unseen = sorted(
        str(a["name"]) for a in _active_assets(store)
        if (a.get("mgmt_ipv4") or a.get("mgmt_ipv6")) and a["name"] not in found
    )  # fmt: skip
    last = next(store.search_events(dataset=observations.DATASET, newest_first=True, limit=1), {})
    evidence = {
        "observations": len(seen), "last_discovery": last.get("@timestamp"),
        "differences": [{k: r.get(k) for k in ("asset", "target", "field", "declared", "state")}
                        for r in differ[:LISTED]],
        "differences_count": len(differ), "not_discovered": unseen[:LISTED],
        "not_discovered_count": len(unseen),
    }  # fmt: skip
    if differ or unseen:
        return (Status.FAIL, f"{len(differ)} diferencias entre lo descubierto y el inventario; "
                f"{len(unseen)} activos sin descubrir", evidence)  # fmt: skip
    return Status.PASS, "lo descubierto coincide con el inventario", evidence


def change_log(store: Store, now: datetime) -> Verdict:
    report = store.verify_changes()
    evidence = {"checked": report.checked, "ok": report.ok, "broken_seq": report.broken_seq,
                "reason": report.reason}  # fmt: skip
    if not report.ok:
        return Status.FAIL, f"la bitácora no verifica: {report.reason}", evidence
    if report.checked == 0:
        return Status.FAIL, "la bitácora de cambios está vacía", evidence
    return Status.PASS, f"la bitácora verifica ({report.checked} cambios encadenados)", evidence


def _monitored(store: Store) -> list[str]:
    from inventario.model import ASSETS
    from inventario.monitored import monitored_sites

    return sorted(monitored_sites(store.entities(ASSETS)))


def monitoring_capacity(store: Store, now: datetime) -> Verdict:
    sites = _monitored(store)
    if not sites:
        return Status.FAIL, "ninguna sede está marcada para monitoreo", {"sites": []}
    since = now - timedelta(hours=RECENT_HOURS)
    per_site: dict[str, Any] = {}
    for code in sites:
        hours = [h for h in store.hourly(code, since, now) if h.sent > 0]
        per_site[code] = {"buckets": len(hours),
                          "last": _iso_us(max(h.start_us for h in hours)) if hours else None}  # fmt: skip
    empty = [c for c, v in per_site.items() if not v["buckets"]]
    evidence = {"since": _stamp(since), "sites": per_site}
    if empty:
        return (Status.FAIL, f"{len(empty)} de {len(sites)} sedes vigiladas sin resúmenes en "
                f"{RECENT_HOURS} h: {', '.join(empty[:10])}", evidence)  # fmt: skip
    return Status.PASS, f"las {len(sites)} sedes vigiladas tienen resúmenes recientes", evidence


def availability(store: Store, now: datetime) -> Verdict:
    from inventario.model import SITES

    sites = _monitored(store)
    if not sites:
        return Status.FAIL, "ninguna sede está marcada para monitoreo", {"sites": {}}
    targets = {str(s["code"]): s.get("availability_target") for s in store.entities(SITES)}
    since = now - timedelta(days=PERIOD_DAYS)
    per_site: dict[str, Any] = {}
    for code in sites:
        a = store.availability(code, since, now, [])
        pct = 100.0 * (1 - a.down_us / a.observed_us) if a.observed_us else None
        per_site[code] = {"rounds": a.rounds, "observed_s": a.observed_us / 1e6,
                          "down_s": a.down_us / 1e6, "availability_pct": pct,
                          "target_pct": targets.get(code)}  # fmt: skip
    empty = [c for c, v in per_site.items() if not v["rounds"]]
    evidence = {"since": _stamp(since), "until": _stamp(now), "sites": per_site}
    if empty:
        return (Status.FAIL, f"{len(empty)} de {len(sites)} sedes vigiladas sin disponibilidad "
                f"registrada en {PERIOD_DAYS} días: {', '.join(empty[:10])}", evidence)  # fmt: skip
    return (Status.PASS, f"disponibilidad registrada para las {len(sites)} sedes vigiladas",
            evidence)  # fmt: skip


def config_backups(store: Store, now: datetime) -> Verdict:
    from red.equipos import select

    devices = select(store, [])
    if not devices:
        return Status.FAIL, "el inventario no tiene equipos de red que respaldar", {"devices": {}}
    since = now - timedelta(days=BACKUP_DAYS)
    last: dict[str, str] = {}
    for doc in store.search_events(dataset=BACKUP_DATASET, since=since):
        name = get_field(doc, "host.name")
        if (
            get_field(doc, "event.outcome") == "success"
            and get_field(doc, "event.action") == "respaldo"
        ):
            last[str(name)] = max(last.get(str(name), ""), str(doc["@timestamp"]))
    per_device = {d.name: last.get(d.name) for d in devices}
    stale = [n for n, ts in per_device.items() if ts is None]
    evidence = {"since": _stamp(since), "devices": per_device}
    if stale:
        return (Status.FAIL, f"{len(stale)} de {len(devices)} equipos sin respaldo en "
                f"{BACKUP_DAYS} días: {', '.join(stale[:10])}", evidence)  # fmt: skip
    return (Status.PASS, f"los {len(devices)} equipos de red tienen respaldo de los últimos "
            f"{BACKUP_DAYS} días", evidence)  # fmt: skip


def config_compliance(store: Store, now: datetime) -> Verdict:
    since = now - timedelta(days=PERIOD_DAYS)
    docs = list(store.search_events(dataset=COMPLIANCE_DATASET, since=since, newest_first=True))
    if not docs:
        return (Status.FAIL, f"sin corrida de cumplimiento de configuración en {PERIOD_DAYS} "
                "días («pukara red cumplimiento»)", {"since": _stamp(since)})  # fmt: skip
    run = get_field(docs[0], "red.cumplimiento.run")
    latest = [d for d in docs if get_field(d, "red.cumplimiento.run") == run] if run else docs[:1]
    drift = {str(get_field(d, "host.name")): get_field(d, "red.cumplimiento.features") or []
             for d in latest if get_field(d, "red.cumplimiento.compliant") is False}  # fmt: skip
    unchecked = {str(get_field(d, "host.name")): get_field(d, "red.cumplimiento.status")
                 for d in latest if get_field(d, "red.cumplimiento.compliant") is None}  # fmt: skip
    at = docs[0].get("@timestamp")
    evidence = {"run": run, "at": at, "devices": len(latest), "drift": drift,
                "unchecked": unchecked}  # fmt: skip
    return (Status.PASS, f"corrida de cumplimiento registrada ({at}): {len(drift)} de "
            f"{len(latest)} equipos con deriva, {len(unchecked)} sin revisar", evidence)  # fmt: skip


def csirt_cases(store: Store, now: datetime, settings: Settings) -> Verdict:
    from csirt import evidencia_verificacion
    from csirt.records import INCIDENT, TIMELINE

    incidents = list(store.entities(INCIDENT))
    if not incidents:
        return Status.NOT_APPLICABLE, "el almacén no tiene casos del CSIRT", {"incidents": 0}
    timeline: dict[str, int] = {}
    for entry in store.entities(TIMELINE):
        timeline[str(entry.get("incident_id"))] = timeline.get(str(entry.get("incident_id")), 0) + 1
    bare = sorted(str(i.get("number") or i["id"]) for i in incidents if not timeline.get(i["id"]))
    report = evidencia_verificacion.verify(store, settings)
    findings = [f"{f.kind}: {f.message}" for f in report.findings]
    evidence = {"incidents": len(incidents), "without_timeline": bare[:LISTED],
                "evidence_items": report.items, "evidence_findings": findings[:LISTED]}  # fmt: skip
    if bare or findings:
        return (Status.FAIL, f"{len(bare)} casos sin fases registradas; {len(findings)} "
                "hallazgos en las evidencias", evidence)  # fmt: skip
    return (Status.PASS, f"{len(incidents)} casos con sus fases; {report.items} evidencias "
            "íntegras", evidence)  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_us(us: int) -> str:
    return _stamp(datetime.fromtimestamp(us / 1e6, UTC))


def run(store: Store, settings: Settings, observed_at: str | None = None) -> list[Result]:
    """Checks 33–40, one result each for host ``pukara``; a check that cannot read its records,
    or fails unexpectedly, is an ERROR with the reason, and the others go on."""
    from auditoria import comprobaciones

    stamp = observed_at or _stamp(datetime.now(UTC))
    now = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    days = {c: v.valid_days for c, v in comprobaciones.load().items()}
    judges: dict[str, Callable[[Store, datetime], Verdict]] = {
        "rec_asset_owners": asset_owners, "rec_inventory_reconciled": inventory_reconciled,
        "rec_change_log": change_log, "rec_monitoring_capacity": monitoring_capacity,
        "rec_availability": availability, "rec_config_backups": config_backups,
        "rec_config_compliance": config_compliance,
        "rec_csirt_cases": lambda s, n: csirt_cases(s, n, settings),
    }  # fmt: skip
    out = []
    for check in CHECKS:
        try:
            status, message, evidence = judges[check](store, now)
        except PukaraError as e:
            status, message, evidence = Status.ERROR, f"registros no leídos: {e.message}", {}
        except Exception as e:
            status, message, evidence = (
                Status.ERROR,
                f"error inesperado al juzgar los registros: {type(e).__name__}: {e}",
                {},
            )
        until = _stamp(now + timedelta(days=days.get(check, 1)))
        out.append(Result(check, HOST, status, message, stamp, until, dict(evidence)))
    return out
