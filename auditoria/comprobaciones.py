"""pukara's audit checks: ``auditoria/datos/comprobaciones_*.toml`` loaded into :class:`Check`.

One file per kind (``comprobaciones_linux.toml``, ``comprobaciones_red.toml``,
``comprobaciones_registros.toml``), one table per check::

    [checks.ssh_root_login]
    title = "..."          # short Spanish label
    kind = "linux"         # linux | red | registros
    valid_days = 30        # how long a result stays fresh evidence
    version = 1            # optional; bumped when the check's logic changes
    links = [{edition = "2013", control = "A.9.4.2", relation = "supports", rationale = "..."}]

Every check links both editions, at most 3 controls per edition, each link ``supports`` or
``partially-supports`` with a one-line rationale. A file that breaks a rule is a
:class:`~pukara.errors.ConfigError` naming the file and the check. :func:`checks_version`
gives the bundle the files' SHA-256 and each check's version.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from auditoria.modelo import EDITIONS, Check, ControlLink, Kind, Relation
from pukara.errors import ConfigError

FILES = ("comprobaciones_linux.toml", "comprobaciones_red.toml", "comprobaciones_registros.toml")
MAX_CONTROLS = 3  # per edition and check
_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_CONTROL = re.compile(r"^A\.\d{1,2}(\.\d{1,2}){1,2}$")
_FIELDS = {"title", "kind", "valid_days", "version", "links"}
_LINK_FIELDS = {"edition", "control", "relation", "rationale"}

Source = Path | Traversable


def data_files() -> list[Source]:
    """The shipped check files present in ``auditoria/datos`` (in :data:`FILES` order)."""
    folder = resources.files("auditoria").joinpath("datos")
    return [f for name in FILES if (f := folder.joinpath(name)).is_file()]


def _problem(source: Source, check: str, why: str) -> ConfigError:
    return ConfigError(f"{source}: comprobación «{check}»: {why}")


def _link(source: Source, check: str, raw: Any, n: int) -> ControlLink:
    where = f"vínculo {n}"
    if not isinstance(raw, Mapping):
        raise _problem(source, check, f"{where}: debe ser una tabla {{edition, control, ...}}")
    extra = sorted(set(raw) - _LINK_FIELDS)
    if extra:
        raise _problem(source, check, f"{where}: campo desconocido «{extra[0]}»")
    edition = str(raw.get("edition", ""))
    if edition not in EDITIONS:
        raise _problem(source, check, f"{where}: edición «{edition}» desconocida (2013 o 2022)")
    control = str(raw.get("control", ""))
    if not _CONTROL.match(control):
        raise _problem(source, check, f"{where}: control «{control}» no es un ID del anexo A")
    relation = str(raw.get("relation", ""))
    if relation not in {r.value for r in Relation}:
        raise _problem(
            source, check,
            f"{where} ({control}): relación «{relation}» inválida (supports o partially-supports)",
        )  # fmt: skip
    rationale = raw.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        raise _problem(source, check, f"{where} ({control}): falta el fundamento (rationale)")
    if "\n" in rationale.strip():
        raise _problem(source, check, f"{where} ({control}): el fundamento debe ser una línea")
    return ControlLink(edition, control, Relation(relation), rationale.strip())


def _editions(source: Source, check_id: str, links: Sequence[ControlLink]) -> None:
    """Both editions linked, each with 1 to :data:`MAX_CONTROLS` distinct controls."""
    for edition in EDITIONS:
        controls = [link.control for link in links if link.edition == edition]
        if not controls:
            raise _problem(source, check_id, f"sin control de la edición {edition}")
        if len(controls) > MAX_CONTROLS:
            raise _problem(
                source, check_id,
                f"{len(controls)} controles de la edición {edition} (como máximo {MAX_CONTROLS})",
            )  # fmt: skip
        if len(set(controls)) != len(controls):
            raise _problem(source, check_id, f"control repetido en la edición {edition}")


def _check(source: Source, check_id: str, raw: Any) -> Check:
    if not _ID.match(check_id):
        raise _problem(source, check_id, "el id debe ser snake_case en minúsculas")
    if not isinstance(raw, Mapping):
        raise _problem(source, check_id, "debe ser una tabla [checks.<id>]")
    extra = sorted(set(raw) - _FIELDS)
    if extra:
        raise _problem(source, check_id, f"campo desconocido «{extra[0]}»")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _problem(source, check_id, "falta el título (title)")
    kind = str(raw.get("kind", ""))
    if kind not in {k.value for k in Kind}:
        raise _problem(source, check_id, f"tipo «{kind}» desconocido (linux, red o registros)")
    days: Any = raw.get("valid_days")
    version: Any = raw.get("version", 1)
    for name, value in (("valid_days", days), ("version", version)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _problem(source, check_id, f"{name} debe ser un entero mayor que 0")
    links_raw = raw.get("links")
    if not isinstance(links_raw, list) or not links_raw:
        raise _problem(source, check_id, "faltan los vínculos a controles (links)")
    links = tuple(_link(source, check_id, item, n) for n, item in enumerate(links_raw, 1))
    _editions(source, check_id, links)
    return Check(check_id, title.strip(), Kind(kind), links, int(days), int(version))


def _read(source: Source) -> dict[str, Any]:
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:  # a check defined twice in one file lands here too
        raise ConfigError(f"{source}: TOML mal formado: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source}: no se puede leer: {e}") from None


def load(files: Sequence[Source] | None = None) -> dict[str, Check]:
    """Every check of ``files`` (default: the shipped ones, :func:`data_files`), by id.

    A check id defined in two files, or any rule of the module's docstring broken, raises
    ConfigError naming the file and the check.
    """
    sources = data_files() if files is None else list(files)
    if not sources:
        raise ConfigError("no hay archivos de comprobaciones en auditoria/datos")
    out: dict[str, Check] = {}
    seen: dict[str, Source] = {}
    for source in sources:
        raw = _read(source)
        extra = sorted(set(raw) - {"checks"})
        if extra:
            raise ConfigError(f"{source}: tabla desconocida «{extra[0]}» (solo [checks.<id>])")
        table = raw.get("checks")
        if not isinstance(table, Mapping) or not table:
            raise ConfigError(f"{source}: sin comprobaciones ([checks.<id>])")
        for check_id, item in table.items():
            if check_id in seen:
                raise _problem(source, check_id, f"id repetido (ya definido en {seen[check_id]})")
            out[check_id] = _check(source, check_id, item)
            seen[check_id] = source
    return out


def _name(source: Source) -> str:
    return source.name


def checks_version(files: Iterable[Source] | None = None) -> dict[str, Any]:
    """What judged a run, for the bundle's manifest: each file's SHA-256 and each check's
    version. ``{"files": {name: sha256}, "checks": {id: version}}``, keys sorted."""
    sources = data_files() if files is None else list(files)
    digests = {_name(s): hashlib.sha256(s.read_bytes()).hexdigest() for s in sources}
    checks = load(sources)
    return {
        "files": dict(sorted(digests.items())),
        "checks": {k: checks[k].version for k in sorted(checks)},
    }
