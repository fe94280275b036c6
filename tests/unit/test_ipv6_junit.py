"""ipv6.junit: what a CI dashboard sees of each result status (parsed with defusedxml)."""

from __future__ import annotations

from defusedxml import ElementTree as SafeET

from ipv6.junit import records_junit, results_junit
from ipv6.modelo import Category, CheckResult, Status


def _r(subject: str, check: str, status: Status) -> CheckResult:
    return CheckResult(subject, check, status, f"mensaje de {check}", Category.WEB)


RESULTS = [
    _r("*", "C1", Status.FAIL),
    _r("rree.test", "N1", Status.NOT_TESTED),
    _r("rree.test", "W1a", Status.NOT_APPLICABLE),
    _r("rree.test", "W3", Status.PARTIAL),
    _r("rree.test", "W4", Status.WARN),
    _r("rree.test", "W6", Status.PASS),
]


def test_each_status_is_a_failure_a_skip_or_a_pass_and_names_are_stable() -> None:
    root = SafeET.fromstring(results_junit("pukara ipv6 dominios", RESULTS, errors=1))
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "6", "failures": "2", "errors": "1", "skipped": "2"}  # fmt: skip
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["* C1", "rree.test N1", "rree.test W1a", "rree.test W3",
                           "rree.test W4", "rree.test W6"]  # fmt: skip
    for name in ("* C1", "rree.test W3"):  # fail, and partial as a failure too
        failure = cases[name].find("failure")
        assert failure is not None and failure.get("message", "").startswith("mensaje de")
    for name in ("rree.test N1", "rree.test W1a"):
        skipped = cases[name].find("skipped")
        assert skipped is not None and cases[name].find("failure") is None
    n1 = cases["rree.test N1"].find("skipped")
    assert n1 is not None and n1.get("message") == "not-tested: mensaje de N1"
    for name in ("rree.test W4", "rree.test W6"):
        assert cases[name].find("failure") is None and cases[name].find("skipped") is None
        out = cases[name].find("system-out")
        assert out is not None and (out.text or "").startswith(("warn:", "pass:"))


def test_records_carry_their_title_and_control_characters_never_reach_the_xml() -> None:
    rows = [{"host.name": "gw\x1b[31m", "check": "D1", "title": "IPv6 habilitado",
             "status": "partial", "message": "a\x00b <c>"}]  # fmt: skip
    text = records_junit("pukara ipv6 equipos", rows, errors=0)
    root = SafeET.fromstring(text)
    case = next(root.iter("testcase"))
    failure = case.find("failure")
    assert failure is not None and "IPv6 habilitado" in (failure.text or "")
    assert "\x00" not in text and "\x1b" not in text and "<c>" in (failure.text or "")
