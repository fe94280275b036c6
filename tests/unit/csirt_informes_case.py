"""One complete CSIRT case in a real SQLite store, written through ``csirt.records.command``
in the record shapes of the csirt layout: the incident, its timeline through closure (entries
in Lima, Madrid and an offset zone), observables (one also in another case), tasks, a block
countermeasure with its runs, evidence with custody, and the inventory site and asset.

Titles, descriptions and values carry ``<script>``, ``$(reboot)`` and ``; rm -rf /``: they are
data, and every rendering must show them as text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from csirt import records
from pukara.events import format_timestamp
from pukara.store import Store

EVIL = "<script>alert('x')</script>"
CREATED = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def ts(minutes: float) -> str:
    return format_timestamp(CREATED + timedelta(minutes=minutes))


def _entry(inc: str, minutes: float, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"incident_id": inc, "id": records.new_ulid(), "ts": ts(minutes),
                           "tz": "America/Lima", "kind": kind, "message": message,
                           "source": "", "raw_ref": "", "analyst": "ana", "fields": {}}  # fmt: skip
    doc.update(extra)
    return doc


def write_case(store: Store, *, closed: bool = True, notified: bool = True) -> dict[str, Any]:
    """The case INC-2026-0007 (and INC-2026-0003 sharing an observable); returns the incident."""
    inc, other = records.new_ulid(), records.new_ulid()
    incident = {
        "id": inc, "number": "INC-2026-0007", "title": f"Phishing a la embajada {EVIL} $(reboot)",
        "description": "Correo con enlace a un sitio falso; ; rm -rf / en el asunto.\n"
                       "Dos funcionarios ingresaron su clave.",
        "severity": 3, "priority": 4, "rsit_class": "fraud", "rsit_type": "phishing",
        "cnsd_class": "Recopilación de información", "tlp": "AMBER+STRICT", "pap": "AMBER",
        "sites": ["m017"], "assets": ["gw-emb-ar"],
        "status": "cerrado" if closed else "contencion", "assignee": "ana",
        "determination": "malicious-activity", "disposition": "incident:confirmed",
        "impact": "con_impacto", "lessons": "Reforzar el filtro de correo.",
        "occurred_at": ts(-300), "detected_at": ts(-20), "created_at": ts(0),
        "updated_at": ts(900), "personal_data": {"affected": True,
                                                 "kinds": ["correo", "credenciales"],
                                                 "people": 2},
        "template": "phishing",
    }  # fmt: skip
    lines = [
        _entry(inc, 0, "creado", "Caso abierto desde la alerta", source="registros",
               fields={"detected_at": ts(-20), "occurred_at": ts(-180)}),
        _entry(inc, 6, "asignado", "Asignado a ana"),
        _entry(inc, 12, "fase", "A análisis", **{"from": "nuevo", "to": "analisis"}),
        _entry(inc, 30, "registro", f"auth.log: Accepted password for jdoe {EVIL}",
               source="registros.buscar", raw_ref="event.id=0190c1a2", tz="Europe/Madrid"),
        _entry(inc, 45, "fase", "A contención", **{"from": "analisis", "to": "contencion"}),
        _entry(inc, 50, "contramedida", "Bloqueo de 203.0.113.9 activado en gw-emb-ar"),
        _entry(inc, 95, "fase", "Contenido", **{"from": "contencion", "to": "erradicacion"}),
        _entry(inc, 200, "nota", "Claves cambiadas", tz="-05:00"),
    ]  # fmt: skip
    if notified:
        lines.append(_entry(inc, 240, "notificacion_cnsd", "Notificado al CNSD"))
    if closed:
        lines += [
            _entry(inc, 400, "fase", "", **{"from": "erradicacion", "to": "recuperacion"}),
            _entry(inc, 600, "fase", "", **{"from": "recuperacion", "to": "post_incidente"}),
            _entry(inc, 900, "fase", "Cerrado", **{"from": "post_incidente", "to": "cerrado"}),
        ]
    with records.command(store, "ana") as cmd:
        cmd.tx.put("site", ["m017"], {"code": "m017", "name": "Embajada en Argentina", "country": "AR",
                         "timezone": "America/Argentina/Buenos_Aires"})  # fmt: skip
        cmd.tx.put("asset", ["gw-emb-ar"], {"name": "gw-emb-ar", "kind": "router", "site": "m017",
                          "mgmt_ipv4": "198.18.17.1", "criticality": "alta"})  # fmt: skip
        cmd.put(records.INCIDENT, incident)
        cmd.put(records.INCIDENT, {"id": other, "number": "INC-2026-0003", "title": "Otro",
                                   "severity": 2, "status": "nuevo"})  # fmt: skip
        for line in lines:
            cmd.put(records.TIMELINE, line)
        for incident_id, value, ioc in (
            (inc, "203.0.113.9", True),
            (other, "203.0.113.9", False),
            (inc, "http://login-cancilleria.test/$(reboot)", True),
        ):
            kind = "ipv4" if value[0].isdigit() else "url"
            cmd.put(records.OBSERVABLE, {"type": kind, "value": value, "incident_id": incident_id,
                                         "ioc": ioc, "sighted": ioc, "tlp": "AMBER",
                                         "description": f"remitente {EVIL}", "created_at": ts(20),
                                         "analyst": "ana", "ignore_similarity": False})  # fmt: skip
        for n, (title, status, phase) in enumerate((
            ("Identificar a los destinatarios", "hecha", "deteccion_analisis"),
            ("Bloquear el remitente", "hecha", "contencion_erradicacion_recuperacion"),
            ("Revisar reglas del buzón", "en_espera", "contencion_erradicacion_recuperacion"),
        )):  # fmt: skip
            cmd.put(records.TASK, {"incident_id": inc, "id": records.new_ulid(), "title": title,
                                   "description": "", "status": status, "assignee": "ana",
                                   "due_at": ts(60 * (n + 1)), "phase": phase,
                                   "created_at": ts(n), "updated_at": ts(n)})  # fmt: skip
        cmd.put(records.COUNTERMEASURE, {
            "id": records.new_ulid(), "incident_id": inc, "kind": "bloquear_ip",
            "target": {"host": "gw-emb-ar", "address": "203.0.113.9"},
            "status": "retirada" if closed else "activa", "expires_at": ts(48 * 60),
            "playbook": "csirt/bloquear.yml", "reverse_playbook": "csirt/desbloquear.yml",
            "proposed_by": "ana", "approved_by": "luis", "activated_at": ts(50),
            "retired_at": ts(880) if closed else None,
            "runs": [{"playbook": "csirt/bloquear.yml", "job_id": "7c1d-prueba", "status":
                      "successful", "rc": 0, "artifacts_sha256": SHA, "verified": False,
                      "check": True, "error": None},
                     {"playbook": "csirt/bloquear.yml", "job_id": "7c1e-activar", "status":
                      "successful", "rc": 0, "artifacts_sha256": SHA, "verified": True}]
                    + ([{"playbook": "csirt/desbloquear.yml", "job_id": "7c1f-retirar",
                         "status": "successful", "rc": 0, "artifacts_sha256": SHA[::-1],
                         "verified": True}] if closed else []),
            "reason": "Servidor del sitio falso",
        })  # fmt: skip
        ev = records.new_ulid()
        cmd.put(records.EVIDENCE, {"id": ev, "incident_id": inc, "name": f"correo {EVIL}.eml",
                                   "sha256": SHA, "size": 48213, "acquired_at": ts(25),
                                   "host": "mail.test", "kind": "correo",
                                   "stored_path": f"sha256/{SHA[:2]}/{SHA}",
                                   "added_by": "ana"})  # fmt: skip
        for seq, action in ((1, "adquisición"), (2, "verificación")):
            cmd.put(records.CUSTODY, {"evidence_id": ev, "seq": seq, "ts": ts(25 + seq * 60),
                                      "analyst": "ana", "action": action,
                                      "purpose": "análisis del encabezado",
                                      "sha256_before": SHA if seq > 1 else "",
                                      "sha256_after": SHA, "where": "evidencia/"})  # fmt: skip
    return incident
