"""Task templates shipped as data: every one linted, every RSIT type selects exactly one."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from csirt import plantillas
from csirt.plantillas import PHASES, TemplateError, for_incident, load, names, parse
from csirt.taxonomia import RSIT

REQUIRED = ("phishing", "malware", "ddos", "cuenta_comprometida", "fuga_datos")


def test_every_shipped_template_lints() -> None:
    shipped = names()
    assert set(REQUIRED) <= set(shipped)
    assert len(shipped) >= 12
    for name in shipped:
        template = load(name)  # raises TemplateError on any defect
        assert template.name == name and template.title and template.tasks
        assert template.rsit
        phases = {t.phase for t in template.tasks}
        assert phases <= set(PHASES)
        assert "post_incidente" in phases, f"{name}: sin lecciones aprendidas"
        assert phases & {"deteccion_analisis", "contencion_erradicacion_recuperacion"}
        for task in template.tasks:
            assert task.due_hours is None or task.due_hours > 0
            if task.due_by_severity:
                hours = [task.due_by_severity[s] for s in (1, 2, 3, 4)]
                assert hours == sorted(hours, reverse=True)


def test_every_rsit_type_selects_exactly_one_template() -> None:
    seen: dict[tuple[str, str], str] = {}
    for name in names():
        for pair in load(name).rsit:
            assert pair not in seen, f"{pair} en {seen.get(pair)} y {name}"
            seen[pair] = name
    assert set(seen) == {(c, t) for c, types in RSIT.items() for t in types}
    classes = {c for c, _ in seen}
    assert classes == set(RSIT)


def test_for_incident() -> None:
    t = for_incident("fraud", "phishing")
    assert t is not None and t.name == "phishing"
    ddos = for_incident("availability", "sabotage")
    assert ddos is not None and ddos.name == "ddos"
    acc = for_incident("INTRUSIONS", "privileged-account-compromise")
    assert acc is not None and acc.name == "cuenta_comprometida"
    leak = for_incident("information-content-security", "data-leak")
    assert leak is not None and leak.name == "fuga_datos"
    mal = for_incident("malicious-code", "infected-system")
    assert mal is not None and mal.name == "malware"


def test_due_hours_follow_the_severity() -> None:
    default = for_incident("fraud", "phishing")
    critical = for_incident("fraud", "phishing", severity=4)
    low = for_incident("fraud", "phishing", severity=1)
    assert default is not None and critical is not None and low is not None
    first = default.tasks[0]
    assert first.due_hours == first.due_by_severity[2]  # without severity: media
    assert critical.tasks[0].due_hours == 2 and low.tasks[0].due_hours == 24
    fixed = [t for t in default.tasks if not t.due_by_severity and t.due_hours]
    assert fixed and all(t.hours_for(4) == t.due_hours for t in fixed)


def test_for_incident_refuses_a_bad_rsit_pair() -> None:
    with pytest.raises(Exception, match="Tipo RSIT"):
        for_incident("fraud", "ddos")


def test_load_unknown_template() -> None:
    with pytest.raises(TemplateError, match="no existe la plantilla de tareas «nada»"):
        load("nada")
    with pytest.raises(TemplateError):
        load("../../etc/passwd")


GOOD = {
    "name": "x",
    "title": "X",
    "rsit": ["test/test"],
    "tasks": [{"title": "A", "phase": "post_incidente", "due_hours": 4}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "y"}, "debe ser x"),
        ({"color": "rojo"}, "claves desconocidas: color"),
        ({"title": ""}, "falta «title»"),
        ({"rsit": ["fraud/ddos"]}, "Tipo RSIT"),
        ({"rsit": ["phishing"]}, "clase/tipo"),
        ({"rsit": []}, "«rsit»"),
        ({"tasks": []}, "lista no vacía"),
        ({"tasks": [{"title": "A", "phase": "contencion"}]}, "fase «contencion» no válida"),
        ({"tasks": [{"title": "A", "phase": "post_incidente", "due_hours": 0}]}, "due_hours"),
        ({"tasks": [{"title": "A", "phase": "post_incidente", "due_hours": "4"}]}, "due_hours"),
        ({"tasks": [{"title": "A", "phase": "post_incidente", "due_hours": {1: 4, 2: 2}}]},
         "1, 2, 3 y 4"),
        ({"tasks": [{"title": "A", "phase": "post_incidente",
                     "due_hours": {1: 4, 2: 8, 3: 2, 4: 1}}]}, "más plazo"),
        ({"tasks": [{"title": "A", "phase": "post_incidente", "vence": 3}]}, "claves desconocidas"),
        ({"tasks": [{"title": "A", "phase": "post_incidente"}] * 2}, "mismo título"),
    ],
)  # fmt: skip
def test_parse_refuses_malformed_templates(change: dict[str, object], message: str) -> None:
    assert parse("x", GOOD).tasks[0].due_hours == 4
    with pytest.raises(TemplateError, match=message):
        parse("x", {**GOOD, **change})


def test_templates_are_package_data() -> None:
    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    globs = data["tool"]["setuptools"]["package-data"]["csirt"]
    folder = resources.files("csirt") / "plantillas"
    for item in folder.iterdir():
        if item.name.endswith(".yml"):
            assert any(fnmatch.fnmatch(f"plantillas/{item.name}", g) for g in globs)
    assert plantillas.__name__ == "csirt.plantillas"
