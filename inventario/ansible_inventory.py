"""Ansible's dynamic inventory from pukara's: groups by site, kind, country and tag.

``build`` gives the script format (``--list`` with ``_meta.hostvars``, so Ansible never
calls ``--host``); ``to_yaml_inventory`` turns it into the data form ansible-runner takes,
so that the core's playbook runs see exactly the same groups and variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from inventario.model import management_address, slug

# netmiko device type -> Ansible network OS, for network_cli devices
NETWORK_OS = {
    "cisco_ios": "cisco.ios.ios", "cisco_xe": "cisco.ios.ios", "cisco_nxos": "cisco.nxos.nxos",
    "arista_eos": "arista.eos.eos", "juniper_junos": "junipernetworks.junos.junos",
    "huawei": "community.network.ce", "fortinet": "fortinet.fortios.fortios",
}  # fmt: skip
ACTIVE = frozenset({"activo", "en_reparacion"})


def group_name(prefix: str, value: str) -> str:
    """A valid Ansible group name: ``prefix_value`` with only [a-z0-9_]."""
    body = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", slug(value))).strip("_")
    return f"{prefix}_{body or 'vacio'}"


def hostvars(asset: Mapping[str, Any], country: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pukara_site": asset.get("site"),
        "pukara_kind": asset.get("kind"),
        "pukara_country": country,
        "pukara_vendor": asset.get("vendor"),
        "pukara_model": asset.get("model"),
        "pukara_serial": asset.get("serial"),
        "pukara_tags": list(asset.get("tags") or []),
        "pukara_credential_profile": asset.get("credential_profile"),
        "pukara_device_type": asset.get("device_type"),
    }
    address = management_address(asset)
    if address:
        out["ansible_host"] = address
    network_os = NETWORK_OS.get(asset.get("device_type") or "")
    if network_os:
        out["ansible_network_os"] = network_os
        out["ansible_connection"] = "ansible.netcommon.network_cli"
    return {k: v for k, v in out.items() if v not in (None, [])}


def build(
    sites: Iterable[Mapping[str, Any]], assets: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``--list`` document for assets in service (active or under repair)."""
    site_docs = {s["code"]: s for s in sites}
    groups: dict[str, dict[str, Any]] = {}
    meta: dict[str, Any] = {}

    def add(group: str, host: str) -> None:
        groups.setdefault(group, {"hosts": []})["hosts"].append(host)

    for asset in sorted(assets, key=lambda a: a["name"]):
        if asset.get("status") not in ACTIVE:
            continue
        name, site = asset["name"], asset.get("site")
        country = site_docs.get(site, {}).get("country") if site else None
        meta[name] = hostvars(asset, country)
        if site:
            add(group_name("sede", site), name)
        add(group_name("tipo", asset["kind"]), name)
        if country:
            add(group_name("pais", country), name)
        for tag in asset.get("tags") or []:
            add(group_name("etiqueta", tag), name)
    for code, site in site_docs.items():  # site groups nest under their parent site's
        parent = site.get("parent")
        if parent and group_name("sede", code) in groups:
            entry = groups.setdefault(group_name("sede", parent), {"hosts": []})
            entry.setdefault("children", []).append(group_name("sede", code))
    document: dict[str, Any] = {"_meta": {"hostvars": meta}}
    nested = {c for g in groups.values() for c in g.get("children", [])}
    document["all"] = {"children": ["ungrouped", *sorted(set(groups) - nested)]}
    for group in sorted(groups):
        document[group] = groups[group]
    return document


def host(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``--host NAME``: that host's variables, or an empty dict if unknown."""
    return dict(document["_meta"]["hostvars"].get(name, {}))


def to_yaml_inventory(document: Mapping[str, Any]) -> dict[str, Any]:
    """The script format as ansible-runner's data inventory (YAML inventory shape)."""
    hostvars_all = document["_meta"]["hostvars"]
    children: dict[str, Any] = {}
    for group, body in document.items():
        if group in ("_meta", "all"):
            continue
        entry: dict[str, Any] = {"hosts": dict.fromkeys(body.get("hosts", []))}
        if body.get("children"):
            entry["children"] = {c: {} for c in body["children"]}
        children[group] = entry
    return {"all": {"hosts": {h: dict(v) for h, v in hostvars_all.items()}, "children": children}}
