"""Reading the inventory: sites and assets from the store, filters, lookups and exports."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from inventario import files, monitored, plan, sample
from inventario.model import ASSETS, RETIRED, SITES, STATUSES, canonical
from pukara.errors import PukaraError, UsageError
from pukara.store import Store


def sites(store: Store) -> list[dict[str, Any]]:
    return list(store.entities(SITES))


def assets(store: Store) -> list[dict[str, Any]]:
    return list(store.entities(ASSETS))


def unknown_site(code: str) -> UsageError:
    """The one error for a site code that is not in the inventory, in every command."""
    return UsageError(f"la sede «{code}» no está en el inventario")


def require_site(store: Store, code: str) -> dict[str, Any]:
    """The site ``code`` (any case), or the usage error every command gives for it."""
    found = store.get(SITES, [code.strip().lower()])
    if found is None:
        raise unknown_site(code)
    return found


@dataclass(frozen=True, slots=True)
class AssetFilter:
    site: str | None = None
    kind: str | None = None
    country: str | None = None
    tag: str | None = None
    status: str | None = None
    text: str | None = None
    retired: bool = False  # include retired assets when no status is asked for

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
        if not (self.status or self.retired) and asset.get("status") == RETIRED:
            return False
        if self.text:
            needle = self.text.lower()
            return any(needle in str(v).lower() for v in asset.values() if v)
        return True


def filtered_assets(store: Store, flt: AssetFilter) -> list[dict[str, Any]]:
    """Assets that pass ``flt``; a site it names must exist (:func:`require_site`)."""
    if flt.site:
        require_site(store, flt.site)
    countries = {s["code"]: s.get("country") for s in sites(store)}
    return [a for a in assets(store) if flt.keep(a, countries)]


def find_asset(store: Store, ref: str) -> dict[str, Any]:
    """An asset by name (in any case), asset tag, serial or management address."""
    found = store.get(ASSETS, [ref])
    if found:
        return found
    everything = assets(store)
    named = [a for a in everything if str(a["name"]).casefold() == ref.casefold()]
    if len(named) > 1:  # stored before names were one in any case
        shown = ", ".join(f"«{a['name']}»" for a in named)
        raise UsageError(f"«{ref}» puede ser {shown}: escriba el nombre exacto, y borre o "
                         "renombre uno de ellos")  # fmt: skip
    if named:
        return named[0]
    with contextlib.suppress(ValueError):
        ref = str(ipaddress.ip_address(ref))
    for asset in everything:
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


def import_file(
    store: Store, parsed: files.ParsedFile, *, dry_run: bool, options: plan.Options | None = None
) -> plan.Plan:
    """Check the whole file, then apply it in one transaction unless ``dry_run``."""
    the_plan = plan.build_plan(store, parsed, options)
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


def monitored_sites(store: Store) -> set[str]:
    """Codes of the sites whose gateway is marked for monitoring (see inventario.monitored)."""
    return monitored.monitored_sites(assets(store))


@dataclass(frozen=True, slots=True)
class SiteFilter:
    kind: str | None = None
    country: str | None = None
    parent: str | None = None  # direct children of this site (its hub)
    vpn_kit: bool | None = None
    monitored: bool | None = None
    text: str | None = None

    def keep(self, site: Mapping[str, Any]) -> bool:
        checks = (
            (self.kind, site.get("kind")),
            (self.country, site.get("country")),
            (self.parent, site.get("parent")),
        )
        if any(want is not None and have != want for want, have in checks):
            return False
        if self.vpn_kit is not None and bool(site.get("vpn_kit")) != self.vpn_kit:
            return False
        if self.monitored is not None and bool(site.get("monitored")) != self.monitored:
            return False
        if self.text:
            needle = self.text.lower()
            return any(needle in str(v).lower() for v in site.values() if v)
        return True


def filtered_sites(store: Store, flt: SiteFilter) -> list[dict[str, Any]]:
    """Sites that pass ``flt``, each with ``monitored`` (its gateway is marked for it)."""
    if flt.parent:
        require_site(store, flt.parent)
    watched = monitored_sites(store)
    rows = [{**s, "monitored": s["code"] in watched} for s in sites(store)]
    return [s for s in rows if flt.keep(s)]


def site_detail(store: Store, code: str) -> dict[str, Any]:
    """A site's every field, its child sites and how many assets it has, by status and kind."""
    site = canonical(SITES, require_site(store, code))
    mine = [a for a in assets(store) if a.get("site") == site["code"]]
    by_status = {STATUSES[k]: n for k in STATUSES if (n := sum(a.get("status") == k for a in mine))}
    kinds = sorted({str(a.get("kind")) for a in mine})
    return {
        **site,
        "monitored": site["code"] in monitored_sites(store),
        "children": sorted(s["code"] for s in sites(store) if s.get("parent") == site["code"]),
        "assets_total": len(mine),
        "assets_in_service": sum(a.get("status") in ("activo", "en_reparacion") for a in mine),
        "assets_by_status": by_status,
        "assets_by_kind": {k: sum(a.get("kind") == k for a in mine) for k in kinds},
    }


class AlreadyRetired(PukaraError):
    """The asset was already retired."""


def retire(store: Store, ref: str, reason: str, on: date) -> dict[str, Any]:
    """Mark an asset retired (``dado de baja``) with its reason and date; kept, not deleted.

    The change log records it like any other change; monitoring, discovery and the Ansible
    inventory leave retired assets out.
    """
    text = " ".join(reason.split())
    if not text:
        raise UsageError("--motivo: indique por qué se da de baja el activo")
    asset = canonical(ASSETS, find_asset(store, ref))
    if asset["status"] == RETIRED:
        raise AlreadyRetired(
            f"el activo «{asset['name']}» ya está dado de baja"
            + (f" desde {asset['retired_on']}" if asset.get("retired_on") else "")
        )
    parsed = files.ParsedFile(f"baja de {asset['name']}")
    parsed.rows[ASSETS].append(files.Row("baja", {
        "name": asset["name"], "status": RETIRED, "retired_on": on.isoformat(),
        "retired_reason": text,
    }))  # fmt: skip
    the_plan = plan.build_plan(store, parsed)
    plan.apply_plan(store, the_plan)
    return canonical(ASSETS, store.get(ASSETS, [asset["name"]]) or {})


def delete_asset(store: Store, ref: str) -> str:
    """Remove an asset entered by mistake; the change log keeps what it was."""
    name = str(find_asset(store, ref)["name"])
    store.delete(ASSETS, [name])
    return name


def history(store: Store, ref: str) -> list[dict[str, Any]]:
    """The change-log entries of one asset, oldest first, with the fields each changed."""
    name = ref
    found = store.get(ASSETS, [ref])
    if found is None:
        try:
            name = str(find_asset(store, ref)["name"])
        except UsageError:
            if not any(True for _ in store.changes(collection=ASSETS, key=ref, limit=1)):
                raise
    out = []
    for c in store.changes(collection=ASSETS, key=name):
        before, after = c.before or {}, c.after or {}
        changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        out.append({"seq": c.seq, "@timestamp": c.ts, "actor": c.actor, "action": c.action,
                    "fields": changed if c.action == "update" else [],
                    "status": after.get("status"), "reason": after.get("retired_reason")})  # fmt: skip
    return out


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested document as one flat record with dotted keys (``facts.serial``,
    ``observations.0.source``); lists of plain values stay lists."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}.") if value else {name: None})
        elif isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    out.update(flatten(item, f"{name}.{i}."))
                else:
                    out[f"{name}.{i}"] = item
        else:
            out[name] = value
    return out
