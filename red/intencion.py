"""The golden configuration of a network device, rendered from the inventory.

Templates live in ``red/plantillas/`` (Jinja2, StrictUndefined, no autoescape: it is config
text); which template a device gets and the addressing plan come from ``reglas.toml``. The
ministry's own folder (setting ``red_plantillas``, see ``use_templates``) comes first: a
``*.j2`` or ``reglas.toml`` there replaces the shipped one of the same name. Every
value is validated (addresses parsed, names matched against a pattern) before it reaches a
template, so nothing from the inventory can inject a line. A template error becomes a
UsageError naming the template and the line.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import jinja2

from inventario.model import ASSETS, RETIRED, SITES
from pukara.errors import ConfigError, UsageError, os_reason
from pukara.store import Store

RULES_FILE = "reglas.toml"
_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./:-]{0,63}$")


class Device(Protocol):
    """What rendering needs of ``red.equipos.NetDevice``."""

    @property
    def name(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def site_kind(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def asset(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """The addressing plan the templates are rendered against (``[plan]`` of reglas.toml)."""

    links: ipaddress.IPv4Network
    link_prefix: int
    hq_asn: int
    site_asn_base: int
    wan_interface: str
    secret: str
    templates: Mapping[str, str]
    lans: ipaddress.IPv4Network | None = None

    def lan_of(self, probe: Any, number: int, site: str) -> ipaddress.IPv4Network:
        """The LAN address a site announces: its ``vpn_probe`` (an address on its LAN side)
        or, when the site has none, the plan's LAN block plus the link number."""
        if probe:
            return ipaddress.IPv4Network(f"{ipaddress.IPv4Address(str(probe))}/32")
        if self.lans is None or number >= self.lans.num_addresses:
            raise ValueError(
                f"la sede {site} no tiene «vpn_probe» (la dirección de su LAN que la plantilla "
                f"anuncia por BGP) y el plan no da un bloque «lan» que la contenga"
            )
        return ipaddress.IPv4Network(f"{self.lans.network_address + number}/32")

    def link_of(self, address: ipaddress.IPv4Address) -> tuple[int, ipaddress.IPv4Network]:
        """The link number and network of a site gateway's address, or ValueError."""
        net = ipaddress.IPv4Network((address, self.link_prefix), strict=False)
        if net.subnet_of(self.links) and address == net.network_address + 2:
            size = net.num_addresses
            return (int(net.network_address) - int(self.links.network_address)) // size, net
        raise ValueError(
            f"{address} no es la dirección .2 de un enlace /{self.link_prefix} de {self.links}"
        )

    def site_asn(self, address: ipaddress.IPv4Address) -> int:
        return self.site_asn_base + self.link_of(address)[0]


SHIPPED = "red/plantillas"
_folder: Path | None = None  # the ministry's templates (setting red_plantillas), if any


def use_templates(folder: Path | None) -> None:
    """Read templates and reglas.toml from ``folder`` first (the ministry's own), then from the
    package; None: only the package's. Checked when a template is first needed; what was
    read before (rules, templates) is read again."""
    global _folder
    _folder = folder
    rules_document.cache_clear()
    load_plan.cache_clear()
    environment.cache_clear()


def templates_folder() -> Path | None:
    """The ministry's folder, or None; one that is not there is a ConfigError naming it."""
    if _folder is not None and not _folder.is_dir():
        raise ConfigError(
            f"la carpeta de plantillas de red «{_folder}» ([red] plantillas, "
            f"PUKARA_RED_PLANTILLAS) no existe o no es una carpeta"
        )
    return _folder


def rules_label() -> str:
    """The reglas.toml in use, as messages name it."""
    folder = templates_folder()
    if folder is not None and (folder / RULES_FILE).is_file():
        return str(folder / RULES_FILE)
    return f"{SHIPPED}/{RULES_FILE}"


def _rules_text() -> str:
    folder = templates_folder()
    if folder is not None and (folder / RULES_FILE).is_file():
        try:
            return (folder / RULES_FILE).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = os_reason(e) if isinstance(e, OSError) else "no es texto UTF-8"
            raise UsageError(f"no se puede leer {folder / RULES_FILE}: {reason}") from e
    return resources.files("red").joinpath("plantillas", RULES_FILE).read_text("utf-8")


@cache
def rules_document() -> Mapping[str, Any]:
    """reglas.toml, parsed once (a malformed file is a UsageError naming it)."""
    try:
        return tomllib.loads(_rules_text())
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{rules_label()} no es TOML válido: {e}") from e


@cache
def load_plan() -> Plan:
    doc = rules_document()
    try:
        plan = doc["plan"]
        return Plan(
            links=ipaddress.IPv4Network(plan["enlaces"]),
            link_prefix=int(plan["prefijo_enlace"]),
            hq_asn=int(plan["as_central"]),
            site_asn_base=int(plan["as_sede_base"]),
            wan_interface=_checked(_IFNAME, str(plan["interfaz_wan"]), "interfaz_wan"),
            secret=str(plan["secreto"]),
            templates={str(k): str(v) for k, v in doc["plantillas"].items()},
            lans=ipaddress.IPv4Network(plan["lan"]) if plan.get("lan") else None,
        )
    except (KeyError, ValueError, TypeError) as e:
        raise UsageError(f"{rules_label()}: el plan está incompleto o mal: {e}") from e


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"«{value}» no es válido como {what}")
    return value


# Configuration text: no autoescape (values are validated before rendering), strict names
OPTIONS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "autoescape": False,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


def make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    return jinja2.Environment(loader=loader, **OPTIONS)  # noqa: S701 - config text, see OPTIONS


@cache
def environment() -> jinja2.Environment:
    """The templates: the ministry's folder first, if set, then the package's."""
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("red", "plantillas")]
    folder = templates_folder()
    if folder is not None:
        loaders.insert(0, jinja2.FileSystemLoader(folder))
    return make_environment(jinja2.ChoiceLoader(loaders))


def _shown(filename: str | None, name: str) -> str:
    """A template as messages name it: its path in the ministry's folder, or the shipped one."""
    if filename and _folder is not None:
        path = Path(filename)
        if path.resolve().is_relative_to(_folder.resolve()):
            return str(path)
    return f"{SHIPPED}/{name}"


def template_for(device: Device, plan: Plan) -> str:
    for key in (f"{device.role}.{device.site_kind}", device.role):
        if key in plan.templates:
            return plan.templates[key]
    raise UsageError(
        f"{device.name}: no hay plantilla para el rol «{device.role}» "
        f"(sede {device.site_kind}); decláresela en {rules_label()}"
    )


def _v4(device: Device) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(device.asset.get("mgmt_ipv4") or device.address))
    except ValueError as e:
        raise ValueError(f"la dirección de gestión «{device.address}» no es IPv4") from e


def _site_context(device: Device, store: Store, plan: Plan) -> dict[str, Any]:
    address = _v4(device)
    number, net = plan.link_of(address)
    site = store.get(SITES, [device.site]) or {}
    lan = plan.lan_of(site.get("vpn_probe"), number, device.site)
    v6 = device.asset.get("mgmt_ipv6")
    wan6 = f"{ipaddress.IPv6Interface(f'{ipaddress.IPv6Address(str(v6))}/64')}" if v6 else ""
    return {
        "wan": {
            "interface": plan.wan_interface,
            "address": str(ipaddress.IPv4Interface((address, plan.link_prefix))),
            "address6": wan6,
        },
        "lan": str(lan),
        "bgp": {
            "asn": plan.site_asn_base + number,
            "router_id": str(address),
            "peer": str(net.network_address + 1),
            "peer_asn": plan.hq_asn,
        },
    }


def _hq_context(device: Device, store: Store, plan: Plan) -> dict[str, Any]:
    peers = []
    for asset in store.entities(ASSETS):
        if asset.get("kind") != "router" or asset.get("status") == RETIRED:
            continue
        if asset.get("name") == device.name or not asset.get("mgmt_ipv4"):
            continue
        address = ipaddress.IPv4Address(str(asset["mgmt_ipv4"]))
        try:
            asn = plan.site_asn(address)
        except ValueError:
            continue  # not a mission gateway on a WAN link
        name = _checked(_HOSTNAME, str(asset["name"]), "nombre de equipo")
        peers.append({"address": str(address), "asn": asn, "name": name})
    peers.sort(key=lambda p: ipaddress.IPv4Address(p["address"]))
    return {
        "bgp": {"asn": plan.hq_asn, "router_id": str(_v4(device))},
        "peers": peers,
    }


def context(device: Device, store: Store) -> dict[str, Any]:
    """The validated values a device's template sees."""
    plan = load_plan()
    try:
        values: dict[str, Any] = {
            "hostname": _checked(_HOSTNAME, device.name, "nombre de equipo"),
            "code": _checked(_CODE, device.site, "código de sede"),
            "site_kind": device.site_kind,
            "secreto": plan.secret,
        }
        if device.site_kind == "sede_central":
            values |= _hq_context(device, store, plan)
        else:
            values |= _site_context(device, store, plan)
    except ValueError as e:
        raise UsageError(f"{device.name}: no se puede armar su configuración dorada: {e}") from e
    return values


def _template_line(tb: TracebackType | None) -> tuple[str, int] | None:
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def render(device: Device, store: Store) -> str:
    """The golden configuration of ``device`` (FRR text, ``end`` included)."""
    plan = load_plan()
    name = template_for(device, plan)
    values = context(device, store)
    try:
        return environment().get_template(name).render(values)
    except jinja2.TemplateSyntaxError as e:
        where = f"{_shown(e.filename, e.name or name)}, línea {e.lineno}"
        raise UsageError(f"{device.name}: plantilla {where}: error de sintaxis: {e.message}") from e
    except jinja2.TemplateNotFound as e:
        places = f"ni en {_folder} ni en {SHIPPED}" if _folder is not None else f"en {SHIPPED}"
        raise UsageError(f"no se encuentra la plantilla {e.name} {places}") from e
    except jinja2.TemplateError as e:
        at = _template_line(e.__traceback__)
        shown = _shown(at[0], at[0].rsplit("/", 1)[-1]) if at else ""
        where = f"{shown}, línea {at[1]}" if at else f"{SHIPPED}/{name}"
        raise UsageError(f"{device.name}: plantilla {where}: {e}") from e
