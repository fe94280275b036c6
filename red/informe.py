"""The compliance report: every chosen device against its golden config, plus offline checks.

``build`` takes the configurations (path in the backup repository or a folder -> text) and
the devices to check; a device without a configuration, or whose golden config cannot be
rendered, is that device's result and the others go on. ``rows``/``lines``/``csv_rows`` feed
the table and CSV, ``to_json`` the JSON, ``html`` a self-contained Spanish page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import jinja2

from pukara.errors import PukaraError
from pukara.events import format_timestamp
from pukara.formats import datetime_text, number
from pukara.store import Store
from red import cumplimiento, intencion, verificaciones
from red.cumplimiento import DeviceCompliance, Rules
from red.verificaciones import Finding

COMPLIANT, NON_COMPLIANT, NO_BACKUP, ERROR = "compliant", "non_compliant", "no_backup", "error"
STATUS = {
    COMPLIANT: "cumple",
    NON_COMPLIANT: "no cumple",
    NO_BACKUP: "sin respaldo",
    ERROR: "error",
}
CHECKS = {
    "peering": "vecindad BGP",
    "undefined-reference": "referencia no definida",
    "duplicate-address": "dirección duplicada",
}
CHANGE = {"missing": "falta", "extra": "sobra"}
RULE_KINDS = {"ordered": "con orden", "unordered": "sin orden", "regex": "expresión regular"}


class Checked(intencion.Device, Protocol):
    """What the report needs of a device: the rendering fields and its repository path."""

    @property
    def path(self) -> str: ...


@dataclass(frozen=True, slots=True)
class DeviceReport:
    device: str
    site: str
    path: str
    status: str
    reason: str = ""
    result: DeviceCompliance | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "site": self.site,
            "path": self.path,
            "status": self.status,
            "reason": self.reason,
            "features": [f.to_dict() for f in self.result.features] if self.result else [],
        }


@dataclass(frozen=True, slots=True)
class Report:
    generated: datetime
    source: str
    devices: tuple[DeviceReport, ...]
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> tuple[DeviceReport, ...]:
        """Devices that could not be checked (no backup, or an error): exit code 3."""
        return tuple(d for d in self.devices if d.status in (NO_BACKUP, ERROR))

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUS, 0)
        for d in self.devices:
            out[d.status] += 1
        return out | {"findings": len(self.findings)}


def config_for(device: Checked, configs: Mapping[str, str]) -> str | None:
    """The configuration of ``device``: at its repository path, or a file named after it."""
    if device.path in configs:
        return configs[device.path]
    by_name = [k for k in configs if verificaciones.device_name(k) == device.name]
    return configs[by_name[0]] if len(by_name) == 1 else None


def _one(device: Checked, configs: Mapping[str, str], store: Store, rules: Rules) -> DeviceReport:
    def result(
        status: str, reason: str = "", found: DeviceCompliance | None = None
    ) -> DeviceReport:
        return DeviceReport(device.name, device.site, device.path, status, reason, found)

    running = config_for(device, configs)
    if running is None:
        return result(NO_BACKUP, "no hay respaldo de su configuración")
    try:
        found = cumplimiento.check(device.name, running, intencion.render(device, store), rules)
    except PukaraError as e:
        return result(ERROR, str(e))
    return result(COMPLIANT if found.compliant else NON_COMPLIANT, found=found)


def build(
    devices: Sequence[Checked],
    configs: Mapping[str, str],
    store: Store,
    *,
    source: str,
    when: datetime,
    rules: Rules | None = None,
    only_chosen: bool = False,
) -> Report:
    """Compliance of ``devices`` and the offline checks over every configuration in
    ``configs`` (only the findings that involve a chosen device when ``only_chosen``)."""
    chosen_rules = rules or cumplimiento.load_rules()
    reports = tuple(_one(d, configs, store, chosen_rules) for d in devices)
    findings = verificaciones.offline_checks(configs)
    if only_chosen:
        names = {d.name for d in devices}
        findings = [f for f in findings if f.device in names or f.peer in names]
    return Report(when, source, reports, tuple(findings))


# -- table and CSV ---------------------------------------------------------------------------
DEVICE_COLUMNS = {
    "device": "Equipo",
    "site": "Sede",
    "status": "Estado",
    "failing": "Características que no cumplen",
    "missing": "Faltan",
    "extra": "Sobran",
    "reason": "Motivo",
}
LINE_COLUMNS = {"device": "Equipo", "feature": "Característica", "change": "", "line": "Línea"}
FINDING_COLUMNS = {
    "check": "Verificación",
    "device": "Equipo",
    "line_no": "Línea n.º",
    "line": "Línea",
    "message": "Qué no concuerda",
}
CSV_COLUMNS = {
    "record": "Registro",
    "device": "Equipo",
    "site": "Sede",
    "status": "Estado",
    "feature": "Característica",
    "change": "Cambio",
    "check": "Verificación",
    "line_no": "Línea n.º",
    "line": "Línea",
    "message": "Mensaje",
}
SHOWN: dict[str, Callable[[Any], Any]] = {
    "status": lambda s: STATUS.get(s, s),
    "change": lambda c: {"missing": "−", "extra": "+"}.get(c, c),
    "check": lambda c: CHECKS.get(c, c),
    "missing": lambda n: number(n),
    "extra": lambda n: number(n),
    "line_no": lambda n: number(n) if n else "",
}


def rows(report: Report) -> list[dict[str, Any]]:
    out = []
    for d in report.devices:
        features = d.result.features if d.result else ()
        out.append(
            {
                "device": d.device,
                "site": d.site,
                "status": d.status,
                "failing": ", ".join(f.feature for f in features if not f.compliant),
                "missing": sum(len(f.missing) for f in features),
                "extra": sum(len(f.extra) for f in features),
                "reason": d.reason,
            }
        )
    return out


def lines(report: Report) -> list[dict[str, Any]]:
    out = []
    for d in report.devices:
        for f in d.result.features if d.result else ():
            for change, items in (("missing", f.missing), ("extra", f.extra)):
                out += [
                    {"device": d.device, "site": d.site, "feature": f.feature, "change": change,
                     "line": x.display()}
                    for x in items
                ]  # fmt: skip
    return out


def finding_rows(report: Report) -> list[dict[str, Any]]:
    return [
        {"check": f.kind, "device": f.device, "line_no": f.line, "line": f.text,
         "message": f.message, "peer": f.peer}
        for f in report.findings
    ]  # fmt: skip


def csv_rows(report: Report) -> list[dict[str, Any]]:
    """One flat table: a row per device, per missing or extra line, per finding."""
    status = {d.device: d.status for d in report.devices}
    out: list[dict[str, Any]] = [
        {"record": "equipo", "device": r["device"], "site": r["site"], "status": r["status"],
         "feature": r["failing"], "message": r["reason"]}
        for r in rows(report)
    ]  # fmt: skip
    out += [{"record": "linea", "status": status[r["device"]], **r} for r in lines(report)]
    out += [{"record": "hallazgo", **r} for r in finding_rows(report)]
    return out


def to_json(report: Report) -> dict[str, Any]:
    return {
        "generated": format_timestamp(report.generated),
        "source": report.source,
        "summary": report.counts(),
        "devices": [d.to_dict() for d in report.devices],
        "findings": [f.to_dict() for f in report.findings],
    }


# -- HTML ------------------------------------------------------------------------------------
@cache
def environment() -> jinja2.Environment:
    """red's HTML templates: autoescape on, an undefined name is an error."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("red", "plantillas_html"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = number
    return env


def html(report: Report, zone: Any) -> str:
    return (
        environment()
        .get_template("cumplimiento.html.j2")
        .render(
            generated=datetime_text(report.generated, zone),
            source=report.source,
            counts=report.counts(),
            devices=report.devices,
            findings=report.findings,
            status=STATUS,
            checks=CHECKS,
            change=CHANGE,
            rule_kinds=RULE_KINDS,
            features=cumplimiento.FEATURES,
        )
    )
