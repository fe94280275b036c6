"""Sites and assets: their fields, the values each accepts, and how a raw value is normalised.

A field parser takes the text (or JSON value) a person wrote and returns the canonical value
or raises ``ValueError`` with a Spanish reason. Canonical documents carry every field, in
the order below, so that exports are byte-identical from one run to the next.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

SITES = "site"
ASSETS = "asset"

UNKNOWN = "desconocido"  # an explicit "we do not know", allowed for the end-of-life date

SITE_KINDS = {
    "sede_central": "sede central",
    "centro_datos_principal": "centro de datos principal",
    "centro_datos_alterno": "centro de datos alterno",
    "embajada": "embajada",
    "consulado": "consulado",
    "mision_permanente": "misión permanente",
    "oficina_desconcentrada": "oficina desconcentrada",
    "academia": "academia",
}
ASSET_KINDS = {
    "servidor_fisico": "servidor físico",
    "blade": "blade",
    "maquina_virtual": "máquina virtual",
    "nas": "NAS",
    "router": "router",
    "switch": "switch",
    "firewall": "firewall",
    "punto_acceso": "punto de acceso",
    "telefono_ip": "teléfono IP",
    "pc": "PC",
    "otro": "otro",
}
SERVER_KINDS = frozenset({"servidor_fisico", "blade", "maquina_virtual", "nas"})
STATUSES = {
    "activo": "activo",
    "planificado": "planificado",
    "en_almacen": "en almacén",
    "en_reparacion": "en reparación",
    "dado_de_baja": "dado de baja",
}
CRITICALITIES = {"alta": "alta", "media": "media", "baja": "baja"}
PLACEHOLDER_SERIALS = frozenset(
    {"", "0", "-", "n/a", "na", "none", "null", "unknown", "desconocido", "not specified",
     "not available", "to be filled by o.e.m.", "default string", "serial", "123456789",
     "0123456789", "system serial number", "xxxxxxxxxx"}
)  # fmt: skip
# The VPN kit's tunnel interface when a site declares none (as the kit names it in IF-MIB)
DEFAULT_VPN_INTERFACE = "kbcs0"


def is_placeholder_serial(serial: str) -> bool:
    """The one rule for filler serials: a known placeholder, or one character repeated."""
    text = serial.strip()
    return text.lower() in PLACEHOLDER_SERIALS or len(set(text)) <= 1


def valid_serial(value: Any) -> str | None:
    """A serial reported by a device (str or bytes), or None when it is filler."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if value is None:
        return None
    serial = str(value).replace("\x00", "").strip()
    return None if is_placeholder_serial(serial) else serial


# Column names that hold secrets: an import that carries one is refused outright.
SECRET_COLUMN = re.compile(
    r"pass|contrase|clave|secret|secreto|community|comunidad|token|auth_key|priv_key|api_?key",
    re.IGNORECASE,
)

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_PROFILE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DEVICE_TYPE = re.compile(r"^[a-z0-9_]{2,40}$")
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./:-]{0,63}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_TRUE = {"sí", "si", "s", "true", "verdadero", "1", "yes", "y", "x"}
_FALSE = {"no", "n", "false", "falso", "0"}


def slug(text: str) -> str:
    """'Misión permanente' -> 'mision_permanente'; accents dropped, spaces to underscores."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def _choice(options: Mapping[str, str], what: str) -> Callable[[Any], str]:
    aliases = {slug(k): k for k in options} | {slug(v): k for k, v in options.items()}
    aliases |= {slug(v).replace("_de_", "_"): k for k, v in options.items()}

    def parse(value: Any) -> str:
        found = aliases.get(slug(str(value)))
        if found is None:
            raise ValueError(
                f"«{value}» no es {what} válido; use uno de: {', '.join(options.values())}"
            )
        return found

    return parse


# Characters that change or hide what a text shows: controls (C0, C1), format characters
# (bidirectional overrides such as U+202E, zero-width spaces and joiners, BOM), private use,
# surrogates and unassigned code points
HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


def _visible(text: str) -> str:
    """``text`` with every hidden character written as ``<U+202E>``, safe to show."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in HIDDEN else c
                   for c in text)  # fmt: skip


def _text(limit: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = " ".join(str(value).split())
        if len(text) > limit:
            raise ValueError(f"texto de más de {limit} caracteres")
        hidden = [c for c in text if unicodedata.category(c) in HIDDEN]
        if hidden:
            codes = ", ".join(dict.fromkeys(f"U+{ord(c):04X}" for c in hidden))
            raise ValueError(f"contiene caracteres de control o invisibles ({codes}): "
                             f"«{_visible(text)}»")  # fmt: skip
        return text

    return parse


def _pattern(regex: re.Pattern[str], what: str, *, lower: bool = False) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip()
        text = text.lower() if lower else text
        if not regex.match(text):
            raise ValueError(f"«{value}» no es {what} válido")
        return text

    return parse


def parse_ipv4(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise ValueError(f"«{value}» no es una dirección IPv4 válida") from None


def parse_ipv6(value: Any) -> str:
    try:
        return str(ipaddress.IPv6Address(str(value).strip()))
    except ValueError:
        raise ValueError(f"«{value}» no es una dirección IPv6 válida") from None


def parse_ip(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValueError(f"«{value}» no es una dirección IP válida") from None


def parse_date(value: Any) -> str:
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"«{value}» no es una fecha válida (AAAA-MM-DD o DD/MM/AAAA)")


def parse_eol(value: Any) -> str:
    if slug(str(value)) == UNKNOWN:
        return UNKNOWN
    return parse_date(value)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"«{value}» no es sí/no")


def _number(low: float, high: float, what: str) -> Callable[[Any], int | float]:
    def parse(value: Any) -> int | float:
        if isinstance(value, bool):
            raise ValueError(f"«{value}» no es un número")
        try:
            number = float(str(value).strip().replace(",", "."))
        except ValueError:
            raise ValueError(f"«{value}» no es un número") from None
        if not low < number <= high:
            raise ValueError(f"{what} debe estar entre {low:g} (excluido) y {high:g}")
        return int(number) if number.is_integer() else number

    return parse


def _tag(text: str) -> str:
    """A tag as written, in lower case without accents and with spaces or ``_`` as ``-``;
    any other character makes it invalid rather than silently dropped."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.strip())
                    if not unicodedata.combining(c))  # fmt: skip
    tag = re.sub(r"[\s_]+", "-", plain.lower())
    if not _TAG.match(tag):
        raise ValueError(
            f"etiqueta «{_visible(text.strip())}» inválida: use letras, números y guiones "
            "(hasta 40, empezando por letra o número)"
        )
    return tag


def parse_tags(value: Any) -> list[str]:
    items = value if isinstance(value, list) else re.split(r"[|,]", str(value))
    return sorted({_tag(str(t)) for t in items if str(t).strip()})


def parse_serial(value: Any) -> str:
    text = str(value).strip()
    if is_placeholder_serial(text):
        raise ValueError(f"«{value}» es un número de serie de relleno, no uno real")
    return _text(64)(text)


def parse_family(value: Any) -> str:
    text = str(value).strip().lower().removeprefix("ipv")
    if text not in ("4", "6"):
        raise ValueError(f"«{value}» no es una familia (4 o 6)")
    return text


@cache
def countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes from the system's time zone database (empty if absent)."""
    for base in zoneinfo.TZPATH:
        path = Path(base) / "iso3166.tab"
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            return frozenset(ln.split("\t")[0] for ln in lines if ln and not ln.startswith("#"))
    return frozenset()


def parse_country(value: Any) -> str:
    code = str(value).strip().upper()
    known = countries()
    if not re.fullmatch(r"[A-Z]{2}", code) or (known and code not in known):
        raise ValueError(f"«{value}» no es un código de país ISO 3166 (dos letras, p. ej. PE)")
    return code


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_timezone(value: Any) -> str:
    text = str(value).strip()
    if text not in _zones():
        raise ValueError(f"«{value}» no es una zona horaria IANA (p. ej. America/Lima)")
    return text


parse_asset_kind = _choice(ASSET_KINDS, "un tipo de activo")
parse_status = _choice(STATUSES, "un estado")
parse_site_kind = _choice(SITE_KINDS, "un tipo de sede")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    parse: Callable[[Any], Any]
    label: str
    required: bool = False


SITE_FIELDS: tuple[Field, ...] = (
    Field("code", _pattern(_CODE, "un código de sede", lower=True), "Código", True),
    Field("name", _text(120), "Nombre", True),
    Field("kind", parse_site_kind, "Tipo", True),
    Field("country", parse_country, "País"),
    Field("city", _text(80), "Ciudad"),
    Field("timezone", parse_timezone, "Zona horaria", True),
    Field("parent", _pattern(_CODE, "un código de sede", lower=True), "Sede superior"),
    Field("wan_provider", _text(80), "Proveedor WAN"),
    Field("wan_bandwidth_mbps", _number(0, 1e6, "el ancho de banda"), "Ancho de banda (Mb/s)"),
    Field("vpn_kit", parse_bool, "Kit VPN"),
    Field("vpn_peer", parse_ip, "Par VPN"),
    Field("vpn_interface", _pattern(_IFNAME, "un nombre de interfaz"), "Interfaz VPN"),
    Field("vpn_probe", parse_ip, "Sonda LAN por VPN"),
    Field("availability_target", _number(0, 100, "la meta de disponibilidad"), "Meta disp. (%)"),
    Field("loss_threshold_pct", _number(0, 100, "el umbral de pérdida"), "Umbral pérdida (%)"),
    Field(
        "latency_threshold_ms", _number(0, 60000, "el umbral de latencia"), "Umbral latencia (ms)"
    ),
)
ASSET_FIELDS: tuple[Field, ...] = (
    Field("name", _pattern(_NAME, "un nombre de equipo"), "Nombre", True),
    Field("asset_tag", _text(40), "Cód. patrimonial"),
    Field("serial", parse_serial, "N.º de serie"),
    Field("kind", parse_asset_kind, "Tipo", True),
    Field("site", _pattern(_CODE, "un código de sede", lower=True), "Sede"),
    Field("mgmt_ipv4", parse_ipv4, "IPv4 de gestión"),
    Field("mgmt_ipv6", parse_ipv6, "IPv6 de gestión"),
    Field("preferred_family", parse_family, "Familia preferida"),
    Field("vendor", _text(80), "Fabricante"),
    Field("model", _text(80), "Modelo"),
    Field("os", _text(80), "Sistema operativo"),
    Field("os_version", _text(120), "Versión"),
    Field("device_type", _pattern(_DEVICE_TYPE, "un tipo de dispositivo (netmiko)"), "Tipo SSH"),
    Field("purchase_date", parse_date, "Compra"),
    Field("warranty_end", parse_date, "Fin de garantía"),
    Field("eol_date", parse_eol, "Fin de vida"),
    Field("criticality", _choice(CRITICALITIES, "una criticidad"), "Criticidad"),
    Field("custodian", _text(120), "Custodio"),
    Field("status", parse_status, "Estado"),
    Field("tags", parse_tags, "Etiquetas"),
    Field(
        "credential_profile", _pattern(_PROFILE, "un nombre de perfil"), "Perfil de credenciales"
    ),
    Field("retired_on", parse_date, "Fecha de baja"),
    Field("retired_reason", _text(300), "Motivo de baja"),
)
FIELDS = {SITES: SITE_FIELDS, ASSETS: ASSET_FIELDS}
KEYS = {SITES: ("code",), ASSETS: ("name",)}
# Asset identity, strongest first: the first of these the row carries that matches an asset
ASSET_MATCH_ORDER = ("asset_tag", "serial", "mgmt_ipv4", "mgmt_ipv6", "name")


def blank(kind: str) -> dict[str, Any]:
    """A canonical document of ``kind`` with every field empty."""
    return {f.name: None for f in FIELDS[kind]}


def canonical(kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Every field in declared order, defaults applied."""
    out = {f.name: doc.get(f.name) for f in FIELDS[kind]}
    if kind == ASSETS:
        if out["status"] is None:
            out["status"] = "activo"
        if out["tags"] is None:
            out["tags"] = []
        if out["preferred_family"] is None:
            out["preferred_family"] = "4" if out["mgmt_ipv4"] else "6" if out["mgmt_ipv6"] else None
    return out


def management_address(asset: Mapping[str, Any]) -> str | None:
    """The address to reach the asset at, in its preferred family when it has one."""
    v4, v6 = asset.get("mgmt_ipv4"), asset.get("mgmt_ipv6")
    if asset.get("preferred_family") == "6":
        return v6 or v4
    return v4 or v6


RETIRED = "dado_de_baja"
PLANNED = "planificado"  # not bought yet: its purchase date may be in the future
# Date fields checked against each other and against today: (earlier, later, why)
DATE_ORDER = (
    ("purchase_date", "warranty_end", "la garantía termina antes de la compra"),
    ("purchase_date", "eol_date", "el fin de vida es anterior a la compra"),
    ("purchase_date", "retired_on", "la baja es anterior a la compra"),
)


def field_label(name: str) -> str:
    """``purchase_date`` as a person reads it (``Compra``); a name without a field as it is."""
    for fields in FIELDS.values():
        for f in fields:
            if f.name == name:
                return f.label
    return name


def date_problems(
    asset: Mapping[str, Any], today: date, changed: frozenset[str] | set[str] | None = None
) -> list[tuple[str, str]]:
    """(field, Spanish reason) for dates that make no sense together or against ``today``.

    With ``changed`` (the fields a row or a command sets), only the checks that involve one
    of them: a stored record that is already inconsistent does not block another change.
    A planned asset (``planificado``) may have a purchase date still to come.
    """

    def touched(*names: str) -> bool:
        return changed is None or any(n in changed for n in names)

    out = []
    purchase = asset.get("purchase_date")
    future_purchase = purchase and purchase > today.isoformat()
    if future_purchase and asset.get("status") != PLANNED and touched("purchase_date", "status"):
        out.append(("purchase_date", f"la compra ({purchase}) es posterior a hoy ({today})"))
    retired = asset.get("retired_on")
    if retired and retired > today.isoformat() and touched("retired_on"):
        out.append(("retired_on", f"la baja ({retired}) es posterior a hoy ({today})"))
    for early, late, why in DATE_ORDER:
        a, b = asset.get(early), asset.get(late)
        if a and b and b != UNKNOWN and b < a and touched(early, late):
            shown = f"{field_label(late).lower()} {b}; {field_label(early).lower()} {a}"
            out.append((late, f"{why} ({shown})"))
    return out


def age_years(purchase: str | None, today: date) -> float | None:
    if not purchase:
        return None
    return (today - date.fromisoformat(purchase)).days / 365.25
