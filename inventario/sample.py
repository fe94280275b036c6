"""The shipped EXAMPLE inventory of a foreign ministry, addressed inside the lab's ranges.

Sites come from ``ejemplo/sedes.csv`` (real countries, cities and time zones). Every site
with a WAN link (missions and domestic offices) gets a gateway whose addresses, name and
serial are those of lab site ``i`` (its position in that list), so that discovery and
monitoring of the example run against ``pukara lab arriba``. Headquarters equipment uses
198.19.0.0/16, which is inside the lab's block and answers nothing.
"""

from __future__ import annotations

import csv
import ipaddress
from datetime import date, timedelta
from importlib import resources
from typing import Any

from inventario.files import ParsedFile, Row
from inventario.model import ASSETS, SITES, parse_bool
from lab.sites import VPN_INTERFACE, LabSite, example_codes

SOURCE = "ejemplo incorporado"
TAG = "ejemplo"
HQ = "lima"
HQ_NET = ipaddress.IPv4Network("198.19.0.0/16")
HQ_NET6 = ipaddress.IPv6Network("fd70:756b:6172:ffff::/64")


def site_rows() -> list[dict[str, str]]:
    text = resources.files("inventario").joinpath("ejemplo/sedes.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _dates(n: int, *, first_year: int, life_years: int) -> dict[str, str]:
    bought = date(first_year + n % 8, 1 + (n * 5) % 12, 1 + (n * 7) % 28)
    eol: str = (
        "desconocido" if n % 7 == 3 else (bought + timedelta(days=365 * life_years)).isoformat()
    )
    return {
        "purchase_date": bought.isoformat(),
        "warranty_end": (bought + timedelta(days=365 * (3 if n % 2 else 5))).isoformat(),
        "eol_date": eol,
    }


def _hq_asset(kind: str, name: str, n: int, host: int, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name, "asset_tag": f"PAT-{host:05d}", "kind": kind, "site": "dc1",
        "mgmt_ipv4": str(HQ_NET.network_address + host),
        "mgmt_ipv6": str(HQ_NET6.network_address + host),
        "criticality": "alta", "custodian": "Oficina de Tecnologías de la Información (ejemplo)",
        "status": "activo", "tags": [TAG, "sede-central"],
        **_dates(n, first_year=2015, life_years=8), **extra,
    }  # fmt: skip


def asset_rows() -> list[dict[str, Any]]:
    assets: list[dict[str, Any]] = []
    for n in range(1, 23):
        assets.append(_hq_asset("servidor_fisico", f"srv-lima-{n:02d}", n, 10 + n, {
            "serial": f"CZJ{7340000 + n * 17:07d}", "vendor": "HPE",
            "model": "ProLiant DL380 Gen10", "os": "Linux", "device_type": "linux",
            "credential_profile": "servidores",
        }))  # fmt: skip
    for n in range(1, 17):
        assets.append(_hq_asset("blade", f"blade-lima-{n:02d}", n, 40 + n, {
            "serial": f"MXQ{8120000 + n * 23:07d}", "vendor": "HPE",
            "model": "Synergy 480 Gen10", "os": "VMware ESXi", "os_version": "8.0",
        }))  # fmt: skip
    for n in range(1, 6):
        assets.append(_hq_asset("nas", f"nas-lima-{n}", n, 70 + n, {
            "serial": f"2250Q{n:04d}NAS", "vendor": "Synology", "model": "RS3621xs+ (12 TB)",
            "os": "DSM", "os_version": "7.2",
        }))  # fmt: skip
    assets.append(_hq_asset("switch", "lima-core", 1, 2, {
        "serial": "FDO2231X0AB", "vendor": "Cisco", "model": "Catalyst 9500",
        "os": "IOS XE", "os_version": "17.9.4",
    }))  # fmt: skip
    for code, index in example_codes().items():
        lab = LabSite(index=index, code=code)
        assets.append({
            "name": lab.hostname, "asset_tag": f"PAT-{20000 + index:05d}", "serial": lab.serial,
            "kind": "router", "site": code, "mgmt_ipv4": str(lab.v4), "mgmt_ipv6": str(lab.v6),
            "vendor": "pukara lab", "model": "KBCS-LAB-1", "os": "Linux",
            "device_type": "linux", "credential_profile": "lab",
            "criticality": "alta" if code.startswith(("emb-", "mp-")) else "media",
            "custodian": "Jefatura de la misión (ejemplo)", "status": "activo",
            "tags": [TAG, "kbcs", "wan"], **_dates(index, first_year=2016, life_years=7),
        })  # fmt: skip
    return assets


def parsed() -> ParsedFile:
    """The example as if read from a file, ready for the same checks as any import."""
    codes = example_codes()
    out = ParsedFile(SOURCE)
    for i, row in enumerate(site_rows(), start=2):
        values: dict[str, Any] = dict(row)
        if row["code"] in codes:
            lab = LabSite(index=codes[row["code"]], code=row["code"])
            values["vpn_peer"] = str(lab.v4)
            if parse_bool(row["vpn_kit"]):
                values["vpn_interface"] = VPN_INTERFACE
                values["vpn_probe"] = str(lab.lan)
        out.rows[SITES].append(Row(f"sedes.csv línea {i}", values))
    for i, asset in enumerate(asset_rows()):
        out.rows[ASSETS].append(Row(f"activo {i + 1} ({asset['name']})", asset))
    return out
