"""`ipv6 informe`: the evidence for the DS 081-2017-PCM transition plan.

The report follows the plan's sections: *diagnóstico* (network devices, servers, address plan
and public services with the NIST-style assigned / reachable / operational counts) and
*pruebas* (every check run and its result, with the evidence of each non-pass), then the plan
indicator "% of Internet services in dual stack" for the PEGE report. It reads stored runs
only (:mod:`ipv6.almacen`): the chosen run and, for the other kinds, the newest run finished
no later than it. :func:`build` gives raw, JSON-able data; the HTML formats every figure
through :mod:`pukara.formats`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from ipv6 import indicador
from ipv6.almacen import KIND_TEXT, KINDS, Run, latest_before, list_runs, load_run, named_run
from ipv6.modelo import Category, CheckResult, Status
from pukara.events import format_timestamp, parse_timestamp, utc_now

if TYPE_CHECKING:
    from pukara.store import Store

REPORT_TZ = "America/Lima"
STATUS_TEXT = {
    "pass": "cumple",
    "partial": "parcial",
    "warn": "advierte",
    "fail": "falla",
    "not-tested": "sin probar",
    "not-applicable": "no aplica",
}
STATUS_MARK = {  # the results matrix: a mark per cell, the full word in its title and legend
    "pass": "✓",
    "partial": "½",
    "warn": "!",
    "fail": "✗",
    "not-tested": "–",
    "not-applicable": "n/a",
}
STATUS_PLURAL = {
    "pass": "cumplen",
    "partial": "parciales",
    "warn": "advierten",
    "fail": "fallan",
    "not-tested": "sin probar",
    "not-applicable": "no aplican",
}
STATUS_ORDER = [s.value for s in Status]
# the report's order: the plan's diagnosis (devices, servers, address plan, public services)
SECTION_ORDER = ("equipos", "servidores", "plan", "dominios")
SUBJECT_TEXT = {"dominios": "Dominio", "servidores": "Servidor", "equipos": "Equipo",
                "plan": "Plan"}  # fmt: skip
SUBJECTS_TEXT = {"dominios": ("dominio revisado", "dominios revisados"),
                 "servidores": ("servidor revisado", "servidores revisados"),
                 "equipos": ("equipo revisado", "equipos revisados"),
                 "plan": ("plan revisado", "planes revisados")}  # fmt: skip
COMMAND_OF = {
    "dominios": "pukara ipv6 dominios",
    "servidores": "pukara ipv6 servidores",
    "equipos": "pukara ipv6 equipos",
    "plan": "pukara ipv6 plan verificar",
}
# evidence keys are data (English); the report names their words in Spanish
_WORDS = {
    "v4": "IPv4", "v6": "IPv6", "ip4": "IPv4", "ip6": "IPv6", "ipv6": "IPv6", "ipv4": "IPv4",
    "ip": "IP",
    "address": "dirección", "addresses": "direcciones", "port": "puerto", "ports": "puertos",
    "error": "error", "source": "fuente", "sources": "fuentes", "status": "estado",
    "size": "tamaño", "sizes": "tamaños", "connect": "conexión", "open": "abiertos",
    "route": "ruta", "routes": "rutas", "count": "cantidad", "neighbours": "vecinos",
    "forwarding": "reenvío", "link": "enlace", "other": "otras", "prefixes": "prefijos",
    "names": "nombres", "name": "nombre", "listeners": "escuchas", "missing": "faltan",
    "rules": "reglas", "table": "tabla", "output": "salida", "raw": "texto", "policy": "política",
    "enabled": "habilitadas", "ifindexes": "interfaces", "silent": "sin respuesta",
    "reached": "alcanzadas", "given": "indicadas", "hops": "saltos", "version": "versión",
    "protocols": "protocolos", "pairs": "pares", "unconfirmed": "sin confirmar",
    "without": "sin", "null": "nulo", "zones": "zonas", "only": "solo", "used": "usada",
    "fallback": "alternativa", "rc": "código", "grants": "permite", "interfaces": "interfaces",
    "kernel": "núcleo", "firewall": "cortafuegos", "global": "globales", "local": "local",
    "ok": "bien", "scan": "escaneo", "reason": "motivo", "expected": "esperado", "got": "obtenido",
    "host": "equipo", "hosts": "equipos", "mib": "MIB", "icmpv6": "ICMPv6", "disable": "desactivado",
    "disabled": "desactivado", "input": "entrada", "chain": "cadena", "chains": "cadenas",
    "family": "familia", "neighbour": "vecinos", "accepted": "aceptados", "domain": "dominio",
    "secure": "firmado", "distance": "distancia", "cipher": "cifrado", "cert": "certificado",
    "redirects": "redirecciones", "location": "destino", "body": "cuerpo", "hook": "gancho",
    "priority": "prioridad", "type": "tipo", "types": "tipos", "zone": "zona",
    "not": "no", "asked": "preguntado", "learned": "aprendidas", "findings": "hallazgos",
    "line": "línea", "lines": "líneas", "rule": "regla", "severity": "gravedad",
    "message": "mensaje", "prefix": "prefijo",
}  # fmt: skip
_UPPER = {"aaaa", "mx", "ns", "ptr", "spf", "url", "snmp", "ssh", "tls", "tcp", "udp", "dns", "acl"}
CSV_FIELDS = ["run_id", "kind", "subject", "check", "category", "status", "message",
              "evidence", "duration_ms"]  # fmt: skip


def _pick(store: Store, run_id: str | None) -> Run:
    if run_id is not None:
        return named_run(store, run_id)
    if list_runs(store, "dominios"):
        return load_run(store, kind="dominios")
    return load_run(store)


def _run_info(run: Run) -> dict[str, Any]:
    return {**run.summary(), "kind_text": KIND_TEXT.get(run.kind, run.kind),
            "subjects": len({r.subject for r in run.results if r.category is not Category.VANTAGE}),
            "nonzero": [(s, n) for s in STATUS_ORDER if (n := run.counts.get(s, 0))],
            "complete": run.complete, "stored": len(run.results),
            "counted": sum(run.counts.values())}  # fmt: skip


def _vantage(results: Sequence[CheckResult]) -> dict[str, Any] | None:
    """C1, the vantage's self-test: one line above the results, not a row of the matrix
    («cumple, alcanza 4 de 4 anclas»)."""
    from pukara.formats import number

    c1 = next((r for r in results if r.category is Category.VANTAGE), None)
    if c1 is None:
        return None
    anchors, reached = c1.evidence.get("anchors"), c1.evidence.get("reached")
    if isinstance(anchors, list) and isinstance(reached, Mapping):
        detail = f"alcanza {number(len(reached), 0)} de {number(len(anchors), 0)} anclas"
    else:
        detail = c1.message
    return {"check": c1.check, "status": c1.status.value, "message": c1.message,
            "text": f"{STATUS_TEXT[c1.status.value]}, {detail}"}  # fmt: skip


def _by_check(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """Per check: how many subjects got each status, and the subjects that did not pass."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r.check, {"check": r.check, "category": r.category.value,
                                        "counts": dict.fromkeys(STATUS_ORDER, 0),
                                        "failing": []})  # fmt: skip
        row["counts"][r.status.value] += 1
        if r.status in (Status.FAIL, Status.PARTIAL):
            row["failing"].append(r.subject)
    return [rows[k] for k in sorted(rows, key=_check_key)]


_PREFIX_ORDER = "CNWMDSP"  # vantage, name servers, web, mail, devices, servers, plan


def _check_key(check: str) -> tuple[int, int, str]:
    head, digits, tail = check[:1], "", check[1:]
    while tail[:1].isdigit():
        digits, tail = digits + tail[0], tail[1:]
    at = _PREFIX_ORDER.find(head)
    return at if at >= 0 else len(_PREFIX_ORDER), int(digits or 0), check


def _subjects(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """Per subject (domain, device, server): its statuses by check and its counts."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r.subject, {"subject": r.subject, "checks": {},
                                          "counts": dict.fromkeys(STATUS_ORDER, 0)})  # fmt: skip
        row["checks"][r.check] = r.status.value
        row["counts"][r.status.value] += 1
    return [rows[k] for k in sorted(rows)]


GROUP_SHOWN = 10  # subjects named in a grouped finding; the rest are «y N más»


def _findings(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """The fails, partials and warnings; the same finding (check, status, message and
    evidence) on many subjects is one row that lists them (``subjects``)."""
    keep = (Status.FAIL, Status.PARTIAL, Status.WARN)
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in results:
        if r.status not in keep:
            continue
        row = r.to_dict()
        row["evidence_text"] = json.dumps(row["evidence"], ensure_ascii=False, sort_keys=True)
        key = (row["check"], row["status"], row["message"], row["evidence_text"])
        groups.setdefault(key, {**row, "subjects": []})["subjects"].append(r.subject)
    rows = list(groups.values())
    for row in rows:
        subjects = sorted(row["subjects"])
        row["subject"], row["subjects"] = subjects[0], subjects
        more = max(len(subjects) - GROUP_SHOWN, 0)
        row["subjects_shown"], row["subjects_more"] = subjects[:GROUP_SHOWN], more
        row["subjects_text"] = ", ".join(subjects[:GROUP_SHOWN]) + (
            f" y {more} más" if more else ""
        )
    return sorted(rows, key=lambda d: (_check_key(d["check"]), d["subject"]))


def _section(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    results = list(run.results)
    rows = [
        r for r in results if r.category is not Category.VANTAGE
    ]  # C1 is a line above, not a row
    return {"run": _run_info(run), "vantage": _vantage(results), "checks": _by_check(rows),
            "subjects": _subjects(rows), "findings": _findings(results)}  # fmt: skip


def _services(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    states = indicador.services(run.results)
    counts = indicador.counts(states)
    share = indicador.indicator(states)
    tested = [s for s in states if s.tested]
    return {
        "counts": [c.to_dict() | {"kind_text": indicador.SERVICE_TEXT[c.kind]}
                   for c in counts.values()],
        "indicator": share,
        "operational": sum(s.operational for s in tested),
        "tested": len(tested),
        "not_tested": len(states) - len(tested),
        "run_id": run.id,
        "finished_at": run.finished_at,
    }  # fmt: skip


def build(store: Store, run_id: str | None = None) -> dict[str, Any]:
    """The report's data: raw values, JSON-able. With ``run_id``, that run and, of the other
    kinds, the newest not later than it (the report as it stood then); without, the newest
    run of each kind."""
    main = _pick(store, run_id)
    until = main.finished_at if run_id is not None else None
    runs: dict[str, Run | None] = {}
    for kind in KINDS:
        runs[kind] = main if main.kind == kind else latest_before(store, kind, until)
    domains = runs["dominios"]
    return {
        "generated_at": format_timestamp(utc_now()),
        "run": _run_info(main),
        "diagnostico": {
            "equipos": _section(runs["equipos"]),
            "servidores": _section(runs["servidores"]),
            "plan": _section(runs["plan"]),
            "servicios": _services(domains),
        },
        "pruebas": {kind: _section(runs[kind]) for kind in KINDS},
        "indicador": _services(domains),
    }


def _runs_in(data: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for section in data["pruebas"].values():
        if section is not None:
            yield section


def results_of(store: Store, data: Mapping[str, Any]) -> list[tuple[Run, CheckResult]]:
    """Every stored result of the runs the report covers, in report order."""
    out: list[tuple[Run, CheckResult]] = []
    for section in _runs_in(data):
        run = load_run(store, section["run"]["id"])
        out.extend((run, r) for r in run.results)
    return out


def csv_text(rows: Sequence[tuple[Run, CheckResult]]) -> str:
    from pukara.text import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for run, r in rows:
        d = r.to_dict()
        writer.writerow([csv_cell(str(v)) for v in (
            run.id, run.kind, d["subject"], d["check"], d["category"], d["status"],
            d["message"], json.dumps(d["evidence"], ensure_ascii=False, sort_keys=True),
            "" if d["duration_ms"] is None else d["duration_ms"])])  # fmt: skip
    return buf.getvalue()


def junit_text(rows: Sequence[tuple[Run, CheckResult]]) -> str:
    from ipv6.junit import Case, cases_junit

    cases = [Case(f"{run.kind} {r.subject} {r.check}", r.status.value, r.message)
             for run, r in rows]  # fmt: skip
    return cases_junit("pukara ipv6 informe", cases)


def _moment(value: Any, tz: tzinfo | str | None = REPORT_TZ) -> str:
    from zoneinfo import ZoneInfo

    from pukara.formats import datetime_text

    if not isinstance(value, str) or not value:
        return ""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return datetime_text(parse_timestamp(value), zone)


def check_titles() -> dict[str, str]:
    """What each check id tests, from the modules that name them."""
    from ipv6 import (
        dns_checks,
        equipos_reglas,
        mail_checks,
        plan_reglas,
        servidores_reglas,
        web_checks,
    )

    return {**equipos_reglas.CHECKS, **servidores_reglas.TITLES, **dns_checks.TITLES,
            **web_checks.TITLES, **mail_checks.TITLES, **plan_reglas.RULES,
            "C1": "El punto de prueba alcanza las anclas IPv6"}  # fmt: skip


def evidence_label(key: str, top: bool = True) -> str:
    """``v6_ports`` -> ``Puertos IPv6``: the words of an evidence key in Spanish. A nested key
    (``top=False``) is often data itself (a host, an address, an interface): it is kept as it
    is unless every word of it is known."""
    tokens = [w for w in key.split("_") if w]
    known = all(w in _UPPER or w in _WORDS for w in tokens)
    if not top and not known:
        return key
    words = [w.upper() if w in _UPPER else _WORDS.get(w, w) for w in tokens]
    if len(words) > 1 and words[0] in ("IPv4", "IPv6"):
        words = [*words[1:], words[0]]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if top else text


def evidence_text(value: Any, depth: int = 0) -> str:
    """An evidence value as one readable line: lists joined, mappings as «clave: valor»
    (in parentheses when nested)."""
    from pukara.formats import number

    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, float):
        return number(value, 2)
    if isinstance(value, Mapping):
        text = "; ".join(f"{evidence_label(str(k), top=False)}: {evidence_text(v, depth + 1)}"
                         for k, v in value.items())  # fmt: skip
        return f"({text})" if depth else text
    if isinstance(value, list | tuple):
        return ", ".join(evidence_text(v, depth + 1) for v in value)
    return str(value)


def evidence_items(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(evidence_label(str(k)), evidence_text(v)) for k, v in sorted(evidence.items())]


def counts_text(nonzero: Sequence[tuple[str, int]]) -> str:
    """``[("pass", 1), ("fail", 2)]`` -> ``1 cumple, 2 fallan``."""
    from pukara.formats import number

    parts = [f"{number(n, 0)} {(STATUS_TEXT if n == 1 else STATUS_PLURAL).get(s, s)}"
             for s, n in nonzero]  # fmt: skip
    return ", ".join(parts) if parts else "ningún resultado"


def bars(counts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Inline SVG geometry: per service kind, one bar per NIST stage, widths in 0-300."""
    out = []
    for row in counts:
        total = max(int(row["services"]), 1)
        out.append({"kind_text": row["kind_text"], "bars": [
            {"label": label, "value": int(row[key]),
             "width": round(300 * int(row[key]) / total, 1)}
            for key, label in (("assigned", "asignado"), ("reachable", "alcanzable"),
                               ("operational", "operativo"))]})  # fmt: skip
    return out


def html(data: Mapping[str, Any]) -> str:
    import jinja2

    from pukara.formats import number, percent

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ipv6", "plantillas"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = number
    env.filters["pct"] = lambda v: "—" if v is None else percent(100 * v, 1)
    env.filters["momento"] = _moment
    env.filters["estado"] = lambda s: STATUS_TEXT.get(s, s)
    env.filters["evidencia"] = evidence_items
    env.filters["conteos"] = counts_text
    template = env.get_template("informe.html.j2")
    return str(template.render(**data, bars=bars, status_order=STATUS_ORDER,
                               status_text=STATUS_TEXT, kind_text=KIND_TEXT,
                               section_order=SECTION_ORDER, subject_text=SUBJECT_TEXT,
                               command_of=COMMAND_OF, titles=check_titles(),
                               status_mark=STATUS_MARK, subjects_text=SUBJECTS_TEXT))  # fmt: skip
