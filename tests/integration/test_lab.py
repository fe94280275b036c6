"""The emulated WAN against the real tools: fping, net-snmp's snmpget and OpenSSH."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from lab import manage, netns
from lab.sites import LabSite, default_sites
from pukara.errors import LabError
from tests.conftest import lab_available, run_as_nobody, site, skip_or_fail

pytestmark = pytest.mark.integration


def _fping(
    *targets: str, count: int, period_ms: int = 100, timeout_ms: int = 1000
) -> dict[str, list[float | None]]:
    done = subprocess.run(
        ["fping", "-C", str(count), "-q", "-p", str(period_ms), "-t", str(timeout_ms), *targets],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    out: dict[str, list[float | None]] = {}
    for line in done.stderr.splitlines():
        host, _, samples = line.partition(" : ")
        out[host.strip()] = [None if s == "-" else float(s) for s in samples.split()]
    return out


def _creds(lab: manage.Lab) -> dict[str, str]:
    return tomllib.loads(lab.credentials_file.read_text())["lab"]


def test_every_site_runs_its_services(lab: manage.Lab) -> None:
    rows = manage.status(lab)
    assert [r["site.code"] for r in rows] == ["t1", "t2", "t3", "t4"]
    assert all(r["netns_up"] and r["snmpd"] and r["sshd"] and r["echo"] for r in rows)
    assert lab.key.stat().st_mode & 0o077 == 0
    assert lab.credentials_file.stat().st_mode & 0o077 == 0


def test_addresses_come_from_the_lab_ranges(lab: manage.Lab) -> None:
    for r in manage.status(lab):
        assert r["ipv4"].startswith("198.18.") and r["ipv6"].startswith("fd70:756b:6172:")


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_emulated_delay_is_what_fping_measures(lab: manage.Lab, family: str) -> None:
    t1, t2 = site("t1"), site("t2")
    a1, a2 = (str(t1.v4), str(t2.v4)) if family == "ipv4" else (str(t1.v6), str(t2.v6))
    got = _fping(a1, a2, count=40, period_ms=20)
    s1 = [x for x in got[a1] if x is not None]
    s2 = [x for x in got[a2] if x is not None]
    assert len(s1) == len(s2) == 40
    assert abs(statistics.median(s1) - t1.delay_ms) < 1.0  # no jitter: tight
    # ±4 ms uniform jitter: the median of 40 has a standard deviation of about 0.5 ms, and
    # fping rounds values over 100 ms to whole milliseconds; 2.5 ms is about four sigma.
    assert abs(statistics.median(s2) - t2.delay_ms) < 2.5
    assert max(s2) - min(s2) > 2.0  # jitter is applied


def test_down_site_answers_nothing(lab: manage.Lab) -> None:
    addr = str(site("t4").v4)
    assert _fping(addr, count=3, period_ms=100, timeout_ms=300)[addr] == [None] * 3


def test_loss_is_close_to_the_emulated_rate(lab: manage.Lab) -> None:
    addr = str(site("t3").v4)
    samples = _fping(addr, count=400, period_ms=5, timeout_ms=500)[addr]
    loss = samples.count(None) / len(samples)
    assert 0.13 < loss < 0.27  # 20 % emulated; bounds are about 3.5 standard deviations


def test_snmp_v2c_and_v3_authpriv_over_both_families(lab: manage.Lab) -> None:
    c = _creds(lab)
    t2 = site("t2")
    v2 = subprocess.run(
        ["snmpget", "-v2c", "-c", c["community"], "-Oqv", str(t2.v4), "1.3.6.1.2.1.1.5.0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert v2.stdout.strip().strip('"') == "gw-t2"
    v3 = subprocess.run(
        ["snmpget", "-v3", "-l", "authPriv", "-u", c["snmp_user"], "-a", "SHA", "-A", c["auth_key"],
         "-x", "AES", "-X", c["priv_key"], "-Oqv", f"udp6:[{t2.v6}]", "1.3.6.1.2.1.1.5.0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert v3.stdout.strip().strip('"') == "gw-t2"


def test_snmp_wrong_credentials_are_refused(lab: manage.Lab) -> None:
    c = _creds(lab)
    wrong_v3 = subprocess.run(
        ["snmpget", "-v3", "-l", "authPriv", "-u", c["snmp_user"], "-a", "SHA", "-A", "clave-equivocada",
         "-x", "AES", "-X", c["priv_key"], "-r", "0", "-t", "1", str(site("t1").v4), "1.3.6.1.2.1.1.5.0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert wrong_v3.returncode != 0 and "Authentication failure" in wrong_v3.stderr
    wrong_v2 = subprocess.run(
        ["snmpget", "-v2c", "-c", "publica", "-r", "0", "-t", "1", str(site("t1").v4), "1.3.6.1.2.1.1.5.0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert wrong_v2.returncode != 0 and "Timeout" in wrong_v2.stderr


def _ssh(
    lab: manage.Lab, addr: str, *cmd: str, key: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-i", str(key or lab.key), "-o", f"UserKnownHostsFile={lab.known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3",
         "-o", "IdentitiesOnly=yes", f"root@{addr}", *cmd],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_ssh_with_the_lab_key_lands_inside_the_site(lab: manage.Lab) -> None:
    t1 = site("t1")
    done = _ssh(lab, str(t1.v6), "ip", "-br", "addr", "show", "wan0")
    assert done.returncode == 0, done.stderr
    assert str(t1.v4) in done.stdout and str(t1.v6) in done.stdout


def test_ssh_refuses_another_key(lab: manage.Lab, tmp_path: Path) -> None:
    other = tmp_path / "otra"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    done = _ssh(lab, str(site("t1").v4), "true", key=other)
    assert done.returncode == 255 and "Permission denied" in done.stderr


def test_up_again_is_idempotent(lab: manage.Lab) -> None:
    before = {r: (lab.site_dir(s) / "snmpd.pid").read_text() for s in _sites(lab) for r in [s.code]}
    namespaces = netns.existing()
    manage.up(lab, _sites(lab))
    after = {s.code: (lab.site_dir(s) / "snmpd.pid").read_text() for s in _sites(lab)}
    assert before == after  # daemons kept, not restarted
    assert netns.existing() == namespaces
    assert all(r["echo"] and r["snmpd"] for r in manage.status(lab))


def _sites(lab: manage.Lab) -> list[LabSite]:
    from tests.conftest import TEST_SITES

    return TEST_SITES


def test_taken_namespace_is_refused(tmp_path: Path) -> None:
    if lab_available():
        skip_or_fail(str(lab_available()))
    subprocess.run(["ip", "netns", "add", "pkx-0001"], check=True)
    try:
        with pytest.raises(LabError, match="pkx-0001 ya existe y no es de este laboratorio"):
            manage.up(manage.Lab(tmp_path / "x", prefix="pkx"), default_sites(1))
        assert "pkx-0001" in netns.existing()  # someone else's: left alone
    finally:
        subprocess.run(["ip", "netns", "del", "pkx-0001"], check=True)


def test_a_site_that_changes_code_gets_new_daemons(tmp_path: Path) -> None:
    if lab_available():
        skip_or_fail(str(lab_available()))
    the_lab = manage.Lab(tmp_path / "r", prefix="pkr")
    try:
        manage.up(the_lab, [LabSite(index=3501, code="r1")])
        manage.up(the_lab, [LabSite(index=3501, code="r2")])
        community = tomllib.loads(the_lab.credentials_file.read_text())["lab"]["community"]
        name = subprocess.run(
            ["snmpget", "-v2c", "-c", community, "-Oqv", str(LabSite(3501, "r2").v4),
             "1.3.6.1.2.1.1.5.0"], capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert name.stdout.strip().strip('"') == "gw-r2"
    finally:
        manage.down(the_lab)


def test_lab_refuses_unprivileged_user(tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="pukara-nadie-"))
    home.chmod(0o777)
    try:
        done = run_as_nobody(["-m", "cli", "lab", "arriba"],
                             {"HOME": str(home), "PATH": os.environ["PATH"]})  # fmt: skip
    finally:
        shutil.rmtree(home)
    assert done.returncode == 1, done.stderr
    assert "necesita root" in done.stderr


def _running_processes_under(path: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if stat != "Z" and str(path) in cmdline:
            found.append(int(proc.name))
    return found


def test_150_sites_come_up_and_go_away_without_a_trace(tmp_path: Path) -> None:
    if lab_available():
        skip_or_fail(str(lab_available()))
    big = manage.Lab(tmp_path / "grande", prefix="pkg")
    sites = [
        LabSite(index=2000 + s.index, code=s.code, delay_ms=s.delay_ms, jitter_ms=s.jitter_ms,
                loss_pct=s.loss_pct)
        for s in default_sites(150)
    ]  # fmt: skip
    try:
        rows = manage.up(big, sites)
        assert len(rows) == 150
        assert all(r["netns_up"] and r["snmpd"] and r["sshd"] and r["echo"] for r in rows)
        addrs = [str(sites[0].v4), str(sites[-1].v6)]
        got = _fping(*addrs, count=2, period_ms=400, timeout_ms=800)
        assert all(v is not None for samples in got.values() for v in samples)
    finally:
        manage.down(big)
    assert not [ns for ns in netns.existing() if ns.startswith("pkg-")]
    assert not _running_processes_under(tmp_path / "grande")
    assert not (tmp_path / "grande").exists()
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    assert not re.search(r"^pkgh\d+", links, re.MULTILINE)


# A lab of its own, switched between a flat and a hub topology while it runs
FLAT = [
    LabSite(index=3901, code="h1", delay_ms=20.0),
    LabSite(index=3902, code="h2", delay_ms=20.0, tunnel=True),
    LabSite(index=3903, code="h3", delay_ms=20.0),
]
HUB = [FLAT[0], *(dataclasses.replace(s, parent="h1") for s in FLAT[1:])]


def _answers(the_lab: manage.Lab, sites: list[LabSite]) -> dict[str, bool]:
    """Each site's snmpd answers with its name over IPv4 and IPv6; a tunnel carries pings."""
    community = _creds(the_lab)["community"]
    out = {}
    for s in sites:
        names = [
            subprocess.run(
                ["snmpget", "-v2c", "-c", community, "-t", "1", "-r", "3", "-Oqv", addr,
                 "1.3.6.1.2.1.1.5.0"], capture_output=True, text=True, check=False,
            ).stdout.strip().strip('"')
            for addr in (str(s.v4), f"udp6:[{s.v6}]")
        ]  # fmt: skip
        ok = names == [s.hostname] * 2
        if s.tunnel:
            lan = str(s.lan)
            ok = ok and any(v is not None for v in _fping(lan, count=10, period_ms=300)[lan])
        out[s.code] = ok
    return out


def _recorded(the_lab: manage.Lab) -> dict[str, object]:
    return dict(json.loads(the_lab.state_file.read_text()))


def test_a_running_lab_switches_to_a_hub_topology_and_back(tmp_path: Path) -> None:
    if lab_available():
        skip_or_fail(str(lab_available()))
    the_lab = manage.Lab(tmp_path / "h", prefix="pkh")
    try:
        manage.up(the_lab, FLAT)
        assert _answers(the_lab, FLAT) == {"h1": True, "h2": True, "h3": True}
        rows = manage.up(the_lab, HUB)
        assert [r["parent"] for r in rows] == ["", "h1", "h1"]
        assert all(r["snmpd"] and r["sshd"] for r in rows)
        # the children's headquarters end now lives in the hub's namespace, routed through it
        hub_links = subprocess.run(["ip", "-n", "pkh-3901", "-o", "link"], capture_output=True,
                                   text=True, check=True).stdout  # fmt: skip
        assert "pkhh3902@" in hub_links and "pkhh3903@" in hub_links
        assert not Path("/sys/class/net/pkhh3902").exists()
        assert _answers(the_lab, HUB) == {"h1": True, "h2": True, "h3": True}
        assert [x["parent"] for x in _recorded(the_lab)["sites"]] == ["", "h1", "h1"]  # type: ignore[index]
        rows = manage.up(the_lab, FLAT)
        assert [r["parent"] for r in rows] == ["", "", ""]
        assert Path("/sys/class/net/pkhh3902").exists()
        assert _answers(the_lab, FLAT) == {"h1": True, "h2": True, "h3": True}
        assert "changing" not in _recorded(the_lab)
    finally:
        manage.down(the_lab)
    assert not [ns for ns in netns.existing() if ns.startswith("pkh-")]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    assert not re.search(r"^pkhh\d+", links, re.MULTILINE)


def test_a_switch_that_fails_half_way_records_no_state_it_did_not_reach(tmp_path: Path) -> None:
    if lab_available():
        skip_or_fail(str(lab_available()))
    the_lab = manage.Lab(tmp_path / "h", prefix="pkh")
    try:
        manage.up(the_lab, HUB)
        # h3's host key is damaged on disk: its sshd, started again after the move, cannot run
        key = the_lab.site_dir(HUB[2]) / "ssh_host_ed25519_key"
        key.write_text("no es una llave\n")
        with pytest.raises(LabError, match="sshd de h3 no arrancó"):
            manage.up(the_lab, FLAT)
        recorded = _recorded(the_lab)
        assert [x["parent"] for x in recorded["sites"]] == ["", "h1", "h1"]  # type: ignore[index]
        with pytest.raises(LabError, match="a medio cambiar"):
            manage.status(the_lab)
        with pytest.raises(LabError, match="a medio cambiar"):
            manage.alter(the_lab, "h1", loss_pct=1.0)
        key.unlink()
        key.with_suffix(".pub").unlink()
        rows = manage.up(the_lab, FLAT)  # repeating it finishes the change
        assert [r["parent"] for r in rows] == ["", "", ""]
        assert _answers(the_lab, FLAT) == {"h1": True, "h2": True, "h3": True}
    finally:
        manage.down(the_lab)
    assert not [ns for ns in netns.existing() if ns.startswith("pkh-")]


def test_waiting_names_the_sites_and_services_that_do_not_answer(
    lab: manage.Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    monkeypatch.setenv("PUKARA_LAB_DIR", str(lab.state_dir))
    assert main(["lab", "esperar", "--tiempo", "30"]) == 0  # t4 is down on purpose: not waited for
    assert "Laboratorio listo (4 sedes)." in capsys.readouterr().err
    pid = int((lab.site_dir(site("t2")) / "snmpd.pid").read_text().split()[0])
    os.kill(pid, 15)
    try:
        started = time.monotonic()
        with pytest.raises(LabError, match=r"no quedó listo en 2 s; no responden: t2 \(SNMP\)"):
            manage.wait_ready(lab, timeout_s=2)
        assert time.monotonic() - started < 10
    finally:
        manage.up(lab, _sites(lab))  # snmpd starts again
    manage.wait_ready(lab, timeout_s=30)


READY = [LabSite(index=3961 + i, code=f"d{i + 1}", delay_ms=30.0, tunnel=True) for i in range(3)]


def test_discovery_right_after_the_lab_is_ready_is_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make demo` does: up, wait, discover; a second discovery then changes nothing."""
    if lab_available():
        skip_or_fail(str(lab_available()))
    from inventario import catalog, discovery, files
    from pukara.config import load_settings
    from pukara.store import SQLiteStore
    from tests.conftest import write_lab_inventory

    the_lab = manage.Lab(tmp_path / "d", prefix="pkd")
    settings = load_settings({"data_dir": tmp_path / "datos"}, environ={})
    try:
        with SQLiteStore(settings.db) as store:
            for f in write_lab_inventory(tmp_path / "inv", READY):
                catalog.import_file(store, files.read_file(f), dry_run=False)
            manage.up(the_lab, READY)
            manage.wait_ready(the_lab, timeout_s=60)
            monkeypatch.setenv("PUKARA_CREDENTIALS", str(the_lab.credentials_file))
            targets = discovery.resolve(store, [s.code for s in READY], [])
            first = discovery.run(store, settings, targets, methods=["snmp", "ssh"], timeout_s=2)
            assert not first.failed
            facts = first.runs["snmp"].results[0].data["facts"]
            assert "kbcs0" in {i["name"] for i in facts["interfaces"]}
            again = discovery.run(store, settings, targets, methods=["snmp", "ssh"], timeout_s=2)
            assert again.changed == 0, [r.data for run in again.runs.values() for r in run.results]
    finally:
        manage.down(the_lab)
