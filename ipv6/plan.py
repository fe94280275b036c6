"""The IPv6 address plan: reading a plan file (CSV or YAML) into entries with their line.

A plan is a list of prefixes, each with a kind, the site it belongs to and a name::

    prefix,kind,site,name
    2800:4f0::/32,allocation,,LACNIC
    2800:4f0:10::/48,site,lima,Sede central
    2800:4f0:10:1::/64,lan,lima,Usuarios

separated by commas, semicolons (Excel's default in es_PE) or tabs, as the header line shows,
or the same in YAML (a list of mappings, or a mapping whose ``prefixes`` key holds it). The
kinds are :data:`KINDS`; Spanish column names (prefijo, tipo, sede, nombre) are accepted too.
A row whose prefix or kind is unusable does not stop the reading: it becomes an entry with
``problem`` set, which the linter reports on its line with the other findings. A file that
cannot be read at all (not UTF-8, broken YAML, no prefix column) is a :class:`PlanError` that
names the file and the line.

The rules live in :mod:`ipv6.plan_reglas`; :func:`check` runs them all.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pukara.errors import UsageError, os_reason
from pukara.text import clean_line

KINDS = (
    "allocation", "site", "lan", "p2p", "loopback", "reserved-p2p", "reserved-loopback", "ula",
)  # fmt: skip
# accepted column names -> the English key
_COLUMNS = {
    "prefix": "prefix", "prefijo": "prefix", "kind": "kind", "tipo": "kind",
    "site": "site", "sede": "site", "name": "name", "nombre": "name",
}  # fmt: skip
_DELIMITER_NAMES = {",": ",", ";": ";", "\t": "tabulador"}
SEVERITIES = {"error": "error", "warning": "advertencia"}


class PlanError(UsageError):
    """The plan file cannot be read (its message names the file and the line)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the plan. ``network`` is None when ``problem`` says why it is unusable."""

    line: int
    prefix: str  # as written
    kind: str
    site: str
    name: str
    network: ipaddress.IPv6Network | None
    problem: str | None = None
    # the network as integers (0, -1, 0 when unusable), for the one-pass nesting of the rules
    start: int = 0
    end: int = -1
    length: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One linter finding: the file line (None for one about the inventory), the rule id,
    ``error`` or ``warning``, and a Spanish message."""

    line: int | None
    rule: str
    severity: str
    message: str
    prefix: str = ""
    name: str = ""

    def record(self) -> dict[str, Any]:
        return {
            "line": self.line, "rule": self.rule, "severity": self.severity,
            "prefix": self.prefix, "name": self.name, "message": self.message,
        }  # fmt: skip


def parse_prefix(text: str) -> tuple[ipaddress.IPv6Network | None, str | None]:
    """The network written as ``text``, or None and why it is not a usable IPv6 prefix."""
    raw = text.strip()
    if not raw:
        return None, "falta el prefijo"
    if "/" not in raw:
        return None, f"«{raw}» no tiene longitud de prefijo (p. ej. /64)"
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        return None, f"«{raw}» no es un prefijo IPv6 válido"
    if net.version != 6:
        return None, f"«{raw}» es un prefijo IPv4; el plan es de direcciones IPv6"
    if ipaddress.ip_interface(raw).ip != net.network_address:
        return None, f"«{raw}» tiene bits de equipo tras la longitud (el prefijo es {net})"
    return ipaddress.IPv6Network(net), None


def make_entry(line: int, row: Mapping[str, Any]) -> Entry:
    """An entry from one row's fields (English keys), with ``problem`` set if unusable."""
    prefix = clean_line(str(row.get("prefix") or "")).strip()
    kind = clean_line(str(row.get("kind") or "")).strip().lower()
    site = clean_line(str(row.get("site") or "")).strip().lower()
    name = clean_line(str(row.get("name") or "")).strip()
    net, problem = parse_prefix(prefix)
    if problem is None and kind not in KINDS:
        problem = (
            f"tipo «{kind}» desconocido (válidos: {', '.join(KINDS)})" if kind else "falta el tipo"
        )
    if net is None or problem is not None:
        return Entry(line, prefix, kind, site, name, None, problem)
    start = int(net.network_address)
    end = start + net.num_addresses - 1
    return Entry(line, prefix, kind, site, name, net, None, start, end, net.prefixlen)


def _delimiter(header: str) -> str:
    """The separator of a CSV plan: the one of ``,``, ``;`` (Excel in es_PE) or a tab that the
    header line uses most (a comma on a tie)."""
    counts = {d: header.count(d) for d in _DELIMITER_NAMES}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _csv_rows(text: str, origin: str) -> list[Entry]:
    lines = [(n, t) for n, t in enumerate(text.splitlines(), 1) if t.strip()]
    lines = [(n, t) for n, t in lines if not t.lstrip().startswith("#")]
    if not lines:
        raise PlanError(f"{origin}: el archivo está vacío")
    header_line, header = lines[0]
    delimiter = _delimiter(header)
    names = [c.strip().lower() for c in next(csv.reader([header], delimiter=delimiter))]
    if "prefix" not in {_COLUMNS.get(n) for n in names}:
        found = ", ".join(f"«{clean_line(n)[:40]}»" for n in names[:12] if n) or "ninguna"
        raise PlanError(
            f"{origin}, línea {header_line}: la primera fila debe nombrar las columnas "
            f"(prefix,kind,site,name); no tiene la columna prefix (columnas leídas, separadas "
            f"por «{_DELIMITER_NAMES[delimiter]}»: {found})"
        )
    keys = [_COLUMNS.get(n, "") for n in names]
    out: list[Entry] = []
    for number, text_line in lines[1:]:
        try:
            cells = next(csv.reader([text_line], delimiter=delimiter))
        except csv.Error as e:
            raise PlanError(f"{origin}, línea {number}: fila CSV mal formada ({e})") from None
        if len(cells) > len(keys):
            out.append(Entry(number, text_line.strip(), "", "", "", None,
                             f"la fila tiene {len(cells)} columnas y el encabezado {len(keys)}"))  # fmt: skip
            continue
        out.append(make_entry(number, {k: v for k, v in zip(keys, cells, strict=False) if k}))
    return out


def _yaml_rows(text: str, origin: str) -> list[Entry]:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f", línea {mark.line + 1}" if mark is not None else ""
        raise PlanError(f"{origin}{where}: YAML mal formado ({e.problem or e})") from None
    except yaml.YAMLError as e:
        raise PlanError(f"{origin}: YAML mal formado ({e})") from None
    if isinstance(root, yaml.MappingNode):
        found = [v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value in
                 ("prefixes", "prefijos")]  # fmt: skip
        if not found:
            raise PlanError(
                f"{origin}, línea {root.start_mark.line + 1}: se espera una lista de prefijos "
                "o una clave «prefixes» con ella"
            )
        root = found[0]
    if not isinstance(root, yaml.SequenceNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise PlanError(f"{origin}, línea {line}: se espera una lista de prefijos")
    out: list[Entry] = []
    for item in root.value:
        number = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            out.append(Entry(number, "", "", "", "", None,
                             "se espera un elemento con prefix, kind, site y name"))  # fmt: skip
            continue
        fields: dict[str, Any] = {}
        for key, value in item.value:
            column = _COLUMNS.get(str(getattr(key, "value", "")).strip().lower())
            if column and isinstance(value, yaml.ScalarNode):
                fields[column] = value.value
        out.append(make_entry(number, fields))
    return out


def parse_plan(text: str, *, origin: str, yaml_format: bool) -> list[Entry]:
    """The entries of a plan's text (CSV, or YAML when ``yaml_format``); a plan with no
    prefix at all (only the header, an empty list) is a :class:`PlanError`."""
    entries = _yaml_rows(text, origin) if yaml_format else _csv_rows(text, origin)
    if not entries:
        what = "la lista está vacía" if yaml_format else "solo tiene el encabezado"
        raise PlanError(f"{origin}: el plan no tiene ningún prefijo ({what})")
    return entries


def read_plan(path: Path) -> list[Entry]:
    """The entries of the plan file ``path`` (``.yaml``/``.yml`` is YAML, anything else CSV)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PlanError(f"{path}: no se puede leer: {os_reason(e)}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise PlanError(f"{path}, línea {line}: el texto no está en UTF-8") from None
    return parse_plan(text, origin=str(path), yaml_format=path.suffix.lower() in (".yaml", ".yml"))


def check(entries: Sequence[Entry], sites: Iterable[str] | None = None) -> list[Finding]:
    """Every finding of every rule over ``entries`` (and the inventory's site codes, when
    given), ordered by line (inventory findings last)."""
    from ipv6 import plan_reglas

    return plan_reglas.run(entries, None if sites is None else list(sites))
