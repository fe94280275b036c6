"""Audit reports: themes, escaping in the inline SVG and HTML, JUnit shape."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from auditoria import informe
from auditoria.almacen import AuditRun
from auditoria.modelo import Check, ControlLink, Kind, Relation, Result, Status

CHECK = Check(
    "ssh_root_login", "Acceso root", Kind.LINUX,
    (ControlLink("2013", "A.9.4.2", Relation.SUPPORTS, "x"),
     ControlLink("2022", "A.8.5", Relation.SUPPORTS, "x")), 30,
)  # fmt: skip


def audit(host: str = "srv-aud1") -> AuditRun:
    at = "2026-12-01T10:00:00Z"
    results = (
        Result("ssh_root_login", host, Status.FAIL, "PermitRootLogin yes <b>", at, at),
        Result("ntp_sync", host, Status.NOT_APPLICABLE, "sin NTP", at, at),
    )
    return AuditRun("r1", at, at, "jperez", True, results=results)


def test_theme_comes_from_the_2022_control() -> None:
    assert informe.theme(CHECK) == "Tecnológicos (A.8)"
    assert informe.theme(None) == informe.NO_THEME


def test_html_escapes_what_hosts_sent_and_uses_es_pe_figures() -> None:
    page = informe.html(audit("<script>x</script>"), {CHECK.id: CHECK}, audit())
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "PermitRootLogin yes &lt;b&gt;" in page
    assert "0.0\u00a0%" in page  # the pass rate, through pukara.formats
    assert "A.9.4.2" in page and "A.8.5" in page


def test_junit_has_one_testcase_per_check_and_host() -> None:
    root = ET.fromstring(informe.to_junit(audit(), {CHECK.id: CHECK}))  # noqa: S314
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["ntp_sync", "ssh_root_login"]
    assert cases[0].find("skipped") is not None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "PermitRootLogin yes <b>"
    props = {p.get("name"): p.get("value") for p in cases[1].iter("property")}
    assert props == {"iso27001:2013": "A.9.4.2", "iso27001:2022": "A.8.5"}


def test_themes_are_drawn_in_annex_order() -> None:
    at = "2026-12-01T10:00:00Z"
    groups = {
        informe.THEMES["A.8"]: [Result("a", "h", Status.PASS, "", at, at)],
        informe.THEMES["A.5"]: [Result("b", "h", Status.FAIL, "", at, at)],
        informe.THEMES["A.7"]: [Result("c", "h", Status.PASS, "", at, at)],
    }
    bars = informe._bars(groups, list(informe.THEMES.values()))
    assert [b.label for b in bars] == [informe.THEMES[k] for k in ("A.5", "A.7", "A.8")]
