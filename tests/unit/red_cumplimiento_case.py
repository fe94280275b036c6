"""Shared pieces of the compliance tests: real FRR 8.4 outputs and a small inventory."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventario import catalog, files
from pukara.store import Store
from red import equipos
from red.equipos import NetDevice

DATA = Path(__file__).resolve().parents[1] / "data" / "red"
# The non-standard kinds of the lab and the real output of each (gw-emb-ar changed that way)
KINDS = (
    "sin-syslog",
    "ruta-extra",
    "prefijo-abierto",
    "ref-indefinida",
    "as-errado",
    "ip-duplicada",
)
FEATURE_OF = {
    "sin-syslog": "logging",
    "ruta-extra": "static-routes",
    "prefijo-abierto": "prefix-lists",
    "ref-indefinida": "route-maps",
    "as-errado": "bgp",
    "ip-duplicada": "interfaces",
}


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    site: str
    site_kind: str
    role: str
    address: str
    platform: str = "frr"
    asset: Mapping[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.site}/{self.name}.cfg"


def real(name: str, kind: str = "estandar") -> str:
    """``show running-config`` of a throwaway FRR 8.4 (tests/data/red/fuentes/ made them)."""
    return (DATA / f"{name}.{kind}.cfg").read_text("utf-8")


def as_backed_up(text: str) -> str:
    """What a backup stores: every secret replaced by a keyed-hash marker."""
    return re.sub(
        r"(password) \S+",
        lambda m: f"{m.group(1)} <secreto:hmac-sha256:{abs(hash(m.group(0))) % 16**12:012x}>",
        text,
    )


SEDES = """code,name,kind,country,city,timezone,parent,vpn_kit,vpn_probe
lima,Sede central,sede_central,PE,Lima,America/Lima,,no,
emb-ar,Embajada en Argentina,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires,lima,sí,198.19.128.1
emb-bo,Embajada en Bolivia,embajada,BO,La Paz,America/La_Paz,lima,sí,198.19.128.2
"""
ACTIVOS = """name,kind,site,mgmt_ipv4,mgmt_ipv6,os,status
gw-lima,router,lima,198.19.192.1,,FRR,activo
gw-emb-ar,router,emb-ar,198.18.0.6,fd70:756b:6172:1::2,FRR,activo
gw-emb-bo,router,emb-bo,198.18.0.10,fd70:756b:6172:2::2,FRR,activo
"""


def small_inventory(store: Store, folder: Path, activos: str = ACTIVOS) -> None:
    for kind, text in (("site", SEDES), ("asset", activos)):
        path = folder / f"{kind}.csv"
        path.write_text(text, "utf-8")
        catalog.import_file(store, files.read_file(path, kind), dry_run=False)


def device(store: Store, name: str) -> NetDevice:
    """The inventory's network device ``name``, as red.equipos selects it."""
    (found,) = [d for d in equipos.select(store, [name]) if d.name == name]
    return found
