"""`csirt exportar` as a library: STIX 2.1 that stix2 parses back, a MISP event that pymisp
loads, TLP 2.0 markings written out, and the audience's TLP enforced."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import stix2
from pymisp import MISPEvent
from stix2patterns.validator import run_validator

from csirt import exportar as ex
from csirt.casos import IncidentNotFound
from csirt.records import INCIDENT, OBSERVABLE, TIMELINE, command, new_ulid
from csirt.stix import INCIDENT_CORE, TLP2_EXTENSION, TLP2_MARKINGS
from pukara.store import SQLiteStore

NOW = "2026-12-01T16:00:00.000Z"
# (type, value, ioc, sighted, own tlp)
OBSERVABLES = [
    ("ipv4", "198.18.0.5", True, True, None),
    ("domain", "phish.test", True, False, "GREEN"),
    ("url", "http://phish.test/a'b\\c", True, False, None),
    ("sha256", "e" * 64, True, True, None),
    ("filename", "; rm -rf /", False, False, None),
    ("cve", "CVE-2024-3094", False, False, None),
    ("ipv4", "198.18.0.99", True, False, "RED"),
    ("cidr", "198.18.4.0/22", True, False, None),
    ("ipv6", "fd70:756b:6172::5", True, False, "AMBER+STRICT"),
    ("user", "$(reboot)", False, False, None),
    ("mac", "aa:bb:cc:dd:ee:ff", False, False, None),
    ("email", "jefe@phish.test", True, False, None),
    ("hostname", "pc-lima-07", False, True, None),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e", True, False, None),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", True, False, None),
]


def make_case(path: Path, *, tlp: str = "AMBER", number: str = "INC-2026-0001") -> str:
    """A case written through csirt.records.command, in the layout's record shapes."""
    with SQLiteStore(path) as store, command(store, "ana") as cmd:
        iid = new_ulid()
        cmd.insert(INCIDENT, {
            "id": iid, "number": number, "title": "Phishing <script>alert(1)</script>",
            "description": "Correo con $(reboot) y ; rm -rf /", "severity": 3, "priority": 4,
            "rsit_class": "fraud", "rsit_type": "phishing",
            "cnsd_class": "Recopilación de información", "tlp": tlp, "pap": "GREEN",
            "sites": ["LIM"], "assets": ["pc-lima-07"], "status": "contencion",
            "assignee": "ana", "determination": None, "disposition": "incident:confirmed",
            "impact": None, "created_at": cmd.now, "updated_at": cmd.now,
        })  # fmt: skip
        for kind, value, ioc, sighted, own in OBSERVABLES:
            cmd.insert(OBSERVABLE, {
                "type": kind, "value": value, "incident_id": iid, "ioc": ioc,
                "sighted": sighted, "tlp": own, "description": "", "created_at": cmd.now,
                "analyst": "ana", "ignore_similarity": False,
            })  # fmt: skip
        for kind, message, own in [
            ("creado", "Incidente abierto", None),
            ("nota", "Fuente humana: el embajador", "RED"),
            ("asignado", "Asignado a ana", None),
            ("fase", "nuevo → analisis", None),
        ]:
            cmd.insert(TIMELINE, {
                "incident_id": iid, "id": new_ulid(), "ts": NOW, "tz": "America/Lima",
                "kind": kind, "message": message, "source": "", "raw_ref": "",
                "analyst": "ana", "fields": {}, **({"tlp": own} if own else {}),
            })  # fmt: skip
    return iid


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "c.db"
    make_case(path)
    return path


def _export(db: Path, fmt: str, audience: str, ref: str = "INC-2026-0001") -> ex.Export:
    with SQLiteStore(db) as store:
        return ex.export(store, ref, fmt, audience, now=NOW)


def _by_type(bundle: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for obj in bundle.objects:
        out.setdefault(obj.type, []).append(obj)
    return out


def test_stix_bundle_parses_back_with_tlp2_markings_and_incident_core(db: Path) -> None:
    result = _export(db, "stix", "organizacion")
    bundle = stix2.parse(result.text, allow_custom=False)
    objs = _by_type(bundle)
    # TLP 2.0 marking definitions written out, with their official ids and extension
    markings = {m.id: m for m in objs["marking-definition"]}
    assert set(markings) <= set(TLP2_MARKINGS.values())
    assert TLP2_MARKINGS["AMBER+STRICT"] in markings and TLP2_MARKINGS["AMBER"] in markings
    for tlp, mid in TLP2_MARKINGS.items():
        if mid in markings:
            m = markings[mid]
            assert m.name == f"TLP:{tlp}"
            assert m.extensions[TLP2_EXTENSION]["tlp_2_0"] == tlp.lower()
    tlp1 = {stix2.TLP_WHITE.id, stix2.TLP_GREEN.id, stix2.TLP_AMBER.id, stix2.TLP_RED.id}
    assert not tlp1 & set(json.dumps(json.loads(result.text)).split('"'))
    assert {e.id for e in objs["extension-definition"]} == {TLP2_EXTENSION, INCIDENT_CORE}
    # the incident with the OASIS incident core extension
    (incident,) = objs["incident"]
    core = incident.extensions[INCIDENT_CORE]
    assert core["extension_type"] == "property-extension"
    assert core["determination"] == "suspected" and core["investigation_status"] == "open"
    assert core["criticality"] == 100
    assert incident.name == "INC-2026-0001: Phishing <script>alert(1)</script>"  # data
    assert 'rsit:fraud="phishing"' in incident.labels
    assert 'cnsd:"Recopilación de información"="phishing"' in incident.labels
    assert incident.object_marking_refs == [TLP2_MARKINGS["AMBER"]]
    # every exported SDO/SCO carries a TLP 2.0 marking
    for obj in bundle.objects:
        if obj.type not in ("marking-definition", "extension-definition"):
            assert obj.object_marking_refs[0] in TLP2_MARKINGS.values(), obj.id


def test_stix_indicators_observed_data_and_sightings(db: Path) -> None:
    bundle = stix2.parse(_export(db, "stix", "nombres").text, allow_custom=False)
    objs = _by_type(bundle)
    iocs = [o for o in OBSERVABLES if o[2]]
    assert len(objs["indicator"]) == len(iocs)
    for ind in objs["indicator"]:
        assert run_validator(ind.pattern) == [], ind.pattern
    patterns = {i.pattern for i in objs["indicator"]}
    assert "[ipv4-addr:value = '198.18.0.5']" in patterns
    assert "[ipv4-addr:value ISSUBSET '198.18.4.0/22']" in patterns
    assert "[url:value = 'http://phish.test/a\\'b\\\\c']" in patterns
    assert f"[file:hashes.'SHA-256' = '{'e' * 64}']" in patterns
    # observed-data + SCO for every observable but the CVE, which is a vulnerability
    assert len(objs["observed-data"]) == len(OBSERVABLES) - 1
    (vuln,) = objs["vulnerability"]
    assert vuln.name == "CVE-2024-3094"
    assert objs["user-account"][0].account_login == "$(reboot)"
    assert objs["file"] and any(f.get("name") == "; rm -rf /" for f in objs["file"])
    # sightings: of the sighted IOCs only (a sighted non-IOC is its observed-data)
    sighted = [o for o in OBSERVABLES if o[2] and o[3]]
    assert len(objs["sighting"]) == len(sighted)
    indicator_ids = {i.id for i in objs["indicator"]}
    for s in objs["sighting"]:
        assert s.sighting_of_ref in indicator_ids and s.observed_data_refs
    (report,) = objs["report"]
    assert objs["incident"][0].id in report.object_refs
    # the timeline as notes, except who was assigned
    assert {n.abstract for n in objs["note"]} == {"creado", "nota", "fase"}


def test_stix_ids_are_stable_across_exports(db: Path) -> None:
    def ids() -> set[str]:
        data = json.loads(_export(db, "stix", "nombres").text)
        return {o["id"] for o in data["objects"]}

    first = ids()
    assert first == ids()
    scos = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "user-account",
            "file", "mac-addr"}  # fmt: skip
    fixed = {"extension-definition", "marking-definition"}  # published by OASIS
    for oid in first:
        kind, _, value = oid.partition("--")
        if kind not in scos | fixed | {"bundle"}:
            assert uuid.UUID(value).version == 4, oid  # STIX: SDOs and SROs use UUIDv4


def test_misp_event_loads_in_pymisp(db: Path) -> None:
    result = _export(db, "misp", "organizacion")
    assert json.loads(result.text).keys() == {"Event"}
    event = MISPEvent()
    event.load(result.text)
    tags = {t.name for t in event.tags}
    assert {"tlp:amber", 'rsit:fraud="phishing"', "PAP:GREEN",
            'cnsd:"Recopilación de información"="phishing"',
            'incident-disposition:incident="confirmed"'} <= tags  # fmt: skip
    assert event.info == "INC-2026-0001: Phishing <script>alert(1)</script>"
    assert int(event.distribution) == 0 and int(event.threat_level_id) == 1
    by_value = {a.value: a for a in event.attributes}
    assert by_value["198.18.0.5"].type == "ip-dst" and by_value["198.18.0.5"].to_ids
    assert by_value["; rm -rf /"].type == "filename" and not by_value["; rm -rf /"].to_ids
    assert by_value["CVE-2024-3094"].type == "vulnerability"
    assert by_value["$(reboot)"].type == "target-user"
    assert by_value["aa:bb:cc:dd:ee:ff"].type == "mac-address"
    assert by_value["e" * 64].type == "sha256"
    assert by_value["phish.test"].tags[0].name == "tlp:green"  # its own TLP
    assert by_value["fd70:756b:6172::5"].tags[0].name == "tlp:amber+strict"
    assert by_value["198.18.0.5"].sightings
    assert "198.18.0.99" not in by_value  # RED: held back from organizacion
    comments = [a for a in event.attributes if a.type == "comment"]
    assert any(a.value == "Incidente abierto" for a in comments)


@pytest.mark.parametrize(
    ("audience", "held_values"),
    [
        ("nombres", set()),
        ("organizacion", {"198.18.0.99"}),
        ("sector", {"198.18.0.99", "fd70:756b:6172::5"}),
    ],
)
def test_items_above_the_audience_are_held_back_and_named(
    db: Path, audience: str, held_values: set[str]
) -> None:
    for fmt in ("stix", "misp"):
        result = _export(db, fmt, audience)
        held_obs = {h.ref.split(" ", 1)[1] for h in result.held if h.kind == "observable"}
        assert held_obs == held_values
        for value in held_values:
            assert value not in result.text  # never in the export, not even its name
        held_lines = [h for h in result.held if h.kind == "linea"]
        if audience == "nombres":
            assert not held_lines and "Fuente humana" in result.text
        else:
            assert len(held_lines) == 1 and "Fuente humana" not in result.text
            assert "nota del 1 dic. 2026, 11:00:00" in held_lines[0].text()  # its own zone
        assert result.summary()["held_back"] == [
            {"kind": h.kind, "ref": h.ref, "tlp": h.tlp} for h in result.held
        ]
        assert result.observables == len(OBSERVABLES) - len(held_values)


@pytest.mark.parametrize(
    ("tlp", "refused"),
    [
        ("RED", {"publico", "comunidad", "sector", "organizacion"}),
        ("AMBER+STRICT", {"publico", "comunidad", "sector"}),
        ("AMBER", {"publico", "comunidad"}),
        ("GREEN", {"publico"}),
        ("CLEAR", set()),
    ],
)
def test_an_incident_above_the_audience_is_refused(
    tmp_path: Path, tlp: str, refused: set[str]
) -> None:
    db = tmp_path / f"{tlp}.db"
    make_case(db, tlp=tlp)
    for audience in ex.AUDIENCES:
        if audience in refused:
            with pytest.raises(ex.ExportRefused) as e:
                _export(db, "stix", audience)
            assert f"INC-2026-0001 es TLP:{tlp}" in e.value.message
            assert f"«{audience}»" in e.value.message and "no se exportó nada" in e.value.message
            assert e.value.exit_code == 1
        else:
            stix2.parse(_export(db, "stix", audience).text, allow_custom=False)


def test_clear_items_reach_the_public(tmp_path: Path) -> None:
    db = tmp_path / "clear.db"
    make_case(db, tlp="CLEAR")
    result = _export(db, "misp", "publico")
    # items with their own TLP above CLEAR are held back, and so are the URL and the mail
    # that hold the GREEN domain; the rest inherit CLEAR
    assert {h.ref for h in result.held if h.kind == "observable"} == {
        "domain phish.test",
        "ipv4 198.18.0.99",
        "ipv6 fd70:756b:6172::5",
        "url http://phish.test/a'b\\c",
        "email jefe@phish.test",
    }
    assert "phish.test" not in result.text
    assert json.loads(result.text)["Event"]["distribution"] == "3"


def test_lookup_by_id_number_and_unknown(db: Path) -> None:
    by_number = json.loads(_export(db, "stix", "nombres", ref="inc-2026-1").text)
    with SQLiteStore(db) as store:
        (inc,) = store.scan(INCIDENT)
    by_id = json.loads(_export(db, "stix", "nombres", ref=inc["id"]).text)
    assert by_number["objects"] == by_id["objects"]
    names = [o["name"] for o in by_id["objects"] if o["type"] == "incident"]
    assert names == ["INC-2026-0001: Phishing <script>alert(1)</script>"]
    with pytest.raises(IncidentNotFound, match="no existe el incidente INC-2026-0404"):
        _export(db, "stix", "sector", ref="INC-2026-0404")


def test_bad_format_and_audience(db: Path) -> None:
    with pytest.raises(ex.UsageError, match="destino no válido: «todos»"):
        _export(db, "stix", "todos")
    with pytest.raises(ex.UsageError, match="formato no válido: «csv»"):
        _export(db, "csv", "sector")
    assert ex.check_audience("Organización") == "organizacion"


def test_record_writes_the_export_event(db: Path) -> None:
    result = _export(db, "stix", "sector")
    with SQLiteStore(db) as store:
        ex.record(store, "ana", result)
        events = list(store.search_events(dataset="csirt.exportacion"))
    assert len(events) == 1
    doc = events[0]
    assert doc["user"]["name"] == "ana"
    assert doc["csirt"]["export"]["audience"] == "sector"
    assert len(doc["csirt"]["export"]["held_back"]) == 3


def test_a_timeline_entry_naming_an_observable_has_its_tlp(db: Path) -> None:
    with SQLiteStore(db) as store, command(store, "ana") as cmd:
        (inc,) = store.scan(INCIDENT)
        for message, fields in [
            ("Observable agregado: ipv4 198.18.0.99", {"type": "ipv4", "value": "198.18.0.99"}),
            ("El usuario vio FD70:756B:6172::5 en su equipo", {}),
            ("Nada secreto", {}),
        ]:
            cmd.insert(TIMELINE, {
                "incident_id": inc["id"], "id": new_ulid(), "ts": NOW, "tz": "UTC",
                "kind": "observable" if fields else "nota", "message": message, "source": "",
                "raw_ref": "", "analyst": "ana", "fields": fields,
            })  # fmt: skip
    result = _export(db, "stix", "organizacion")
    assert "198.18.0.99" not in result.text  # neither the observable nor the entry naming it
    held = [h for h in result.held if h.kind == "linea"]
    assert any("198.18.0.99" in h.text() and h.tlp == "RED" for h in held)
    bundle = stix2.parse(result.text, allow_custom=False)
    notes = {n.content: n for n in bundle.objects if n.type == "note"}
    # kept, but marked as the AMBER+STRICT address it quotes (case folded)
    quoted = notes["El usuario vio FD70:756B:6172::5 en su equipo"]
    assert quoted.object_marking_refs == [TLP2_MARKINGS["AMBER+STRICT"]]
    assert notes["Nada secreto"].object_marking_refs == [TLP2_MARKINGS["AMBER"]]
    sector = _export(db, "stix", "sector")
    assert "FD70:756B:6172::5" not in sector.text and "Nada secreto" in sector.text


def test_a_title_or_description_naming_a_held_observable_is_left_out(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    iid = make_case(db)
    with SQLiteStore(db) as store, command(store, "ana") as cmd:
        inc = cmd.get(INCIDENT, (iid,))
        assert inc is not None
        cmd.put(INCIDENT, {**inc, "title": "Conexiones a 198.18.0.99",
                           "description": "Vimos fd70:756b:6172::5 y 198.18.0.5"})  # fmt: skip
    for fmt in ("stix", "misp"):
        sector = _export(db, fmt, "sector")
        assert "198.18.0.99" not in sector.text and "fd70:756b:6172::5" not in sector.text
        fields = {h.ref: h for h in sector.held if h.kind == "campo"}
        assert set(fields) == {"title", "description"}
        assert fields["title"].tlp == "RED" and fields["description"].tlp == "AMBER+STRICT"
        assert fields["title"].text() == "título del incidente, que nombra un observable (TLP:RED)"
        organizacion = _export(db, fmt, "organizacion")
        assert "Vimos fd70:756b:6172::5" in organizacion.text
        assert {h.ref for h in organizacion.held if h.kind == "campo"} == {"title"}
    bundle = stix2.parse(_export(db, "stix", "sector").text, allow_custom=False)
    (incident,) = [o for o in bundle.objects if o.type == "incident"]
    assert incident.name == "INC-2026-0001" and "description" not in incident
    event = MISPEvent()
    event.load(_export(db, "misp", "sector").text)
    assert event.info == "INC-2026-0001"


def _green_case(path: Path, title: str, items: list[tuple[str, str, str, str]]) -> None:
    """A GREEN case titled ``title`` with (type, value, tlp, description) observables."""
    with SQLiteStore(path) as store, command(store, "ana") as cmd:
        iid = new_ulid()
        cmd.insert(INCIDENT, {
            "id": iid, "number": "INC-2026-0001", "title": title, "description": "",
            "severity": 2, "tlp": "GREEN", "status": "analisis", "created_at": cmd.now,
            "updated_at": cmd.now,
        })  # fmt: skip
        for kind, value, tlp, note in items:
            cmd.insert(OBSERVABLE, {
                "type": kind, "value": value, "incident_id": iid, "ioc": True,
                "sighted": False, "tlp": tlp, "description": note, "created_at": cmd.now,
                "analyst": "ana", "ignore_similarity": False,
            })  # fmt: skip


def test_a_description_or_another_spelling_of_a_held_value_is_held_back(tmp_path: Path) -> None:
    db = tmp_path / "leak.db"
    _green_case(db, "Exfiltración desde bücher.test", [
        ("ipv4", "10.9.8.7", "RED", ""),
        ("domain", "xn--bcher-kva.test", "RED", ""),
        ("domain", "evil.test", "GREEN", "resuelve a 10.9.8.7, el servidor comprometido"),
        ("ipv6", "2001:db8::66", "RED", ""),
        ("domain", "ok.test", "GREEN", "sin nada secreto"),
    ])  # fmt: skip
    with SQLiteStore(db) as store, command(store, "ana") as cmd:
        (inc,) = store.scan(INCIDENT)
        for message in ["Conexión a 10.9.8[.]7", "Vimos 2001:DB8:0:0:0:0:0:66",
                        "Descarga de hxxp://BÜCHER[.]test/x", "Todo normal en ok.test"]:  # fmt: skip
            cmd.insert(TIMELINE, {
                "incident_id": inc["id"], "id": new_ulid(), "ts": NOW, "tz": "UTC",
                "kind": "nota", "message": message, "source": "", "raw_ref": "",
                "analyst": "ana", "fields": {},
            })  # fmt: skip
    for fmt in ("stix", "misp"):
        result = _export(db, fmt, "comunidad")
        text = result.text.casefold()
        for leaked in ("10.9.8.7", "10.9.8[.]7", "bücher", "bcher", "2001:db8", "resuelve"):
            assert leaked not in text, (fmt, leaked)
        assert "evil.test" in text and "sin nada secreto" in text and "todo normal" in text
        fields = {h.ref: h for h in result.held if h.kind == "campo"}
        assert fields["title"].tlp == "RED"
        assert fields["description domain evil.test"].tlp == "RED"
        assert len([h for h in result.held if h.kind == "linea"]) == 3
        assert "10.9.8.7" in _export(db, fmt, "nombres").text


def test_an_observable_holding_a_held_value_is_held_back(tmp_path: Path) -> None:
    db = tmp_path / "url.db"
    _green_case(db, "Correo", [
        ("domain", "evil.test", "RED", ""),
        ("url", "https://evil.test/login", "GREEN", ""),
        ("email", "jefe@evil.test", "GREEN", ""),
        ("url", "https://ok.test/", "GREEN", ""),
    ])  # fmt: skip
    result = _export(db, "stix", "comunidad")
    assert "evil.test" not in result.text and "https://ok.test/" in result.text
    held = {h.ref: h.tlp for h in result.held if h.kind == "observable"}
    assert held == {"domain evil.test": "RED", "url https://evil.test/login": "RED",
                    "email jefe@evil.test": "RED"}  # fmt: skip
