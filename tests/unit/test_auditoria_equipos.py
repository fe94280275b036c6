"""auditoria.equipos: the judgement of checks 28–32 from raw replies, and real sockets.

The lab's real gateways are in tests/integration/test_auditoria_equipos.py; here, loopback
sockets (a listener that greets as SSH, a closed port) and replies as the agents send them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from auditoria import equipos
from auditoria.equipos import Observed
from auditoria.modelo import Status
from pukara.config import load_settings
from red.equipos import NetDevice

P, F, E = Status.PASS, Status.FAIL, Status.ERROR


def test_date_and_time_reads_both_lengths_and_the_zone() -> None:
    # 2026-12-01 18:30:05.7 -05:00, as net-snmp sends hrSystemDate
    raw = bytes([0x07, 0xEA, 12, 1, 18, 30, 5, 7, ord("-"), 5, 0])
    got = equipos.date_and_time(raw)
    assert got == datetime(2026, 12, 1, 23, 30, 5, 700_000, tzinfo=UTC)
    assert got.utcoffset() == -timedelta(hours=5)
    assert equipos.date_and_time(raw[:8]).tzinfo is UTC
    with pytest.raises(ValueError, match="9 octetos"):
        equipos.date_and_time(raw[:9])
    with pytest.raises(ValueError, match="signo"):
        equipos.date_and_time(raw[:8] + b"x\x05\x00")


@pytest.fixture
def greeter() -> Iterator[int]:
    """A loopback TCP server that greets like sshd; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    server.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tcp_tells_open_from_refused(greeter: int) -> None:
    got = equipos.tcp("127.0.0.1", greeter)
    assert got == {"port": greeter, "outcome": "open",
                   "banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"}  # fmt: skip
    port = _closed_port()
    assert equipos.tcp("127.0.0.1", port) == {"port": port, "outcome": "refused"}


def _snmp(v2c: bool | None, v3: bool | None, *, rejected: bool = False) -> dict[str, dict]:  # type: ignore[type-arg]
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    if v2c is not None:
        out["lab/v2c"] = {"version": "v2c", "answered": v2c, "reply": {"1.3.6.1.2.1.1.3.0": 5}}
    if v3 is not None:
        out["lab/v3"] = {"version": "v3", "answered": v3, "rejected": rejected,
                         "reply": {"1.3.6.1.2.1.1.3.0": 5} if v3 else {},
                         "error": None if v3 else "sin respuesta SNMP"}  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("snmp", "status", "said"),
    [
        (_snmp(False, True), P, "v2c rechazado y SNMPv3 authPriv responde"),
        (_snmp(True, True), F, "responde a SNMP v2c"),
        (_snmp(True, None), F, "responde a SNMP v2c"),
        (_snmp(False, False), E, "ni v2c ni SNMPv3 responden, no se pudo observar"),
        (_snmp(False, False, rejected=True), E, "rechazó la credencial SNMPv3"),
        (_snmp(False, None), E, "sin usuario SNMPv3"),
    ],
)
def test_snmp_v3_only(snmp: dict, status: Status, said: str) -> None:  # type: ignore[type-arg]
    got = equipos.judge_snmp(Observed(snmp=snmp))
    assert got[0] is status and said in got[1]


SSH_OPEN = {"port": 22, "outcome": "open", "banner": "SSH-2.0-OpenSSH_9.2p1"}


@pytest.mark.parametrize(
    ("telnet", "ssh", "status"),
    [
        ("dropped", SSH_OPEN, P),
        ("refused", SSH_OPEN, P),
        ("open", SSH_OPEN, F),
        ("dropped", {"port": 22, "outcome": "dropped"}, F),
        ("dropped", {"port": 22, "outcome": "open", "banner": "SSH-1.5-viejo"}, F),
        ("error", SSH_OPEN, E),
    ],
)
def test_ssh_only(telnet: str, ssh: dict, status: Status) -> None:  # type: ignore[type-arg]
    seen = Observed(telnet={"port": 23, "outcome": telnet, "detail": "x"}, ssh=ssh)
    assert equipos.judge_ssh(seen)[0] is status


def test_clock_from_hr_system_date_against_ours() -> None:
    ours = datetime(2026, 12, 1, 23, 30, 0, tzinfo=UTC).timestamp()
    ahead = datetime(2026, 12, 1, 18, 30, 42, tzinfo=timezone(-timedelta(hours=5)))
    raw = bytes([0x07, 0xEA, 12, 1, 18, 30, 42, 0, ord("-"), 5, 0]).hex()
    snmp = {"lab/v3": {"version": "v3", "answered": True, "reply": {equipos.HR_SYSTEM_DATE: raw},
                       "asked_at": ours - 0.1, "answered_at": ours + 0.1}}  # fmt: skip
    clock = equipos._clock(snmp)
    assert clock["offset_s"] == pytest.approx(42.0)
    assert clock["device_time"] == ahead.isoformat()
    assert equipos.judge_clock(Observed(clock=clock), 60.0)[0] is P
    status, message = equipos.judge_clock(Observed(clock=clock), 5.0)
    assert status is F and "+42.0 s supera el máximo de 5 s" in message
    assert equipos.judge_clock(Observed(clock=equipos._clock({})), 5.0)[0] is E
    broken = {"lab/v3": {**snmp["lab/v3"], "reply": {equipos.HR_SYSTEM_DATE: "0102"}}}
    assert "ilegible" in equipos._clock(broken)["error"]


def test_syslog_and_saved_config() -> None:
    def syslog(lines: list[str]) -> Status:
        return equipos.judge_syslog(Observed(running={"lines": 40, "log_lines": lines}))[0]

    assert syslog(["log syslog informational"]) is P
    assert syslog(["log syslog"]) is P
    assert syslog(["log file /var/log/frr.log", "log syslogx"]) is F
    assert syslog([]) is F
    assert equipos.judge_syslog(Observed(running={"error": "SSH"}))[0] is E

    def saved(**kw: object) -> tuple[Status, str]:
        return equipos.judge_saved(Observed(saved=kw))

    assert saved(rc=0, output=[])[0] is P
    status, message = saved(rc=0, output=["Lines To Add", "============", "ip route 1.1.1.1/32 x"])
    assert status is F and "1 líneas" in message
    assert saved(rc=1, output=["Traceback", "FileNotFoundError"])[0] is E
    assert saved(rc=None, output=[])[0] is E
    assert saved(error="sin acceso")[0] is E


@dataclass
class _Policy:
    clock_max_offset_s: float


def test_max_offset_from_the_policy() -> None:
    assert equipos.max_offset({"clock_max_offset_s": 2}) == 2.0
    assert equipos.max_offset(_Policy(1.5)) == 1.5
    assert equipos.max_offset(None) == equipos.DEFAULT_MAX_OFFSET_S
    assert equipos.max_offset(object()) == equipos.DEFAULT_MAX_OFFSET_S


def _device(name: str, address: str) -> NetDevice:
    asset = {"name": name, "kind": "router", "credential_profile": "lab", "device_type": "linux"}
    return NetDevice(name, "s1", "embajada", "router", address, "frr", "red", asset)


def test_a_device_that_answers_nothing_is_an_error_for_each_check() -> None:
    seen = Observed(snmp=_snmp(False, False), telnet={"outcome": "dropped"},
                    ssh={"outcome": "dropped"}, running={"error": "x"}, saved={"error": "x"})  # fmt: skip
    assert not seen.reachable()
    out = equipos.results_for(_device("gw-a", "198.18.0.6"), seen,
                              {"net_clock": 7}, "2026-12-01T12:00:00Z", 5.0)  # fmt: skip
    assert [r.check_id for r in out] == list(equipos.CHECKS)
    assert {r.status for r in out} == {E}
    assert all("inalcanzable" in r.message for r in out)
    clock = next(r for r in out if r.check_id == "net_clock")
    assert clock.valid_until == "2026-12-08T12:00:00Z"
    assert clock.evidence["address"] == "198.18.0.6"


def test_run_on_loopback_without_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real sockets to a loopback address where nothing listens: the kernel resets the TCP
    ports (so the host answers) and SNMP times out; nothing is a pass, the run goes on."""
    creds = tmp_path / "credenciales.toml"
    creds.write_text('[lab]\ncommunity = "c-prueba"\nsnmp_user = "u"\nauth_key = "a1234567"\n'
                     'priv_key = "p1234567"\n[red]\nusername = "red"\npassword = "x"\n')  # fmt: skip
    creds.chmod(0o600)
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    (tmp_path / "data").mkdir(mode=0o700)
    settings = load_settings({"data_dir": tmp_path / "data", "timeout_s": 0.3}, environ={})
    devices = [_device("gw-a", "127.0.0.1"), _device("gw-b", "127.0.0.2")]
    out = equipos.run(devices, settings, None, "2026-12-01T12:00:00Z")
    assert len(out) == 10
    for name in ("gw-a", "gw-b"):
        got = {r.check_id: r.status for r in out if r.host == name}
        assert got == {"net_snmp_v3_only": E, "net_ssh_only": F, "net_clock": E,
                       "net_syslog": E, "net_config_saved": E}  # fmt: skip
    first = next(r for r in out if r.check_id == "net_ssh_only")
    assert first.evidence["telnet"]["outcome"] == "refused"
    assert "c-prueba" not in repr([r.to_dict() for r in out])


def test_one_judges_unexpected_error_is_that_checks_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(seen: Observed) -> tuple[Status, str]:
        raise KeyError("version")

    monkeypatch.setattr(equipos, "judge_snmp", boom)
    seen = Observed(snmp=_snmp(False, True), telnet={"outcome": "refused"},
                    ssh={"outcome": "open", "banner": "SSH-2.0-OpenSSH_9.2"},
                    running={"error": "x"}, saved={"error": "x"})  # fmt: skip
    out = {r.check_id: r for r in equipos.results_for(
        _device("gw-a", "198.18.0.6"), seen, {}, "2026-12-01T12:00:00Z", 5.0)}  # fmt: skip
    assert list(out) == list(equipos.CHECKS)
    assert out["net_snmp_v3_only"].status is E
    assert "error inesperado al juzgar: KeyError" in out["net_snmp_v3_only"].message
    assert out["net_ssh_only"].status is P  # the device's other checks were judged
