"""OpenSCAP results (XCCDF or ARF) and Lynis reports into the audit's result model.

An auditor reads them next to pukara's own results: a rule both check (listed in
``datos/openscap_compartidas.toml``) lands on pukara's check id; any other is
``openscap:<rule>`` or ``lynis:<test>``. XML is parsed with defusedxml: no DTD, no entities,
nothing fetched.

OpenSCAP's states: pass and fixed (it failed and ``--remediate`` fixed it) are pass; fail is
fail; error and unknown are error; notapplicable, notselected, notchecked and informational
(checked, but it gives no verdict) are not-applicable. The original state is always in the
evidence.
"""

from __future__ import annotations

import hashlib
import tomllib
import uuid
import xml.etree.ElementTree as ET  # types and ParseError; parsing goes through defusedxml
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from auditoria.modelo import Result, Status
from pukara import tomlfile
from pukara.errors import PukaraError

if TYPE_CHECKING:
    from pukara.store import Store

SHARED_FILE = Path(__file__).parent / "datos" / "openscap_compartidas.toml"
RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"
DATASET = "auditoria.resultado"
_EVENT_NS = uuid.UUID("6f1c2a52-3f0e-4b7e-9a55-70756b617261")  # pukara's imported results

_XCCDF_NS = (
    "http://checklists.nist.gov/xccdf/1.2",
    "http://checklists.nist.gov/xccdf/1.1",
)
_STATES = {
    "pass": Status.PASS,
    "fixed": Status.PASS,
    "fail": Status.FAIL,
    "error": Status.ERROR,
    "unknown": Status.ERROR,
    "notapplicable": Status.NOT_APPLICABLE,
    "notselected": Status.NOT_APPLICABLE,
    "notchecked": Status.NOT_APPLICABLE,
    "informational": Status.NOT_APPLICABLE,
}
_STATE_TEXT = {
    "pass": "cumple",
    "fixed": "cumple (corregida por OpenSCAP)",
    "fail": "no cumple",
    "error": "error al evaluar",
    "unknown": "resultado desconocido",
    "notapplicable": "no aplica a este equipo",
    "notselected": "no seleccionada en el perfil",
    "notchecked": "no se pudo comprobar automáticamente",
    "informational": "solo informativa",
}


class ImportFileError(PukaraError):
    """A results file that cannot be read as what it claims to be."""


@dataclass(frozen=True, slots=True)
class SharedRule:
    rule: str  # the SSG rule id without its prefix: "sshd_disable_root_login"
    check: str  # pukara's check id: "ssh_root_login"
    relation: str  # "equal", "pukara-stricter", "openscap-stricter"
    note: str


@dataclass(frozen=True, slots=True)
class SharedTable:
    rules: Mapping[str, SharedRule]
    values: Mapping[str, str]  # XCCDF value id (without prefix) -> value
    lynis: Mapping[str, str]  # "TEST" or "TEST:word" -> pukara check id
    valid_days: int
    also_select: tuple[str, ...] = ()  # selected because a shared rule requires them


RELATIONS = ("equal", "pukara-stricter", "openscap-stricter")


@cache
def shared(path: Path = SHARED_FILE) -> SharedTable:
    """The rules pukara and the references both check (``openscap_compartidas.toml``)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules: dict[str, SharedRule] = {}
    for rule, spec in (data.get("rules") or {}).items():
        relation = str(spec.get("relation", ""))
        if relation not in RELATIONS or not spec.get("check"):
            raise ImportFileError(
                f"{path}: la regla {rule} necesita check y relation ({', '.join(RELATIONS)})"
            )
        rules[rule] = SharedRule(rule, str(spec["check"]), relation, str(spec.get("note", "")))
    return SharedTable(
        rules=rules,
        values={str(k): str(v) for k, v in (data.get("values") or {}).items()},
        lynis={str(k): str(v) for k, v in (data.get("lynis") or {}).items()},
        valid_days=int(data.get("valid_days", 30)),
        also_select=tuple(str(rule) for rule in data.get("also_select") or ()),
    )


def openscap(path: Path, host: str | None = None) -> list[Result]:
    """Results of an ``oscap xccdf eval`` run: its ``--results`` (XCCDF) or ``--results-arf``.

    ``host`` names the host; without it, the TestResult's own target. One result per
    rule-result of every TestResult in the file.
    """
    root = _parse(path)
    table = shared()
    results: list[Result] = []
    titles = _titles(root)
    for test_result in _test_results(root, path):
        target = host or _text(test_result, "target") or ""
        if not target:
            raise ImportFileError(f"{path}: el resultado no nombra el equipo; use --host")
        observed = _utc(test_result.get("end-time") or test_result.get("start-time"), path)
        until = _plus_days(observed, table.valid_days)
        profile = _child(test_result, "profile")
        for rule_result in _children(test_result, "rule-result"):
            results.append(
                _rule_result(rule_result, target, observed, until, table, titles, path, profile)
            )
    if not results:
        raise ImportFileError(f"{path}: no trae resultados de reglas (TestResult vacío o ausente)")
    return results


def _rule_result(
    element: ET.Element,
    host: str,
    observed: str,
    until: str,
    table: SharedTable,
    titles: Mapping[str, str],
    path: Path,
    profile: ET.Element | None,
) -> Result:
    idref = element.get("idref") or ""
    state = _text(element, "result") or ""
    if state not in _STATES:
        raise ImportFileError(f"{path}: la regla {idref} tiene un estado desconocido: {state!r}")
    rule = idref.removeprefix(RULE_PREFIX)
    mapped = table.rules.get(rule)
    evidence: dict[str, Any] = {
        "rule": rule,
        "openscap_result": state,
        "title": titles.get(idref, ""),
        "severity": element.get("severity", ""),
        "file": path.name,
    }
    if profile is not None and profile.get("idref"):
        evidence["profile"] = profile.get("idref")
    if mapped is not None:
        evidence["relation"] = mapped.relation
    return Result(
        check_id=mapped.check if mapped else f"openscap:{rule}",
        host=host,
        status=_STATES[state],
        message=f"OpenSCAP, regla {rule}: {_STATE_TEXT[state]}",
        observed_at=observed,
        valid_until=until,
        evidence=evidence,
        source="openscap",
    )


def lynis(path: Path, host: str | None = None) -> list[Result]:
    """Findings of a ``lynis-report.dat``: one fail per warning and per suggestion.

    Lynis reports only what it finds wrong, so nothing here is a pass. ``host`` names the
    host; without it, the report's ``hostname``. Its times are the host's local time.
    """
    fields, findings = _lynis_lines(path)
    target = host or fields.get("hostname", "")
    if not target:
        raise ImportFileError(f"{path}: el informe no trae hostname; use --host")
    if "report_version_major" not in fields:
        raise ImportFileError(f"{path}: no es un informe de Lynis (falta report_version_major)")
    stamp = fields.get("report_datetime_end") or fields.get("report_datetime_start")
    observed = _lynis_time(stamp, path)
    table = shared()
    until = _plus_days(observed, table.valid_days)
    common = {
        "lynis_version": fields.get("lynis_version", ""),
        "hardening_index": fields.get("hardening_index", ""),
        "file": path.name,
    }
    results = []
    for kind, line_no, value in findings:
        test, text, detail = [*value.split("|"), "", ""][:3]
        test = test.split(":", 1)[0]
        word = detail.split(" ", 1)[0] if detail not in ("", "-") else ""
        check = table.lynis.get(f"{test}:{word}") or table.lynis.get(test)
        label = "advertencia" if kind == "warning" else "sugerencia"
        results.append(
            Result(
                check_id=check or f"lynis:{test}",
                host=target,
                status=Status.FAIL,
                message=f"Lynis, {label} {test}: {text}",
                observed_at=observed,
                valid_until=until,
                evidence={
                    **common,
                    "test": test,
                    "level": kind,
                    "text": text,
                    "detail": detail,
                    "line": line_no,
                },
                source="lynis",
            )
        )
    return results


def _lynis_lines(path: Path) -> tuple[dict[str, str], list[tuple[str, int, str]]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise ImportFileError(f"{path}: no se pudo leer: {tomlfile.os_text(e)}") from None
    fields: dict[str, str] = {}
    findings: list[tuple[str, int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise ImportFileError(f"{path}, línea {number}: no es «clave=valor»: {line[:60]!r}")
        if key in ("warning[]", "suggestion[]"):
            findings.append((key[:-2], number, value))
        elif not key.endswith("[]"):
            fields[key] = value
    return fields, findings


def _lynis_time(stamp: str | None, path: Path) -> str:
    if not stamp:
        raise ImportFileError(f"{path}: el informe no trae report_datetime_start")
    try:
        local = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007  (host's local time)
    except ValueError:
        raise ImportFileError(f"{path}: fecha del informe no válida: {stamp!r}") from None
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(path: Path) -> ET.Element:
    try:
        with path.open("rb") as f:
            tree = SafeET.parse(f, forbid_dtd=True)
    except OSError as e:
        raise ImportFileError(f"{path}: no se pudo leer: {tomlfile.os_text(e)}") from None
    except ET.ParseError as e:
        line, column = e.position
        raise ImportFileError(
            f"{path}, línea {line}, columna {column}: XML mal formado ({_expat_reason(e)})"
        ) from None
    except DefusedXmlException as e:
        raise ImportFileError(
            f"{path}: el XML declara un DTD o entidades, que no se aceptan ({type(e).__name__})"
        ) from None
    root = tree.getroot()
    if root is None:  # pragma: no cover  (expat never gives an empty tree)
        raise ImportFileError(f"{path}: XML vacío")
    return root


def _expat_reason(e: ET.ParseError) -> str:
    text = str(e)
    return text.split(":", 1)[0] if ":" in text else text


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xccdf(tag: str) -> bool:
    return tag.startswith("{") and tag[1:].split("}", 1)[0] in _XCCDF_NS


def _test_results(root: ET.Element, path: Path) -> Iterator[ET.Element]:
    local = _local(root.tag)
    if local == "TestResult" and _xccdf(root.tag):
        yield root
        return
    if local not in ("Benchmark", "asset-report-collection"):
        raise ImportFileError(
            f"{path}: no es un resultado XCCDF ni ARF de OpenSCAP (elemento raíz «{local}»)"
        )
    for element in root.iter():
        if _local(element.tag) == "TestResult" and _xccdf(element.tag):
            yield element


def _titles(root: ET.Element) -> dict[str, str]:
    titles: dict[str, str] = {}
    for element in root.iter():
        if _local(element.tag) == "Rule" and _xccdf(element.tag):
            title = _text(element, "title")
            if title:
                titles[element.get("id", "")] = title
    return titles


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    for child in element:
        if _local(child.tag) == name and _xccdf(child.tag):
            yield child


def _text(element: ET.Element, name: str) -> str | None:
    child = _child(element, name)
    return (child.text or "").strip() if child is not None else None


def _utc(stamp: str | None, path: Path) -> str:
    if not stamp:
        raise ImportFileError(f"{path}: el TestResult no trae start-time ni end-time")
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise ImportFileError(f"{path}: hora no válida en el TestResult: {stamp!r}") from None
    if moment.tzinfo is None:  # oscap writes the scanning host's local time
        moment = moment.astimezone()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plus_days(observed: str, days: int) -> str:
    moment = datetime.strptime(observed, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (moment + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def events(results: Sequence[Result]) -> list[dict[str, Any]]:
    """The results as ``auditoria.resultado`` events, in :mod:`auditoria.almacen`'s shape.

    They belong to no audit run: ``auditoria.run_id`` is ``importar-<hash>`` of what was
    imported, and no ``audit_run`` entity is written. Each event id is derived from source,
    host, check, rule or test and observation time, so importing the same file twice stores
    nothing twice (and two OpenSCAP rules on one pukara check stay two results).
    """
    from auditoria import almacen

    keys = [_identity(result) for result in results]
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
    stamps = sorted(r.observed_at for r in results) or ["1970-01-01T00:00:00Z"]
    run = almacen.AuditRun(
        id=f"importar-{digest}",
        started_at=stamps[0],
        finished_at=stamps[-1],
        operator="",
        complete=True,
    )
    docs = []
    for result, key in zip(results, keys, strict=True):
        doc = almacen.result_event(run, result)
        doc["event"]["id"] = str(uuid.uuid5(_EVENT_NS, key))
        docs.append(doc)
    return docs


def _identity(result: Result) -> str:
    item = result.evidence.get("rule") or result.evidence.get("test") or ""
    line = result.evidence.get("line", "")
    return "|".join(
        (result.source, result.host, result.check_id, str(item), str(line), result.observed_at)
    )


def save(store: Store, results: Sequence[Result]) -> int:
    """Store the imported results; how many were new."""
    return int(store.write_events(events(results)))
