"""Countermeasures: RTIR's lifecycle, always with an expiry and a reverse playbook.

pendiente -> activa -> pendiente_retiro -> retirada, or pendiente -> rechazada. A proposal
names the incident, the kind, the inventory host it acts on, its target (an address, an
account) and an expiry; targets are parsed strictly and refused when allowlisted
(:mod:`csirt.permitidos`) before anything is written. Activation (once approved, by another
analyst when ``csirt_dos_personas``) runs the playbook through
:func:`pukara.ansible.run_playbook` against the host's management address; the playbook's
last task is a read-only check of the effect. Every run (job id, status, rc, the SHA-256 of
its artifacts and of their manifest) is kept in ``runs``. Retiring runs the reverse playbook.

A record is claimed in a transaction before its playbook runs (``claim``), so two processes
(cron's ``vencer`` and ``monitoreo vigilar``) never run the same playbook twice; a claim older
than :data:`CLAIM_TTL` (a process that died) may be taken again.

An activation that may have changed the host without being verified (the playbook reached the
host, or the process died while it ran) is never left for dead: the record goes
``pendiente_retiro`` and the next ``vencer`` runs the reverse playbook (idempotent), as
``retirar`` may. Only one that never reached the host stays ``pendiente`` (to try again).

Nothing is approved or activated on a closed or discarded incident. The two-person rule
compares analysts' names without case; each record keeps the system user (of this process's
uid) that proposed and approved it, beside the analyst's name.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from csirt import permitidos
from csirt.contramedidas_run import Outcome, run_countermeasures
from csirt.linea import add_timeline
from csirt.records import COUNTERMEASURE, INCIDENT, Command, command, new_ulid
from pukara.config import Settings
from pukara.errors import PukaraError, UsageError
from pukara.events import format_timestamp, parse_timestamp, utc_now
from pukara.formats import datetime_text
from pukara.results import Result, Status
from pukara.store import Store

PENDING = "pendiente"
ACTIVE = "activa"
RETIRING = "pendiente_retiro"
RETIRED = "retirada"
REJECTED = "rechazada"
STATUSES = (PENDING, ACTIVE, RETIRING, REJECTED, RETIRED)
OPEN = (PENDING, ACTIVE, RETIRING)
KINDS: dict[str, tuple[str, str]] = {
    "bloquear_ip": ("csirt/bloquear.yml", "csirt/desbloquear.yml"),
    "aislar_host": ("csirt/aislar.yml", "csirt/liberar.yml"),
    "deshabilitar_cuenta": ("csirt/deshabilitar_cuenta.yml", "csirt/habilitar_cuenta.yml"),
}
MAX_EXPIRY = timedelta(days=30)
CLAIM_TTL = timedelta(minutes=30)
CLOSED_INCIDENT = ("cerrado", "descartado")
_DURATION = re.compile(r"^(?:(\d{1,30})d)?(?:(\d{1,30})h)?(?:(\d{1,30})m)?$")


class CountermeasureError(UsageError):
    """A countermeasure command that does not fit the record's state."""


def parse_expiry(text: str | None, now: datetime) -> datetime:
    """``4h``, ``30m``, ``1d12h`` from ``now``, or an ISO 8601 time (no zone: UTC)."""
    value = re.sub(r"\s+", "", str(text or "")).lower()
    if not value:
        raise CountermeasureError(
            "toda contramedida vence: indique --expira (p. ej. 4h, 30m, 2d o una fecha ISO "
            "como 2026-12-01T18:00Z)"
        )
    too_long = CountermeasureError(
        f"--expira {permitidos.shown(str(text))}: una contramedida dura a lo sumo "
        f"{MAX_EXPIRY.days} días; renuévela si hace falta"
    )
    match = _DURATION.match(value)
    if match and any(match.groups()):
        d, h, m = (int(x or 0) for x in match.groups())
        minutes = (d * 24 + h) * 60 + m  # an int: never too large for the comparison
        if minutes > MAX_EXPIRY // timedelta(minutes=1):
            raise too_long
        when = now + timedelta(minutes=minutes)
    else:
        try:
            when = datetime.fromisoformat(str(text).strip())
        except ValueError:
            raise CountermeasureError(
                f"--expira {permitidos.shown(str(text))}: se espera una duración (4h, 30m, 2d) "
                "o una fecha ISO 8601"
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise CountermeasureError(
            f"--expira {permitidos.shown(str(text))} ya pasó: la expiración debe ser futura"
        )
    if when - now > MAX_EXPIRY:
        raise too_long
    return when.astimezone(UTC)


def _target(
    source: Any, settings: Settings, kind: str, host: str, address: str | None,
    account: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The checked target: inventory host, its management address and what is acted on."""
    if kind not in KINDS:
        raise CountermeasureError(
            f"tipo de contramedida desconocido {permitidos.shown(kind)} "
            f"(válidos: {', '.join(KINDS)})"
        )
    asset = permitidos.asset_of(source, host)
    where = permitidos.management_address(asset)
    target: dict[str, Any] = {"host": asset["name"], "host_address": where}
    if kind == "bloquear_ip":
        if not address:
            raise CountermeasureError("bloquear_ip necesita --direccion (una IP o una red CIDR)")
        net, family = permitidos.parse_address(address)
        permitidos.check_allowed(net, permitidos.allowlist(source, settings))
        target.update(address=net, family=family)
    elif kind == "aislar_host":
        # the host is in the inventory (that is how it is reached): only the monitoring host,
        # headquarters' gateways and DNS and the configured list keep a host from isolation
        allowed = permitidos.allowlist(source, settings, inventory=False)
        permitidos.check_allowed(where, allowed, f"el equipo {asset['name']} ({where})")
    else:
        if not account:
            raise CountermeasureError("deshabilitar_cuenta necesita --cuenta-local (la cuenta)")
        target["account"] = permitidos.parse_account(account)
    return target


def _overlaps(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    import ipaddress

    if a.get("host") != b.get("host"):
        return False
    if "address" in a and "address" in b:
        x, y = ipaddress.ip_network(a["address"]), ipaddress.ip_network(b["address"])
        return x.version == y.version and x.overlaps(y)
    return a.get("account") == b.get("account")


def timeline(cmd: Command, cm: Mapping[str, Any], incident: Mapping[str, Any], message: str,
             **fields: Any) -> None:  # fmt: skip
    """An entry of kind ``contramedida`` in the incident's timeline."""
    add_timeline(
        cmd, incident, kind="contramedida", message=message, source="pukara csirt contramedida",
        raw_ref=cm["id"], fields={"countermeasure_id": cm["id"], "countermeasure_kind": cm["kind"],
                                  **fields},
    )  # fmt: skip


def _emit(cmd: Command, cm: Mapping[str, Any], action: str, message: str,
          outcome: str | None = None, **extra: Any) -> None:  # fmt: skip
    incident = cmd.get(INCIDENT, (cm["incident_id"],)) or {"id": cm["incident_id"]}
    fields = {"csirt.countermeasure.id": cm["id"], "csirt.countermeasure.kind": cm["kind"],
              "host.name": cm["target"]["host"], **extra}  # fmt: skip
    cmd.emit("contramedida", action, message, incident=incident, fields=fields, outcome=outcome)
    timeline(cmd, cm, incident, message, action=action)


def describe(cm: Mapping[str, Any]) -> str:
    t = cm["target"]
    what = {"bloquear_ip": f"bloqueo de {t.get('address')}", "aislar_host": "aislamiento",
            "deshabilitar_cuenta": f"cuenta {t.get('account')} deshabilitada"}[cm["kind"]]  # fmt: skip
    return f"{what} en {t['host']}"


def os_user() -> str:
    """The system user this process runs as (its uid, not $USER: what --analista cannot name)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def same_analyst(a: Any, b: Any) -> bool:
    """Whether two analysts' names are one person's: no case, no width, no blanks around."""

    def key(x: Any) -> str:
        return unicodedata.normalize("NFKC", str(x or "")).strip().casefold()

    return key(a) == key(b)


def _open_incident(cmd: Command, incident_id: str, what: str) -> dict[str, Any]:
    """The incident as this command's transaction reads it; refused when closed or discarded."""
    found = cmd.get(INCIDENT, (incident_id,))
    if found is None:
        raise CountermeasureError(f"no existe el incidente {permitidos.shown(incident_id)}")
    if found.get("status") in CLOSED_INCIDENT:
        raise CountermeasureError(
            f"el incidente {found.get('number')} está {found['status']}: {what}"
        )
    return dict(found)


def propose(
    cmd: Command, settings: Settings, incident: Mapping[str, Any] | str, *, kind: str,
    host: str, expires: str | None, address: str | None = None, account: str | None = None,
    reason: str = "",
) -> dict[str, Any]:  # fmt: skip
    """A new countermeasure, ``pendiente``; refused (nothing written) when not allowed.

    ``incident``: its reference (``INC-2026-0001``, its id) or its document; either way it is
    read again inside this command, so a case closed meanwhile takes none.
    """
    if isinstance(incident, str):
        from csirt.casos import load_incident

        ref = load_incident(cmd, incident)["id"]
    else:
        ref = str(incident["id"])
    incident = _open_incident(cmd, ref, "no se proponen contramedidas")
    when = parse_expiry(expires, parse_timestamp(cmd.now))
    target = _target(cmd.tx, settings, kind, host, address, account)
    for other in cmd.tx.scan(COUNTERMEASURE):
        if other["status"] in OPEN and other["kind"] == kind and _overlaps(other["target"], target):
            raise CountermeasureError(
                f"ya hay una contramedida {other['status']} que cubre lo mismo en "
                f"{target['host']}: {other['id']}"
            )
    playbook, reverse = KINDS[kind]
    cm: dict[str, Any] = {
        "id": new_ulid(), "incident_id": incident["id"], "kind": kind, "target": target,
        "status": PENDING, "expires_at": format_timestamp(when), "playbook": playbook,
        "reverse_playbook": reverse, "proposed_by": cmd.analyst, "proposed_by_os": os_user(),
        "proposed_at": cmd.now, "approved_by": None, "approved_by_os": None, "approved_at": None,
        "activated_at": None, "retired_at": None,
        "runs": [], "reason": str(reason), "claim": None,
    }  # fmt: skip
    cmd.insert(COUNTERMEASURE, cm)
    _emit(
        cmd,
        cm,
        "proponer",
        f"Contramedida propuesta: {describe(cm)}, vence "
        f"{datetime_text(parse_timestamp(cm['expires_at']))}",
    )
    return cm


def load(source: Any, ref: str) -> dict[str, Any]:
    """A countermeasure by its id (or an unambiguous start of it, 6 characters or more)."""
    value = str(ref).strip().upper()
    found = source.get(COUNTERMEASURE, (value,)) if value else None
    if found is None and len(value) >= 6:
        matches = [c for c in source.scan(COUNTERMEASURE) if c["id"].startswith(value)]
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise CountermeasureError(f"no existe la contramedida {permitidos.shown(ref)}")
    return dict(found)


def approve(cmd: Command, settings: Settings, ref: str) -> dict[str, Any]:
    cm = load(cmd.tx, ref)
    if cm["status"] != PENDING or cm["approved_by"]:
        raise CountermeasureError(
            f"la contramedida {cm['id']} no espera aprobación ({cm['status']})"
        )
    _open_incident(cmd, cm["incident_id"], "no se aprueban contramedidas")
    if settings.csirt_dos_personas and same_analyst(cm["proposed_by"], cmd.analyst):
        raise CountermeasureError(
            f"{cm['proposed_by']} la propuso: con dos personas (csirt dos_personas) debe "
            "aprobarla otro analista"
        )
    user = os_user()
    cm.update(approved_by=cmd.analyst, approved_by_os=user, approved_at=cmd.now)
    cmd.put(COUNTERMEASURE, cm)
    _emit(cmd, cm, "aprobar",
          f"Contramedida aprobada por {cmd.analyst} (usuario del sistema {user}): {describe(cm)}",
          **{"user.name": user})  # fmt: skip
    return cm


def reject(cmd: Command, ref: str, reason: str) -> dict[str, Any]:
    cm = load(cmd.tx, ref)
    if cm["status"] != PENDING or cm.get("claim"):
        raise CountermeasureError(
            f"la contramedida {cm['id']} no se puede rechazar ({cm['status']})"
        )
    cm.update(status=REJECTED, reason=str(reason) or cm["reason"], rejected_by=cmd.analyst)
    cmd.put(COUNTERMEASURE, cm)
    _emit(cmd, cm, "rechazar", f"Contramedida rechazada por {cmd.analyst}: {describe(cm)}")
    return cm


def _claimed(cm: Mapping[str, Any], now: datetime) -> bool:
    claim = cm.get("claim")
    return claim is not None and parse_timestamp(claim["at"]) + CLAIM_TTL > now


def _claim(cmd: Command, cm: dict[str, Any], what: str) -> None:
    if _claimed(cm, parse_timestamp(cmd.now)):
        raise CountermeasureError(
            f"la contramedida {cm['id']} ya está en curso ({cm['claim']['what']} desde "
            f"{cm['claim']['at']}, por {cm['claim']['by']})"
        )
    cm["claim"] = {"what": what, "at": cmd.now, "by": cmd.analyst, "request_id": cmd.request_id}


def may_have_changed(cm: Mapping[str, Any], run: Mapping[str, Any]) -> bool:
    """Whether an activation run that was not verified may still have changed the host.

    A run that reached the host (or says it changed something) may have; one that never
    reached it did not. Disabling an account changes nothing before it has reported the
    account's prior state, which the reverse needs: without it nothing was changed.
    """
    if run.get("check"):
        return False
    if cm["kind"] == "deshabilitar_cuenta":
        return bool(cm.get("original")) or bool(run.get("changed"))
    return bool(run.get("changed")) or bool(run.get("reached", True))


def _interrupted(cm: Mapping[str, Any], now: datetime) -> bool:
    """A pending record whose activation claim outlived its process: its run may have ended
    anywhere (the host changed or not); only the reverse playbook makes that certain."""
    claim = cm.get("claim")
    return (cm["status"] == PENDING and claim is not None and claim.get("what") == "activar"
            and not _claimed(cm, now))  # fmt: skip


def _to_reverse(cmd: Command, cm: dict[str, Any], why: str, text: str) -> None:
    """``pendiente_retiro``: the next ``vencer`` (or ``retirar``) runs the reverse playbook."""
    cm.update(status=RETIRING, retire_reason=why)
    cmd.put(COUNTERMEASURE, cm)
    _emit(cmd, cm, "activar", text, "failure")


def _record(cm: dict[str, Any], outcome: Outcome) -> None:
    cm["runs"] = [*cm.get("runs", []), outcome.run]
    cm["claim"] = None
    if outcome.original and not cm.get("original"):
        cm["original"] = dict(outcome.original)


def _activable(cmd: Command, ref: str, check: bool) -> dict[str, Any]:
    cm = load(cmd.tx, ref)
    if cm["status"] != PENDING:
        raise CountermeasureError(f"la contramedida {cm['id']} está {cm['status']}")
    if not cm["approved_by"]:
        raise CountermeasureError(f"la contramedida {cm['id']} aún no está aprobada")
    if parse_timestamp(cm["expires_at"]) <= parse_timestamp(cmd.now):
        raise CountermeasureError(f"la contramedida {cm['id']} venció antes de activarse")
    _open_incident(cmd, cm["incident_id"], "no se activan contramedidas")
    if not check:
        _claim(cmd, cm, "activar")
        cmd.put(COUNTERMEASURE, cm)
    return cm


def activate(
    store: Store, settings: Settings, ref: str, *, analyst: str | None = None, check: bool = False
) -> Result:
    """Run the playbook (``check``: Ansible's check mode, nothing changes) and verify it.

    Raises when the record cannot be activated or its run cannot start (nothing ran).
    """
    with command(store, analyst) as cmd:
        cm = _activable(cmd, ref, check)
    return _finish(store, settings, [cm], analyst, reverse=False, check=check, raising=True)[0]


def activate_many(
    store: Store, settings: Settings, refs: Sequence[str], *, analyst: str | None = None,
    check: bool = False,
) -> list[Result]:  # fmt: skip
    """Activate several at once: one Ansible run per playbook over all their hosts (a host
    with two records gets a second run); one Result per record, in order."""
    refused: dict[str, Result] = {}
    claimed: list[dict[str, Any]] = []
    with command(store, analyst) as cmd:
        for ref in refs:
            try:
                claimed.append(_activable(cmd, ref, check))
            except CountermeasureError as e:
                refused[ref] = Result(str(ref), Status.FAILED, error=e.message)
    done = {r.target: r for r in _finish(store, settings, claimed, analyst, reverse=False,
                                         check=check)}  # fmt: skip
    ids = iter(c["id"] for c in claimed)
    return [refused[ref] if ref in refused else done[next(ids)] for ref in refs]


def _waves(cms: Sequence[dict[str, Any]], reverse: bool) -> list[tuple[str, list[dict[str, Any]]]]:
    """Runs to make: per playbook, no host twice in one run."""
    waves: list[tuple[str, list[dict[str, Any]]]] = []
    for cm in cms:
        playbook = cm["reverse_playbook"] if reverse else cm["playbook"]
        host = cm["target"]["host"]
        for name, group in waves:
            if name == playbook and all(c["target"]["host"] != host for c in group):
                group.append(cm)
                break
        else:
            waves.append((playbook, [cm]))
    return waves


def _finish(
    store: Store, settings: Settings, cms: Sequence[dict[str, Any]], analyst: str | None, *,
    reverse: bool, check: bool = False, raising: bool = False,
) -> list[Result]:  # fmt: skip
    """Run the claimed records' playbooks, record what happened (claims released)."""
    started = utc_now()
    outcomes: dict[str, Outcome | PukaraError] = {}
    try:
        for playbook, group in _waves(cms, reverse):
            outcomes.update(run_countermeasures(store, settings, group, playbook, check=check))
    except BaseException as e:
        _release(store, [c for c in cms if c["id"] not in outcomes], analyst, reverse, e, check)
        _store_outcomes(store, settings, cms, outcomes, analyst, reverse, check)
        raise
    results = _store_outcomes(store, settings, cms, outcomes, analyst, reverse, check, started)
    failed = next((o for o in outcomes.values() if isinstance(o, PukaraError)), None)
    if raising and failed is not None:
        raise failed
    return results


def _release(
    store: Store, cms: Sequence[Mapping[str, Any]], analyst: str | None, reverse: bool,
    error: BaseException, check: bool,
) -> None:  # fmt: skip
    if check or not cms:
        return
    with command(store, analyst) as cmd:
        for cm in cms:
            now = load(cmd.tx, cm["id"])
            now["claim"] = None
            if not reverse and not isinstance(error, PukaraError) and now["status"] == PENDING:
                # interrupted while its playbook may have been running: undo whatever it did
                _to_reverse(cmd, now, "activación interrumpida",
                            f"Activación interrumpida de {describe(now)} ({type(error).__name__}):"
                            " queda pendiente de retiro; vencer o retirar corre el inverso")  # fmt: skip
                continue
            cmd.put(COUNTERMEASURE, now)
            _emit(cmd, now, "retirar" if reverse else "activar",
                  f"No se pudo ejecutar el playbook: {error}", "failure")  # fmt: skip


def _store_outcomes(
    store: Store, settings: Settings, cms: Sequence[dict[str, Any]],
    outcomes: Mapping[str, Outcome | PukaraError], analyst: str | None, reverse: bool,
    check: bool, started: datetime | None = None,
) -> list[Result]:  # fmt: skip
    """One transaction for the batch: each record's run, status, event and timeline entry."""
    results: list[Result] = []
    action = "retirar" if reverse else "activar"
    with command(store, analyst) as cmd:
        for cm in cms:
            outcome = outcomes.get(cm["id"])
            if outcome is None:
                continue
            data = {"id": cm["id"], "kind": cm["kind"], "host": cm["target"]["host"],
                    "check": check}  # fmt: skip
            if isinstance(outcome, PukaraError):
                _release_one(cmd, cm, action, outcome, check)
                results.append(Result(cm["id"], Status.FAILED, data={**data, "status": cm["status"]},
                                      error=outcome.message))  # fmt: skip
                continue
            data["job_id"] = outcome.run["job_id"]
            ok = outcome.ok and (outcome.verified or check)
            now = cm if check else _apply(cmd, settings, cm, outcome, reverse, action)
            results.append(Result(cm["id"], Status.OK if ok else Status.FAILED,
                                  data={**data, "status": now["status"]},
                                  error=None if ok else outcome.error, changed=ok and not check,
                                  started_at=started, finished_at=utc_now()))  # fmt: skip
    return results


def _release_one(cmd: Command, cm: Mapping[str, Any], action: str, error: PukaraError,
                 check: bool) -> None:  # fmt: skip
    if check:
        return
    now = load(cmd.tx, cm["id"])
    now["claim"] = None
    cmd.put(COUNTERMEASURE, now)
    _emit(cmd, now, action, f"No se ejecutó {describe(now)}: {error.message}", "failure")


def _apply(
    cmd: Command, settings: Settings, cm: Mapping[str, Any], outcome: Outcome, reverse: bool,
    action: str,
) -> dict[str, Any]:  # fmt: skip
    now = load(cmd.tx, cm["id"])
    _record(now, outcome)
    good = outcome.ok and outcome.verified
    if good:
        now["status"] = RETIRED if reverse else ACTIVE
        now["retired_at" if reverse else "activated_at"] = cmd.now
        text = ("Contramedida retirada y verificada: " if reverse
                else "Contramedida activa y verificada: ") + describe(now)  # fmt: skip
    else:
        text = (
            f"{'Retiro' if reverse else 'Activación'} fallida de {describe(now)}: {outcome.error}"
        )
        if not reverse and may_have_changed(now, outcome.run):
            # the host may have changed without being verified: never left in place
            now.update(status=RETIRING, retire_reason="activación sin verificar")
            text += ("; pudo cambiar el equipo, así que queda pendiente de retiro: vencer o "
                     "retirar corre el playbook inverso")  # fmt: skip
    cmd.put(COUNTERMEASURE, now)
    _emit(cmd, now, action, text, "success" if good else "failure",
          **{"ansible.job_id": outcome.run["job_id"]})  # fmt: skip
    outcome.keep_evidence(cmd, settings, now)
    return now


def retire(
    store: Store, settings: Settings, ref: str, *, analyst: str | None = None, reason: str = ""
) -> Result:
    """Run the reverse playbook of an active countermeasure (or retry a failed retirement)."""
    with command(store, analyst) as cmd:
        cm = load(cmd.tx, ref)
        if cm["status"] not in (ACTIVE, RETIRING):
            raise CountermeasureError(
                f"la contramedida {cm['id']} está {cm['status']}: no hay nada que retirar"
            )
        _claim(cmd, cm, "retirar")
        cm.update(status=RETIRING, retire_reason=str(reason) or "retiro manual")
        cmd.put(COUNTERMEASURE, cm)
    return _finish(store, settings, [cm], analyst, reverse=True, raising=True)[0]


def expire_due(store: Store, settings: Settings, now: datetime | None = None) -> list[Result]:
    """Retire every active countermeasure past its expiry; one Result each.

    Due records are claimed in one transaction first (two concurrent runs never run the same
    reverse playbook), then their reverse playbooks run (one run per playbook over all the
    hosts): a failing host is that record's failed Result, and the record stays
    ``pendiente_retiro`` for the next run to retry. A pending one that expired before
    activation is rejected, unless an activation of it was interrupted (its claim outlived
    its process): that one may have changed the host, so its reverse playbook runs too.
    """
    when = now or utc_now()
    due: list[dict[str, Any]] = []
    with command(store, settings.analyst) as cmd:
        for cm in cmd.tx.scan(COUNTERMEASURE):
            past = parse_timestamp(cm["expires_at"]) <= when
            if past and _interrupted(cm, when):
                cm.update(status=RETIRING, retire_reason="activación interrumpida")
            if cm["status"] == PENDING and past and not _claimed(cm, when):
                cm.update(status=REJECTED, reason="venció sin activarse")
                cmd.put(COUNTERMEASURE, cm)
                _emit(cmd, cm, "vencer", f"Contramedida vencida sin activarse: {describe(cm)}")
            elif (cm["status"] == ACTIVE and past) or (
                cm["status"] == RETIRING and not _claimed(cm, when)
            ):
                cm["claim"] = {"what": "vencer", "at": cmd.now, "by": cmd.analyst,
                               "request_id": cmd.request_id}  # fmt: skip
                cm.update(status=RETIRING, retire_reason=cm.get("retire_reason") or "vencida")
                cmd.put(COUNTERMEASURE, cm)
                due.append(cm)
    return _finish(store, settings, due, settings.analyst, reverse=True) if due else []


def active_past_expiry(
    store_or_tx: Store | Any, incident_id: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The incident's countermeasures still active (or being retired) after their expiry.

    ``store_or_tx``: a store, a transaction or a :class:`csirt.records.Command` (its ``tx``).
    """
    source = getattr(store_or_tx, "tx", store_or_tx)
    when = now or utc_now()
    out = []
    for doc in source.scan(COUNTERMEASURE, (), {"incident_id": incident_id}):
        if doc.get("status") in (ACTIVE, RETIRING) and parse_timestamp(doc["expires_at"]) <= when:
            out.append(dict(doc))
    return out


def listing(
    store: Store, *, incident_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    where = {k: v for k, v in (("incident_id", incident_id), ("status", status)) if v}
    return [dict(c) for c in store.scan(COUNTERMEASURE, (), where or None)]


def route_source(address: str) -> str:
    """The address this machine sends from to reach ``address`` (what the host sees)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((address, 22))  # UDP: no packet is sent, the kernel picks the route
        return str(probe.getsockname()[0])
