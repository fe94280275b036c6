"""What keeps a remediation from leaving a router worse off: abbreviations and secret removals
refused by the guard, secrets in clear refused in --ordenes, the post-check (neighbours
expected up, prefixes, an unchecked BGP said so), saving only after it, a lock per device,
and Ctrl-C or SIGTERM half-way through a change (real signals, sent to this process).

The configs are tests/data/red/remediar's ``show running-config`` of a real FRR 8.4; the
``show bgp summary json`` texts have FRR 8.4's shape (``ipv4Unicast.peers.<addr>``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from pukara.errors import UsageError
from red import guardas
from red.aplicar import Remediator, peers, prefix_drops
from red.remediacion import command_list, load, remediate

DATA = Path(__file__).parent.parent / "data" / "red" / "remediar"
GOLDEN = (DATA / "dorada.cfg").read_text()
STANDARD = (DATA / "estandar.cfg").read_text()
MGMT, HQ = "198.18.200.2", "198.18.200.1"
LAN_RUNNING = STANDARD.replace(
    "interface eth0", "interface lan0\n ip address 198.19.3.1/24\nexit\ninterface eth0"
)


def _guard(commands: Sequence[str], running: str = STANDARD, mgmt: str = MGMT) -> None:
    guardas.check("gw-emb-ar", load(running), mgmt, commands)


# ---- M5: abbreviations vtysh takes


@pytest.mark.parametrize(
    ("commands", "words"),
    [
        (["int eth0", "shut"], "apaga la interfaz eth0"),
        (["inter eth0", "shutd"], "apaga la interfaz eth0"),
        (["interface eth0", "no ip add 198.18.200.2/30"], "quita la dirección"),
        (["int eth0", "no ip a 198.18.200.2/30"], "quita la dirección"),
        (["no int eth0"], "borra la interfaz eth0"),
        # a top-level command typed inside another section: vtysh runs it at the top
        (["interface lo", "int eth0", "shut"], "apaga la interfaz eth0"),
        (["route-map RM-X permit 10", "int eth0", "shutdown"], "apaga la interfaz eth0"),
        (["route-map RM-X permit 10", "no int eth0"], "borra la interfaz eth0"),
        (["int eth0", "sh"], "«sh» es ambiguo"),
        (["ro bgp 4200000003"], "«ro» es ambiguo"),
        (["router bgp 4200000003", "ne 198.18.200.9 remote-as 1"], "«ne» es ambiguo"),
    ],
)
def test_abbreviations_are_read_in_full(commands: list[str], words: str) -> None:
    with pytest.raises(UsageError, match=re.escape(words)):
        _guard(commands)


@pytest.mark.parametrize(
    ("commands", "words"),
    [
        (["router bgp 4200000003", "neighb 198.18.200.1 shut"], "apaga el vecino BGP"),
        (
            ["router bgp 4200000003", "address-family ipv4 unicast", "no netw 198.19.3.1/32"],
            "deja de anunciar",
        ),
        (["no router bgp 4200000003"], "quita el BGP"),
        (["interface lan0", "no ip addr 198.19.3.1/24"], "quita la dirección"),
    ],
)
def test_abbreviations_on_the_bgp_path(commands: list[str], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        _guard(commands, LAN_RUNNING, "198.19.3.1")


def test_expansion_leaves_other_lines_and_names_alone() -> None:
    assert guardas.expand("gw", (), "int eth0") == ((), "interface eth0")
    assert guardas.expand("gw", ("interface eth0",), "desc a b") == (
        ("interface eth0",),
        "description a b",
    )
    assert guardas.expand("gw", ("router bgp 1",), "nei 10.0.0.1 remote 2") == (
        ("router bgp 1",),
        "neighbor 10.0.0.1 remote-as 2",
    )
    _guard(["int lo", "shut", "exit", "int eth0", "desc otra", "exit"])  # lo is not the path


# ---- M2: removals that take a secret with them


def test_a_new_asn_would_delete_the_bgp_section_and_its_password_refused() -> None:
    fix = remediate("gw-emb-ar", STANDARD, GOLDEN.replace("4200000003", "4200000004"))
    assert fix.commands[0] == "no router bgp 4200000003"
    with pytest.raises(UsageError) as caught:
        _guard(fix.commands)
    text = caught.value.message
    assert text.startswith("gw-emb-ar: se rechaza «no router bgp 4200000003»")
    assert "lleva un secreto" in text and "a mano" in text


def test_a_new_peer_address_would_delete_the_neighbour_and_its_password_refused() -> None:
    fix = remediate("gw-emb-ar", STANDARD, GOLDEN.replace(HQ, "198.18.200.5"))
    assert f"no neighbor {HQ} remote-as 65000" in fix.commands
    with pytest.raises(UsageError, match=rf"«no neighbor {HQ} remote-as 65000».*secreto"):
        _guard(fix.commands)


@pytest.mark.parametrize(
    "commands",
    [
        ["no router bgp 4200000003"],
        ["no router bgp"],
        ["router bgp 4200000003", f"no neighbor {HQ}"],
        ["router bgp 4200000003", f"no neighb {HQ}"],
        ["router bgp 4200000003", f"no neighbor {HQ} peer-group"],
        ["no key chain K"],
    ],
)
def test_forced_removals_of_a_secret_are_refused(commands: list[str]) -> None:
    running = STANDARD + "key chain K\n key 1\n  key-string <secreto:hmac-sha256:0123456789ab>\n"
    with pytest.raises(UsageError, match="lleva un secreto"):
        _guard(commands, running)


def test_removals_without_a_secret_pass() -> None:
    _guard(["router bgp 4200000003", f"no neighbor {HQ} description sede-central", "exit"])
    _guard(["no route-map RM-DESDE-CENTRAL permit 10", "no ip prefix-list PL-CENTRAL"])


# ---- S7: secrets in clear in --ordenes


@pytest.mark.parametrize(
    "line",
    [f"neighbor {HQ} password Cl4ve", "enable password Cl4ve", "password Cl4ve"],
)
def test_command_list_refuses_a_secret_in_clear_without_echoing_it(line: str) -> None:
    with pytest.raises(UsageError) as caught:
        command_list(["router bgp 4200000003", line])
    assert "línea 2" in caught.value.message and "secreto en claro" in caught.value.message
    assert "Cl4ve" not in caught.value.message
    assert command_list([f"neighbor {HQ} description sin password-aqui"])


# ---- a router as the remediator sees it: its config, its BGP summary, its saves


def _summary(up: Sequence[str] = (HQ,), received: int = 1, sent: int = 1) -> str:
    found = {
        peer: {"remoteAs": 65000, "state": "Established", "pfxRcd": received, "pfxSnt": sent}
        for peer in up
    }
    return json.dumps({"ipv4Unicast": {"routerId": MGMT, "as": 4200000003, "peers": found}})


class Router:
    """The running config as vtysh would leave it; ``on_push`` runs after each push."""

    def __init__(self, running: str, golden: str = GOLDEN) -> None:
        self.config = running
        self.golden = golden
        self.summaries: list[str] = []  # one per «show bgp summary json»; the last one repeats
        self.log: list[str] = []
        self.pushes: list[list[str]] = []
        self.on_push: Callable[[int], None] = lambda _n: None
        self.edit: Callable[[str, Sequence[str]], str] = lambda text, _c: text

    def running(self, device: object) -> str:
        return self.config

    def intended(self, device: object) -> str:
        return self.golden

    def save(self, device: object, text: str) -> None:
        self.log.append("respaldo")

    @contextmanager
    def session(self, device: object) -> Iterator[Router]:
        yield self

    def command(self, text: str) -> str:
        self.log.append(text)
        if text == "write memory":
            return "Building Configuration...\nIntegrated configuration saved to /etc/frr/frr.conf\n[OK]"
        summary = self.summaries[0] if self.summaries else _summary()
        if len(self.summaries) > 1:
            self.summaries.pop(0)
        return summary

    def snmp(self, device: object) -> None:
        return None

    def push(self, device: object, commands: Sequence[str]) -> None:
        self.pushes.append(list(commands))
        self.log.append("push")
        self.config = self.edit(self.config, commands)
        self.on_push(len(self.pushes))


class _Dev:
    name, site, address, platform = "gw-emb-ar", "emb-ar", MGMT, "frr"
    credential_profile, path = "red", "emb-ar/gw-emb-ar.cfg"
    asset: dict[str, Any] = {}  # noqa: RUF012


def _without_syslog(text: str, commands: Sequence[str]) -> str:
    if "no log syslog" in commands:
        return text.replace("log syslog informational\n", "")
    if "log syslog informational" in commands:
        return text.replace(
            "hostname gw-emb-ar\n", "hostname gw-emb-ar\nlog syslog informational\n"
        )
    return text


def _remediator(router: Router, **options: Any) -> Remediator:
    options = {"settle_s": 0.3, "poll_s": 0.05, "hold_s": 0, **options}
    return Remediator(router, push=router.push, **options)  # type: ignore[arg-type]


# ---- M1: Ctrl-C and SIGTERM during the change


def _interrupting(router: Router, signum: int, times: int) -> None:
    def on_push(number: int) -> None:
        if number <= times:
            os.kill(os.getpid(), signum)  # delivered to this (main) thread right away

    router.on_push = on_push


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_during_the_push_rolls_back_then_goes_on(times: int) -> None:
    router = Router(STANDARD)
    router.edit = _without_syslog
    _interrupting(router, signal.SIGINT, times)  # 2: a second Ctrl-C during the rollback
    events: list[dict[str, Any]] = []
    remediator = _remediator(router, commands=["no log syslog"], on_event=events.append)
    with pytest.raises(KeyboardInterrupt):
        remediator.remediate_device(_Dev())  # type: ignore[arg-type]
    # the command sent, then its rollback, both whole; saved only once back where it was
    assert router.pushes == [["no log syslog"], ["log syslog informational"]]
    assert router.config == STANDARD
    assert router.log[-1] == "write memory" and router.log.count("write memory") == 1
    actions = [(e["event"]["action"], e["event"]["outcome"]) for e in events]
    assert actions[-4:] == [
        ("aplicar", "failure"),
        ("revertir", "success"),
        ("verificar-reversion", "success"),
        ("guardar", "success"),
    ]
    assert "interrumpido" in events[-4]["message"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_sigterm_as_the_cli_turns_it_into_an_interrupt_rolls_back_too() -> None:
    from cli import _terminate

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        router = Router(STANDARD)
        router.edit = _without_syslog
        _interrupting(router, signal.SIGTERM, 1)
        with pytest.raises(KeyboardInterrupt):
            _remediator(router, commands=["no log syslog"]).remediate_device(_Dev())  # type: ignore[arg-type]
        assert router.config == STANDARD and router.pushes[-1] == ["log syslog informational"]
        assert signal.getsignal(signal.SIGTERM) is _terminate
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ctrl_c_during_the_post_check_rolls_back() -> None:
    router = Router(STANDARD)
    router.edit = _without_syslog
    calls = {"n": 0}
    plain = router.command

    def command(text: str) -> str:
        if text == "show bgp summary json":
            calls["n"] += 1
            if calls["n"] == 2:  # the first one after the push
                os.kill(os.getpid(), signal.SIGINT)
        return plain(text)

    router.command = command  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        _remediator(router, commands=["no log syslog"]).remediate_device(_Dev())  # type: ignore[arg-type]
    assert router.config == STANDARD and len(router.pushes) == 2


# ---- S3: saved only after the post-check


def test_write_memory_comes_after_the_post_check_as_its_own_step() -> None:
    router = Router(STANDARD.replace("log syslog informational\n", ""))
    router.edit = _without_syslog
    out = _remediator(router).remediate_device(_Dev())  # type: ignore[arg-type]
    assert out.status == "aplicado", out.as_dict()
    assert [s.name for s in out.steps][-3:] == ["aplicar", "verificar-despues", "guardar"]
    assert router.log.index("write memory") > router.log.index("push")
    assert router.log[-1] == "write memory"


def test_a_failed_post_check_is_never_saved() -> None:
    router = Router(STANDARD)
    router.edit = _without_syslog
    router.summaries = [_summary(), _summary(up=())]  # HQ is gone after the change
    out = _remediator(router, commands=["no log syslog"]).remediate_device(_Dev())  # type: ignore[arg-type]
    assert out.rollback_ok is False and out.failed
    assert "write memory" not in router.log  # the startup config is still the one before


# ---- S1/S4: which neighbours the post-check waits for


def test_a_golden_neighbour_down_before_must_be_up_after() -> None:
    # an as-errado site: the session with HQ is down before; the fix sets its remote-as,
    # and the session does not come up: a failure, not "correcto"
    router = Router((DATA / "as-errado.cfg").read_text())
    router.summaries = [_summary(up=())]
    out = _remediator(router).remediate_device(_Dev())  # type: ignore[arg-type]
    assert out.remediation is not None
    assert f"neighbor {HQ} remote-as 65000" in out.remediation.commands
    after = next(s for s in out.steps if s.name == "verificar-despues")
    assert not after.ok and f"BGP no establecido con {HQ}" in after.detail
    assert out.status != "aplicado"
    assert guardas.touched_neighbours(out.remediation.commands) == {HQ}


def test_a_golden_neighbour_down_and_left_alone_does_not_block_other_changes() -> None:
    router = Router(STANDARD.replace("log syslog informational\n", ""))
    router.edit = _without_syslog
    router.summaries = [_summary(up=())]  # HQ unreachable today
    out = _remediator(router).remediate_device(_Dev())  # type: ignore[arg-type]
    assert out.status == "aplicado", out.as_dict()
    after = next(s for s in out.steps if s.name == "verificar-despues")
    assert after.detail.startswith("SSH y SNMP responden; BGP sin verificar")


def test_nothing_to_verify_is_said_not_called_correct() -> None:
    golden = GOLDEN[: GOLDEN.index("router bgp")]  # no BGP in the golden config
    router = Router(STANDARD.replace("log syslog informational\n", ""), golden)
    router.edit = _without_syslog
    router.summaries = [json.dumps({})]
    out = _remediator(router, commands=["log syslog informational"]).remediate_device(_Dev())  # type: ignore[arg-type]
    after = next(s for s in out.steps if s.name == "verificar-despues")
    assert after.ok and after.detail.startswith("SSH y SNMP responden; BGP sin verificar")
    assert "correcto" not in after.detail


def test_a_neighbour_removed_on_purpose_is_not_waited_for() -> None:
    running = STANDARD.replace(
        f" neighbor {HQ} description sede-central\n",
        f" neighbor {HQ} description sede-central\n neighbor 198.18.200.9 remote-as 65009\n",
    )
    router = Router(running)
    router.summaries = [_summary(up=(HQ, "198.18.200.9")), _summary(up=(HQ,))]
    commands = ["router bgp 4200000003", "no neighbor 198.18.200.9", "exit"]
    out = _remediator(router, commands=commands).remediate_device(_Dev())  # type: ignore[arg-type]
    assert out.status == "aplicado", out.as_dict()
    assert guardas.removed_neighbours(load(running), commands) == {"198.18.200.9"}
    assert guardas.removed_neighbours(load(running), ["no router bgp 4200000003"]) == {
        HQ,
        "198.18.200.9",
    }


# ---- S2: prefixes


def test_prefixes_read_from_frr_summary() -> None:
    found = peers(_summary(received=3, sent=1))
    assert found[("ipv4Unicast", HQ)].received == 3 and found[("ipv4Unicast", HQ)].sent == 1
    assert prefix_drops(found, peers(_summary(sent=0)), {HQ}) == [
        f"{HQ} ya no anuncia prefijos en ipv4Unicast (1 → 0)"
    ]
    assert prefix_drops(found, peers(_summary(sent=0)), set()) == []


def test_a_change_that_stops_announcing_the_lan_fails_and_rolls_back() -> None:
    # RM-HACIA-CENTRAL denying everything: the session stays up, nothing is announced
    router = Router(STANDARD)
    router.edit = _without_syslog
    router.summaries = [_summary(), _summary(sent=0)]
    out = _remediator(router, commands=["no log syslog"]).remediate_device(_Dev())  # type: ignore[arg-type]
    after = next(s for s in out.steps if s.name == "verificar-despues")
    assert not after.ok and "ya no anuncia prefijos" in after.detail
    assert [s.name for s in out.steps][-2:] == ["revertir", "verificar-reversion"]


# ---- S5: one run per device


def test_a_device_being_changed_by_another_run_is_this_runs_error(tmp_path: Path) -> None:
    router = Router(STANDARD.replace("log syslog informational\n", ""))
    router.edit = _without_syslog
    lock = tmp_path / "red" / "remediar-gw-emb-ar.lock"
    lock.parent.mkdir()
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the other run
        out = _remediator(router, lock_dir=tmp_path / "red").remediate_device(_Dev())  # type: ignore[arg-type]
        assert out.status == "fallido" and out.reason == "otra remediación en curso en gw-emb-ar"
        assert router.pushes == []
        # simulating changes nothing: it needs no lock
        assert (
            _remediator(router, lock_dir=tmp_path / "red")
            .remediate_device(
                _Dev(),  # type: ignore[arg-type]
                simulate=True,
            )
            .status
            == "simulado"
        )
    out = _remediator(router, lock_dir=tmp_path / "red").remediate_device(_Dev())  # type: ignore[arg-type]
    assert out.status == "aplicado"


# ---- M2 also for the rollback


def test_a_rollback_that_would_remove_a_secret_is_not_sent() -> None:
    router = Router(STANDARD)

    # the forced change "works" on the device but the post-check fails; by then the device
    # has a new BGP section whose rollback would delete it along with its password
    def edit(text: str, commands: Sequence[str]) -> str:
        if list(commands) == ["no log syslog"]:
            return text.replace("4200000003", "4200000004")
        return text

    router.edit = edit
    router.summaries = [_summary(), _summary(up=())]
    out = _remediator(router, commands=["no log syslog"]).remediate_device(_Dev())  # type: ignore[arg-type]
    revert = next(s for s in out.steps if s.name == "revertir")
    assert not revert.ok and revert.detail.startswith("no reversible: ")
    assert len(router.pushes) == 1 and out.status == "fallido"


# ---- S6: the playbook's error lines


def test_the_playbook_takes_warnings_as_vtysh_errors_does() -> None:
    from red.aplicar import vtysh_errors

    book = yaml.safe_load(Path("playbooks/red/remediar.yml").read_text())
    task = next(t for t in book[0]["tasks"] if "failed_when" in t)
    pattern = re.search(r"select\('match', '([^']+)'\)", task["failed_when"])
    assert pattern is not None
    regex = re.compile(pattern.group(1))
    lines = [
        "% Warning: can't chown /etc/frr/frr.conf",
        "% Unknown command: neighbor x",
        "  % Invalid input",
        "Integrated configuration saved",
    ]
    assert [ln.strip() for ln in lines if regex.match(ln)] == vtysh_errors("\n".join(lines))
    assert "vars" not in book[0]  # play vars would override what pukara passes per host
    assert "pukara_save | default(false)" in task["ansible.builtin.command"]["argv"]


# ---- S15: what the device printed is shown without its control sequences


def test_step_details_and_reasons_are_cleaned_before_printing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from red.aplicar import Outcome, Step
    from red.cli_remediar import _show

    out = Outcome("gw-emb-ar", "revertido", reason="el equipo rechazó órdenes: \x1b]0;pwn\x07x")
    out.steps.append(Step("aplicar", False, "% Unknown command: \x1b[2J\x1b[31mrojo\rfin"))
    _show([out])
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed
    assert "% Unknown command:" in printed and "rojo" in printed


# ---- N5: the marking key is made only by a live read


def test_simulating_from_the_backup_makes_no_marking_key(settings: Any) -> None:
    from red.aplicar import Live, Offline
    from red.respaldo import key_path

    Offline(None, settings)
    Live(None, settings)
    assert not key_path(settings.data_dir).exists()
