"""The SoA rows: applicability, implementation status, evidence, age and freshness."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditoria import aplicabilidad, soa
from auditoria.modelo import Status
from pukara.errors import PukaraError
from tests.unit.auditoria_soa_case import CHECKS, NOW, result, results


def rows(edition: str) -> dict[str, soa.Row]:
    built = soa.build(edition, results(), CHECKS, aplicabilidad.load(), now=NOW)
    return {row.control: row for row in built}


def test_every_control_once_in_catalogue_order() -> None:
    r22, r13 = rows("2022"), rows("2013")
    assert len(r22) == 93
    assert len(r13) == 114
    assert next(iter(r13)) == "A.5.1.1"
    assert all(row.applicable is not None and row.justification for row in r22.values())


def test_status_from_the_linked_results_2022() -> None:
    r = rows("2022")
    # ntp_sync passes on both hosts, net_clock (partial support) passes: implemented
    assert r["A.8.17"].status == soa.IMPLEMENTED
    assert r["A.8.17"].evidence == ("net_clock@gw-lima", "ntp_sync@srv-aud1", "ntp_sync@srv-aud2")
    assert r["A.8.17"].evidence_age_days == 40
    assert r["A.8.17"].freshness == soa.STALE
    assert r["A.8.15"].status == soa.PARTIAL  # syslog passes, log permissions fail
    assert r["A.8.15"].freshness == soa.CURRENT
    assert r["A.8.15"].evidence_age_days == 1
    assert r["A.8.2"].status == soa.NOT_IMPLEMENTED  # a fail and an error, never a pass
    assert r["A.8.5"].status == soa.PARTIAL  # root login fails, the banner passes
    # a waived finding is its own state: risk accepted, the control is not in place
    assert r["A.5.18"].status == soa.WAIVED
    assert r["A.5.18"].cells()["status"] == "exceptuado"
    assert r["A.7.10"].status == soa.NOT_ASSESSED  # only a not-applicable result
    assert r["A.7.10"].evidence == ("usb_storage@srv-aud1",)
    assert r["A.8.16"].status == soa.PARTIAL  # passes, but the check only partly supports it
    assert r["A.5.1"].status == soa.NOT_ASSESSED
    assert r["A.5.1"].evidence == ()
    assert r["A.5.1"].evidence_age_days is None
    assert r["A.5.1"].freshness == ""
    assert r["A.8.30"].applicable is False
    assert not any("openscap" in e for row in r.values() for e in row.evidence)


def test_2013_evidence_goes_through_the_checks_2013_links() -> None:
    r = rows("2013")
    assert r["A.12.4.4"].evidence == ("net_clock@gw-lima", "ntp_sync@srv-aud1", "ntp_sync@srv-aud2")
    assert r["A.12.4.1"].evidence == ("monitoring_agent@srv-aud1", "syslog_remote@srv-aud1")
    assert r["A.12.4.1"].status == soa.IMPLEMENTED  # syslog supports it fully and passes
    assert r["A.12.4.2"].status == soa.NOT_IMPLEMENTED
    assert r["A.9.2.5"].status == r["A.9.2.6"].status == soa.WAIVED
    assert r["A.9.2.3"].status == soa.NOT_IMPLEMENTED
    assert r["A.14.2.7"].applicable is False


def test_stale_lists_results_past_valid_until() -> None:
    stale = soa.stale(results(), NOW)
    assert [soa.result_id(r) for r in stale] == ["ntp_sync@srv-aud2"]
    fresh = result("ntp_sync", "srv-aud3", Status.PASS, age_days=30, valid_days=30)
    assert soa.stale([fresh], NOW) == []  # valid until exactly now: still current


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aplicabilidad.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[2022]\n"A.5.1" = { applicable = true, justification = "x" }\n"A.5.2" = { applicable = "si", '
         'justification = "x" }\n', r"línea 3, campo applicable: se espera true o false"),
        ('[2022]\n\n"A.5.1" = { applicable = true }\n', r"línea 3, campo justification"),
        ('[2022]\n"A.5.1" = { applicable = true, justification = "  " }\n', r"línea 2, campo justification"),
        ('[2013]\n"A.5.1.1" = { applicable = true, justification = "x" }\n"A.19.1" = { applicable = '
         'true, justification = "x" }\n', r"línea 3, campo id: el control 'A.19.1' no existe"),
        ('[2022]\n"A.5.1" = { applicable = true, justification = "x", owner = "y" }\n',
         r"línea 2, campo owner: campo desconocido"),
        ('[2024]\n"A.5.1" = { applicable = true, justification = "x" }\n', r"línea 1, tabla \[2024\]"),
        ('[2022]\n"A.5.1" = { applicable = true, justification = "x" \n', r"línea 2, columna \d+: TOML"),
    ],
)  # fmt: skip
def test_malformed_applicability_names_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PukaraError, match=expected) as info:
        aplicabilidad.load(path)
    assert str(path) in info.value.message


def test_user_file_in_the_data_directory_wins_over_the_default(tmp_path: Path) -> None:
    own = aplicabilidad.user_file(tmp_path)
    own.parent.mkdir(parents=True)
    own.write_text(
        '[2022]\n"a.8.11" = { applicable = true, justification = "Sí usamos" }\n', "utf-8"
    )
    loaded = aplicabilidad.load(None, tmp_path)
    assert loaded["2022"]["A.8.11"].applicable is True
    assert loaded["2013"] == {}
    built = soa.build("2013", [], CHECKS, loaded, now=NOW)
    assert all(row.applicable is None and row.status == soa.NOT_ASSESSED for row in built)
    assert built[0].cells()["applicable"] == "sin declarar"
    assert aplicabilidad.load(None, tmp_path / "otra")["2022"]["A.8.11"].applicable is False


def test_a_waiver_that_ended_after_the_run_is_a_fail_in_the_soa() -> None:
    """The WAIVED result's valid_until is the waiver's end: once past, it is no exception."""
    ended = result("dormant_accounts", "srv-aud1", Status.WAIVED, age_days=10, valid_days=5)
    r = {row.control: row for row in soa.build("2022", [ended], CHECKS, {}, now=NOW)}
    assert r["A.5.18"].status == soa.NOT_IMPLEMENTED
    assert r["A.5.18"].freshness == soa.STALE
    mixed = [ended, result("dormant_accounts", "srv-aud2", Status.PASS)]
    r = {row.control: row for row in soa.build("2022", mixed, CHECKS, {}, now=NOW)}
    assert r["A.5.18"].status == soa.PARTIAL


def test_the_html_soa_shows_the_waived_state() -> None:
    from auditoria import soa_salida

    built = soa.build("2022", results(), CHECKS, aplicabilidad.load(), now=NOW)
    page = soa_salida.to_html(built, "2022", NOW)
    assert '<span class="st waived">exceptuado</span>' in page
    assert '<div class="card waived"><b>1</b>exceptuado</div>' in page
