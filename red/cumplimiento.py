"""Golden-config compliance: running vs intended configuration, per feature.

Both texts are parsed into a parent-aware tree with hier_config's IOS-style parser (the one
remediation uses, so both see the same tree), after dropping FRR's section terminators
(``exit``, ``exit-address-family``, ``exit-vrf``, ``end``): FRR closes every section with
them and hier_config would take them for duplicate children. Each top-level line (with its
section) belongs to the first feature of ``red/plantillas/reglas.toml`` whose ``lineas``
regex it matches; the last feature, ``otras`` (regex ``.``), takes every line no other one
claims, so an extra ``router ospf``, ``access-list``, ``line vty`` or ``key chain`` is
reported, never left uncompared. Per feature the rule kind decides:
``unordered`` (multiset of lines with their parents), ``ordered`` (also the order inside each
group), ``regex`` (a golden line that matches one of the feature's ``patrones`` is compared
as that pattern). ``ignorar`` drops lines everywhere; ``ignorar_valores`` replaces parts of
a line (a backup's secret marker, a password value) by the golden placeholder first, so a
secret is never needed to tell a line is right.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from hier_config import Platform, get_hconfig
from hier_config.exceptions import DuplicateChildError

from pukara.errors import UsageError
from red.intencion import RULES_FILE, load_plan, rules_document

KINDS = ("ordered", "unordered", "regex")
FEATURES = (
    "hostname",
    "logging",
    "passwords",
    "interfaces",
    "prefix-lists",
    "route-maps",
    "bgp",
    "static-routes",
    "otras",
)
_TERMINATORS = frozenset({"exit", "exit-address-family", "exit-vrf", "end", "!"})


@dataclass(frozen=True, slots=True, order=True)
class Line:
    """One configuration line and the section lines above it."""

    parents: tuple[str, ...]
    text: str

    def display(self) -> str:
        return " › ".join((*self.parents, self.text))

    def to_dict(self) -> dict[str, Any]:
        return {"parents": list(self.parents), "line": self.text}


@dataclass(frozen=True, slots=True)
class FeatureRule:
    name: str
    lines: re.Pattern[str]
    kind: str
    patterns: tuple[re.Pattern[str], ...] = ()
    group: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    features: tuple[FeatureRule, ...]
    ignore: tuple[re.Pattern[str], ...]
    ignore_values: tuple[re.Pattern[str], ...]
    secret: str

    def feature_of(self, top: str) -> FeatureRule | None:
        return next((f for f in self.features if f.lines.search(top)), None)


@dataclass(frozen=True, slots=True)
class FeatureResult:
    feature: str
    kind: str
    missing: tuple[Line, ...]
    extra: tuple[Line, ...]

    @property
    def compliant(self) -> bool:
        return not self.missing and not self.extra

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "compliant": self.compliant,
            "missing": [x.to_dict() for x in self.missing],
            "extra": [x.to_dict() for x in self.extra],
        }


@dataclass(frozen=True, slots=True)
class DeviceCompliance:
    device: str
    features: tuple[FeatureResult, ...]

    @property
    def compliant(self) -> bool:
        return all(f.compliant for f in self.features)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if not f.compliant)

    def feature(self, name: str) -> FeatureResult:
        return next(f for f in self.features if f.feature == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "compliant": self.compliant,
            "features": [f.to_dict() for f in self.features],
        }


def _regex(text: Any, where: str) -> re.Pattern[str]:
    try:
        return re.compile(str(text))
    except re.error as e:
        raise UsageError(
            f"red/plantillas/{RULES_FILE}: la expresión regular «{text}» de {where} no compila: {e}"
        ) from e


def load_rules(document: Mapping[str, Any] | None = None) -> Rules:
    """The comparison rules of reglas.toml (or of ``document``, a parsed TOML of that form)."""
    doc = rules_document() if document is None else document
    general = doc.get("comparacion", {})
    features = []
    for i, item in enumerate(doc.get("caracteristica", []), 1):
        name = str(item.get("nombre") or f"#{i}")
        where = f"la característica {name}"
        kind = str(item.get("tipo", "unordered"))
        if kind not in KINDS or "lineas" not in item:
            raise UsageError(
                f"red/plantillas/{RULES_FILE}: {where} necesita «lineas» y un «tipo» de: "
                + ", ".join(KINDS)
            )
        features.append(
            FeatureRule(
                name=name,
                lines=_regex(item["lineas"], where),
                kind=kind,
                patterns=tuple(_regex(p, where) for p in item.get("patrones", [])),
                group=_regex(item["grupo"], where) if item.get("grupo") else None,
            )
        )
    return Rules(
        features=tuple(features),
        ignore=tuple(_regex(p, "«ignorar»") for p in general.get("ignorar", [])),
        ignore_values=tuple(
            _regex(p, "«ignorar_valores»") for p in general.get("ignorar_valores", [])
        ),
        secret=load_plan().secret if document is None else str(general.get("secreto", "")),
    )


def parse(text: str, rules: Rules, *, device: str = "") -> list[Line]:
    """The lines of a configuration with their parents, in order, ignore rules applied."""
    kept = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip() in _TERMINATORS or line.lstrip().startswith("!"):
            continue
        for pattern in rules.ignore_values:
            line = pattern.sub(rules.secret, line)
        kept.append(line)
    try:
        tree = get_hconfig(Platform.CISCO_IOS, "\n".join(kept))
    except DuplicateChildError as e:
        raise UsageError(f"{device}: la configuración repite una línea en una sección: {e}") from e
    out: list[Line] = []

    def walk(node: Any, parents: tuple[str, ...]) -> None:
        for child in node.children:
            if any(p.search(child.text) for p in rules.ignore):
                continue
            out.append(Line(parents, child.text))
            walk(child, (*parents, child.text))

    walk(tree, ())
    return out


def _by_feature(lines: Iterable[Line], rules: Rules) -> dict[str, list[Line]]:
    split: dict[str, list[Line]] = {f.name: [] for f in rules.features}
    for line in lines:
        feature = rules.feature_of(line.parents[0] if line.parents else line.text)
        if feature is not None:
            split[feature.name].append(line)
    return split


def _unordered(golden: Sequence[Line], running: Sequence[Line]) -> tuple[list[Line], list[Line]]:
    want, have = Counter(golden), Counter(running)
    missing, extra = want - have, have - want
    return _take(golden, missing), _take(running, extra)


def _take(lines: Sequence[Line], counts: Counter[Line]) -> list[Line]:
    out = []
    left = Counter(counts)
    for line in lines:
        if left[line] > 0:
            left[line] -= 1
            out.append(line)
    return out


def _groups(lines: Sequence[Line], rule: FeatureRule) -> dict[str, list[Line]]:
    groups: dict[str, list[Line]] = {}
    for line in lines:
        top = line.parents[0] if line.parents else line.text
        found = rule.group.search(top) if rule.group else None
        groups.setdefault(found.group(0) if found else top, []).append(line)
    return groups


def _ordered(
    golden: Sequence[Line], running: Sequence[Line], rule: FeatureRule
) -> tuple[list[Line], list[Line]]:
    want, have = _groups(golden, rule), _groups(running, rule)
    missing: list[Line] = []
    extra: list[Line] = []
    for key in [*want, *(k for k in have if k not in want)]:
        a, b = want.get(key, []), have.get(key, [])
        matcher = SequenceMatcher(None, a, b, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                missing.extend(a[i1:i2])
                extra.extend(b[j1:j2])
    return missing, extra


def _regexes(
    golden: Sequence[Line], running: Sequence[Line], rule: FeatureRule
) -> tuple[list[Line], list[Line]]:
    def expected(line: Line) -> re.Pattern[str]:
        for pattern in rule.patterns:
            if pattern.fullmatch(line.text):
                return pattern
        return re.compile(re.escape(line.text))

    wanted = [(line, expected(line)) for line in golden]

    def matches(line: Line, item: tuple[Line, re.Pattern[str]]) -> bool:
        return item[0].parents == line.parents and item[1].fullmatch(line.text) is not None

    missing = [g for g, p in wanted if not any(matches(r, (g, p)) for r in running)]
    extra = [r for r in running if not any(matches(r, item) for item in wanted)]
    return missing, extra


def compare(rule: FeatureRule, golden: Sequence[Line], running: Sequence[Line]) -> FeatureResult:
    if rule.kind == "ordered":
        missing, extra = _ordered(golden, running, rule)
    elif rule.kind == "regex":
        missing, extra = _regexes(golden, running, rule)
    else:
        missing, extra = _unordered(golden, running)
    return FeatureResult(rule.name, rule.kind, tuple(missing), tuple(extra))


def check(device_name: str, running: str, intended: str, rules: Rules) -> DeviceCompliance:
    """Per feature of ``rules``: the golden lines missing from ``running`` and the extra ones."""
    have = _by_feature(parse(running, rules, device=device_name), rules)
    want = _by_feature(parse(intended, rules, device=device_name), rules)
    return DeviceCompliance(
        device_name,
        tuple(compare(f, want[f.name], have[f.name]) for f in rules.features),
    )
