"""The case report (csirt.informe) from a real store: content, escaping, self-containment."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from csirt import informe
from csirt.casos import IncidentNotFound
from pukara.store import SQLiteStore
from tests.unit.csirt_informes_case import EVIL, SHA, write_case

NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)


@pytest.fixture
def page(store: SQLiteStore) -> str:
    write_case(store)
    return informe.html(informe.build(store, "inc-2026-0007", now=NOW))


def test_titles_and_values_are_escaped_and_nothing_runs(page: str) -> None:
    assert EVIL not in page and "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; $(reboot)" in page
    assert "; rm -rf / en el asunto" in page
    assert "correo &lt;script&gt;" in page  # the evidence name


def test_self_contained_no_external_reference(page: str) -> None:
    assert not re.search(r"<(link|img|iframe|object|embed|script)\b", page, re.I)
    assert not re.search(r"\b(src|href|action)\s*=", page, re.I)
    assert "url(" not in page and "@import" not in page
    # the observable URL is there, as text only
    assert "http://login-cancilleria.test/$(reboot)" in page
    assert page.count("<style>") == 1 and "<svg" in page


def test_report_sections_and_figures(page: str) -> None:
    # TLP 2.0 banner, top and bottom, in FIRST's amber on black
    assert page.count('<span class="tlp-label" style="color: #FFC000">TLP:AMBER+STRICT') == 2
    assert "Solo dentro de la organización del destinatario." in page
    for section in ("Resumen", "Línea de tiempo", "Observables", "Tareas", "Contramedidas",
                    "Evidencia y cadena de custodia"):  # fmt: skip
        assert f"<h2>{section}" in page
    assert "3 (alta)" in page and "4 (crítica)" in page and "fraud / phishing" in page
    # times from the timeline: occurrence from the "creado" entry, not the incident's field
    assert "3 nov. 2026, 06:05 PET" in page and "3 nov. 2026, 08:45 PET" in page
    # the timeline keeps each entry's own zone beside UTC
    assert "3 nov. 2026, 15:35:00 +0100" in page and "Europe/Madrid" in page
    assert "3 nov. 2026, 12:25:00 -0500" in page
    assert "Cambio de fase: Contención → Erradicación" in page
    # metrics of this case: TTA 6 min (assigned), TTC 95 min, TTN 4 h, TTR 15 h, TTD 2 h 40
    for value in ("2 h 40 min", "6 min", "1 h 35 min", "4 h", "15 h"):
        assert f'<div class="v">{value}</div>' in page
    assert "INC-2026-0003" in page  # the shared observable
    assert "Embajada en Argentina" in page and "criticidad alta" in page
    assert "Sí: correo, credenciales — 2 personas" in page
    assert "Notificado al CNSD el 3 nov. 2026, 13:05 PET, 4.3 h después de la detección" in page
    assert "7c1e-activar" in page and "7c1f-retirar" in page and SHA[::-1] in page
    assert page.count("(--check, simulación)") == 1
    assert page.count(SHA) >= 4  # evidence, custody before/after, the activation run
    assert "48,213 bytes" in page and "En espera" in page


def test_phase_strip_spans_creation_to_closure(store: SQLiteStore) -> None:
    write_case(store)
    data = informe.build(store, "INC-2026-0007", now=NOW)
    phases = data["phases"]
    assert [p["phase"] for p in phases] == [
        "nuevo", "analisis", "contencion", "erradicacion", "recuperacion", "post_incidente"]  # fmt: skip
    assert phases[0]["x"] == 0 and round(sum(p["width"] for p in phases), 1) == 100
    same = informe.build(store, data["id"], now=NOW)
    assert same["number"] == "INC-2026-0007"


def test_open_case_strip_runs_to_now_and_notification_is_pending(store: SQLiteStore) -> None:
    write_case(store, closed=False, notified=False)
    data = informe.build(store, "INC-2026-0007", now=NOW)
    assert data["phases"][-1]["phase"] == "erradicacion"
    assert (
        data["phases"][-1]["duration"] == "6 d 20 h"
    )  # from 15:40 UTC on the 3rd to noon on the 10th
    assert data["cnsd"].startswith("PLAZO VENCIDO: el plazo de 24 h desde la detección venció")
    assert data["times"][4]["value"] == ""  # no TTR yet


def test_unknown_incident_is_a_spanish_usage_error(store: SQLiteStore) -> None:
    with pytest.raises(IncidentNotFound, match="no existe el incidente INC-2026-0099"):
        informe.build(store, "INC-2026-0099")


@pytest.mark.parametrize(
    ("name", "text"),
    [("America/Lima", "10 mar. 2026, 07:00 PET"), ("-05:00", "10 mar. 2026, 07:00 -0500"),
     ("+0530", "10 mar. 2026, 17:30 +0530"), ("UTC-3", "10 mar. 2026, 09:00 -0300"),
     ("no/such", "10 mar. 2026, 12:00 UTC"), ("", "10 mar. 2026, 12:00 UTC")],
)  # fmt: skip
def test_zones(name: str, text: str) -> None:
    assert informe.moment("2026-03-10T12:00:00Z", name) == text


def test_reopened_case_strip_keeps_the_phases_after_reopening(store: SQLiteStore) -> None:
    from csirt import records
    from tests.unit.csirt_informes_case import ts

    incident = write_case(store)
    with records.command(store, "ana") as cmd:
        for minutes, a, b in ((1000, "cerrado", "reabierto"), (1100, "reabierto", "analisis")):
            cmd.put(records.TIMELINE, {"incident_id": incident["id"], "id": records.new_ulid(),
                                       "ts": ts(minutes), "tz": "UTC", "kind": "fase",
                                       "message": "", "from": a, "to": b, "fields": {}})  # fmt: skip
    phases = informe.build(store, "INC-2026-0007", now=NOW)["phases"]
    assert [p["phase"] for p in phases][-3:] == ["post_incidente", "reabierto", "analisis"]
    assert phases[-1]["x"] + phases[-1]["width"] == pytest.approx(100)


def test_phase_strip_of_a_case_younger_than_a_second_fills_the_bar() -> None:
    entries = [
        {"kind": "creado", "ts": "2026-12-01T17:09:32.100000Z"},
        {"kind": "fase", "ts": "2026-12-01T17:09:32.500000Z", "from": "nuevo", "to": "analisis"},
    ]
    end = datetime(2026, 12, 1, 17, 9, 32, 900000, tzinfo=UTC)
    phases = informe.phase_strip(entries, end)
    assert [p["width"] for p in phases] == [50, 50]
    assert informe.phase_strip(entries[:1], datetime(2026, 12, 1, 17, 9, 32, 100000, tzinfo=UTC))
