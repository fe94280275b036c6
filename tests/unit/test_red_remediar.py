"""Remediation of FRR configs with hier_config, and the management-access guard.

The ``.cfg`` files under tests/data/red/remediar are ``show running-config`` of a real FRR
8.4 (zebra, staticd, bgpd in a throwaway namespace), one per kind of non-standard site of
the lab, with the secrets replaced by markers as a backup stores them. The commands these
tests expect were applied to that FRR and brought each one back to ``estandar.cfg``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pukara.config import Settings
from pukara.errors import DeviceError, UsageError
from red import guardas
from red.aplicar import established, playbook_commands, vtysh_errors
from red.remediacion import command_list, load, remediate

DATA = Path(__file__).parent.parent / "data" / "red" / "remediar"
GOLDEN = (DATA / "dorada.cfg").read_text()
MGMT = "198.18.200.2"


def _text(kind: str) -> str:
    return (DATA / f"{kind}.cfg").read_text()


@pytest.mark.parametrize(
    ("kind", "commands"),
    [
        ("sin-syslog", ("log syslog informational",)),
        ("ruta-extra", ("no ip route 198.18.250.1/32 198.18.200.1",)),
        ("prefijo-abierto", ("ip prefix-list PL-SEDE-EMB-AR seq 5 permit 198.19.3.0/24",)),
        (
            "ref-indefinida",
            (
                "route-map RM-HACIA-CENTRAL permit 10",
                "match ip address prefix-list PL-SEDE-EMB-AR",
                "exit",
            ),
        ),
        (
            "as-errado",
            ("router bgp 4200000003", "neighbor 198.18.200.1 remote-as 65000", "exit"),
        ),
        ("ip-duplicada", ("interface lo", "no ip address 198.18.0.10/32", "exit")),
    ],
)
def test_each_nonstandard_kind_gets_the_commands_that_fixed_it(
    kind: str, commands: tuple[str, ...]
) -> None:
    result = remediate("gw-emb-ar", _text(kind), GOLDEN)
    assert result.commands == commands
    assert result.skipped == ()
    assert result.diff  # shown to the user
    assert all(line.lstrip().startswith(("-", "+", "route-map", "router")) for line in result.diff)


def test_standard_config_needs_nothing_and_frr_noise_is_not_touched() -> None:
    result = remediate("gw-emb-ar", _text("estandar"), GOLDEN)
    assert result.empty and result.diff == ()
    # the golden config has no "no ip forwarding" (the kernel's state): never negated
    assert not any("forwarding" in c or "frr " in c for c in result.commands)


def test_daemon_state_lines_are_never_negated() -> None:
    # headquarters' bgpd runs with -n: FRR shows it as "bgp no-rib"
    running = "bgp no-rib\nno ip forwarding\nrouter bgp 65000\n bgp router-id 198.18.0.1\nexit\n"
    golden = "router bgp 65000\n bgp router-id 198.18.0.1\nexit\n"
    assert remediate("gw-lima", running, golden).empty


def test_frr_exit_lines_are_not_commands() -> None:
    config = load(_text("estandar"))
    texts = [c.text for c in config.all_children()]
    assert "exit" not in texts and "exit-address-family" not in texts
    assert "interface eth0" in texts


def test_address_change_negates_the_old_one_frr_keeps_both() -> None:
    golden = GOLDEN.replace("198.18.200.2/30", "198.18.200.6/30")
    result = remediate("gw-emb-ar", _text("estandar"), golden)
    assert "no ip address 198.18.200.2/30" in result.commands
    assert "ip address 198.18.200.6/30" in result.commands


def test_lists_come_before_the_route_maps_that_use_them() -> None:
    golden = GOLDEN.replace("PL-SEDE-EMB-AR", "PL-NUEVA")
    result = remediate("gw-emb-ar", _text("estandar"), golden)
    commands = list(result.commands)
    added = commands.index("ip prefix-list PL-NUEVA seq 5 permit 198.19.3.0/24")
    assert added < commands.index("match ip address prefix-list PL-NUEVA")
    assert commands[-1] == "no ip prefix-list PL-SEDE-EMB-AR seq 5 permit 198.19.3.0/24"


def test_secret_lines_never_become_commands() -> None:
    # the golden config wants a neighbour password the running config lacks, and the running
    # config has an extra password line: both carry markers, neither is sent
    running = _text("estandar").replace(
        " neighbor 198.18.200.1 password <secreto:hmac-sha256:5b7e02d1c6a4>\n", ""
    )
    running = running.replace(
        "enable password <secreto:hmac-sha256:a81d44c0e9f3>",
        "enable password <secreto:hmac-sha256:a81d44c0e9f3>\nbanner motd line <secreto:x1>",
    )
    result = remediate("gw-emb-ar", running, GOLDEN)
    assert not any("secreto" in c for c in result.commands)
    assert result.commands == ()  # the router bgp section left empty is not sent either
    assert len(result.skipped) == 2 and len(result.warnings) == 2
    assert "neighbor 198.18.200.1 password <secreto>" in result.skipped[0] + result.skipped[1]
    assert all(w.startswith("gw-emb-ar: se omite") for w in result.warnings)


def test_same_secret_marker_and_placeholder_are_no_change() -> None:
    result = remediate("gw-emb-ar", _text("estandar"), GOLDEN.replace("<secreto>", "{{ s }}"))
    assert result.empty


def test_command_list_refuses_markers_and_drops_blanks() -> None:
    assert command_list(["", " router bgp 1 ", "! nota", "exit"]) == ("router bgp 1", "exit")
    with pytest.raises(UsageError, match="línea 2"):
        command_list(["router bgp 1", "neighbor 1.2.3.4 password <secreto:ab12>"])


# ---- the guard


def _guard(commands: list[str], running: str | None = None, mgmt: str = MGMT) -> None:
    guardas.check("gw-emb-ar", load(running or _text("estandar")), mgmt, commands)


@pytest.mark.parametrize(
    ("commands", "words"),
    [
        (["no interface eth0"], "borra la interfaz eth0"),
        (["interface eth0", "shutdown", "exit"], "apaga la interfaz eth0"),
        (["interface eth0", "no ip address 198.18.200.2/30", "exit"], "quita la dirección"),
    ],
)
def test_guard_refuses_cutting_the_management_interface(commands: list[str], words: str) -> None:
    with pytest.raises(UsageError) as caught:
        _guard(commands)
    message = caught.value.message
    assert message.startswith("gw-emb-ar: se rechaza «")
    assert words in message
    assert commands[-2 if len(commands) > 1 else 0] in message


def test_guard_lets_other_changes_through() -> None:
    _guard(
        [
            "interface eth0",
            "description otra",
            "no ipv6 address fd70:756b:6172:c9::2/64",
            "exit",
            "interface lo",
            "no ip address 198.18.0.10/32",
            "shutdown",
            "exit",
            "router bgp 4200000003",
            "neighbor 198.18.200.1 remote-as 65001",  # a change, not a removal
            "no neighbor 198.18.200.9",  # the path is the link, not BGP; no secret of its own
            "exit",
        ]
    )


def test_guard_after_exit_is_back_at_top_level() -> None:
    # "shutdown" after leaving eth0 is not eth0's (vtysh would reject it at top level)
    _guard(["interface eth0", "description x", "exit", "shutdown"])
    with pytest.raises(UsageError, match="apaga la interfaz eth0"):
        _guard(["interface lo", "exit", "interface eth0", "shutdown"])


def test_guard_protects_the_bgp_session_when_management_rides_on_it() -> None:
    # managed at its LAN address, announced by BGP: the HQ session is the path
    lan = "198.19.3.1"
    running = _text("estandar").replace(
        "interface eth0", "interface lan0\n ip address 198.19.3.1/24\nexit\ninterface eth0"
    )
    for commands, words in [
        (["no router bgp 4200000003"], "quita el BGP"),
        (["router bgp 4200000003", "no neighbor 198.18.200.1 remote-as 65000"], "borra el vecino"),
        (["router bgp 4200000003", "neighbor 198.18.200.1 shutdown"], "apaga el vecino"),
        (
            ["router bgp 4200000003", "address-family ipv4 unicast", "no network 198.19.3.1/32"],
            "deja de anunciar",
        ),
        (["interface lan0", "no ip address 198.19.3.1/24"], "quita la dirección"),
    ]:
        with pytest.raises(UsageError, match=words):
            _guard(commands, running, lan)
    _guard(["router bgp 4200000003", "neighbor 198.18.200.1 description otra"], running, lan)


def test_guard_protects_line_vty_when_present() -> None:
    running = _text("estandar") + "line vty\n exec-timeout 10 0\nexit\n"
    with pytest.raises(UsageError, match="quita las líneas vty"):
        _guard(["no line vty"], running)
    with pytest.raises(UsageError, match="vty"):
        _guard(["line vty", "no exec-timeout 10 0", "exit"], running)
    _guard(["no line vty"])  # nothing to protect where there is none


# ---- what aplicar reads from vtysh, and what reaches the playbook


def test_established_reads_every_address_family() -> None:
    summary = (
        '{"ipv4Unicast": {"peers": {"198.18.0.5": {"state": "Established"},'
        ' "198.18.0.9": {"state": "Active"}}},'
        ' "ipv6Unicast": {"peers": {"fd70:756b:6172:1::1": {"state": "Established"}}}}'
    )
    assert established(summary) == {"198.18.0.5", "fd70:756b:6172:1::1"}
    assert established("% BGP instance not found") == set()
    assert established("{}") == set()
    with pytest.raises(DeviceError, match="no devolvió JSON"):
        established("{roto")


def test_vtysh_error_lines() -> None:
    output = "gw(config)# neighbor x\n% Unknown command: neighbor x\ngw(config)# end\n"
    assert vtysh_errors(output) == ["% Unknown command: neighbor x"]
    assert vtysh_errors("gw(config)# exit\n") == []
    saved = (
        "% Warning: can't chown configuration file /etc/frr/ps/frr.conf: Operation not "
        "permitted\nIntegrated configuration saved to /etc/frr/ps/frr.conf\n[OK]\n"
    )
    assert vtysh_errors(saved) == []


def test_playbook_commands_are_checked_before_ansible() -> None:
    assert playbook_commands([" router bgp 1 ", "exit"]) == ["router bgp 1", "exit"]
    for bad, words in [
        (["write memory"], "no es una orden del modo de configuración"),
        (["end"], "no es una orden"),
        (["do show run"], "no es una orden"),
        (["password <secreto:ab>"], "marcador de secreto"),
        (["password {{ x }}"], "marcador de secreto"),
        (["router bgp 1\nwrite"], "orden inválida"),
        ([], "no hay órdenes"),
    ]:
        with pytest.raises(UsageError, match=words):
            playbook_commands(bad)


def test_the_playbook_builds_vtysh_argv_never_a_shell() -> None:
    text = (Path(__file__).parents[2] / "playbooks" / "red" / "remediar.yml").read_text()
    assert "ansible.builtin.command:" in text and "argv:" in text
    assert "shell" not in text.replace("nunca una cadena de shell", "")
    assert "'configure terminal'" in text and "'write memory'" in text


def test_the_playbook_fails_on_vtysh_errors_not_on_its_warnings() -> None:
    import re

    import yaml

    path = Path(__file__).parents[2] / "playbooks" / "red" / "remediar.yml"
    (play,) = yaml.safe_load(path.read_text())
    (task,) = [t for t in play["tasks"] if "ansible.builtin.command" in t]
    (pattern,) = re.findall(r"select\('match', '([^']*)'\)", task["failed_when"])
    output = [
        "Building Configuration...",
        # write memory as a member of frrvty (Ansible's operador account), not root nor frr
        "% Warning: can't chown configuration file /etc/frr/pk/frr.conf: Operation not permitted",
        "Integrated configuration saved to /etc/frr/pk/frr.conf",
        "% Unknown command: log sislog",
        "  % Invalid input detected",
    ]
    assert [ln for ln in output if re.match(pattern, ln)] == output[3:]
    assert vtysh_errors("\n".join(output)) == [ln.strip() for ln in output[3:]]


# ---- one device's failure is its own


class _Broken:
    """A device whose session breaks in a way no library error names."""

    def running(self, device: object) -> str:
        if getattr(device, "name", "") == "gw-roto":
            raise RuntimeError("canal cerrado")
        return _text("estandar")

    def intended(self, device: object) -> str:
        return GOLDEN

    def save(self, device: object, text: str) -> None:
        raise AssertionError("nada que respaldar")

    def session(self, device: object) -> object:
        raise AssertionError("nada que enviar")

    def snmp(self, device: object) -> None:
        raise AssertionError("nada que verificar")


class _Dev:
    def __init__(self, name: str) -> None:
        self.name, self.site, self.address, self.platform = name, "emb-ar", MGMT, "frr"
        self.credential_profile, self.path, self.asset = "red", f"emb-ar/{name}.cfg", {}


def test_an_unexpected_error_is_that_devices_result() -> None:
    from red.aplicar import Remediator

    events: list[dict[str, object]] = []
    remediator = Remediator(_Broken(), on_event=events.append)
    broken = remediator.remediate_device(_Dev("gw-roto"))  # type: ignore[arg-type]
    fine = remediator.remediate_device(_Dev("gw-emb-ar"))  # type: ignore[arg-type]
    assert (broken.status, broken.reason) == ("fallido", "error inesperado (RuntimeError)")
    assert broken.failed and fine.status == "sin_cambios" and not fine.failed
    assert [e["event"]["outcome"] for e in events][:1] == ["failure"]  # type: ignore[index]


def test_simulating_from_the_backup_reads_the_real_repository(settings: Settings) -> None:
    from datetime import UTC, datetime

    from red.aplicar import Offline
    from red.equipos import NetDevice
    from red.repositorio import ConfigRepo, default_path

    device = NetDevice("gw-emb-ar", "emb-ar", "embajada", "router", MGMT, "frr", "red", {})
    access = Offline(None, settings)
    with pytest.raises(DeviceError, match="sin respaldo"):
        access.running(device)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    ConfigRepo(default_path(settings.data_dir)).commit(
        {device.path: _text("estandar").encode()}, "respaldo", author="prueba", when=when
    )
    assert access.running(device) == _text("estandar")
    assert (settings.data_dir / "red" / "respaldos").is_dir()


def test_snmp_check_uses_the_inventory_profile_unless_told() -> None:
    from red.aplicar import snmp_profiles
    from red.equipos import NetDevice

    def device(asset_profile: str) -> NetDevice:
        asset = {"credential_profile": asset_profile}
        return NetDevice("gw-emb-ar", "emb-ar", "embajada", "router", MGMT, "frr", "red", asset)

    assert snmp_profiles(device("lab")) == ["lab", "red"]  # the inventory's SNMP profile first
    assert snmp_profiles(device("")) == ["red"]
    assert snmp_profiles(device("red")) == ["red"]
    assert snmp_profiles(device("lab"), "otro") == ["otro"]


def test_the_rollback_waits_for_bgp_up_to_its_own_bound() -> None:
    import json as _json
    from contextlib import contextmanager

    from red.aplicar import Remediator

    class _Slow(_Broken):
        polls = 0

        @contextmanager
        def session(self, device: object):  # type: ignore[no-untyped-def]
            outer = self

            class S:
                def command(self, text: str) -> str:
                    outer.polls += 1
                    state = "Established" if outer.polls >= 4 else "Active"
                    return _json.dumps(
                        {"ipv4Unicast": {"peers": {"198.18.200.1": {"state": state}}}}
                    )

            yield S()

        def snmp(self, device: object) -> None:
            return None

    want = frozenset({"198.18.200.1"})
    rem = Remediator(_Slow(), settle_s=0.0, revert_settle_s=5.0, poll_s=0.01, hold_s=0.0)
    assert rem.revert_settle_s == 5.0
    assert "BGP no establecido" in rem.check(_Dev("gw-emb-ar"), want).problem  # type: ignore[arg-type]
    assert rem.check(_Dev("gw-emb-ar"), want, settle_s=rem.revert_settle_s).problem == ""  # type: ignore[arg-type]


def test_a_new_neighbour_whose_password_cannot_be_sent_is_not_created() -> None:
    """HQ's golden config names a neighbour the router lacks: creating it without its password
    would leave an unauthenticated session; it is held back, and the rest still goes."""
    hq = (Path(__file__).parent.parent / "data" / "red" / "gw-lima.estandar.cfg").read_text()
    golden = hq.replace("password bgpSecret1", "password <secreto>").replace(
        "password bgpSecret2", "password <secreto>"
    )
    lines = hq.splitlines()
    running = "\n".join(
        line for line in lines if "198.18.0.10 " not in line and "log syslog" not in line
    )
    out = remediate("gw-lima", running, golden)
    assert not any("198.18.0.10" in c for c in out.commands), out.commands
    assert "log syslog informational" in out.commands
    assert any("no se crea el vecino BGP 198.18.0.10" in w for w in out.warnings)
    # a neighbour the router has keeps its own lines: only its password line is left out
    known = remediate("gw-lima", hq.replace(" neighbor 198.18.0.6 description", " x"), golden)
    assert not any("no se crea" in w for w in known.warnings)
