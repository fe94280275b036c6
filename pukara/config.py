"""Settings resolved once: flag > ``PUKARA_*`` environment > ``pukara.toml`` > default.

The file is searched at ``$PUKARA_CONFIG``, ``~/.config/pukara/pukara.toml`` and
``/etc/pukara/pukara.toml``; the first one found is read. Keys are English and flat::

    db = "/srv/pukara/pukara.db"
    data_dir = "/srv/pukara"
    concurrency = 32
    retention_days = 30
    sla_min_coverage_pct = 90   # share of the month a site must be observed for an SLA verdict
    analyst = "jperez"

Most keys are read from ``PUKARA_<KEY>``; the analyst, who signs every change-log entry, comes
from ``PUKARA_ANALISTA`` (the name users know) and defaults to the operating-system user.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pukara.errors import ConfigError, os_reason
from pukara.text import clean_line

ENV_PREFIX = "PUKARA_"
# keys whose variable is not PUKARA_<KEY>
ENV_NAMES = {"analyst": "PUKARA_ANALISTA"}
# options of the root command, for messages about a flag's value
FLAG_NAMES = {"analyst": "--analista", "db": "--base-datos", "concurrency": "--concurrencia"}


def default_analyst() -> str:
    """The operating-system user, or the numeric uid when it has no name."""
    try:
        name = clean_line(getpass.getuser()).strip()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (a bare container)
        name = ""
    return name or f"uid {os.getuid()}"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pukara"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting pukara reads, after precedence has been applied."""

    data_dir: Path
    db: Path
    concurrency: int = 32
    timeout_s: float = 5.0
    es_url: str | None = None  # a cluster (Elasticsearch or OpenSearch) for events and logs
    es_usuario: str | None = None  # credential profile with the cluster's password or API key
    es_ca: Path | None = None  # CA bundle that signs the cluster's certificate
    outbox_limit: int = 1_000_000  # events waiting for the cluster before writers block
    ansible_artifacts_keep: int = 50
    lab_dir: Path | None = None
    alert_webhook: str | None = None  # URL that receives each alert as JSON
    alert_command: str | None = None  # command fed each alert as JSON on stdin
    retention_days: int = 30  # raw high-rate events older than this are purged
    # monitoring: a site observed for less of the month than this gets no SLA verdict
    sla_min_coverage_pct: float = 90.0
    analyst: str = field(default_factory=default_analyst)  # who signs change-log entries
    # CSIRT: a countermeasure's approver must be another analyst (``[csirt] dos_personas``)
    csirt_dos_personas: bool = False
    # CSIRT: addresses and networks no countermeasure may touch (``[csirt] permitidos``)
    csirt_permitidos: tuple[str, ...] = ()
    # network devices: the credential profile red logs in with unless the asset names one
    red_credenciales: str = "red"
    # network devices: the ministry's golden templates (*.j2, reglas.toml) over the shipped ones
    red_plantillas: Path | None = None
    # audit: the ministry's policy for Linux servers over the shipped one (``[auditoria] politica``)
    auditoria_politica: Path | None = None
    # audit: the credential profile Ansible logs in to Linux servers with (``[auditoria] credenciales``)
    auditoria_credenciales: str = "auditoria"
    # IPv6 checks only: prefixes treated as global besides 2000::/3 (``[ipv6] prefijos_globales``;
    # the lab's tests name its ULA /48). Nothing else treats a ULA as global.
    ipv6_prefijos_globales: tuple[str, ...] = ()
    # ``ipv6 dominios``: IPv6 addresses the vantage must reach first (C1; ``[ipv6] anclas``)
    ipv6_anclas: tuple[str, ...] = ()
    # ``ipv6 dominios``: PEM file of the only roots W6c trusts (``[ipv6] raices_tls``; the
    # lab's own root); None: the system's trust store
    ipv6_raices_tls: Path | None = None
    source: Path | None = None  # the pukara.toml that was read, if any
    # who named ``db`` (``--base-datos``, ``variable PUKARA_DB``, a pukara.toml): a path
    # someone typed; None for the default under ``data_dir``, which may be created
    db_origin: str | None = None

    @property
    def lab_state_dir(self) -> Path:
        return self.lab_dir or self.data_dir / "lab"


# key -> (type, validator description in Spanish)
_TYPES: dict[str, type] = {
    "data_dir": Path,
    "db": Path,
    "concurrency": int,
    "timeout_s": float,
    "es_url": str,
    "es_usuario": str,
    "es_ca": Path,
    "outbox_limit": int,
    "ansible_artifacts_keep": int,
    "lab_dir": Path,
    "alert_webhook": str,
    "alert_command": str,
    "retention_days": int,
    "sla_min_coverage_pct": float,
    "analyst": str,
    "csirt_dos_personas": bool,
    "csirt_permitidos": tuple,
    "red_credenciales": str,
    "red_plantillas": Path,
    "auditoria_politica": Path,
    "auditoria_credenciales": str,
    "ipv6_prefijos_globales": tuple,
    "ipv6_anclas": tuple,
    "ipv6_raices_tls": Path,
}
# keys whose value must be at least this (0 would mean "keep nothing" or "never")
_MINIMUM: dict[str, int] = {"retention_days": 1, "concurrency": 1, "outbox_limit": 1000}
_MAX_TIMEOUT_S = 300.0
# float keys that must be above 0 and at most this, and what they are (Spanish)
_FLOAT_RANGES: dict[str, tuple[float, str]] = {
    "timeout_s": (_MAX_TIMEOUT_S, f"un número de segundos mayor que 0 y hasta {_MAX_TIMEOUT_S:g}"),
    "sla_min_coverage_pct": (
        100.0,
        "la parte del mes (en %) que una sede debe estar observada para juzgar su SLA: un "
        "porcentaje mayor que 0 y hasta 100",
    ),
}
_TYPE_NAMES = {Path: "ruta (texto)", int: "número entero", float: "número", str: "texto",
               bool: "sí o no (true/false)", tuple: "una lista de textos"}  # fmt: skip
_TRUE = {"1", "true", "si", "sí", "yes"}
_FALSE = {"0", "false", "no"}
# tables of pukara.toml whose keys are read as <table>_<key> (``[csirt] dos_personas``)
_SECTIONS = ("csirt", "red", "auditoria", "ipv6")


def config_candidates(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where ``pukara.toml`` is looked for, in order."""
    found: list[Path] = []
    explicit = (os.environ if environ is None else environ).get("PUKARA_CONFIG")
    if explicit:
        found.append(Path(explicit))
    found.append(Path.home() / ".config" / "pukara" / "pukara.toml")
    found.append(Path("/etc/pukara/pukara.toml"))
    return found


def _coerce(key: str, value: Any, origin: str) -> Any:
    kind = _TYPES[key]
    if key == "ipv6_anclas":
        return ipv6_anchors(_coerce_other(key, kind, value, origin), f"{origin}: la clave «{key}»")
    if kind in (bool, tuple):
        return _coerce_other(key, kind, value, origin)
    return _coerce_scalar(key, kind, value, origin)


def ipv6_anchors(entries: Sequence[str], origin: str = "ipv6_anclas") -> tuple[str, ...]:
    """C1's anchors as IPv6 addresses (compressed text), each once by value.

    An IPv4 address, a name (it would go through the system's resolver), an IPv4-mapped,
    loopback, link-local, multicast or unspecified address cannot show that the vantage has
    IPv6: a :class:`ConfigError` names the entry.
    """
    out: dict[ipaddress.IPv6Address, None] = {}
    for entry in entries:
        try:
            address = ipaddress.IPv6Address(entry.strip())
        except ValueError:
            raise ConfigError(
                f"{origin}: «{clean_line(entry)[:80]}» no es una dirección IPv6 (las anclas son "
                "direcciones IPv6, ni IPv4 ni nombres)"
            ) from None
        kind = _unusable_anchor(address)
        if kind:
            raise ConfigError(
                f"{origin}: «{entry.strip()}» es una dirección {kind}: no sirve de ancla"
            )
        out[address] = None
    return tuple(str(a) for a in out)


def _unusable_anchor(a: ipaddress.IPv6Address) -> str | None:
    if a.ipv4_mapped is not None:
        return "IPv4 mapeada"
    if a.is_loopback:
        return "de bucle local (loopback)"
    if a.is_link_local:
        return "de enlace local"
    if a.is_multicast:
        return "multicast"
    if a.is_unspecified:
        return "no especificada"
    if a.scope_id:
        return "con zona (%)"
    return None


def _coerce_scalar(key: str, kind: type, value: Any, origin: str) -> Any:
    try:
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise TypeError
            out: Any = int(value)
            minimum = _MINIMUM.get(key)
            if minimum is not None and out < minimum:
                raise ConfigError(
                    f"{origin}: la clave «{key}» debe ser al menos {minimum}, se recibió {value!r}"
                )
            if out < 0:
                raise ValueError
            return out
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise TypeError
            number = float(value)
            if key in _FLOAT_RANGES and not 0 < number <= _FLOAT_RANGES[key][0]:  # NaN too
                raise ConfigError(
                    f"{origin}: la clave «{key}» debe ser {_FLOAT_RANGES[key][1]}, se recibió "
                    f"{value!r}"
                )
            return number
        if not isinstance(value, str) or not value:
            raise TypeError
        if key == "analyst":
            value = clean_line(value).strip()
            if not value:
                raise TypeError
        return Path(value).expanduser() if kind is Path else value
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin}: la clave «{key}» debe ser {_TYPE_NAMES[kind]}, se recibió {value!r}"
        ) from None


def _coerce_other(key: str, kind: type, value: Any, origin: str) -> Any:
    """A yes/no (TOML boolean or text) or a list (TOML list or comma-separated text)."""
    if kind is bool and isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    items = value.split(",") if isinstance(value, str) else value
    if kind is tuple and isinstance(items, list) and all(isinstance(i, str) for i in items):
        return tuple(i.strip() for i in items if i.strip())
    raise ConfigError(
        f"{origin}: la clave «{key}» debe ser {_TYPE_NAMES[kind]}, se recibió {value!r}"
    )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML mal formado: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: {not_utf8(e)}") from None
    except OSError as e:
        raise ConfigError(f"{path}: no se puede leer: {os_reason(e)}") from None
    section = raw.get("pukara", raw)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: la sección [pukara] debe ser una tabla")
    out: dict[str, Any] = {}
    flat = dict(section)
    for name in _SECTIONS:
        table = flat.pop(name, None) if isinstance(flat.get(name), dict) else None
        flat.update({f"{name}_{k}": v for k, v in (table or {}).items()})
        if name in raw and raw is not section and isinstance(raw[name], dict):
            flat.update({f"{name}_{k}": v for k, v in raw[name].items()})
    for key, value in flat.items():
        if key not in _TYPES:
            known = ", ".join(sorted(_TYPES))
            raise ConfigError(f"{path}: clave desconocida «{key}» (válidas: {known})")
        out[key] = _coerce(key, value, str(path))
    return out


def not_utf8(e: UnicodeDecodeError) -> str:
    """What is wrong with a file that is not UTF-8, for a message that names the file."""
    return (
        f"el texto no está en UTF-8 (byte 0x{e.object[e.start]:02x} en la posición {e.start}); "
        "guárdelo como UTF-8"
    )


def _origins(source: Path | None, file_keys: Mapping[str, Any], env_keys: Mapping[str, Any],
             flags: Mapping[str, Any]) -> str | None:  # fmt: skip
    """Who named the database file, last word first (see :attr:`Settings.db_origin`)."""
    if flags.get("db") is not None:
        return FLAG_NAMES["db"]
    if "db" in env_keys:
        return "variable PUKARA_DB"
    if "db" in file_keys:
        return f"{source} (clave «db»)"
    return None


def _read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _TYPES:
        name = ENV_NAMES.get(key, ENV_PREFIX + key.upper())
        if name in environ and environ[name] != "":
            out[key] = _coerce(key, environ[name], f"variable {name}")
    return out


def load_settings(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings from flags, environment, the first ``pukara.toml`` found and defaults.

    Flags whose value is ``None`` are treated as not given.
    """
    env = os.environ if environ is None else environ
    source = next((p for p in config_candidates(env) if p.is_file()), None)
    explicit = env.get("PUKARA_CONFIG")
    if explicit and source != Path(explicit):
        raise ConfigError(f"PUKARA_CONFIG apunta a {explicit}, que no existe o no es un archivo")
    from_file: dict[str, Any] = _read_file(source) if source else {}
    from_env = _read_env(env)
    values = {**from_file, **from_env}
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = _coerce(
                key,
                str(value) if isinstance(value, Path) else value,
                FLAG_NAMES.get(key, f"--{key}"),
            )
    data_dir = values.pop("data_dir", None) or _default_data_dir()
    db = values.pop("db", None) or data_dir / "pukara.db"
    known = {f.name for f in fields(Settings)}
    origin = _origins(source, from_file, from_env, flags or {})
    return Settings(
        data_dir=data_dir,
        db=db,
        source=source,
        db_origin=origin,
        **{k: v for k, v in values.items() if k in known},
    )
