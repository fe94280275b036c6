"""host.name resolution against the inventory in a real SQLite store, refreshed while running."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from pukara.store import SQLiteStore
from registros import ecs
from registros.hosts import Resolver

NOW = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def test_resolver_reads_the_inventory_and_sees_new_assets(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inv.db", actor="prueba")
    try:
        store.upsert("site", [{"code": "lim", "name": "Lima", "kind": "sede_central",
                               "timezone": "America/Lima"}], key=["code"])  # fmt: skip
        store.upsert("asset", [{"name": "lima-fw1", "kind": "firewall", "site": "lim",
                                "mgmt_ipv4": "198.18.1.1"}], key=["name"])  # fmt: skip
        resolve = Resolver(store, refresh_s=0.3)
        doc = ecs.event(b"<13>Dec  1 08:00:00 fw app: x", received=NOW,
                        sender=("198.18.1.1", 514), resolve=resolve)  # fmt: skip
        assert doc["host"]["name"] == "lima-fw1" and doc["labels"] == {"site": "lim"}
        assert doc["@timestamp"] == "2026-12-01T13:00:00.000000Z"  # Lima's 08:00
        store.upsert("asset", [{"name": "lima-sw2", "kind": "switch", "site": "lim",
                                "mgmt_ipv6": "fd70:756b:6172:1::2"}], key=["name"])  # fmt: skip
        assert resolve(None, "fd70:756b:6172:1::2") is None  # not reloaded yet
        time.sleep(0.35)
        found = resolve("LIMA-SW2.cancilleria.test", None)
        assert found is not None and found[:2] == ("lima-sw2", "lim")
    finally:
        store.close()
