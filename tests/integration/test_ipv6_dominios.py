"""`ipv6 dominios` against the internet lab's real knot, unbound, nginx and postfix: every
domain of the ground truth gets its verdicts, from the v4-only vantage nothing IPv6 is
tested, and a resolver that does not answer stops nothing.

Runs only with the lab (root): ``flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-internet.lock
.venv/bin/pytest tests/integration/test_ipv6_dominios.py -q``.
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
from ipv6.modelo import Category, CheckResult, Status
from lab import internet, manage
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration
LAB_ULA = ("fd70:756b:6172::/48",)
# checks that need IPv6 traffic from the vantage (the rest read records through the resolver)
V6_TRAFFIC = (
    "N2u",
    "N2t",
    "W3h",
    "W3s",
    "W4h",
    "W4s",
    "W5",
    "W6c",
    "W6p",
    "W7",
    "W8",
    "M2",
    "M2s",
    "M5",
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    if os.geteuid() != 0:
        skip_or_fail("el laboratorio necesita root")
    for tool in (internet.internet_dns.KNOTD, internet.internet_dns.UNBOUND):
        if not shutil.which(tool):
            skip_or_fail(f"falta {tool}")
    lab = manage.Lab(tmp_path_factory.mktemp("dominios") / "lab", prefix="pkd")
    internet.up(lab)
    try:
        yield lab
    finally:
        internet.down(lab)


def _run(lab: manage.Lab, names: list[str], resolver: str | None = None,
         anchors: list[str] | None = None) -> tuple[CheckResult, list[CheckResult]]:  # fmt: skip
    return dominios.run(
        dominios.read_names(names),
        resolver=resolver or internet.resolver(lab)[0],
        anchors=internet.anchors(lab) if anchors is None else anchors,
        global_prefixes=LAB_ULA,
        concurrency=16,
        tls_roots=str(internet.web_roots(lab)),
    )


def _differences(truth: dict[tuple[str, str], str], names: list[str],
                 results: list[CheckResult]) -> dict[str, list[str]]:  # fmt: skip
    """The results that differ from the truth, by kind (an empty dict: none)."""
    want = {k: v for k, v in truth.items() if k[0] in names}
    got = {(r.subject, r.check): r for r in results}
    kinds: dict[str, list[str]] = {}
    for key in sorted(want.keys() | got.keys()):
        r, expected = got.get(key), want.get(key, "(sin fila en la verdad)")
        status = r.status.value if r else "(ninguno)"
        if status != expected:
            kind = {"pass": "false_pass", "fail": "false_fail"}.get(status, "other")
            if r is None or key not in want:
                kind = "missing" if r is None else "extra"
            line = f"{key[0]} {key[1]}: {status} (se esperaba {expected}) {r.message if r else ''}"
            kinds.setdefault(kind, []).append(line)
    return kinds


def test_every_domain_gets_its_verdicts(net: manage.Lab) -> None:
    truth = internet.expected()
    names = internet.domains(net)
    c1, results = _run(net, names)
    assert c1.status is Status.PASS, c1
    assert len(results) == len({(r.subject, r.check) for r in results})  # none twice
    diff = _differences(truth, names, results)
    assert {k: v for k, v in diff.items() if k != "false_fail"} == {}, diff
    assert len(diff.get("false_fail", [])) <= 1, diff
    assert all(r.evidence for r in results if r.status is not Status.PASS
               and r.status is not Status.NOT_APPLICABLE)  # fmt: skip


def test_a_missing_or_unforeseen_result_is_a_difference() -> None:
    truth = {("a.test", "N1"): "pass", ("a.test", "W7"): "not-applicable"}
    n1 = CheckResult("a.test", "N1", Status.PASS, "", Category.NAMESERVERS)
    w8 = CheckResult("a.test", "W8", Status.PASS, "", Category.WEB)
    diff = _differences(truth, ["a.test"], [n1, w8])
    assert diff == {"missing": ["a.test W7: (ninguno) (se esperaba not-applicable) "],
                    "extra": ["a.test W8: pass (se esperaba (sin fila en la verdad)) "]}  # fmt: skip


def test_v4_only_vantage_tests_nothing_ipv6(net: manage.Lab, tmp_path: Path) -> None:
    ns = internet.vantage_v4_only(net)
    names = ["rree.test", "embperu-br.test", "embperu-us.test"]
    code = (
        "import json,sys\nfrom ipv6 import dominios\n"
        f"c1, rs = dominios.run(dominios.read_names({names!r}), resolver={internet.resolver(net)[0]!r},"
        f" anchors={internet.anchors(net)!r}, global_prefixes={LAB_ULA!r}, timeout_s=2.0)\n"
        "print(json.dumps([c1.to_dict()] + [r.to_dict() for r in rs]))\n"
    )
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=120, check=True,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    rows = [CheckResult.from_dict(d) for d in json.loads(out.stdout)]
    c1, results = rows[0], rows[1:]
    assert c1.status is Status.FAIL, c1
    assert c1.evidence["reached"] == {}
    for r in results:
        if r.check in V6_TRAFFIC:
            assert r.status is not Status.PASS, r
            assert r.status in (Status.NOT_TESTED, Status.NOT_APPLICABLE), r
    n1 = {r.subject: r.status for r in results if r.check == "N1"}
    assert n1["rree.test"] is Status.PASS  # records still read through the IPv4 resolver


def test_a_resolver_that_does_not_answer(net: manage.Lab) -> None:
    silent = "198.19.31.250"  # in the internet lab's /20, nothing there
    c1, results = _run(net, ["rree.test", "embperu-ar.test"], resolver=silent)
    assert c1.status is Status.PASS
    assert {r.subject for r in results} == {"rree.test", "embperu-ar.test"}
    assert all(r.status is Status.NOT_TESTED for r in results)
    assert all(r.evidence["error"] == "timeout" for r in results)
    assert dominios.failed(results)


def test_the_command_on_the_lab(net: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from cli import main

    monkeypatch.setenv("PUKARA_IPV6_ANCLAS", ",".join(internet.anchors(net)))
    monkeypatch.setenv("PUKARA_IPV6_PREFIJOS_GLOBALES", LAB_ULA[0])
    base = ["--base-datos", str(tmp_path / "p.db"), "ipv6", "dominios", "rree.test",
            "--resolutor", internet.resolver(net)[0]]  # fmt: skip
    code = main([*base, "-f", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["check"] == "C1" and rows[0]["status"] == "pass"
    dns = {r["check"]: r["status"] for r in rows if r["category"] in ("dns", "dnssec")}
    assert dns == {"N1": "pass", "N2u": "pass", "N2t": "pass", "N3": "warn", "N4": "pass",
                   "N5": "pass", "N5m": "pass"}  # fmt: skip
    assert code == (3 if any(r["status"] == "fail" for r in rows) else 0)
    code = main([*base, "embperu-ar.test"])
    out, err = capsys.readouterr()
    assert code == 3 and "embperu-ar.test" in out and "Puntaje" in out and "2 dominios" in err


def test_n5m_names_each_mx_zone_and_m2s_the_address(net: manage.Lab) -> None:
    _c1, results = _run(net, ["embperu-uy.test", "embperu-py.test", "embperu-ve.test"])
    got = {(r.subject, r.check): r for r in results}
    assert got["embperu-uy.test", "N5"].status is got["embperu-py.test", "N5"].status is Status.PASS
    assert got["embperu-uy.test", "N5m"].evidence["mx"] == {
        "mx.correo-inseguro.test": {"zone": "correo-inseguro.test", "state": "insecure"}
    }
    assert got["embperu-py.test", "N5m"].evidence["mx"] == {
        "mx.correo-roto.test": {"zone": "correo-roto.test", "state": "bogus"}}  # fmt: skip
    m2s = got["embperu-ve.test", "M2s"]
    assert m2s.status is Status.FAIL and "fd70:756b:6172:b300::50" in m2s.message
    assert got["embperu-ve.test", "M2"].status is Status.PASS
    tls = got["embperu-uy.test", "M2s"].evidence["hosts"]["mx.correo-inseguro.test"]["tls"]
    assert all(t["version"] and t["error"] is None for t in tls.values()), tls
