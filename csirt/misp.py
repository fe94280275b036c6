"""A MISP event of one incident, built with ``pymisp``.

- Event tags: ``tlp:<x>`` as MISP's TLP 2.0 taxonomy spells them (``tlp:clear``,
  ``tlp:amber+strict``), ``PAP:<x>``, ``rsit:<class>="<type>"``, ``cnsd:"<clase>"="<valor>"``
  and, once decided, ``incident-disposition:...``.
- One attribute per observable, by type (addresses and networks as ``ip-dst``: pukara does
  not record a direction; a user as ``target-user``; a CVE as ``vulnerability``), ``to_ids``
  for IOCs, a ``tlp:`` tag of its own when it differs from the event's, a sighting when seen.
- One ``comment`` attribute per timeline entry (its time as ``first_seen``).
- ``threat_level_id`` from severity, ``analysis`` from the case's status, ``distribution``
  from the audience (``nombres``/``organizacion``: your organisation only, ``sector``: this
  community, ``comunidad``: connected communities, ``publico``: all).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

ATTRIBUTE_TYPES = {
    "ipv4": "ip-dst", "ipv6": "ip-dst", "cidr": "ip-dst", "domain": "domain",
    "hostname": "hostname", "url": "url", "email": "email", "user": "target-user",
    "md5": "md5", "sha1": "sha1", "sha256": "sha256", "filename": "filename",
    "mac": "mac-address", "cve": "vulnerability",
}  # fmt: skip
THREAT_LEVEL = {4: 1, 3: 1, 2: 2, 1: 3}  # severity -> MISP threat_level_id (1 high .. 3 low)
DISTRIBUTION = {"nombres": 0, "organizacion": 0, "sector": 1, "comunidad": 2, "publico": 3}
NAMESPACE = uuid.UUID("0d7a4c52-6a8e-5f1b-b3c4-7e9f0a1b2c3d")


def tlp_tag(tlp: str) -> str:
    return f"tlp:{tlp.lower()}"


def _analysis(status: str) -> int:
    if status == "nuevo":
        return 0  # initial
    if status in ("cerrado", "descartado"):
        return 2  # completed
    return 1  # ongoing


def build_event(
    incident: Mapping[str, Any],
    observables: Sequence[Mapping[str, Any]],
    timeline: Sequence[Mapping[str, Any]],
    *,
    audience: str,
    organization: str,
    tags: Sequence[str],
) -> Any:
    """The ``MISPEvent`` of an incident and the items the audience may see (already filtered)."""
    from pymisp import MISPEvent, MISPOrganisation

    event = MISPEvent()
    event.uuid = str(uuid.uuid5(NAMESPACE, incident["id"]))
    from csirt.stix import case_name

    event.info = case_name(incident)
    created = str(incident.get("created_at") or "")
    if created:
        event.set_date(created[:10])
    event.threat_level_id = THREAT_LEVEL.get(int(incident.get("severity") or 2), 2)
    event.analysis = _analysis(str(incident.get("status") or ""))
    event.distribution = DISTRIBUTION[audience]
    author = MISPOrganisation()
    author.name = organization
    event.Orgc = author  # the author (MISP's creator organisation)
    for tag in [tlp_tag(incident["tlp"]), *tags]:
        event.add_tag(tag)
    if incident.get("description"):
        event.add_attribute("comment", str(incident["description"]), category="Other",
                            to_ids=False, comment="descripción",
                            uuid=str(uuid.uuid5(NAMESPACE, f"{incident['id']}/description")))  # fmt: skip
    for obs in observables:
        _add_observable(event, incident, obs)
    for entry in timeline:
        attribute = event.add_attribute(
            "comment", str(entry.get("message") or "-"), category="Other", to_ids=False,
            comment=f"línea de tiempo: {entry.get('kind') or 'nota'}",
            first_seen=entry["ts"], uuid=str(uuid.uuid5(NAMESPACE, f"{incident['id']}/"
                                                               f"{entry['id']}")),
        )  # fmt: skip
        if entry.get("tlp") and entry["tlp"] != incident["tlp"]:
            _one(attribute).add_tag(tlp_tag(entry["tlp"]))
    return event


def _add_observable(event: Any, incident: Mapping[str, Any], obs: Mapping[str, Any]) -> None:
    kind, value = str(obs["type"]), str(obs["value"])
    attribute = event.add_attribute(
        ATTRIBUTE_TYPES[kind], value, to_ids=bool(obs.get("ioc")),
        comment=str(obs.get("description") or ""),
        uuid=str(uuid.uuid5(NAMESPACE, f"{incident['id']}/{kind}/{value}")),
    )  # fmt: skip
    tlp = obs.get("tlp")
    if tlp and tlp != incident["tlp"]:
        _one(attribute).add_tag(tlp_tag(tlp))
    if obs.get("sighted"):
        _one(attribute).add_sighting({"type": "0", "source": "pukara"})


def _one(attribute: Any) -> Any:
    """pymisp returns a list when a value splits into several attributes; ours never do."""
    return attribute[0] if isinstance(attribute, list) else attribute
