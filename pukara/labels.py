"""Spanish words for the English identifiers stored in data (collections, change actions).

Data keeps its English keys and values (JSON and CSV show them as stored); a table a person
reads shows these labels instead (``render(..., shown={"collection": collection_label})``).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

COLLECTIONS = {
    "site": "sede",
    "asset": "activo",
    "observation": "observación",
    "maintenance": "mantenimiento",
    "monitor_state": "estado de monitoreo",
    "monitor_snmp": "estado SNMP",
    "incident": "incidente",
    "backup": "respaldo",
    "audit_run": "auditoría",
    "csirt.incidente": "incidente CSIRT",
    "csirt.alerta": "alerta CSIRT",
    "csirt.observable": "observable",
    "csirt.tarea": "tarea",
    "csirt.linea": "línea de tiempo",
    "csirt.contramedida": "contramedida",
    "csirt.evidencia": "evidencia",
    "csirt.custodia": "custodia",
}
ACTIONS = {"insert": "alta", "update": "modificación", "delete": "borrado"}
ANSIBLE_STATUS = {  # ansible-runner's status of a run
    "successful": "con éxito",
    "failed": "con fallos",
    "timeout": "por tiempo agotado",
    "canceled": "cancelado",
    "unstarted": "sin empezar",
    "starting": "al empezar",
    "running": "en curso",
}


def collection_label(name: Any) -> Any:
    """``asset`` → ``activo``; a collection without a label is shown as stored."""
    return COLLECTIONS.get(name, name)


def _folded(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().replace("_", " ").split())


def collection_key(text: str) -> str | None:
    """The stored name of a collection given in Spanish (``activo``, ``estado snmp``) or as
    stored (``asset``); None when it names none (case and accents do not matter)."""
    folded = _folded(text)
    for key, label in COLLECTIONS.items():
        if folded in _names(key, label):
            return key
    return None


def _names(key: str, label: str) -> set[str]:
    """How a person may name a collection: ``asset``, ``assets``, ``activo``, ``activos``."""
    names = {_folded(key), _folded(key) + "s", _folded(label)}
    if " " not in label:  # sede → sedes, observación → observaciones
        names.add(_folded(label) + ("s" if label[-1] in "aeiouáéíóú" else "es"))
    return names


def collection_choices() -> str:
    """The collections a person can name, for a usage error: ``sede (site), activo (asset)``."""
    return ", ".join(f"{label} ({key})" for key, label in COLLECTIONS.items())


def action_label(action: Any) -> Any:
    return ACTIONS.get(action, action)


def key_label(key: Any) -> Any:
    """An entity key as stored (``["gw-lim"]``, ``["lim", "2026-11"]``) as a person reads it."""
    if isinstance(key, str) and key.startswith("["):
        try:
            key = json.loads(key)
        except ValueError:
            return key
    if isinstance(key, list):
        return " / ".join(str(part) for part in key)
    return key


def ansible_status_label(status: str) -> str:
    """``failed`` → ``con fallos``; the status itself in parentheses for searching logs."""
    label = ANSIBLE_STATUS.get(status)
    return f"{label} ({status})" if label else status
