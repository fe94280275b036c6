"""A STIX 2.1 bundle of one incident, built with the ``stix2`` library.

What goes in (every object is marked with its TLP 2.0 marking definition):

- the TLP 2.0 marking definitions used, written out as OASIS publishes them (ids, ``name``
  and the ``extension-definition--60a3c5c5-...`` property extension), never ``stix2``'s TLP
  1.0 builtins; and the two extension-definition objects (TLP 2.0, Incident Core);
- the ministry's ``identity``, author of everything;
- the ``incident`` with the OASIS Incident Core Extension (``extension-definition--ef765651
  -...``): ``determination`` (``suspected`` while the case has none), ``investigation_status``
  (new, open, closed), ``criticality`` from the case's priority; RSIT, CNSD and PAP as
  machine-tag labels;
- per observable an ``observed-data`` with its SCO (deterministic ids); a CVE is a
  ``vulnerability``; per IOC an ``indicator`` whose STIX pattern matches the value; per
  sighted IOC a ``sighting`` of that indicator, seen by the ministry;
- per timeline entry a ``note`` on the incident (its time, kind and message);
- a ``report`` that lists them all.

Ids of SDOs are stable (see :func:`_id`), so exporting the same case again yields the same
objects (a receiver updates them instead of duplicating them); SCOs have the UUIDv5 ids that
STIX derives from their values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
INCIDENT_CORE = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
TLP2_MARKINGS = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP2_CREATED = "2022-10-01T00:00:00.000Z"

# the extension-definition objects as OASIS publishes them (cti-stix-common-objects)
EXTENSION_DEFINITIONS: tuple[dict[str, Any], ...] = (
    {
        "type": "extension-definition", "spec_version": "2.1", "id": TLP2_EXTENSION,
        "name": "TLP 2.0", "description": "This defines TLP 2.0 as a STIX extension",
        "created": "2022-10-01T00:00:00.000Z", "modified": "2022-10-01T00:00:00.000Z",
        "created_by_ref": "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01",
        "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/master/"
                  "extension-definition-specifications/tlp-2.0",
        "version": "1.0.0", "extension_types": ["property-extension"],
    },
    {
        "type": "extension-definition", "spec_version": "2.1", "id": INCIDENT_CORE,
        "name": "Incident Core Extension",
        "description": "A core extension of the Incident object to allow core details of the "
                       "Incident to be shared while tracking major details tied to the "
                       "incident's timeline.  Multiple Incidents can be tied together via "
                       "relationships if a higher degree of fidelity is needed across phases.",
        "created": "2020-10-19T20:51:00.000Z", "modified": "2022-10-27T15:09:00.000Z",
        "created_by_ref": "identity--8ce3f695-d5a4-4dc8-9e93-a65af453a31a",
        "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/main/"
                  "extension-definition-specifications/incident-core",
        "version": "1.1.0", "extension_types": ["property-extension"],
    },
)  # fmt: skip

# pukara's namespace for the UUIDv5 of the objects it exports
NAMESPACE = uuid.UUID("6f1c2d3e-8a7b-5c4d-9e0f-a1b2c3d4e5f6")

# observable type -> (SCO type, the pattern's object path)
SCO = {
    "ipv4": ("ipv4-addr", "ipv4-addr:value"),
    "ipv6": ("ipv6-addr", "ipv6-addr:value"),
    "domain": ("domain-name", "domain-name:value"),
    "hostname": ("domain-name", "domain-name:value"),
    "url": ("url", "url:value"),
    "email": ("email-addr", "email-addr:value"),
    "user": ("user-account", "user-account:account_login"),
    "md5": ("file", "file:hashes.MD5"),
    "sha1": ("file", "file:hashes.'SHA-1'"),
    "sha256": ("file", "file:hashes.'SHA-256'"),
    "filename": ("file", "file:name"),
    "mac": ("mac-addr", "mac-addr:value"),
}
_HASH_KEYS = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}


def marking_definition(tlp: str) -> Any:
    """The official TLP 2.0 marking definition of ``tlp`` (a ``stix2`` object)."""
    import stix2

    return stix2.MarkingDefinition(
        id=TLP2_MARKINGS[tlp], created=TLP2_CREATED, name=f"TLP:{tlp}",
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension",
                                     "tlp_2_0": tlp.lower()}},
    )  # fmt: skip


def _id(kind: str, *parts: str) -> str:
    """A stable id in UUIDv4 form (STIX asks v4 for SDOs and SROs): its 122 free bits are
    the SHA-256 of pukara's namespace, the object type and the item, not drawn at random,
    so the same item always has the same id and no one can guess it without the case."""
    import hashlib

    digest = hashlib.sha256("/".join((str(NAMESPACE), kind, *parts)).encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


def pattern_literal(value: str) -> str:
    """A STIX pattern string literal: quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern(kind: str, value: str) -> str | None:
    """The STIX pattern matching an observable, or None (a CVE is no observable pattern)."""
    if kind == "cidr":
        path = "ipv6-addr:value" if ":" in value else "ipv4-addr:value"
        return f"[{path} ISSUBSET {pattern_literal(value)}]"
    if kind not in SCO:
        return None
    return f"[{SCO[kind][1]} = {pattern_literal(value)}]"


def sco(kind: str, value: str, markings: list[str]) -> Any:
    """The STIX cyber-observable of an observable (None for a CVE)."""
    import stix2

    common: dict[str, Any] = {"object_marking_refs": markings}
    if kind == "cidr":
        cls = stix2.IPv6Address if ":" in value else stix2.IPv4Address
        return cls(value=value, **common)
    classes = {
        "ipv4": stix2.IPv4Address, "ipv6": stix2.IPv6Address, "domain": stix2.DomainName,
        "hostname": stix2.DomainName, "url": stix2.URL, "email": stix2.EmailAddress,
        "mac": stix2.MACAddress,
    }  # fmt: skip
    if kind in classes:
        return classes[kind](value=value, **common)
    if kind == "user":
        return stix2.UserAccount(account_login=value, **common)
    if kind in _HASH_KEYS:
        return stix2.File(hashes={_HASH_KEYS[kind]: value}, **common)
    if kind == "filename":
        return stix2.File(name=value, **common)
    return None


def case_name(incident: Mapping[str, Any]) -> str:
    """``INC-2026-0001: title``, or the bare number when the title is held back."""
    number = str(incident.get("number") or incident["id"])
    return f"{number}: {incident['title']}" if incident.get("title") else number


INVESTIGATION_STATUS = {"nuevo": "new", "cerrado": "closed", "descartado": "closed"}


def build_bundle(
    incident: Mapping[str, Any],
    observables: Sequence[Mapping[str, Any]],
    timeline: Sequence[Mapping[str, Any]],
    *,
    organization: str,
    now: str,
    labels: Sequence[str],
) -> Any:
    """The ``stix2.Bundle`` of an incident and the items the audience may see (already
    filtered by TLP: every item here is exported)."""
    import stix2

    inc_id = incident["id"]
    identity = stix2.Identity(
        id=_id("identity", organization), name=organization, identity_class="organization",
        sectors=["government-national"], created="2026-01-01T00:00:00.000Z",
        modified="2026-01-01T00:00:00.000Z",
        object_marking_refs=[TLP2_MARKINGS["CLEAR"]],
    )  # fmt: skip
    used = {"CLEAR", incident["tlp"]}
    author = {"created_by_ref": identity.id}
    inc_marking = [TLP2_MARKINGS[incident["tlp"]]]
    created = incident.get("created_at") or now
    core: dict[str, Any] = {
        "extension_type": "property-extension",
        "determination": incident.get("determination") or "suspected",
        "investigation_status": INVESTIGATION_STATUS.get(str(incident.get("status")), "open"),
    }
    priority = incident.get("priority")
    if isinstance(priority, int) and 1 <= priority <= 4:
        core["criticality"] = priority * 25
    inc = stix2.Incident(
        id=_id("incident", inc_id), name=case_name(incident),
        description=incident.get("description") or None, created=created,
        modified=incident.get("updated_at") or created, labels=list(labels) or None,
        external_references=[{"source_name": "pukara", "external_id": incident.get("number")
                              or inc_id}],
        extensions={INCIDENT_CORE: core}, object_marking_refs=inc_marking, **author,
    )  # fmt: skip
    objects: list[Any] = [identity, inc]
    for obs in observables:
        tlp = obs.get("tlp") or incident["tlp"]
        used.add(tlp)
        objects += _observable_objects(incident, obs, [TLP2_MARKINGS[tlp]], identity.id, now)
    for entry in timeline:
        tlp = entry.get("tlp") or incident["tlp"]
        used.add(tlp)
        objects.append(stix2.Note(
            id=_id("note", inc_id, str(entry["id"])), created=entry["ts"], modified=entry["ts"],
            abstract=str(entry.get("kind") or "nota"), content=str(entry.get("message") or "-"),
            object_refs=[inc.id], object_marking_refs=[TLP2_MARKINGS[tlp]], **author,
        ))  # fmt: skip
    sdo_refs = [o.id for o in objects if o.type not in _SCO_TYPES]
    report = stix2.Report(
        id=_id("report", inc_id), name=inc.name, report_types=["incident"],
        published=now, created=created, modified=now, object_refs=sdo_refs,
        object_marking_refs=inc_marking, **author,
    )  # fmt: skip
    order = [t for t in TLP2_MARKINGS if t in used]
    markings = [marking_definition(t) for t in order]
    extensions = [stix2.ExtensionDefinition(**d) for d in EXTENSION_DEFINITIONS]
    return stix2.Bundle(objects=[*extensions, *markings, *objects, report], allow_custom=False)


_SCO_TYPES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "user-account",
              "file", "mac-addr"}  # fmt: skip


def _observable_objects(
    incident: Mapping[str, Any],
    obs: Mapping[str, Any],
    markings: list[str],
    identity: str,
    now: str,
) -> list[Any]:
    """The SCO, observed-data, vulnerability, indicator and sighting of one observable."""
    import stix2

    kind, value = str(obs["type"]), str(obs["value"])
    inc_id, number = incident["id"], incident.get("number") or incident["id"]
    seen = obs.get("created_at") or now
    author = {"created_by_ref": identity, "object_marking_refs": markings}
    key = (inc_id, kind, value)
    if kind == "cve":
        return [stix2.Vulnerability(
            id=_id("vulnerability", *key), name=value, created=seen, modified=seen,
            description=obs.get("description") or None,
            external_references=[{"source_name": "cve", "external_id": value}], **author,
        )]  # fmt: skip
    cyber = sco(kind, value, markings)
    observed = stix2.ObservedData(
        id=_id("observed-data", *key), created=seen, modified=seen, first_observed=seen,
        last_observed=seen, number_observed=1, object_refs=[cyber.id], **author,
    )  # fmt: skip
    out: list[Any] = [cyber, observed]
    text = pattern(kind, value)
    if obs.get("ioc") and text is not None:
        indicator = stix2.Indicator(
            id=_id("indicator", *key), name=f"{kind} {value}", pattern=text,
            pattern_type="stix", valid_from=seen, created=seen, modified=seen,
            indicator_types=["malicious-activity"],
            description=obs.get("description") or f"Indicador del incidente {number}.", **author,
        )  # fmt: skip
        out.append(indicator)
        if obs.get("sighted"):
            out.append(stix2.Sighting(
                id=_id("sighting", *key), sighting_of_ref=indicator.id, created=seen,
                modified=seen, observed_data_refs=[observed.id],
                where_sighted_refs=[identity], **author,
            ))  # fmt: skip
    return out
