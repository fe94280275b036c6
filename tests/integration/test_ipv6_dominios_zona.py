"""`ipv6 dominios` in the internet lab: a host name inside a zone is judged by its zone's name
servers (NS walk-up), and from the v4-only vantage the command exits 3 with its IPv6 scores
«sin probar».

Runs only with the lab (root): ``flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-internet.lock
.venv/bin/pytest tests/integration/test_ipv6_dominios_zona.py -q``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipv6 import dominios
from ipv6.modelo import Status
from lab import internet, manage
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration
LAB_ULA = ("fd70:756b:6172::/48",)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    if os.geteuid() != 0:
        skip_or_fail("el laboratorio necesita root")
    for tool in (internet.internet_dns.KNOTD, internet.internet_dns.UNBOUND):
        if not shutil.which(tool):
            skip_or_fail(f"falta {tool}")
    lab = manage.Lab(tmp_path_factory.mktemp("zona") / "lab", prefix="pkd")
    internet.up(lab)
    try:
        yield lab
    finally:
        internet.down(lab)


def test_a_host_inside_a_zone_uses_the_zones_name_servers(net: manage.Lab) -> None:
    c1, results = dominios.run(dominios.read_names(["www.rree.test", "rree.test"]),
                               resolver=internet.resolver(net)[0], anchors=internet.anchors(net),
                               global_prefixes=LAB_ULA, concurrency=4)  # fmt: skip
    assert c1.status is Status.PASS, c1
    got = {(r.subject, r.check): r for r in results}
    host, apex = got[("www.rree.test", "N1")], got[("rree.test", "N1")]
    assert host.status is Status.PASS, host  # was a false fail: no NS at the host name
    assert host.evidence["zone"] == "rree.test" and host.evidence["ns"] == apex.evidence["ns"]
    assert "zone" not in apex.evidence
    for check in ("N2u", "N2t", "N5"):
        r = got[("www.rree.test", check)]
        assert r.status is got[("rree.test", check)].status, r
        assert r.evidence.get("zone") == "rree.test", r
    assert "zone" not in got[("www.rree.test", "W1a")].evidence


def test_the_v4_only_vantage_exits_3_and_shows_no_ipv6_score(
    net: manage.Lab, tmp_path: Path
) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "PUKARA_IPV6_ANCLAS": ",".join(internet.anchors(net)),
           "PUKARA_IPV6_PREFIJOS_GLOBALES": LAB_ULA[0], "PUKARA_TIMEOUT_S": "2",
           "COLUMNS": "200"}  # fmt: skip
    base = ["ip", "netns", "exec", internet.vantage_v4_only(net), sys.executable, "-m", "cli",
            "--base-datos", str(tmp_path / "p.db"), "ipv6", "dominios", "rree.test",
            "embperu-br.test", "--resolutor", internet.resolver(net)[0]]  # fmt: skip
    shown = subprocess.run([*base, "-f", "json"], capture_output=True, text=True, timeout=120,
                           cwd=ROOT, env=env)  # fmt: skip
    assert shown.returncode == 3, shown.stderr
    rows = json.loads(shown.stdout)
    assert rows[0]["check"] == "C1" and rows[0]["status"] == "fail"
    assert any(r["status"] == "pass" for r in rows[1:])  # JSON keeps the raw results
    table = subprocess.run(base, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert table.returncode == 3, table.stderr
    line = next(x for x in table.stdout.splitlines() if "rree.test" in x)
    assert line.count("sin probar") == 4, line  # DNS, Web, Correo, Puntaje
