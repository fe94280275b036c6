"""OpenSCAP and Lynis for real, side by side with pukara's verdicts on the shared rules.

On this machine: ``oscap xccdf eval`` (SSG's Debian 11 content with pukara's CPE dictionary)
and ``lynis`` run for real into tmp files, and ``importar`` reads what they wrote; their
verdicts are checked against the machine's own files. A second run goes through an argv
prefix (a private mount namespace with another sshd_config) as the lab's hosts are entered.
On the lab's audit hosts (when the lab has them), OpenSCAP's verdicts agree with the lab's
declared table on every host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from auditoria import importar, referencias
from auditoria.modelo import Result, Status

pytestmark = pytest.mark.integration

NEEDS = shutil.which("oscap") and referencias.DATASTREAM.exists()


def _verdicts(results: list[Result]) -> dict[str, Status]:
    return {str(r.evidence["rule"]): r.status for r in results}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> referencias.OpenscapRun:
    if not NEEDS:
        pytest.skip("faltan openscap-scanner y ssg-debian")
    return referencias.run_openscap("local", tmp_path_factory.mktemp("oscap"))


def _uid0_only_root() -> bool:
    lines = Path("/etc/passwd").read_text().splitlines()
    return [f.split(":")[0] for f in lines if f.count(":") >= 3 and f.split(":")[2] == "0"] == [
        "root"
    ]


def _permit_root_login_no(text: str) -> bool:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0].lower() == "permitrootlogin":
            return words[1] == "no"
    return False


def _installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return done.returncode == 0 and "install ok installed" in done.stdout


def test_xccdf_and_arf_give_the_same_real_verdicts(local_run: referencias.OpenscapRun) -> None:
    xccdf = importar.openscap(local_run.results, "local")
    arf = importar.openscap(local_run.arf, "local")
    assert _verdicts(xccdf) == _verdicts(arf)
    shared = importar.shared().rules
    judged = {
        rule: status
        for rule, status in _verdicts(arf).items()
        if rule in shared and status in (Status.PASS, Status.FAIL)
    }
    # the CPE dictionary makes the Debian 11 rules apply here: every shared rule has a verdict
    assert set(judged) == set(shared), set(shared) - set(judged)
    assert all(r.source == "openscap" for r in arf)
    assert {r.check_id for r in arf if r.evidence["rule"] in shared} == {
        s.check for s in shared.values()
    }
    # and the verdicts are the machine's own, read independently
    expect_uid0 = Status.PASS if _uid0_only_root() else Status.FAIL
    assert judged["accounts_no_uid_except_zero"] is expect_uid0
    sshd = Path("/etc/ssh/sshd_config").read_text()
    expect_root = Status.PASS if _permit_root_login_no(sshd) else Status.FAIL
    assert judged["sshd_disable_root_login"] is expect_root
    expect_telnet = Status.FAIL if _installed("telnetd") else Status.PASS
    assert judged["package_telnetd_removed"] is expect_telnet


def test_without_pukaras_cpe_dictionary_nothing_applies(tmp_path: Path) -> None:
    if not NEEDS:
        pytest.skip("faltan openscap-scanner y ssg-debian")
    (tmp_path / "t.xml").write_text(referencias.tailoring())
    done = subprocess.run(
        ["oscap", "xccdf", "eval", "--profile", referencias.PROFILE,
         "--tailoring-file", str(tmp_path / "t.xml"), "--results", str(tmp_path / "r.xml"),
         str(referencias.DATASTREAM)],
        capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode in (0, 2)
    states = {r.evidence["openscap_result"] for r in importar.openscap(tmp_path / "r.xml")}
    assert states <= {"notapplicable", "notselected"}


@pytest.fixture
def hardened_host(tmp_path: Path) -> list[str]:
    """An argv prefix entering a private mount namespace whose sshd_config says no root login."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("necesita root y unshare")
    config = tmp_path / "sshd_config"
    config.write_text(
        "PermitRootLogin no\nPermitEmptyPasswords no\nClientAliveInterval 300\n"
        "ClientAliveCountMax 0\nBanner /etc/issue.net\n"
    )
    return [
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        f'mount --bind {config} /etc/ssh/sshd_config && exec "$@"', "sh",
    ]  # fmt: skip


def test_the_prefix_runs_oscap_inside_the_host(
    hardened_host: list[str], local_run: referencias.OpenscapRun, tmp_path: Path
) -> None:
    inside = _verdicts(
        referencias.openscap_results("srv-endurecido", tmp_path, prefix=hardened_host)
    )
    assert inside["sshd_disable_root_login"] is Status.PASS
    assert inside["sshd_disable_empty_passwords"] is Status.PASS
    assert inside["sshd_enable_warning_banner_net"] is Status.PASS
    outside = _verdicts(importar.openscap(local_run.arf, "local"))
    # the machine's own file was not touched, and its verdicts are its own
    assert outside["sshd_disable_root_login"] is (
        Status.PASS if _permit_root_login_no(Path("/etc/ssh/sshd_config").read_text())
        else Status.FAIL
    )  # fmt: skip
    # and pukara's verdicts, as the table relates them, agree on the hardened host
    ours = [
        _result("srv-endurecido", check, "pass")
        for check in ("ssh_root_login", "ssh_password_auth", "login_banner")
    ]
    theirs = [
        r
        for r in referencias.openscap_results("srv-endurecido", tmp_path, prefix=hardened_host)
        if r.check_id in {o.check_id for o in ours}
    ]
    assert theirs
    assert referencias.agreement(ours, theirs) == []


def test_lynis_real_report_imports(tmp_path: Path) -> None:
    if not shutil.which("lynis"):
        pytest.skip("falta lynis")
    tests = ["BANN-7126", "BANN-7130", "USB-1000", "AUTH-9262", "SSH-7408"]
    run = referencias.run_lynis("local", tmp_path, tests=tests)
    results = importar.lynis(run.report, "local")
    assert {r.source for r in results} == {"lynis"}
    assert {r.status for r in results} <= {Status.FAIL}
    assert all(r.observed_at.endswith("Z") for r in results)
    seen = {r.evidence["test"] for r in results}
    assert seen - {"LYNIS"} <= set(tests)  # only what was asked ran
    usb_disabled = any(
        "usb-storage" in line and ("/bin/false" in line or "blacklist" in line)
        for f in Path("/etc/modprobe.d").glob("*.conf")
        for line in f.read_text(errors="replace").splitlines()
    )
    assert ("USB-1000" in seen) is not usb_disabled
    if "USB-1000" in seen:
        assert "usb_storage" in {r.check_id for r in results}
    # no DNS query for a newer Lynis: the profile skips it
    assert "Upgrade test skipped due profile option" in run.log.read_text()


def _result(host: str, check: str, status: str) -> Result:
    return Result(check, host, Status(status), "", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")


def _lab_audit() -> Any:
    try:
        from lab import auditoria as lab_auditoria
    except ImportError:
        return None
    needed = ("HOSTS", "up", "down", "nsenter_argv", "expected")
    return lab_auditoria if all(hasattr(lab_auditoria, n) for n in needed) else None


def _address(lab_auditoria: Any, host: Any, position: int) -> str:
    """As tests/integration/test_auditoria_linux.py finds it: the lab's helper, the host's
    attribute, else the contract's numbering (one /30 per host, host .4n+2)."""
    for name in ("address", "host_address", "ipv4"):
        helper = getattr(lab_auditoria, name, None)
        if callable(helper):
            return str(helper(host))
    value = next(
        (getattr(host, n) for n in ("v4", "ipv4", "address") if getattr(host, n, None)), None
    )
    return str(value).split("/", 1)[0] if value else f"198.19.0.{4 * position + 2}"


def _pukara_linux(the_lab: Any, lab_auditoria: Any, folder: Path) -> list[Result] | None:
    """pukara's own Linux audit of the hosts, when auditoria.linux is there."""
    import importlib

    try:
        linux = importlib.import_module("auditoria.linux")
        politica = importlib.import_module("auditoria.politica")
    except ImportError:
        return None
    from pukara.config import Settings

    folder.chmod(0o700)
    settings = Settings(data_dir=folder, db=folder / "pukara.db")
    targets = [
        linux.Target(host.name, _address(lab_auditoria, host, position))
        for position, host in enumerate(lab_auditoria.HOSTS)
    ]
    return list(linux.run(targets, settings, politica.load()).results)


def test_openscap_agrees_with_pukara_on_every_lab_host(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenSCAP against the lab's declared table and against pukara's own audit, host by host.

    Run it holding the audit hosts' lock:
        flock /tmp/pukara-lab-auditoria.lock .venv/bin/pytest tests/integration/test_auditoria_openscap.py
    """
    lab_auditoria = _lab_audit()
    if lab_auditoria is None:
        pytest.skip("el laboratorio aún no tiene equipos de auditoría (lab/auditoria.py)")
    from lab import manage
    from tests.conftest import lab_available, skip_or_fail

    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(tmp_path_factory.mktemp("pka") / "estado", prefix="pka")
    expected = lab_auditoria.expected()
    lab_auditoria.up(the_lab)
    try:
        monkeypatch.setenv("PUKARA_CREDENTIALS", str(the_lab.credentials_file))
        declared: list[Result] = []
        theirs: list[Result] = []
        for host in lab_auditoria.HOSTS:
            prefix = lab_auditoria.nsenter_argv(the_lab, host.code)
            theirs += referencias.openscap_results(
                host.name, tmp_path_factory.mktemp(host.code), prefix=prefix
            )
            if host is lab_auditoria.HOSTS[0]:  # Lynis inside a host too (a few tests: fast)
                run = referencias.run_lynis(
                    host.name, tmp_path_factory.mktemp("lynis"), prefix=prefix, tests=["USB-1000"]
                )
                assert {r.host for r in importar.lynis(run.report, host.name)} <= {host.name}
            for (name, check), status in expected.items():
                if name in (host.name, host.code):
                    declared.append(_result(host.name, check, status))
        ours = _pukara_linux(the_lab, lab_auditoria, tmp_path_factory.mktemp("datos"))
    finally:
        lab_auditoria.down(the_lab)
    judged = [r for r in theirs if r.status in (Status.PASS, Status.FAIL)]
    assert len({r.host for r in judged}) == len(lab_auditoria.HOSTS)
    assert referencias.agreement(declared, theirs) == []
    names = {h.name for h in lab_auditoria.HOSTS}
    counted = referencias.compared(declared, theirs)
    assert set(counted) == names and all(counted.values()), counted  # compared something
    if ours is not None:
        assert referencias.agreement(ours, theirs) == []
        counted = referencias.compared(ours, theirs)
        assert set(counted) == names and all(counted.values()), counted
