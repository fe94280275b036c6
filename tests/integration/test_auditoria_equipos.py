"""auditoria.equipos against the lab's real gateways: net-snmp snmpd, sshd, FRR's vtysh.

Runs only with the lab (root, FRR): ``flock /tmp/pukara-lab.lock pytest
tests/integration/test_auditoria_equipos.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditoria import equipos
from auditoria.modelo import Status
from cli import main
from lab import frr, manage
from lab.sites import LabSite
from pukara.config import load_settings
from pukara.store import open_store
from red.equipos import select
from tests.conftest import lab_available, skip_or_fail

# e1 speaks only SNMPv3, e2's router does not log to syslog, e3 gets a change it does not save,
# e4's link is down (nothing answers)
SITES = [
    LabSite(index=3411, code="e1", snmp_only="v3"),
    LabSite(index=3412, code="e2", router="sin-syslog"),
    LabSite(index=3413, code="e3"),
    LabSite(index=3414, code="e4", down=True),
]
P, F, E = Status.PASS, Status.FAIL, Status.ERROR
EXPECTED = {  # (snmp_v3_only, ssh_only, clock, syslog, config_saved)
    "gw-e1": (P, P, P, P, P),
    "gw-e2": (F, P, P, F, P),
    "gw-e3": (F, P, P, P, F),
    "gw-e4": (E, E, E, E, E),
}


@pytest.fixture(scope="module")
def audit_lab() -> Iterator[manage.Lab]:
    """The lab's state outside pytest's temporary folders (another pytest run may rotate
    those while this lab is up), and taken down even when bringing it up fails half-way."""
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    folder = Path(tempfile.mkdtemp(prefix="pukara-auditoria-equipos-"))
    the_lab = manage.Lab(folder / "estado", prefix="pke")
    try:
        manage.up(the_lab, SITES)
        yield the_lab
    finally:
        manage.down(the_lab)
        shutil.rmtree(folder, ignore_errors=True)


def _inventory(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sedes.csv").write_text(
        "code,name,kind,country,city,timezone\n"
        + "".join(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Lima\n" for s in SITES
        )
    )
    rows = [f"{s.hostname},router,{s.code},{s.v4},FRRouting,linux,lab,activo" for s in SITES]
    (folder / "activos.csv").write_text(
        "name,kind,site,mgmt_ipv4,os,device_type,credential_profile,status\n"
        + "\n".join(rows)
        + "\n"
    )
    return folder


def test_each_gateway_gets_exactly_its_expected_results(
    audit_lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(audit_lab.credentials_file))
    inv = _inventory(tmp_path / "inv")
    for name in ("sedes.csv", "activos.csv"):
        assert main(["inventario", "importar", str(inv / name)]) == 0
    # a change applied to e3's running configuration and never written to its frr.conf
    frr.vtysh(audit_lab, "e3", "configure terminal", "ip prefix-list PL-AUDITORIA seq 5 deny any")
    settings = load_settings()
    store = open_store(settings)
    try:
        devices = select(store, [])
    finally:
        store.close()
    assert [d.name for d in devices] == sorted(EXPECTED)
    results = equipos.run(devices, settings, {"clock_max_offset_s": 5.0}, "2026-12-01T12:00:00Z")
    got = {
        name: tuple(r.status for r in results if r.host == name) for name in EXPECTED
    }  # fmt: skip
    detail = {(r.host, r.check_id): r.message for r in results}
    assert got == EXPECTED, detail
    assert len(results) == len(EXPECTED) * len(equipos.CHECKS)
    by = {(r.host, r.check_id): r for r in results}
    # raw replies as evidence: the v2c refusal and v3 answer, the banner, the config lines
    snmp = by["gw-e1", "net_snmp_v3_only"].evidence["snmp"]
    assert {v["answered"] for v in snmp.values() if v["version"] == "v2c"} == {False}
    assert any(v["answered"] and v["reply"] for v in snmp.values() if v["version"] == "v3")
    assert by["gw-e1", "net_ssh_only"].evidence["ssh"]["banner"].startswith("SSH-2.0-")
    assert by["gw-e1", "net_ssh_only"].evidence["telnet"]["outcome"] == "dropped"
    assert (
        "log syslog informational"
        in by["gw-e1", "net_syslog"].evidence["running_config"]["log_lines"]
    )
    saved = by["gw-e3", "net_config_saved"].evidence["frr_reload_test"]["output"]
    assert any("PL-AUDITORIA" in line for line in saved), saved
    assert "inalcanzable" in by["gw-e4", "net_clock"].message
    for r in results:
        assert r.observed_at == "2026-12-01T12:00:00Z"
        assert r.valid_until > r.observed_at
    # no secret of the lab in any evidence
    text = repr([r.to_dict() for r in results])
    for secret in frr.secrets(audit_lab):
        assert secret not in text
    creds = audit_lab.credentials_file.read_text()
    for line in creds.splitlines():
        if line.startswith(("community", "auth_key", "priv_key")):
            assert line.split('"')[1] not in text
