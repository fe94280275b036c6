"""Task templates per incident type, shipped as data (``csirt/plantillas/<name>.yml``).

A template names the RSIT types that select it (each RSIT type selects one template at most)
and lists its tasks: title, description, NIST SP 800-61 phase and the hours until it is due,
either one figure or one per severity (1 baja .. 4 crítica). Opening a case applies the
template of its RSIT type (:func:`for_incident`).

File format::

    name: phishing                 # the file's own name
    title: Phishing y suplantación
    description: ...
    rsit: [fraud/phishing, information-gathering/social-engineering]
    tasks:
      - title: Identificar destinatarios
        phase: deteccion_analisis
        due_hours: {1: 72, 2: 24, 3: 8, 4: 4}   # or a single number; optional
        description: ...
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pukara.errors import UsageError
from pukara.text import clean_line

PHASES = ("preparacion", "deteccion_analisis", "contencion_erradicacion_recuperacion",
          "post_incidente")  # fmt: skip
SEVERITIES = (1, 2, 3, 4)
DEFAULT_SEVERITY = 2  # the hours a task gets when the case's severity is not given
_NAME = re.compile(r"[a-z][a-z0-9_]{1,40}")
_TEMPLATE_KEYS = {"name", "title", "description", "rsit", "tasks"}
_TASK_KEYS = {"title", "phase", "due_hours", "description"}


class TemplateError(UsageError):
    """A template that does not exist or is malformed (Spanish)."""


@dataclass(frozen=True)
class TaskSpec:
    title: str
    phase: str
    due_hours: int | None  # for the given (or the default) severity
    description: str = ""
    due_by_severity: Mapping[int, int] = field(default_factory=dict)

    def hours_for(self, severity: int) -> int | None:
        """Hours until due for a case of ``severity`` (1-4)."""
        return self.due_by_severity.get(severity, self.due_hours)


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    tasks: list[TaskSpec]
    description: str = ""
    rsit: tuple[tuple[str, str], ...] = ()

    def for_severity(self, severity: int) -> Template:
        """This template with every task's ``due_hours`` set for ``severity``."""
        tasks = [
            TaskSpec(t.title, t.phase, t.hours_for(severity), t.description, t.due_by_severity)
            for t in self.tasks
        ]
        return Template(self.name, self.title, tasks, self.description, self.rsit)


def names() -> list[str]:
    """The names of the shipped templates, sorted."""
    folder = resources.files("csirt") / "plantillas"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".yml"))


@functools.cache
def load(name: str) -> Template:
    """The shipped template ``name``, checked (:class:`TemplateError` otherwise)."""
    import yaml

    if not _NAME.fullmatch(name) or name not in names():
        raise TemplateError(
            f"no existe la plantilla de tareas «{clean_line(name)[:40]}»; "
            f"plantillas: {', '.join(names())}"
        )
    text = (resources.files("csirt") / "plantillas" / f"{name}.yml").read_text("utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TemplateError(f"plantilla {name}: YAML mal formado ({e})") from None
    return parse(name, data)


def parse(name: str, data: Any) -> Template:
    """A template from its YAML data; every defect is a :class:`TemplateError`."""
    if not isinstance(data, dict):
        raise _bad(name, "no es un mapa de claves")
    extra = set(data) - _TEMPLATE_KEYS
    if extra:
        raise _bad(name, f"claves desconocidas: {', '.join(sorted(map(str, extra)))}")
    if data.get("name") != name:
        raise _bad(name, f"«name» debe ser {name} (el nombre del archivo)")
    title = _text(name, data, "title", required=True)
    rsit = _rsit(name, data.get("rsit"))
    tasks_data = data.get("tasks")
    if not isinstance(tasks_data, list) or not tasks_data:
        raise _bad(name, "«tasks» debe ser una lista no vacía")
    tasks = [_task(name, i, t) for i, t in enumerate(tasks_data, start=1)]
    titles = [t.title for t in tasks]
    if len(set(titles)) != len(titles):
        raise _bad(name, "hay tareas con el mismo título")
    return Template(name, title, tasks, _text(name, data, "description"), rsit)


def _bad(name: str, why: str) -> TemplateError:
    return TemplateError(f"plantilla {name}: {why}")


def _text(name: str, data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _bad(name, f"«{key}» debe ser texto")
    if required and not value.strip():
        raise _bad(name, f"falta «{key}»")
    if len(value) > (200 if key == "title" else 2000):
        raise _bad(name, f"«{key}» es demasiado largo")
    return value.strip()


def _rsit(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    from csirt.taxonomia import check_rsit

    if not isinstance(value, list) or not value:
        raise _bad(name, "«rsit» debe ser una lista de clase/tipo RSIT")
    out = []
    for item in value:
        if not isinstance(item, str) or item.count("/") != 1:
            raise _bad(name, f"«{clean_line(str(item))}» no tiene la forma clase/tipo")
        cls, typ = item.split("/")
        try:
            out.append(check_rsit(cls, typ))
        except UsageError as e:
            raise _bad(name, e.message) from None
    return tuple(out)


def _task(name: str, n: int, data: Any) -> TaskSpec:
    where = f"{name}, tarea {n}"
    if not isinstance(data, dict):
        raise _bad(where, "no es un mapa de claves")
    extra = set(data) - _TASK_KEYS
    if extra:
        raise _bad(where, f"claves desconocidas: {', '.join(sorted(map(str, extra)))}")
    title = _text(where, data, "title", required=True)
    phase = data.get("phase")
    if phase not in PHASES:
        raise _bad(where, f"fase «{clean_line(str(phase))}» no válida; fases: {', '.join(PHASES)}")
    hours = data.get("due_hours")
    by_severity: dict[int, int] = {}
    if hours is None:
        due = None
    elif isinstance(hours, dict):
        if set(hours) != set(SEVERITIES) or not all(_hours_ok(h) for h in hours.values()):
            raise _bad(where, "«due_hours» por severidad necesita 1, 2, 3 y 4 con horas > 0")
        by_severity = {int(k): int(v) for k, v in hours.items()}
        ordered = [by_severity[s] for s in SEVERITIES]
        if ordered != sorted(ordered, reverse=True):
            raise _bad(where, "«due_hours»: una severidad mayor no puede tener más plazo")
        due = by_severity[DEFAULT_SEVERITY]
    elif _hours_ok(hours):
        due = int(hours)
    else:
        raise _bad(where, "«due_hours» debe ser un número de horas > 0 o uno por severidad")
    return TaskSpec(title, phase, due, _text(where, data, "description"), by_severity)


def _hours_ok(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 24 * 365


@functools.cache
def _by_rsit() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for name in names():
        for pair in load(name).rsit:
            if pair in table:
                raise _bad(name, f"el tipo RSIT {pair[0]}/{pair[1]} ya lo toma {table[pair]}")
            table[pair] = name
    return table


def for_incident(rsit_class: str, rsit_type: str, severity: int | None = None) -> Template | None:
    """The template an incident of this RSIT (class, type) gets, or None.

    With ``severity``, each task's ``due_hours`` is the one for that severity; without it,
    the one for severity 2 (media).
    """
    from csirt.taxonomia import check_rsit

    name = _by_rsit().get(check_rsit(rsit_class, rsit_type))
    if name is None:
        return None
    template = load(name)
    return template if severity is None else template.for_severity(severity)
