"""The lab's FRR routers: real zebra, staticd and bgpd per site, headquarters' bgpd, SSH to vtysh.

Runs only with the lab (root, FRR): ``flock /tmp/pukara-lab.lock pytest
tests/integration/test_lab_frr.py``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import frr, manage, vpn
from lab.sites import LabSite
from tests.conftest import running_lab

# Indexes of their own, away from every other lab fixture
SITES = [
    LabSite(index=3801, code="f1", delay_ms=20.0, tunnel=True),
    LabSite(index=3802, code="f2", delay_ms=60.0),
    LabSite(index=3803, code="f3", delay_ms=20.0, router="as-errado"),
    LabSite(index=3804, code="f4", delay_ms=20.0, router="ruta-extra"),
]


def _site(code: str) -> LabSite:
    return next(s for s in SITES if s.code == code)


def _routes(lab: manage.Lab) -> list[str]:
    """The routes of the machine's own namespace (every table, both families) about this lab.

    Other labs may be up on the machine at the same time: only the lines naming one of this
    lab's links, interfaces or mission LANs are kept.
    """
    tags = [t for s in SITES for t in (f"{s.lan} ", f"{s.v4_net} ", f"{s.v6_net} ",
                                        f"dev {lab.host_if(s)} ")]  # fmt: skip
    lines = []
    for family in ("-4", "-6"):
        done = subprocess.run(["ip", family, "route", "show", "table", "all"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        lines += [ln for ln in done.stdout.splitlines() if any(t in ln + " " for t in tags)]
    return lines


@pytest.fixture(scope="module")
def frr_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    for the_lab in running_lab(tmp_path_factory, SITES, "pkq"):
        manage.wait_ready(the_lab, 60)
        yield the_lab


def ssh(
    lab: manage.Lab, address: str, command: str | None = None, stdin: str = "", rc: int = 0
) -> str:
    argv = ["ssh", "-i", str(lab.key), "-o", f"UserKnownHostsFile={lab.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]  # fmt: skip
    argv += ["-tt", f"red@{address}"] if command is None else [f"red@{address}", command]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == rc, done.stdout + done.stderr
    return done.stdout


def test_bgp_is_up_with_every_standard_site_and_down_with_the_wrong_as(
    frr_lab: manage.Lab,
) -> None:
    assert [frr.bgp_established(frr_lab, s) for s in SITES] == [True, True, False, True]
    sessions = frr.hq_sessions(frr_lab)
    assert {a: st == "Established" for a, st in sessions.items()} == {
        str(s.v4): s.router != "as-errado" for s in SITES
    }
    rows = {r["site.code"]: r for r in manage.status(frr_lab)}
    assert rows["f1"]["router"] == "BGP establecido"
    assert rows["f3"]["router"].startswith("BGP caído")
    assert rows["f3"]["router_kind"] == "as-errado"


def test_the_network_user_lands_in_vtysh_over_ssh(frr_lab: manage.Lab) -> None:
    site = _site("f1")
    secrets = frr.load_secrets(frr_lab)[site.code]
    text = ssh(frr_lab, str(site.v4), "show running-config")
    lines = text.splitlines()
    for line in ["hostname gw-f1", f"password {secrets.vty}", f"enable password {secrets.enable}",
                 f" neighbor {site.v4_host} remote-as 65000",
                 f" neighbor {site.v4_host} password {secrets.bgp}",
                 " description enlace a sede central", f"  network {site.lan}/32"]:  # fmt: skip
        assert line in lines, line
    assert lines.count("hostname gw-f1") == 1
    assert "ntp" not in text
    # a command on the ssh line is one vtysh command, never a shell's
    shell = ssh(frr_lab, str(site.v4), "id; echo $HOME", rc=1)
    assert shell == "% Unknown command: id; echo $HOME\n"
    # interactive: vtysh's prompt, configuration mode, back out
    session = ssh(frr_lab, str(site.v6), None, "show version\nconfigure terminal\nend\nexit\n")
    assert "gw-f1# " in session and "FRRouting 8.4" in session
    assert "gw-f1(config)# " in session


def test_headquarters_is_gw_lima_over_ssh(frr_lab: manage.Lab) -> None:
    v4, v6 = frr.hq_address(SITES)
    text = ssh(frr_lab, str(v4), "show running-config")
    assert "hostname gw-lima" in text.splitlines() and "router bgp 65000" in text
    for s in SITES:
        assert f" neighbor {s.v4} remote-as {frr.asn(s)}" in text
        assert f" neighbor {s.v4} password {frr.load_secrets(frr_lab)[s.code].bgp}" in text
    assert "gw-f1" in ssh(frr_lab, str(v6), "show bgp summary")


def test_an_extra_static_route_is_in_the_sites_own_table(frr_lab: manage.Lab) -> None:
    site = _site("f4")
    done = subprocess.run(["ip", "-n", frr_lab.ns(site), "route", "show", f"{frr.EXTRA_ROUTE}"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert f"via {site.v4_host}" in done.stdout and "proto static" in done.stdout
    assert f"ip route {frr.EXTRA_ROUTE}/32 {site.v4_host}" in frr.vtysh(
        frr_lab, site, "show running-config"
    )


def test_headquarters_learns_routes_but_never_installs_one(frr_lab: manage.Lab) -> None:
    """HQ's bgpd has the missions' LAN prefixes, the machine's tables never see them."""
    before = _routes(frr_lab)
    frr.vtysh(frr_lab, frr.HQ_CODE, "clear bgp *")
    lan = f"{_site('f1').lan}/32"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        table = frr.vtysh(frr_lab, frr.HQ_CODE, f"show bgp ipv4 unicast {lan}", check=False)
        if "Network not in table" not in table and "best" in table:
            break
        time.sleep(0.5)
    assert "best" in table, table
    assert _routes(frr_lab) == before
    assert before and not [ln for ln in before if "proto bgp" in ln or "proto zebra" in ln]
    lan_routes = [ln for ln in before if ln.startswith(f"{_site('f1').lan} ")]
    tunnel = f" dev {vpn.hq_interface(_site('f1'))} "
    assert lan_routes and all(tunnel in ln and "proto" not in ln for ln in lan_routes)


def test_a_change_saved_with_write_memory_survives_a_restart(frr_lab: manage.Lab) -> None:
    site = _site("f2")
    out = ssh(frr_lab, str(site.v4),
              "configure terminal\nip prefix-list PL-PRUEBA seq 5 permit 198.18.0.0/15\n"
              "end\nwrite memory")  # fmt: skip
    assert "Integrated configuration saved" in out
    saved = (frr.folder(frr_lab, site) / "etc" / "frr.conf").read_text()
    assert "ip prefix-list PL-PRUEBA seq 5 permit 198.18.0.0/15" in saved
    # the lab's own `arriba` keeps a running router as it is (idempotent) ...
    pids = [p.read_text() for p in sorted((frr.folder(frr_lab, site) / "run").glob("*.pid"))]
    manage.up(frr_lab, SITES)
    assert [p.read_text() for p in sorted((frr.folder(frr_lab, site) / "run").glob("*.pid"))] == (
        pids
    )
    # ... and a router that stopped comes back with what was saved
    frr.stop(frr_lab, site)
    manage.up(frr_lab, SITES)
    assert "PL-PRUEBA" in frr.vtysh(frr_lab, site, "show running-config")
    manage.wait_ready(frr_lab, 60)


def _ours(names: list[str]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(n in cmd.split("\0") for n in names):
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_down_leaves_no_router_behind(tmp_path_factory: pytest.TempPathFactory) -> None:
    sites = [LabSite(index=3805, code="f5", delay_ms=20.0)]
    machine = {p: set(os.listdir(p)) for p in frr.PRIVATE_PATHS}
    for the_lab in running_lab(tmp_path_factory, sites, "pkj"):
        names = [the_lab.ns(sites[0]), frr.HQ_PATHSPACE]
        assert len(_ours([the_lab.ns(sites[0])])) == 3  # zebra, staticd, bgpd
        hq = frr.folder(the_lab, None) / "run" / "bgpd.pid"
        hq_pid = int(hq.read_text())
        assert _alive(hq_pid)
        v4, _ = frr.hq_address(sites)
        assert str(v4) in subprocess.run(["ip", "addr", "show", "lo"], capture_output=True,
                                         text=True, check=True).stdout  # fmt: skip
    assert not _ours(names[:1]) and not _alive(hq_pid)
    assert str(v4) not in subprocess.run(["ip", "addr", "show", "lo"], capture_output=True,
                                         text=True, check=True).stdout  # fmt: skip
    after = {p: set(os.listdir(p)) for p in frr.PRIVATE_PATHS}
    for p in frr.PRIVATE_PATHS:  # nothing of this lab in the machine's FRR folders
        assert not {n for n in after[p] - machine[p] if n in names}
