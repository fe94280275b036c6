"""Incidents: opening (number, priority, inventory, classification), the state machine and
every guard, assignment and editing; each change an entity, an event and a timeline entry."""

from __future__ import annotations

from typing import Any

import pytest

from csirt import casos, estados, linea
from csirt.records import COUNTERMEASURE, INCIDENT, TIMELINE, command
from pukara.errors import UsageError
from pukara.store import SQLiteStore


@pytest.fixture
def inv(store: SQLiteStore) -> SQLiteStore:
    store.upsert("site", [{"code": "lima", "name": "Sede central"},
                          {"code": "emb-ar", "name": "Embajada en Argentina"}], key=("code",))  # fmt: skip
    store.upsert("asset", [
        {"name": "srv-correo", "site": "lima", "criticality": "alta"},
        {"name": "pc-123", "site": "emb-ar", "criticality": "baja"},
        {"name": "sw-1", "site": "lima", "criticality": "media"},
    ], key=("name",))  # fmt: skip
    return store


def _open(store: SQLiteStore, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"title": "Correo sospechoso", "severity": 2, "rsit_class": "fraud",
                            "rsit_type": "phishing"} | kw  # fmt: skip
    with command(store, "ana") as cmd:
        return casos.open_incident(cmd, **args)


def _timeline(store: SQLiteStore, incident: dict[str, Any]) -> list[dict[str, Any]]:
    return linea.entries(store, incident["id"])


def test_open_numbers_cases_per_year_and_records_everything(inv: SQLiteStore) -> None:
    a = _open(inv, assets=["srv-correo"], occurred_at="2026-11-30 22:10", tz="America/Lima")
    b = _open(inv, title="Otro")
    year = a["created_at"][:4]
    assert (a["number"], b["number"]) == (f"INC-{year}-0001", f"INC-{year}-0002")
    assert len(a["id"]) == 26 and a["id"] != b["id"]
    assert a["status"] == "nuevo" and a["cnsd_class"] and a["tlp"] == "AMBER"
    assert a["sites"] == ["lima"]  # the asset's site joins the case
    assert (a["occurred_at"], a["occurred_tz"]) == ("2026-12-01T03:10:00.000000Z", "America/Lima")
    created = _timeline(inv, a)[0]
    assert created["kind"] == "creado" and created["fields"]["detected_at"] == a["detected_at"]
    events = list(inv.search_events(dataset="csirt.incidente"))
    assert [e["event"]["action"] for e in events] == ["abrir", "abrir"]
    changes = [c for c in inv.changes() if c.collection in (INCIDENT, TIMELINE)]
    first = {c.request_id for c in changes if a["id"] in c.key}
    assert len(first) == 1 and next(iter(first)) == events[0]["csirt"]["request_id"]
    assert {c.actor for c in changes} == {"ana"}  # the command's analyst signs its changes


def test_times_given_as_datetimes_keep_their_zone(inv: SQLiteStore) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    lima = ZoneInfo("America/Lima")
    doc = _open(inv, occurred_at=datetime(2026, 11, 30, 22, 0, tzinfo=lima),
                detected_at=datetime(2026, 11, 30, 23, 30, tzinfo=lima))  # fmt: skip
    assert (doc["occurred_at"], doc["occurred_tz"]) == (
        "2026-12-01T03:00:00.000000Z",
        "America/Lima",
    )
    assert (doc["detected_at"], doc["detected_tz"]) == (
        "2026-12-01T04:30:00.000000Z",
        "America/Lima",
    )
    with pytest.raises(UsageError, match="falta la zona horaria"):
        _open(inv, occurred_at=datetime(2026, 11, 30, 22, 0))  # noqa: DTZ001
    with pytest.raises(UsageError, match="es posterior a la detección"):
        _open(inv, occurred_at="2026-11-30 23:00", detected_at="2026-11-30 22:00")


@pytest.mark.parametrize(
    ("severity", "assets", "expected"),
    [(2, [], 2), (2, ["srv-correo"], 3), (2, ["pc-123"], 1), (4, ["srv-correo"], 4),
     (1, ["pc-123"], 1), (3, ["pc-123", "sw-1"], 3), (3, ["pc-123", "srv-correo"], 4)],
)  # fmt: skip
def test_priority_is_severity_moved_by_the_most_critical_asset(
    inv: SQLiteStore, severity: int, assets: list[str], expected: int
) -> None:
    assert _open(inv, severity=severity, assets=assets)["priority"] == expected


@pytest.mark.parametrize(
    ("kw", "says"),
    [({"sites": ["cusco"]}, "la sede «cusco» no está en el inventario"),
     ({"assets": ["srv-nada"]}, "el activo «srv-nada» no está en el inventario"),
     ({"severity": 5}, "no es una severidad"),
     ({"rsit_type": "spam"}, "Tipo RSIT de la clase fraud"),
     ({"tlp": "naranja"}, "TLP"),
     ({"title": "  "}, "el título: no puede quedar vacío"),
     ({"occurred_at": "2026-13-01"}, "no es una fecha y hora"),
     ({"occurred_at": "2999-01-01T00:00Z"}, "es posterior a ahora")],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(
    inv: SQLiteStore, kw: dict[str, Any], says: str
) -> None:
    before = len(list(inv.changes()))
    with pytest.raises(UsageError, match=says.replace("(", r"\(")):
        _open(inv, **kw)
    assert len(list(inv.changes())) == before
    assert list(inv.search_events(dataset="csirt.incidente")) == []
    assert _open(inv)["number"].endswith("-0001")  # the counter did not move either


def test_load_by_number_or_id(inv: SQLiteStore) -> None:
    doc = _open(inv)
    assert casos.load_incident(inv, doc["number"])["id"] == doc["id"]
    assert casos.load_incident(inv, doc["number"].lower().replace("0001", "1"))["id"] == doc["id"]
    assert casos.load_incident(inv, doc["id"].lower())["number"] == doc["number"]
    with pytest.raises(casos.IncidentNotFound, match="no existe el incidente INC-2020-0009"):
        casos.load_incident(inv, "INC-2020-0009")
    with pytest.raises(UsageError, match="no es un número de incidente"):
        casos.load_incident(inv, "incidente uno")


def _move(store: SQLiteStore, doc: dict[str, Any], to: str, **kw: Any) -> dict[str, Any]:
    with command(store, "ana") as cmd:
        return casos.change_status(cmd, doc, to, **kw)


CLOSE = {"determination": "successful-attempt", "disposition": "incident:confirmed",
         "impact": "con_impacto", "lessons": "Filtrar adjuntos .iso en la pasarela"}  # fmt: skip


def test_a_case_walks_every_phase_and_each_move_is_a_timeline_entry(inv: SQLiteStore) -> None:
    doc = _open(inv)
    walk = ["analisis", "contencion", "analisis", "contencion", "erradicacion", "recuperacion",
            "post_incidente"]  # fmt: skip
    for to in walk:
        doc = _move(inv, doc, to)
    doc = _move(inv, doc, "cerrado", **CLOSE)
    assert doc["status"] == "cerrado" and doc["closed_at"] and doc["contained_at"]
    phases = [(e["from"], e["to"]) for e in _timeline(inv, doc) if e["kind"] == "fase"]
    assert [t for _, t in phases] == [*walk, "cerrado"]
    assert phases[0] == ("nuevo", "analisis")
    assert doc["acknowledged_at"] == _timeline(inv, doc)[1]["ts"]
    doc = _move(inv, doc, "reabierto", reason="Volvió a aparecer el remitente")
    assert doc["closed_at"] is None
    closing, reopening = [e for e in _timeline(inv, doc) if e["kind"] == "fase"][-2:]
    assert closing["fields"] == CLOSE
    assert reopening["fields"]["reason"] == "Volvió a aparecer el remitente"
    doc = _move(inv, doc, "análisis")  # the Spanish label works too
    assert doc["status"] == "analisis"
    actions = [e["event"]["action"] for e in inv.search_events(dataset="csirt.incidente")]
    assert actions.count("estado") == len(walk) + 3


def _counts(store: SQLiteStore) -> tuple[int, int]:
    return len(list(store.changes())), len(list(store.search_events()))


def test_a_forbidden_move_names_from_to_and_the_allowed_ones(inv: SQLiteStore) -> None:
    doc = _open(inv)
    before = _counts(inv)
    with pytest.raises(estados.TransitionError) as e:
        _move(inv, doc, "cerrado", **CLOSE)
    assert e.value.message == (
        "no se puede pasar de «nuevo» a «cerrado»; desde «nuevo» se puede pasar a: análisis, "
        "descartado"
    )
    assert _counts(inv) == before
    assert casos.load_incident(inv, doc["number"]) == doc
    with pytest.raises(UsageError, match="no es un estado de incidente"):
        _move(inv, doc, "resuelto")
    with pytest.raises(estados.TransitionError, match="ya está en «nuevo»; desde ahí se puede"):
        _move(inv, doc, "nuevo")


def _to(store: SQLiteStore, doc: dict[str, Any], *states: str) -> dict[str, Any]:
    for s in states:
        doc = _move(store, doc, s)
    return doc


@pytest.mark.parametrize("missing", list(CLOSE))
def test_closing_needs_every_closing_field(inv: SQLiteStore, missing: str) -> None:
    doc = _to(inv, _open(inv), "analisis", "contencion", "erradicacion", "recuperacion",
              "post_incidente")  # fmt: skip
    before = _counts(inv)
    with pytest.raises(estados.TransitionError, match="para cerrar el incidente falta"):
        _move(inv, doc, "cerrado", **{k: v for k, v in CLOSE.items() if k != missing})
    assert _counts(inv) == before
    assert _move(inv, doc, "cerrado", **CLOSE)["status"] == "cerrado"


def test_closing_checks_the_vocabularies(inv: SQLiteStore) -> None:
    doc = _to(inv, _open(inv), "analisis", "contencion", "erradicacion", "recuperacion",
              "post_incidente")  # fmt: skip
    with pytest.raises(UsageError, match="Determinación"):
        _move(inv, doc, "cerrado", **(CLOSE | {"determination": "probable"}))
    with pytest.raises(UsageError, match="Disposición"):
        _move(inv, doc, "cerrado", **(CLOSE | {"disposition": "confirmado"}))


def _countermeasure(store: SQLiteStore, doc: dict[str, Any], status: str, expires: str) -> str:
    from csirt.records import new_ulid

    cm_id = new_ulid()
    with command(store, "ana") as cmd:
        cmd.put(COUNTERMEASURE, {"id": cm_id, "incident_id": doc["id"], "kind": "bloquear_ip",
                                 "status": status, "expires_at": expires})  # fmt: skip
    return cm_id


def test_closing_is_refused_while_a_countermeasure_is_active_past_its_expiry(
    inv: SQLiteStore,
) -> None:
    doc = _to(inv, _open(inv), "analisis", "contencion", "erradicacion", "recuperacion",
              "post_incidente")  # fmt: skip
    _countermeasure(inv, doc, "activa", "2099-01-01T00:00:00.000000Z")  # not yet due: fine
    late = _countermeasure(inv, doc, "activa", "2020-01-01T00:00:00.000000Z")
    retiring = _countermeasure(inv, doc, "pendiente_retiro", "2020-01-01T00:00:00.000000Z")
    _countermeasure(inv, doc, "retirada", "2020-01-01T00:00:00.000000Z")
    with pytest.raises(estados.TransitionError, match=f"pasada su expiración.*{late}") as e:
        _move(inv, doc, "cerrado", **CLOSE)
    assert retiring in e.value.message
    for cm_id in (late, retiring):
        with command(inv) as cmd:
            cm = cmd.get(COUNTERMEASURE, (cm_id,))
            assert cm is not None
            cmd.put(COUNTERMEASURE, cm | {"status": "retirada"})
    assert _move(inv, doc, "cerrado", **CLOSE)["status"] == "cerrado"


@pytest.mark.parametrize("status", ["pendiente", "pendiente_retiro"])
def test_containment_ends_only_with_every_countermeasure_settled(
    inv: SQLiteStore, status: str
) -> None:
    doc = _to(inv, _open(inv), "analisis", "contencion")
    cm = _countermeasure(inv, doc, status, "2099-01-01T00:00:00.000000Z")
    _countermeasure(inv, doc, "rechazada", "2099-01-01T00:00:00.000000Z")
    for to in ("erradicacion", "descartado"):
        with pytest.raises(estados.TransitionError, match=f"activa, rechazada o retirada.*{cm}"):
            _move(inv, doc, to, disposition="duplicate")
    assert _move(inv, doc, "analisis")["status"] == "analisis"  # back to analysis: allowed


def test_a_proposed_countermeasure_is_decided_before_closing_or_discarding(
    inv: SQLiteStore,
) -> None:
    doc = _to(inv, _open(inv), "analisis")
    cm = _countermeasure(inv, doc, "pendiente", "2099-01-01T00:00:00.000000Z")
    with pytest.raises(estados.TransitionError, match=f"sin decidir.*{cm}"):
        _move(inv, doc, "descartado", disposition="duplicate")
    with command(inv) as cmd:
        stored = cmd.get(COUNTERMEASURE, (cm,))
        assert stored is not None
        cmd.put(COUNTERMEASURE, stored | {"status": "rechazada"})
    assert _move(inv, doc, "descartado", disposition="duplicate")["status"] == "descartado"


def test_reopening_needs_a_reason_and_discarding_a_disposition(inv: SQLiteStore) -> None:
    doc = _to(inv, _open(inv), "analisis", "contencion", "erradicacion", "recuperacion",
              "post_incidente")  # fmt: skip
    doc = _move(inv, doc, "cerrado", **CLOSE)
    with pytest.raises(estados.TransitionError, match="indique el motivo"):
        _move(inv, doc, "reabierto", reason="  ")
    with pytest.raises(estados.TransitionError, match="se puede pasar a: reabierto"):
        _move(inv, doc, "descartado", disposition="duplicate")
    other = _open(inv)
    with pytest.raises(estados.TransitionError, match="indique la disposición"):
        _move(inv, other, "descartado")
    other = _move(inv, other, "descartado", disposition="not-an-incident:faulty-indicator",
                  reason="El indicador era un falso positivo")  # fmt: skip
    assert other["status"] == "descartado" and other["closed_at"]
    with pytest.raises(estados.TransitionError, match="ninguno"):
        _move(inv, other, "analisis")


def test_assign_and_edit(inv: SQLiteStore) -> None:
    doc = _open(inv)
    with command(inv, "ana") as cmd:
        doc = casos.assign(cmd, doc, "lquispe")
    assert doc["assignee"] == "lquispe" and doc["acknowledged_at"]
    with command(inv, "ana") as cmd:
        doc = casos.update_incident(cmd, doc, severity="alta", assets=["srv-correo"],
                                    personal_data={"kinds": ["correo"], "people": 40})  # fmt: skip
    assert (doc["severity"], doc["priority"], doc["sites"]) == (3, 4, ["lima"])
    assert doc["personal_data"] == {"affected": True, "kinds": ["correo"], "people": 40}
    kinds = [e["kind"] for e in _timeline(inv, doc)]
    assert kinds == ["creado", "asignado", "nota"]


def test_a_case_given_to_an_analyst_as_it_opens_is_acknowledged(inv: SQLiteStore) -> None:
    doc = _open(inv, assignee="lquispe")
    assert doc["acknowledged_at"] == doc["created_at"]
    assert [e["kind"] for e in _timeline(inv, doc)] == ["creado", "asignado"]


def test_a_case_from_an_alert_lists_it(inv: SQLiteStore) -> None:
    alert = {"id": "01JALERTA0000000000000000A", "source": "registros", "title": "x"}
    doc = _open(inv, source_alert=alert)
    assert doc["alerts"] == [alert["id"]]
    assert _timeline(inv, doc)[0]["fields"]["source_alert"] == alert["id"]
    assert _open(inv, source_alert=alert["id"])["alerts"] == [alert["id"]]


def test_shell_and_html_in_a_title_are_data(inv: SQLiteStore) -> None:
    title = "$(reboot); rm -rf / <script>alert(1)</script>"
    doc = _open(inv, title=title, description="`id` && curl x|sh")
    stored = casos.load_incident(inv, doc["number"])
    assert stored["title"] == title and stored["description"] == "`id` && curl x|sh"


def test_reopening_clears_the_verdict_and_keeps_it_in_the_entry(inv: SQLiteStore) -> None:
    from csirt import metricas

    doc = _to(inv, _open(inv), "analisis", "contencion", "erradicacion", "recuperacion",
              "post_incidente")  # fmt: skip
    doc = _move(inv, doc, "cerrado", **CLOSE)
    closed_at = doc["closed_at"]
    doc = _move(inv, doc, "reabierto", reason="Volvió a aparecer el remitente")
    for name in ("determination", "disposition", "impact", "closed_at", "resolved_at"):
        assert doc[name] is None, name
    assert doc["lessons"] == CLOSE["lessons"]
    reopening = [e for e in _timeline(inv, doc) if e["kind"] == "fase"][-1]
    previous = reopening["fields"]["previous"]
    assert previous["disposition"] == "incident:confirmed"
    assert previous["determination"] == "successful-attempt"
    assert previous["impact"] == "con_impacto" and previous["closed_at"] == closed_at
    doc = _move(inv, doc, "analisis")
    assert metricas.compute(inv).rows[0]["ttr_count"] == 0  # reopened: not resolved now
    # discarding it now needs a disposition given now, not the one of the old closing
    with pytest.raises(estados.TransitionError, match="indique la disposición"):
        _move(inv, doc, "descartado")


def test_discarding_needs_the_disposition_in_the_same_order(inv: SQLiteStore) -> None:
    doc = _open(inv)
    with command(inv, "ana") as cmd:  # a disposition left on the case from elsewhere
        cmd.put(INCIDENT, casos.load_incident(cmd, doc["number"]) | {"disposition": "duplicate"})
    with pytest.raises(estados.TransitionError, match="indique la disposición"):
        _move(inv, doc, "descartado")
    assert _move(inv, doc, "descartado", disposition="duplicate")["status"] == "descartado"
    result = metricas_of(inv)
    assert result.cases == 0 and result.discarded == 1


def metricas_of(store: SQLiteStore) -> Any:
    from csirt import metricas

    return metricas.compute(store)
