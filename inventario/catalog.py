"""Reading the inventory: sites and assets from the store, filters, lookups and exports."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inventario import files, plan, sample
from inventario.model import ASSETS, SITES
from pukara.errors import UsageError
from pukara.store import Store


def sites(store: Store) -> list[dict[str, Any]]:
    return list(store.entities(SITES))


def assets(store: Store) -> list[dict[str, Any]]:
    return list(store.entities(ASSETS))


@dataclass(frozen=True, slots=True)
class AssetFilter:
    site: str | None = None
    kind: str | None = None
    country: str | None = None
    tag: str | None = None
    status: str | None = None
    text: str | None = None

    def keep(self, asset: Mapping[str, Any], site_country: Mapping[str, str | None]) -> bool:
        if self.site and asset.get("site") != self.site:
            return False
        if self.kind and asset.get("kind") != self.kind:
            return False
        if self.country and site_country.get(asset.get("site") or "") != self.country:
            return False
        if self.tag and self.tag not in (asset.get("tags") or []):
            return False
        if self.status and asset.get("status") != self.status:
            return False
        if self.text:
            needle = self.text.lower()
            return any(needle in str(v).lower() for v in asset.values() if v)
        return True


def filtered_assets(store: Store, flt: AssetFilter) -> list[dict[str, Any]]:
    countries = {s["code"]: s.get("country") for s in sites(store)}
    return [a for a in assets(store) if flt.keep(a, countries)]


def find_asset(store: Store, ref: str) -> dict[str, Any]:
    """An asset by name, asset tag, serial or management address."""
    found = store.get(ASSETS, [ref])
    if found:
        return found
    with contextlib.suppress(ValueError):
        ref = str(ipaddress.ip_address(ref))
    for asset in assets(store):
        if ref in (asset.get(k) for k in ("asset_tag", "serial", "mgmt_ipv4", "mgmt_ipv6")):
            return asset
    raise UsageError(f"no hay ningún activo «{ref}» (nombre, código patrimonial, serie o IP)")


def export_text(store: Store, fmt: str, kind: str | None) -> str:
    if fmt == "json":
        site_docs = sites(store) if kind in (None, SITES) else []
        asset_docs = assets(store) if kind in (None, ASSETS) else []
        return files.to_json(site_docs, asset_docs)
    kind = kind or ASSETS
    return files.to_csv(kind, sites(store) if kind == SITES else assets(store))


def import_file(store: Store, parsed: files.ParsedFile, *, dry_run: bool) -> plan.Plan:
    """Check the whole file, then apply it in one transaction unless ``dry_run``."""
    the_plan = plan.build_plan(store, parsed)
    if not dry_run and not the_plan.empty:
        plan.apply_plan(store, the_plan)
    return the_plan


def import_sample(store: Store, *, dry_run: bool) -> plan.Plan:
    return import_file(store, sample.parsed(), dry_run=dry_run)


def change_records(changes: Iterable[plan.Change]) -> list[dict[str, Any]]:
    """One record per changed field, for tables and JSON."""
    out = []
    for change in changes:
        if change.action == "alta":
            out.append({"kind": change.kind, "key": change.key, "action": change.action,
                        "field": None, "before": None, "after": None})  # fmt: skip
            continue
        for name, (old, new) in change.fields.items():
            out.append(
                {"kind": change.kind, "key": change.key, "action": change.action,
                 "field": name, "before": old, "after": new}
            )  # fmt: skip
    return out
