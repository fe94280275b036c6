"""A realistic October for the SLA report: 150 sites in a real SQLite store, no lab.

Rounds every 10 minutes (the longest a round stands for) over the whole month, written through
the store's summary API, with the inventory the CLI reads:

- s000-s139 observed all month, latency from 20 to 300 ms, 2 % of rounds losing a probe;
  s003 down 3 hours on the 5th (part of it in a maintenance window entered beforehand), s010
  down 26 hours from the 8th (its window entered after the fact), s020 down two days, s030 down
  all month (monitored throughout: 0 %, no cumple), s005 losing 2 probes in 5 for a day;
- s140 one stray down round, s141 the last 3 days only, s142-s143 the first 10 days only:
  insufficient coverage;
- s144-s149 probed but without any data; lima and alterna without a probe address;
- the monitor isolated on the 12th from 03:00 to 03:47 UTC, while s040 was cut;
- link readings at 100 or 1000 Mbit/s, but s001 failing with an SNMP timeout, s002 without a
  credential profile, s006 answering without a WAN interface, s008 never read.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inventario.model import ASSETS, SITES
from monitoreo import maintenance
from monitoreo.sites import Site, load_sites
from pukara.events import make_event
from pukara.store import SQLiteStore, Summary
from pukara.store.sqlite import to_us

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MONTH = "2026-10"
STEP_US = 600_000_000
ROUNDS = 31 * 144
ZONES = ["America/Lima", "UTC", "Europe/Madrid", "Asia/Kolkata", "Asia/Tokyo"]
ISOLATED = (T0 + timedelta(days=11, hours=3), T0 + timedelta(days=11, hours=3, minutes=47))
NOW = datetime(2026, 12, 1, 15, 4, tzinfo=UTC)


def _k(at: datetime) -> int:
    return (to_us(at) - to_us(T0)) // STEP_US


DOWN = {
    3: [(_k(T0 + timedelta(days=4, hours=9)), 18)],
    10: [(_k(T0 + timedelta(days=7, hours=6)), 156)],
    20: [(_k(T0 + timedelta(days=14)), 288)],
    30: [(0, ROUNDS)],
    40: [(_k(ISOLATED[0]), 5)],
}
NO_COUNTERS = {1, 2, 6, 8}  # an SNMP timeout, no profile, no WAN interface, no reading
OBSERVED = {140: [(500, 1)], 141: [(ROUNDS - 3 * 144, 3 * 144)], 142: [(0, 1440)],
            143: [(0, 1440)]}  # fmt: skip


def _rounds(i: int, code: str) -> Iterator[Summary]:
    rnd = random.Random(i)  # noqa: S311 - a reproducible month, not a secret
    base = 20_000 + 2_000 * (i % 140)
    down = {k for start, n in DOWN.get(i, []) for k in range(start, start + n)}
    spans = OBSERVED.get(i, [(0, ROUNDS)])
    lossy = range(_k(T0 + timedelta(days=20)), _k(T0 + timedelta(days=21)))
    for start, n in spans:
        for k in range(start, start + n):
            ts = to_us(T0) + k * STEP_US
            if k in down or i == 140:
                yield Summary(code, ts, STEP_US, 0, 5, 0)
                continue
            got = 3 if i == 5 and k in lossy else (5 if rnd.random() > 0.02 else 4)
            m = base + rnd.randrange(0, 4_000) + (25_000 if 9 <= (k // 6) % 24 <= 17 else 0)
            rates = (None, None) if i in NO_COUNTERS else (
                rnd.randrange(1, 60_000_000), rnd.randrange(1, 30_000_000))  # fmt: skip
            yield Summary(code, ts, STEP_US, 1, 5, got, m - 4_000, m - 2_500, m - 1_200, m,
                          m + 1_800, m + 6_000, m + 15_000, *rates)  # fmt: skip


def _inventory(store: SQLiteStore, n: int) -> None:
    site_docs = [{"code": "lima", "name": "Sede central", "kind": "sede_central",
                  "timezone": "America/Lima"},
                 {"code": "alterna", "name": "Centro alterno", "kind": "sede_central",
                  "timezone": "America/Lima"}]  # fmt: skip
    assets = []
    for i in range(n):
        code = f"s{i:03d}"
        site_docs.append({
            "code": code, "name": f"Embajada {i}", "kind": "embajada",
            "timezone": ZONES[i % len(ZONES)], "parent": "lima",
            "availability_target": 99.5 if i % 3 else 99.0,
            "wan_bandwidth_mbps": 50 if i % 2 else None,
        })  # fmt: skip
        assets.append({"name": f"gw-{code}", "kind": "router", "site": code, "status": "activo",
                       "mgmt_ipv4": f"198.18.{i // 200}.{i % 200 + 2}",
                       "credential_profile": None if i == 2 else "snmp"})  # fmt: skip
    store.upsert(SITES, site_docs, key=("code",))
    store.upsert(ASSETS, assets, key=("name",))


def _link(code: str, at: datetime, **fields: object) -> dict[str, object]:
    error = fields.pop("error", None)
    return make_event("monitoreo.enlace", timestamp=at, kind="metric",
                      outcome="failure" if error else "success",
                      fields={"host.name": code, "error.message": error, **fields})  # fmt: skip


def build(path: Path, n: int = 150) -> dict[str, Site]:
    """The month in a new store at ``path``; the sites as the report reads them."""
    with SQLiteStore(path, actor="jperez") as store:
        _inventory(store, n)
        for i in range(n):
            if i < 144:
                store.write_summaries(_rounds(i, f"s{i:03d}"))
        last = T0 + timedelta(days=30, hours=12)
        store.write_events([
            *(_link(f"s{i:03d}", last, **{
                "monitoreo.link.speed_mbps": 1000 if i % 4 == 0 else 100,
                "monitoreo.link.in_bps": 10, "monitoreo.link.out_bps": 10,
                "monitoreo.link.in_octets": "123", "monitoreo.link.out_octets": "456"})
              for i in range(144) if i not in NO_COUNTERS),
            _link("s001", last, error="SNMP sin respuesta de 198.18.0.3 (tiempo de espera agotado)"),
            _link("s006", last, **{"monitoreo.snmp.requests": 2}),
            make_event("monitoreo.estado", timestamp=ISOLATED[0], kind="state",
                       fields={"event.action": "isolated", "monitoreo.entity": "monitor"}),
            make_event("monitoreo.estado", timestamp=ISOLATED[1], kind="state",
                       fields={"event.action": "isolated_end", "monitoreo.entity": "monitor"}),
        ])  # fmt: skip
        with pytest.MonkeyPatch.context() as mp:  # the windows entered at the time they were
            s3 = T0 + timedelta(days=4, hours=9)
            mp.setattr("pukara.store.sqlite.utc_now", lambda: s3 - timedelta(days=2))
            maintenance.add(store, "s003", s3, s3 + timedelta(hours=1), "cambio de router")
            s10 = T0 + timedelta(days=7, hours=6)
            mp.setattr("pukara.store.sqlite.utc_now", lambda: s10 + timedelta(hours=5))
            maintenance.add(store, "s010", s10, s10 + timedelta(hours=2), "corte del proveedor")
        return load_sites(store)


# -- a month under way: a hub and its dependents, watched for nine minutes ----------------
HUB_T0 = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
HUB_NOW = HUB_T0 + timedelta(minutes=9, seconds=30)
HUB_CUT = (HUB_T0 + timedelta(minutes=3), HUB_T0 + timedelta(minutes=3, seconds=40))
HUB_BASE_MS = {"emb-ar": 40, "emb-bo": 100, "emb-br": 90, "emb-cl": 30, "emb-co": 55}


def build_hub(path: Path, minutes: int = 9, t0: datetime = HUB_T0) -> dict[str, Site]:
    """emb-bo and emb-br hang from the hub emb-ar, cut for 40 s inside a window of its own
    entered after the fact; emb-co down 30 s on its own; emb-cl losing a probe in 35; rounds
    every 5 s from ``t0`` for ``minutes``; tunnels up but emb-co's; lima without a probe
    address; emb-pe with a kit but not watched."""
    cut = (t0 + (HUB_CUT[0] - HUB_T0), t0 + (HUB_CUT[1] - HUB_T0))
    with SQLiteStore(path, actor="jperez") as store:
        docs = [{"code": "lima", "name": "Sede central", "kind": "sede_central",
                 "timezone": "America/Lima"}]  # fmt: skip
        zones = {"emb-ar": "America/Argentina/Buenos_Aires", "emb-bo": "America/La_Paz",
                 "emb-br": "America/Sao_Paulo", "emb-cl": "America/Santiago",
                 "emb-co": "America/Bogota", "emb-pe": "America/Lima"}  # fmt: skip
        for code, zone in zones.items():
            docs.append({"code": code, "name": f"Embajada {code[-2:]}", "kind": "embajada",
                         "timezone": zone, "vpn_kit": True,
                         "parent": "emb-ar" if code in ("emb-bo", "emb-br") else "lima"})  # fmt: skip
        store.upsert(SITES, docs, key=("code",))
        store.upsert(ASSETS, [{"name": f"gw-{d['code']}", "kind": "router", "site": d["code"],
                               "status": "activo", "mgmt_ipv4": f"198.18.0.{i + 2}",
                               "tags": ["wan", "monitoreo"], "credential_profile": "snmp"}
                              for i, d in enumerate(docs[1:])], key=("name",))  # fmt: skip
        rows = []
        for code, ms in HUB_BASE_MS.items():
            for k in range(minutes * 12):
                at = t0 + timedelta(seconds=5 * k)
                hub = code in ("emb-ar", "emb-bo", "emb-br") and cut[0] <= at < cut[1]
                own = code == "emb-co" and timedelta(minutes=6) <= at - t0 < timedelta(
                    minutes=6, seconds=30)  # fmt: skip
                if hub or own:
                    rows.append(Summary(code, to_us(at), 5_000_000, 0, 5, 0))
                    continue
                got = 4 if code == "emb-cl" and k % 7 == 0 else 5
                m = ms * 1000 + (k % 5) * 700
                rows.append(Summary(code, to_us(at), 5_000_000, 1, 5, got, m - 3000, m - 2000,
                                    m - 800, m, m + 900, m + 2500, m + 6000))  # fmt: skip
            last = to_us(t0 + timedelta(minutes=minutes))
            rows.append(Summary(f"{code}/vpn", last, 5_000_000, int(code != "emb-co"), 5, 5))
        store.write_summaries(rows)
        store.build_rollups(t0 + timedelta(minutes=minutes))
        with pytest.MonkeyPatch.context() as mp:  # entered a minute after the cut
            mp.setattr("pukara.store.sqlite.utc_now", lambda: cut[1] + timedelta(minutes=1))
            maintenance.add(store, "emb-ar", cut[0] - timedelta(seconds=20),
                            cut[1] + timedelta(seconds=20), "cambio de router del hub")  # fmt: skip
        return load_sites(store)
