"""auditoria.importar: OpenSCAP XCCDF/ARF and Lynis reports into the result model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditoria import importar, referencias
from auditoria.modelo import Result, Status
from pukara.store import SQLiteStore

X12 = "http://checklists.nist.gov/xccdf/1.2"
P = importar.RULE_PREFIX


def _xccdf(states: dict[str, str], *, target: str = "srv-aud1") -> str:
    rules = "".join(
        f'<rule-result idref="{P}{rule}" severity="high"><result>{state}</result></rule-result>'
        for rule, state in states.items()
    )
    return (
        f'<?xml version="1.0"?><Benchmark xmlns="{X12}" id="b">'
        f'<Rule id="{P}sshd_disable_root_login"><title>Disable SSH Root Login</title></Rule>'
        f'<TestResult id="t" start-time="2026-12-01T20:00:00-05:00" end-time="2026-12-01T20:00:05-05:00">'
        f"<target>{target}</target>{rules}</TestResult></Benchmark>"
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_states_map_and_keep_the_original(tmp_path: Path) -> None:
    states = {
        "sshd_disable_root_login": "pass",
        "accounts_no_uid_except_zero": "fail",
        "rsyslog_remote_loghost": "error",
        "no_empty_passwords_etc_shadow": "unknown",
        "package_telnetd_removed": "notapplicable",
        "sudo_remove_nopasswd": "notselected",
        "sshd_enable_warning_banner_net": "notchecked",
        "some_rule_nobody_shares": "informational",
        "another_rule": "fixed",
    }
    results = importar.openscap(_write(tmp_path, "r.xml", _xccdf(states)))
    got = {r.evidence["rule"]: r for r in results}
    assert {rule: got[rule].evidence["openscap_result"] for rule in states} == states
    assert [got[rule].status for rule in states] == [
        Status.PASS, Status.FAIL, Status.ERROR, Status.ERROR, Status.NOT_APPLICABLE,
        Status.NOT_APPLICABLE, Status.NOT_APPLICABLE, Status.NOT_APPLICABLE, Status.PASS,
    ]  # fmt: skip
    root = got["sshd_disable_root_login"]
    assert root.check_id == "ssh_root_login"
    assert root.source == "openscap"
    assert root.host == "srv-aud1"
    assert root.evidence["title"] == "Disable SSH Root Login"
    assert root.observed_at == "2026-12-02T01:00:05Z"  # end-time, in UTC
    assert root.valid_until == "2027-01-01T01:00:05Z"  # + valid_days (30)
    assert got["accounts_no_uid_except_zero"].check_id == "uid0_only_root"
    assert got["some_rule_nobody_shares"].check_id == "openscap:some_rule_nobody_shares"


def test_host_option_wins_over_the_target(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.xml", _xccdf({"sshd_disable_root_login": "pass"}))
    assert {r.host for r in importar.openscap(path, "aud3")} == {"aud3"}


def test_unknown_state_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.xml", _xccdf({"sshd_disable_root_login": "maybe"}))
    with pytest.raises(importar.ImportFileError, match="estado desconocido"):
        importar.openscap(path)


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "roto.xml", '<?xml version="1.0"?>\n<Benchmark>\n<a></b>\n')
    with pytest.raises(importar.ImportFileError) as err:
        importar.openscap(path)
    assert re.search(r"roto\.xml, línea 3, columna \d+: XML mal formado", err.value.message)


def test_entities_are_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        f'<Benchmark xmlns="{X12}"><TestResult><target>&lol2;</target></TestResult></Benchmark>'
    )
    with pytest.raises(importar.ImportFileError, match="DTD o entidades"):
        importar.openscap(_write(tmp_path, "bomba.xml", bomb))
    external = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<Benchmark xmlns="{X12}">&e;</Benchmark>'
    )
    with pytest.raises(importar.ImportFileError, match="DTD o entidades"):
        importar.openscap(_write(tmp_path, "externa.xml", external))


def test_not_xccdf_and_empty(tmp_path: Path) -> None:
    with pytest.raises(importar.ImportFileError, match="no es un resultado XCCDF ni ARF"):
        importar.openscap(_write(tmp_path, "otro.xml", "<html/>"))
    empty = f'<Benchmark xmlns="{X12}"/>'
    with pytest.raises(importar.ImportFileError, match="no trae resultados"):
        importar.openscap(_write(tmp_path, "vacio.xml", empty))
    with pytest.raises(importar.ImportFileError, match="no se pudo leer"):
        importar.openscap(tmp_path / "no-existe.xml")


LYNIS = """# Lynis Report
report_version_major=1
report_datetime_start=2026-12-01 23:24:13
report_datetime_end=2026-12-01 23:25:08
lynis_version=3.0.8
hostname=vm
hardening_index=56
warning[]=LOGG-2138|klogd is not running|-|-|
suggestion[]=SSH-7408|Consider hardening SSH configuration|PermitRootLogin (set YES to NO)|-|
suggestion[]=SSH-7408|Consider hardening SSH configuration|X11Forwarding (set YES to NO)|-|
suggestion[]=USB-1000|Disable drivers like USB storage when not used|-|-|
suggestion[]=MAIL-8820:disable_vrfy_command|Disable the 'VRFY' command|disable_vrfy_command=no|-|
"""


def test_lynis_findings(tmp_path: Path) -> None:
    results = importar.lynis(_write(tmp_path, "lynis-report.dat", LYNIS))
    assert [r.check_id for r in results] == [
        "lynis:LOGG-2138", "ssh_root_login", "lynis:SSH-7408", "usb_storage", "lynis:MAIL-8820",
    ]  # fmt: skip
    assert {r.status for r in results} == {Status.FAIL}
    assert {r.host for r in results} == {"vm"}
    assert {r.source for r in results} == {"lynis"}
    assert results[0].evidence["level"] == "warning"
    assert results[1].evidence["level"] == "suggestion"
    assert results[1].evidence["line"] == 9
    assert results[0].evidence["hardening_index"] == "56"
    assert results[0].observed_at.endswith("Z")
    assert {r.host for r in importar.lynis(tmp_path / "lynis-report.dat", "aud2")} == {"aud2"}


def test_lynis_malformed_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "lynis-report.dat", LYNIS + "esto no es clave valor\n")
    with pytest.raises(importar.ImportFileError, match=r"lynis-report\.dat, línea 13"):
        importar.lynis(path)
    with pytest.raises(importar.ImportFileError, match="no es un informe de Lynis"):
        importar.lynis(_write(tmp_path, "otro.dat", "hostname=x\n"))


def test_shared_rules_exist_in_the_ssg_data_stream() -> None:
    datastream = referencias.DATASTREAM
    assert datastream.exists(), "falta ssg-debian (apt-get install ssg-debian)"
    text = datastream.read_text(encoding="utf-8")
    ids = set(re.findall(r'Rule[^>]*id="xccdf_org\.ssgproject\.content_rule_([^"]+)"', text))
    table = importar.shared()
    assert len(table.rules) >= 10
    assert set(table.rules) | set(table.also_select) <= ids
    values = set(re.findall(r'Value[^>]*id="xccdf_org\.ssgproject\.content_value_([^"]+)"', text))
    assert set(table.values) <= values


def test_shared_rules_are_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for rule, shared in importar.shared().rules.items():
        assert f"`{rule}`" in readme
        assert f"`{shared.check}`" in readme


def test_save_is_idempotent_in_the_almacen_shape(tmp_path: Path) -> None:
    from auditoria import almacen

    states = {
        "sshd_disable_root_login": "fail",
        "package_telnetd_removed": "pass",
        "package_telnetd-ssl_removed": "pass",
    }
    path = _write(tmp_path, "r.xml", _xccdf(states))
    results = importar.openscap(path)
    store = SQLiteStore(tmp_path / "p.db")
    try:
        assert importar.save(store, results) == 3  # two rules on one check stay two
        assert importar.save(store, importar.openscap(path)) == 0
        stored = list(store.search_events(dataset=almacen.RESULT_DATASET))
        latest = almacen.latest_results(store)
        runs = almacen.list_runs(store)
    finally:
        store.close()
    assert importar.DATASET == almacen.RESULT_DATASET
    assert sorted(Result.from_dict(e["auditoria"]["result"]).evidence["rule"] for e in stored) == (
        sorted(states)
    )
    doc = next(e for e in stored if e["rule"]["id"] == "ssh_root_login")
    assert doc["rule"]["ruleset"] == "openscap"
    assert doc["event"]["outcome"] == "failure"
    assert doc["auditoria"]["run_id"].startswith("importar-")
    assert ("ssh_root_login", "srv-aud1", "openscap") in {
        (r.check_id, r.host, r.source) for r in latest
    }
    assert runs == []  # an import is not an audit run


def _r(host: str, check: str, status: Status, source: str = "pukara", rule: str = "") -> Result:
    evidence = {"rule": rule} if rule else {}
    return Result(check, host, status, "", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z",
                  evidence, source)  # fmt: skip


def test_agreement_by_relation() -> None:
    ours = [
        _r("a", "ssh_root_login", Status.PASS),
        _r("a", "ssh_password_auth", Status.FAIL),
        _r("a", "sudo_nopasswd", Status.PASS),
        _r("b", "ssh_root_login", Status.FAIL),
        _r("b", "ssh_password_auth", Status.PASS),
        _r("b", "sudo_nopasswd", Status.FAIL),
        _r("b", "uid0_only_root", Status.ERROR),
    ]
    theirs = [
        _r("a", "ssh_root_login", Status.PASS, "openscap", "sshd_disable_root_login"),
        # pukara stricter: pukara fails where OpenSCAP passes is fine
        _r("a", "ssh_password_auth", Status.PASS, "openscap", "sshd_disable_empty_passwords"),
        # openscap stricter: OpenSCAP fails where pukara passes is fine
        _r("a", "sudo_nopasswd", Status.FAIL, "openscap", "sudo_remove_nopasswd"),
        _r("a", "rsyslog", Status.NOT_APPLICABLE, "openscap", "rsyslog_remote_loghost"),
        _r("b", "ssh_root_login", Status.PASS, "openscap", "sshd_disable_root_login"),
        _r("b", "ssh_password_auth", Status.FAIL, "openscap", "sshd_disable_empty_passwords"),
        _r("b", "sudo_nopasswd", Status.PASS, "openscap", "sudo_remove_nopasswd"),
        _r("b", "uid0_only_root", Status.PASS, "openscap", "accounts_no_uid_except_zero"),
        _r("b", "syslog_remote", Status.FAIL, "openscap", "rsyslog_remote_loghost"),
        _r("b", "openscap:x", Status.FAIL, "openscap", "x"),
    ]
    found = referencias.agreement(ours, theirs)
    assert [(d.host, d.check_id) for d in found] == [
        ("b", "ssh_password_auth"),
        ("b", "ssh_root_login"),
        ("b", "sudo_nopasswd"),
        ("b", "syslog_remote"),
        ("b", "uid0_only_root"),
    ]
    assert found[4].reason == "pukara no pudo evaluarla y OpenSCAP sí"
    assert found[3].pukara is None
    assert referencias.agreement(ours[:3], theirs[:4]) == []


def test_tailoring_and_cpe_dictionary() -> None:
    from defusedxml import ElementTree as SafeET

    tailoring = SafeET.fromstring(referencias.tailoring())
    selected = {
        e.get("idref", "").removeprefix(P)
        for e in tailoring.iter(f"{{{X12}}}select")
        if e.get("selected") == "true"
    }
    table = importar.shared()
    assert selected == set(table.rules) | set(table.also_select)
    values = {e.get("idref"): e.text for e in tailoring.iter(f"{{{X12}}}set-value")}
    assert values == {f"{referencias.VALUE_PREFIX}{k}": v for k, v in table.values.items()}
    cpe = SafeET.fromstring(referencias.cpe_dictionary())
    names = {e.get("name") for e in cpe.iter("{http://cpe.mitre.org/dictionary/2.0}cpe-item")}
    assert names == {"cpe:/o:debian:debian_linux:11", "cpe:/a:machine"}
    oval = SafeET.fromstring(referencias.cpe_oval())
    ids = {e.get("id") for e in oval.iter() if e.get("id")}
    assert referencias.DEBIAN_DEFINITION in ids
    profile = referencias.lynis_profile()
    assert "skip-upgrade-test=yes" in profile
    assert "skip-test=NETW-2705" in profile


def test_compared_counts_only_rules_both_sides_judged() -> None:
    theirs = [
        _r("a", "ssh_root_login", Status.PASS, "openscap", "sshd_disable_root_login"),
        _r("a", "rsyslog", Status.NOT_APPLICABLE, "openscap", "rsyslog_remote_loghost"),
        _r("b", "ssh_root_login", Status.PASS, "openscap", "sshd_disable_root_login"),
    ]
    ours = [_r("a", "ssh_root_login", Status.FAIL), _r("b", "ssh_root_login", Status.WAIVED)]
    # host b agrees with nothing compared: zero, which the lab's comparison refuses
    assert referencias.compared(ours, theirs) == {"a": 1, "b": 0}
    assert referencias.compared([], []) == {}
