"""The monitoring poller against the lab's real snmpd: odd devices, IPv6 management."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from lab import manage
from lab.sites import LabSite
from monitoreo.device import DevicePoll, Poller
from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site
from monitoreo.watch import Watcher
from pukara.store import SQLiteStore
from tests.integration.conftest import snmp_site

pytestmark = pytest.mark.integration


def _site(lab_site: LabSite, *, v6: bool = False, code: str | None = None) -> Site:
    address = str(lab_site.v6 if v6 else lab_site.v4)
    return Site(code or lab_site.code, lab_site.code, "UTC", address, lab_site.hostname, None,
                10.0, 99.0, 5.0, 500.0, False, None, None, "lab")  # fmt: skip


def _cycles(sites: list[Site], rounds: int) -> list[dict[str, DevicePoll]]:
    async def run() -> list[dict[str, DevicePoll]]:
        poller = Poller(timeout_s=1.0, retries=1)
        try:
            return [{p.site: p for p in await poller.cycle(sites)} for _ in range(rounds)]
        finally:
            await poller.close()

    return asyncio.run(run())


@pytest.fixture
def profile(snmp_lab: manage.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(snmp_lab.credentials_file))


@pytest.mark.usefixtures("profile")
def test_a_bad_device_is_its_own_error_and_the_cycle_goes_on() -> None:
    good = [_site(snmp_site(c)) for c in ("u1", "u3", "u4")]
    unparsable = dataclasses.replace(good[0], code="no-ip", address="198.18.300.1")
    first, second = _cycles([*good, _site(snmp_site("u2")), unparsable], 2)
    for polls in (first, second):
        bad = polls["u2"]
        assert bad.counters is None and bad.error, bad
        assert "ifHCInOctets" in bad.error and "sysUpTime" in bad.error
        assert bad.wan_name == "wan0"  # its index was learnt past the row that is no address
        assert polls["no-ip"].error and polls["no-ip"].counters is None
        for s in good:
            assert polls[s.code].error is None, polls[s.code]
            assert polls[s.code].counters is not None
    assert [second[s.code].requests for s in good] == [1, 1, 1]


@pytest.mark.usefixtures("profile")
def test_an_ipv6_managed_gateway_gets_counters_then_one_get_per_cycle() -> None:
    v6 = _site(snmp_site("u1"), v6=True, code="u1-v6")
    polls = _cycles([v6], 3)
    assert all(p["u1-v6"].counters is not None for p in polls), polls
    assert polls[0]["u1-v6"].wan_name == "wan0"
    assert [p["u1-v6"].requests for p in polls[1:]] == [1, 1]


@pytest.mark.usefixtures("profile")
def test_vigilar_goes_on_past_a_malformed_device(tmp_path: Path) -> None:
    """Rounds of the real watcher: the malformed agent's link is its own error, the rest is read."""
    sites = {c: _site(snmp_site(c)) for c in ("u1", "u2", "u3")}
    targets = [Target(s.code, s.address, None, s.code) for s in sites.values()]
    store = SQLiteStore(tmp_path / "p.db")
    try:
        w = Watcher(store, sites, targets, ProbeOptions(3, 5.0, 100.0, 500.0),
                    tmp_path / "cola" / "m.jsonl", poller=Poller(timeout_s=1.0))  # fmt: skip
        report = w.watch(1.0, max_rounds=3)
        assert report.rounds == 3 and not report.leftovers()
        links = list(store.search_events(dataset="monitoreo.enlace"))
        by_site = {c: [e for e in links if e["host"]["name"] == c] for c in sites}
        assert all(len(v) == 3 for v in by_site.values()), by_site
        for e in by_site["u2"]:
            assert e["event"]["outcome"] == "failure"
            assert "ifHCInOctets" in e["error"]["message"]
        for code in ("u1", "u3"):
            assert all(e["event"]["outcome"] == "success" for e in by_site[code])
            assert by_site[code][-1]["monitoreo"]["link"]["in_bps"] is not None
        assert {c: w.tracker.states[c].state for c in sites} == dict.fromkeys(sites, "up")
    finally:
        store.close()
