"""Reading one rule file with pySigma and checking it against what pukara can run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from registros.detections import COMPARE, Correlation, Query, Rule, Silence, duration
from registros.sigma_fields import FIELDS

_KINDS = {SigmaCorrelationType.EVENT_COUNT: "event_count",
          SigmaCorrelationType.VALUE_COUNT: "value_count"}  # fmt: skip


def _items(detection: SigmaDetection) -> list[SigmaDetectionItem]:
    out: list[SigmaDetectionItem] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            out += _items(item)
        else:
            out.append(item)
    return out


def _known(name: str | None, where: str) -> None:
    if name is None:
        raise ValueError(
            f"{where}: búsqueda sin campo (keywords); use un campo, p. ej. message|contains"
        )
    if name == "event.original":
        raise ValueError(
            f"{where}: event.original (la línea cruda) no se indexa en el clúster; use message"
        )
    if name not in FIELDS:
        raise ValueError(
            f"{where}: campo {name!r} desconocido (no es un campo ECS que pukara escriba; "
            "vea registros/sigma_fields.py)"
        )


def _query(rule: SigmaRule, where: str) -> Query:
    from registros.sigma_cluster import to_lucene
    from registros.sigma_sqlite import to_sql

    for name, detection in rule.detection.detections.items():
        for item in _items(detection):
            _known(item.field, f"{where}, selección {name!r}")
    # a correlation's base rule has its output disabled (generate: false): pukara runs it
    # for the correlation all the same
    rule._output = True
    try:
        return Query(sql=to_sql(rule), lucene=to_lucene(rule))
    except (SigmaError, NotImplementedError, ValueError) as e:
        raise ValueError(f"{where}: no se puede traducir para los dos almacenes: {e}") from e


def _silence(rule: SigmaRule, where: str) -> Silence | None:
    extra: Any = rule.custom_attributes.get("pukara")
    if extra is None:
        return None
    spec = extra.get("silencio") if isinstance(extra, dict) else None
    if not isinstance(spec, dict) or set(spec) - {"campo", "ventana", "referencia"}:
        raise ValueError(f"{where}: «pukara» admite solo silencio: {{campo, ventana, referencia}}")
    name = spec.get("campo", "host.name")
    _known(name, f"{where}, pukara.silencio.campo")
    return Silence(
        field=name,
        window=duration(spec.get("ventana", "1h"), f"{where}, pukara.silencio.ventana"),
        reference=duration(spec.get("referencia", "24h"), f"{where}, pukara.silencio.referencia"),
    )


def _correlation(rule: SigmaCorrelationRule, where: str) -> Correlation:
    kind = _KINDS.get(rule.type)
    if kind is None:
        raise ValueError(f"{where}: correlación {rule.type.value!r} no admitida "
                         "(solo event_count y value_count)")  # fmt: skip
    for name in rule.group_by or []:
        _known(name, f"{where}, group-by")
    cond = rule.condition
    if not isinstance(cond, SigmaCorrelationCondition) or isinstance(cond.fieldref, list):
        raise ValueError(f"{where}: condición de correlación no admitida")
    value_field = cond.fieldref if kind == "value_count" else None
    if kind == "value_count":
        _known(value_field, f"{where}, condition.field")
    op = COMPARE.get(cond.op.name.lower())
    if op is None or cond.count is None:
        raise ValueError(f"{where}: condición de correlación no admitida")
    return Correlation(kind, tuple(rule.group_by or ()), int(rule.timespan.seconds), op,
                       int(cond.count), value_field)  # fmt: skip


def _common(rule: SigmaRule | SigmaCorrelationRule, where: str) -> dict[str, Any]:
    if rule.id is None:
        raise ValueError(f"{where}: falta id (un UUID)")
    if not rule.title:
        raise ValueError(f"{where}: falta title")
    level = rule.level.name.lower() if rule.level else "medium"
    return {
        "id": str(rule.id),
        "title": rule.title,
        "description": rule.description or "",
        "level": level,
        "tags": tuple(str(t) for t in rule.tags),
    }


def _referenced(collection: SigmaCollection) -> set[str]:
    """Ids of the rules a correlation of the file is built on (unless it says ``generate:
    true``: then they alert on their own too); raises the first parse error."""
    referenced: set[str] = set()
    for sigma_rule in collection.rules:
        if sigma_rule.errors:
            raise ValueError(f"no es Sigma válido: {sigma_rule.errors[0]}")
        if isinstance(sigma_rule, SigmaCorrelationRule) and not sigma_rule.generate:
            referenced |= {str(ref.rule.id) for ref in sigma_rule.rules or []}
    return referenced


def load_file(path: Path, ruleset: str) -> list[Rule]:
    """The runnable rules of one file; ValueError with the reason (Spanish) if it is refused."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"no se puede leer: {e}") from e
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
        if any(not isinstance(d, dict) for d in documents):
            raise ValueError("no es una regla Sigma: cada documento YAML debe ser un mapa "
                             "(title, logsource, detection...)")  # fmt: skip
        collection = SigmaCollection.from_yaml(text, collect_errors=True)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (línea {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"no es YAML válido{where}: {problem}") from e
    except SigmaError as e:
        raise ValueError(f"no es Sigma válido: {e}") from e
    if not collection.rules:
        raise ValueError("no contiene reglas")
    referenced = _referenced(collection)
    out: list[Rule] = []
    for sigma_rule in collection.rules:
        where = f"regla {sigma_rule.title!r}"
        common = _common(sigma_rule, where)
        if isinstance(sigma_rule, SigmaCorrelationRule):
            bases = [ref.rule for ref in sigma_rule.rules or []]
            simple = [b for b in bases if isinstance(b, SigmaRule)]
            if len(simple) != len(bases) or not simple:
                raise ValueError(f"{where}: solo correlaciones de reglas simples")
            queries = tuple(_query(b, f"{where} ({b.title})") for b in simple)
            out.append(Rule(**common, path=path, ruleset=ruleset, queries=queries,
                            correlation=_correlation(sigma_rule, where)))  # fmt: skip
            continue
        if not isinstance(sigma_rule, SigmaRule):
            raise ValueError(f"{where}: tipo de regla no admitido")
        query = _query(sigma_rule, where)
        silence = _silence(sigma_rule, where)
        if common["id"] in referenced and silence is None:
            continue  # a correlation's base rule: alerts come from the correlation
        out.append(Rule(**common, path=path, ruleset=ruleset, queries=(query,), silence=silence))
    return out
