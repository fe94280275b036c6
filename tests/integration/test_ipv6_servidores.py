"""`ipv6 servidores` (S1-S4) on the lab's audit hosts, over real SSH, Ansible and sockets.

aud6 has IPv6 disabled by sysctl (S1 fails), aud5's sshd listens on IPv4 only (S2 and the
external scan S4 fail), aud4's firewall is an ``ip`` table only (S3 fails) and aud1, hardened,
passes all four. Run it holding the audit hosts' lock:

    flock /tmp/pukara-lab-auditoria.lock .venv/bin/pytest tests/integration/test_ipv6_servidores.py
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditoria.linux import Target
from ipv6 import servidores
from ipv6.modelo import Status
from lab import auditoria as aud
from lab import manage
from pukara.config import Settings
from tests.conftest import lab_available, skip_or_fail

pytestmark = pytest.mark.integration
PREFIX = "pka"


@pytest.fixture(scope="module")
def audit_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(tmp_path_factory.mktemp(PREFIX) / "estado", prefix=PREFIX)
    with pytest.MonkeyPatch.context() as mp:
        try:
            aud.up(the_lab)
            profiles = tomllib.loads(the_lab.credentials_file.read_text(encoding="utf-8"))
            assert "auditoria" in profiles
            mp.setenv("PUKARA_CREDENTIALS", str(the_lab.credentials_file))
            yield the_lab
        finally:
            aud.down(the_lab)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("datos-ipv6-srv")
    data.chmod(0o700)
    return Settings(data_dir=data, db=data / "pukara.db")


@pytest.fixture(scope="module")
def reports(audit_lab: manage.Lab, settings: Settings) -> dict[str, servidores.ServerReport]:
    targets = [servidores.Server(Target(h.name, aud.address(h)), "lab") for h in aud.HOSTS]
    done = servidores.run(targets, settings)
    return {r.name: r for r in done}


def _status(report: servidores.ServerReport) -> dict[str, str]:
    return {c.check: c.status.value for c in report.checks}


def test_hardened_host_passes_all_four(reports: dict[str, servidores.ServerReport]) -> None:
    got = reports["srv-aud1"]
    assert got.error is None
    assert _status(got) == {"S1": "pass", "S2": "pass", "S3": "pass", "S4": "pass"}, [
        c.message for c in got.checks
    ]
    s4 = next(c for c in got.checks if c.check == "S4")
    assert s4.evidence["v4_open"] == s4.evidence["v6_open"] == [22]


def test_each_deliberate_gap_fails_its_check(reports: dict[str, servidores.ServerReport]) -> None:
    assert _status(reports["srv-aud6"])["S1"] == "fail"
    aud5 = _status(reports["srv-aud5"])
    assert aud5["S2"] == "fail" and aud5["S4"] == "fail"
    assert aud5["S1"] == "pass"
    assert _status(reports["srv-aud4"])["S3"] == "fail"
    assert _status(reports["srv-aud4"])["S1"] == "pass"
    s2 = next(c for c in reports["srv-aud5"].checks if c.check == "S2")
    assert s2.evidence["missing_v6"] == ["tcp/22"]
    s4 = next(c for c in reports["srv-aud5"].checks if c.check == "S4")
    assert s4.evidence["only_v4"] == [22]


def test_no_false_pass_and_evidence_on_every_non_pass(
    reports: dict[str, servidores.ServerReport],
) -> None:
    # the hosts whose gap a check must see never pass it
    gaps = {("srv-aud6", "S1"), ("srv-aud5", "S2"), ("srv-aud5", "S4"), ("srv-aud4", "S3"),
            ("srv-aud2", "S3")}  # fmt: skip
    for report in reports.values():
        for c in report.checks:
            if (report.name, c.check) in gaps:
                assert c.status is not Status.PASS, (report.name, c.check, c.message)
            if c.status is not Status.PASS:
                assert c.evidence, (report.name, c.check)
    assert _status(reports["srv-aud6"])["S4"] == "not-tested"  # no IPv6 address to scan


def test_cli_over_the_inventory_exits_3_and_gives_json(
    audit_lab: manage.Lab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli import main

    monkeypatch.setenv("PUKARA_CREDENTIALS", str(audit_lab.credentials_file))

    chosen = [h for h in aud.HOSTS if h.code in ("aud1", "aud5")]
    rows = ["name,kind,site,mgmt_ipv4,status"] + [
        f"{h.name},maquina_virtual,,{aud.address(h)},activo" for h in chosen
    ]
    (tmp_path / "activos.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    base = ["--base-datos", str(tmp_path / "inv.db")]
    assert main([*base, "inventario", "importar", str(tmp_path / "activos.csv"), "-q"]) == 0
    capsys.readouterr()
    code = main([*base, "ipv6", "servidores", "--formato", "json"])
    out, err = capsys.readouterr()
    assert code == 3, err
    data = json.loads(out)
    got = {(r["host.name"], r["check"]): r["status"] for r in data}
    assert got[("srv-aud1", "S1")] == "pass", [r["message"] for r in data]
    assert got[("srv-aud1", "S2")] == "pass" and got[("srv-aud5", "S2")] == "fail"
    assert got[("srv-aud1", "S4")] == "pass" and got[("srv-aud5", "S4")] == "fail"
