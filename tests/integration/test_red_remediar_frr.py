"""Remediation against real FRR 8.4 routers: apply, post-check, automatic rollback.

A throwaway pair of namespaces (``pkr-remediar``: zebra, staticd and bgpd of a mission site;
``pkr-remediar-hq``: headquarters' bgpd, ``-Z -n``) joined by a veth pair, peering over BGP
with an MD5 password, and net-snmp's snmpd on the site. The CLI session is vtysh run in the
site's namespace (the lab's network user lands in that same vtysh over SSH; the SSH leg is
tested with the lab). Everything lives under a folder of its own and goes away at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from red.aplicar import Remediator, established
from red.remediacion import remediate

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="necesita root (espacios de nombres de red)"),
    pytest.mark.skipif(not Path("/usr/lib/frr/bgpd").exists(), reason="sin FRR"),
]

DATA = Path(__file__).parent.parent / "data" / "red" / "remediar"
NS, HQ_NS = "pkr-remediar", "pkr-remediar-hq"
SITE, HQ = "198.18.200.2", "198.18.200.1"
SECRETS = {"vty": "vtyPkr1", "enable": "enaPkr1", "bgp": "bgpPkr1"}
MARKERS = {
    "vty": "<secreto:hmac-sha256:3f1c9a0b7d2e>",
    "enable": "<secreto:hmac-sha256:a81d44c0e9f3>",
    "bgp": "<secreto:hmac-sha256:5b7e02d1c6a4>",
}
HQ_CONF = f"""hostname gw-lima
router bgp 65000
 bgp router-id {HQ}
 no bgp ebgp-requires-policy
 neighbor {SITE} remote-as 4200000003
 neighbor {SITE} password {SECRETS["bgp"]}
 neighbor {SITE} timers connect 3
exit
"""


def _golden() -> str:
    return (DATA / "dorada.cfg").read_text()


def _site_conf() -> str:
    text = _golden()
    text = text.replace("password <secreto>\n", f"password {SECRETS['vty']}\n", 1)
    text = text.replace("enable password <secreto>", f"enable password {SECRETS['enable']}")
    return text.replace(f"{HQ} password <secreto>", f"{HQ} password {SECRETS['bgp']}")


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


@dataclass
class Router:
    base: Path
    ns: str

    def vtysh(self, *commands: str) -> str:
        argv = ["ip", "netns", "exec", self.ns, "vtysh", "--vty_socket", str(self.base / "run")]
        argv += ["--config_dir", str(self.base / "etc")]
        for command in commands:
            argv += ["-c", command]
        done = _run(*argv, check=False)
        return done.stdout + done.stderr

    def start(self, daemons: Sequence[str], conf: str, *extra: str) -> None:
        for sub in ("etc", "run"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
            shutil.chown(self.base / sub, "frr", "frr")
        (self.base / "etc" / "frr.conf").write_text(conf)
        (self.base / "etc" / "vtysh.conf").write_text("service integrated-vtysh-config\n")
        for name in ("frr.conf", "vtysh.conf"):
            shutil.chown(self.base / "etc" / name, "frr", "frr")
        run = self.base / "run"
        for daemon in daemons:
            zebra = [] if "-Z" in extra else ["-z", str(run / "zserv.api")]
            _run(
                "ip", "netns", "exec", self.ns, f"/usr/lib/frr/{daemon}", "-d",
                "--vty_socket", str(run), "-i", str(run / f"{daemon}.pid"), *zebra,
                "-f", str(self.base / "etc" / "frr.conf"), "-A", "127.0.0.1",
                "--log", f"file:{self.base / (daemon + '.log')}", *extra,
            )  # fmt: skip

    def stop(self) -> None:
        for pid_file in (self.base / "run").glob("*.pid"):
            try:
                os.kill(int(pid_file.read_text().strip()), 15)
            except (ValueError, ProcessLookupError, OSError):
                continue


def _snmpd(base: Path) -> subprocess.Popen[bytes]:
    conf = base / "snmpd.conf"
    conf.write_text("rocommunity pkrremediar 198.18.200.0/30\n")
    return subprocess.Popen(
        ["ip", "netns", "exec", NS, "snmpd", "-f", "-Lf", str(base / "snmpd.log"), "-C",
         "-c", str(conf), "-p", str(base / "snmpd.pid"), f"udp:{SITE}:161"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(what: str, ok: Any, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"no llegó: {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def routers() -> Iterator[tuple[Router, Router]]:
    base = Path(f"/tmp/pkr-remediar-prueba-{os.getpid()}")  # frr's user must reach it
    base.mkdir(mode=0o755)
    base.chmod(0o755)
    site, hq = Router(base / "sede", NS), Router(base / "hq", HQ_NS)
    snmpd = None
    try:
        for ns in (NS, HQ_NS):
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", NS, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
             "netns", HQ_NS)  # fmt: skip
        _run("ip", "-n", NS, "addr", "add", f"{SITE}/30", "dev", "eth0")
        _run("ip", "-n", HQ_NS, "addr", "add", f"{HQ}/30", "dev", "eth1")
        _run("ip", "-n", NS, "link", "set", "eth0", "up")
        _run("ip", "-n", HQ_NS, "link", "set", "eth1", "up")
        site.start(("zebra", "staticd", "bgpd"), _site_conf())
        hq.start(("bgpd",), HQ_CONF, "-Z", "-n")
        snmpd = _snmpd(base)
        _wait("BGP establecido", lambda: HQ in established(site.vtysh("show bgp summary json")))
        yield site, hq
    finally:
        if snmpd is not None:
            snmpd.terminate()
            snmpd.wait(timeout=10)
        site.stop()
        hq.stop()
        for ns in (NS, HQ_NS):
            _run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _cleaned(text: str) -> str:
    """What a backup stores: the secrets replaced by their markers."""
    for key, secret in SECRETS.items():
        text = text.replace(secret, MARKERS[key])
    return text


class _Session:
    def __init__(self, router: Router) -> None:
        self.router = router

    def command(self, text: str) -> str:
        return self.router.vtysh(text)

    def configure(self, commands: Sequence[str]) -> str:
        return self.router.vtysh("configure terminal", *commands, "end")


@dataclass(frozen=True)
class _Device:
    name: str = "gw-emb-ar"
    site: str = "emb-ar"
    address: str = SITE
    platform: str = "frr"
    credential_profile: str = "red"
    asset: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.site}/{self.name}.cfg"


class VtyshAccess:
    """The device reached through vtysh in its namespace; backups kept in a dict."""

    def __init__(self, router: Router, golden: str) -> None:
        self.router = router
        self.golden = golden
        self.saved: dict[str, str] = {}

    def running(self, device: Any) -> str:
        return _cleaned(self.router.vtysh("show running-config"))

    def intended(self, device: Any) -> str:
        return self.golden

    def save(self, device: Any, text: str) -> None:
        self.saved[device.path] = text

    @contextmanager
    def session(self, device: Any) -> Iterator[_Session]:
        yield _Session(self.router)

    def snmp(self, device: Any) -> None:
        done = _run(
            "ip", "netns", "exec", NS, "snmpget", "-v2c", "-c", "pkrremediar", "-t", "2",
            "-r", "1", SITE, "1.3.6.1.2.1.1.3.0", check=False,
        )  # fmt: skip
        if done.returncode != 0 or "Timeticks" not in done.stdout:
            from pukara.errors import DeviceError

            raise DeviceError(f"snmpget sin respuesta: {done.stderr.strip()}")


def _restore(site: Router) -> None:
    now = _cleaned(site.vtysh("show running-config"))
    fix = remediate("gw-emb-ar", now, _golden())
    if fix.commands:
        site.vtysh("configure terminal", *fix.commands, "end")
    _wait("BGP establecido", lambda: HQ in established(site.vtysh("show bgp summary json")))


def test_a_nonstandard_router_is_brought_to_standard(routers: tuple[Router, Router]) -> None:
    site, _ = routers
    site.vtysh(
        "configure terminal", "ip route 198.18.250.1/32 198.18.200.1",
        "route-map RM-HACIA-CENTRAL permit 10", "match ip address prefix-list PL-NO-EXISTE",
        "end",
    )  # fmt: skip
    events: list[dict[str, Any]] = []
    access = VtyshAccess(site, _golden())
    out = Remediator(access, settle_s=20, poll_s=1, on_event=events.append).remediate_device(
        _Device()
    )
    assert out.status == "aplicado", out.as_dict()
    assert "no ip route 198.18.250.1/32 198.18.200.1" in out.remediation.commands  # type: ignore[union-attr]
    assert [s.name for s in out.steps] == [
        "leer", "calcular", "verificar-antes", "respaldar", "aplicar", "verificar-despues",
        "guardar",
    ]  # fmt: skip
    assert "198.18.250.1" not in (site.base / "etc" / "frr.conf").read_text()  # saved
    assert [e["event"]["action"] for e in events] == [s.name for s in out.steps]
    assert all(e["event"]["dataset"] == "red.remediacion" for e in events)
    # compliant now: nothing left to remediate, and the backup is the config before
    assert remediate("gw-emb-ar", access.running(_Device()), _golden()).empty
    assert "ip route 198.18.250.1/32" in access.saved["emb-ar/gw-emb-ar.cfg"]
    assert not any(s in str(events) + str(out.as_dict()) for s in SECRETS.values())
    assert HQ in established(site.vtysh("show bgp summary json"))


def test_a_cutting_change_is_rolled_back_by_itself(routers: tuple[Router, Router]) -> None:
    site, _ = routers
    _restore(site)
    before = _cleaned(site.vtysh("show running-config"))
    cutting = _golden().replace(f"{HQ} remote-as 65000", f"{HQ} remote-as 65099")
    access = VtyshAccess(site, cutting)
    # the cut is seen after 12 s without BGP; the rollback's session may take longer to come
    # back on a loaded machine: waited for (up to 60 s, done as soon as it is Established)
    out = Remediator(access, settle_s=12, revert_settle_s=60, poll_s=1).remediate_device(_Device())
    assert out.status == "revertido", out.as_dict()
    assert out.rollback_ok is True
    assert "BGP no establecido con 198.18.200.1" in out.reason
    assert out.rollback == ("router bgp 4200000003", f"neighbor {HQ} remote-as 65000", "exit")
    names = [s.name for s in out.steps]
    assert names[-4:] == ["verificar-despues", "revertir", "verificar-reversion", "guardar"]
    assert [s.ok for s in out.steps][-4:] == [False, True, True, True]
    assert "65099" not in (site.base / "etc" / "frr.conf").read_text()  # never saved
    # BGP is up again and the running config is the backup taken before the change
    assert HQ in established(site.vtysh("show bgp summary json"))
    assert _cleaned(site.vtysh("show running-config")) == before == access.saved[_Device().path]


def test_simulate_changes_nothing(routers: tuple[Router, Router]) -> None:
    site, _ = routers
    _restore(site)
    site.vtysh("configure terminal", "no log syslog", "end")
    before = site.vtysh("show running-config")
    access = VtyshAccess(site, _golden())
    out = Remediator(access).remediate_device(_Device(), simulate=True)
    assert out.status == "simulado"
    assert out.remediation is not None and out.remediation.commands == ("log syslog informational",)
    assert site.vtysh("show running-config") == before
    assert access.saved == {}


def test_a_forced_cut_of_the_management_interface_is_refused(
    routers: tuple[Router, Router],
) -> None:
    site, _ = routers
    before = site.vtysh("show running-config")
    access = VtyshAccess(site, _golden())
    out = Remediator(access, commands=["interface eth0", "shutdown", "exit"]).remediate_device(
        _Device()
    )
    assert out.status == "rechazado" and out.failed
    assert "gw-emb-ar: se rechaza «shutdown»: apaga la interfaz eth0" in out.reason
    assert site.vtysh("show running-config") == before and access.saved == {}


def test_vtysh_errors_fail_the_change_and_roll_back(routers: tuple[Router, Router]) -> None:
    site, _ = routers
    _restore(site)
    before = _cleaned(site.vtysh("show running-config"))
    forced = ["ip route 198.18.251.1/32 198.18.200.1", "router bgp 4200000003",
              "neighbor 198.18.200.1 esto-no-existe", "exit"]  # fmt: skip
    access = VtyshAccess(site, _golden())
    out = Remediator(access, commands=forced, settle_s=10, poll_s=1).remediate_device(_Device())
    assert out.status == "revertido", out.as_dict()
    assert "el equipo rechazó órdenes" in out.reason
    assert "no ip route 198.18.251.1/32 198.18.200.1" in out.rollback
    assert _cleaned(site.vtysh("show running-config")) == before


def test_ctrl_c_half_way_through_the_change_is_rolled_back(
    routers: tuple[Router, Router],
) -> None:
    site, _ = routers
    _restore(site)
    site.vtysh("write memory")
    before = _cleaned(site.vtysh("show running-config"))
    access = VtyshAccess(site, _golden())
    forced = ["ip route 198.18.253.1/32 198.18.200.1", "interface lo", "description a medias"]
    pushes: list[list[str]] = []

    def push(device: Any, commands: Sequence[str]) -> None:
        pushes.append(list(commands))
        if len(pushes) == 1:  # the first line reaches the router, then a real Ctrl-C
            site.vtysh("configure terminal", commands[0], "end")
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the interrupt comes first: the rest is never sent
        site.vtysh("configure terminal", *commands, "end")

    events: list[dict[str, Any]] = []
    remediator = Remediator(
        access, push=push, commands=forced, settle_s=10, poll_s=1, on_event=events.append
    )
    with pytest.raises(KeyboardInterrupt):
        remediator.remediate_device(_Device())
    assert len(pushes) == 2 and "no ip route 198.18.253.1/32 198.18.200.1" in pushes[1]
    steps = [(e["event"]["action"], e["event"]["outcome"]) for e in events]
    assert steps[-4:] == [
        ("aplicar", "failure"), ("revertir", "success"), ("verificar-reversion", "success"),
        ("guardar", "success"),
    ]  # fmt: skip
    assert _cleaned(site.vtysh("show running-config")) == before
    assert "198.18.253.1" not in (site.base / "etc" / "frr.conf").read_text()
    assert HQ in established(site.vtysh("show bgp summary json"))


def test_a_route_map_that_stops_announcing_the_lan_is_rolled_back(
    routers: tuple[Router, Router],
) -> None:
    import json

    site, _ = routers
    _restore(site)
    # the golden config's network 198.19.3.1/32 is not in PL-SEDE-EMB-AR (198.19.3.0/24
    # exactly), so RM-HACIA-CENTRAL lets nothing out: announce the LAN itself here
    _run("ip", "-n", NS, "addr", "replace", "198.19.3.1/24", "dev", "lo")
    site.vtysh(
        "configure terminal", "router bgp 4200000003", "address-family ipv4 unicast",
        "network 198.19.3.0/24", "end",
    )  # fmt: skip

    def sent() -> int:
        summary = json.loads(site.vtysh("show bgp summary json"))
        return int(summary["ipv4Unicast"]["peers"][HQ]["pfxSnt"])

    _wait("el prefijo de la sede anunciado", lambda: sent() > 0)
    before = _cleaned(site.vtysh("show running-config"))
    forced = ["route-map RM-HACIA-CENTRAL deny 5", "exit"]  # the session stays up
    access = VtyshAccess(site, _golden())
    out = Remediator(access, commands=forced, settle_s=12, poll_s=1).remediate_device(_Device())
    assert out.status == "revertido" and out.rollback_ok is True, out.as_dict()
    assert f"{HQ} ya no anuncia prefijos en ipv4Unicast" in out.reason
    assert _cleaned(site.vtysh("show running-config")) == before
    _wait("el prefijo anunciado otra vez", lambda: sent() > 0)
    _run("ip", "-n", NS, "addr", "del", "198.19.3.1/24", "dev", "lo")
    _restore(site)


PLAYBOOK_RUN = """
import json, sys
from pathlib import Path
from pukara.ansible import run_playbook
from pukara.config import Settings
from red.aplicar import PLAYBOOK, playbook_commands

data = Path(sys.argv[1])
settings = Settings(data_dir=data, db=data / "p.db")
host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "pukara_commands": playbook_commands(json.loads(sys.argv[2])), "pukara_save": True}
run = run_playbook(PLAYBOOK, {"all": {"hosts": {"gw-emb-ar": host}}}, settings=settings)
print(json.dumps({"status": run.status, "failed": run.failed_hosts}))
"""


def _playbook(site: Router, commands: Sequence[str], data: Path) -> dict[str, Any]:
    """The shipped playbook, run where the router's vtysh -N finds it: its namespace, with
    /run/frr/<pathspace> and /etc/frr/<pathspace> bound in a mount namespace of its own (as
    the lab's sshd sees them), Ansible connecting locally instead of over SSH."""
    import json
    import sys

    base = site.base
    script = (
        "mount -t tmpfs pkr /run && mkdir -p /run/frr/$1 && mount --bind $2/run /run/frr/$1"
        " && mount -t tmpfs pkr /etc/frr && mkdir /etc/frr/$1 && mount --bind $2/etc /etc/frr/$1"
        ' && shift 2 && exec "$@"'
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["ip", "netns", "exec", NS, "unshare", "-m", "--propagation", "private",
         "sh", "-c", script, "sh", NS, str(base), sys.executable, "-c", PLAYBOOK_RUN,
         str(data), json.dumps(list(commands))],
        capture_output=True, text=True, timeout=300, env=env, check=False,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_playbook_pushes_the_same_commands(
    routers: tuple[Router, Router], tmp_path: Path
) -> None:
    site, _ = routers
    _restore(site)
    site.vtysh("configure terminal", "ip route 198.18.252.1/32 198.18.200.1", "no log syslog")
    site.vtysh("end")
    fix = remediate("gw-emb-ar", _cleaned(site.vtysh("show running-config")), _golden())
    assert set(fix.commands) == {"no ip route 198.18.252.1/32 198.18.200.1",
                                 "log syslog informational"}  # fmt: skip
    assert _playbook(site, fix.commands, tmp_path) == {"status": "successful", "failed": []}
    now = site.vtysh("show running-config")
    assert remediate("gw-emb-ar", _cleaned(now), _golden()).empty
    # write memory went to the router's own folder
    assert "log syslog informational" in (site.base / "etc" / "frr.conf").read_text()
    assert "198.18.252.1" not in (site.base / "etc" / "frr.conf").read_text()
    # a command vtysh rejects fails the host
    bad = _playbook(site, ["router bgp 4200000003", "neighbor 198.18.200.1 no-existe"], tmp_path)
    assert bad == {"status": "failed", "failed": ["gw-emb-ar"]}


# ---- the same, through netmiko over a real sshd whose login lands in vtysh, and pukara's SNMP

SSH_RUN = """
import json, sys
from contextlib import contextmanager
from pathlib import Path
from red.aplicar import Remediator, netmiko_session, snmp_answers

golden, base = Path(sys.argv[1]).read_text(), Path(sys.argv[2])
secrets = json.loads(sys.argv[3])

class Device:
    name, site, address, platform, credential_profile = "gw-emb-ar", "emb-ar", sys.argv[4], "frr", "red"
    asset = {}
    path = "emb-ar/gw-emb-ar.cfg"

class Access:
    saved = {}
    def running(self, device):
        with netmiko_session(device, 10) as s:
            text = s.command("show running-config")
        for secret, mark in secrets.items():
            text = text.replace(secret, mark)
        return text
    def intended(self, device):
        return golden
    def save(self, device, text):
        self.saved[device.path] = text
    def session(self, device):
        return netmiko_session(device, 10)
    def snmp(self, device):
        snmp_answers(device.address, ["red"], 2.0)

out = Remediator(Access(), settle_s=float(sys.argv[5]), poll_s=1).remediate_device(Device())
print(json.dumps(out.as_dict()))
"""


@pytest.fixture(scope="module")
def sshd(routers: tuple[Router, Router]) -> Iterator[Path]:
    site, _ = routers
    base = site.base.parent
    key, host_key = base / "llave", base / "ssh_host_ed25519_key"
    for path in (key, host_key):
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path))
    (base / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    (base / "known_hosts").write_text(f"{SITE} {host_key.with_suffix('.pub').read_text()}")
    vtysh = f"vtysh --vty_socket {site.base / 'run'} --config_dir {site.base / 'etc'}"
    login = (
        f'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec {vtysh} -c "$SSH_ORIGINAL_COMMAND";'
        f" else exec {vtysh}; fi"
    )
    (base / "sshd_config").write_text(
        f"ListenAddress {SITE}:22\nHostKey {host_key}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"UsePAM no\nPrintMotd no\nMatch User root\n    ForceCommand {login}\n"
    )
    creds = base / "credenciales.toml"
    creds.write_text(
        f'[red]\nusername = "root"\nkey_file = "{key}"\nknown_hosts = "{base / "known_hosts"}"\n'
        'community = "pkrremediar"\n'
    )
    creds.chmod(0o600)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NS, "/usr/sbin/sshd", "-D", "-e", "-f", str(base / "sshd_config")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1)
        yield creds
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _over_ssh(creds: Path, golden: str, settle_s: float) -> dict[str, Any]:
    import json
    import sys

    golden_file = creds.parent / "dorada.cfg"
    golden_file.write_text(golden)
    marks = {SECRETS[k]: MARKERS[k] for k in SECRETS}
    env = {**os.environ, "PUKARA_CREDENTIALS": str(creds)}
    done = subprocess.run(
        ["ip", "netns", "exec", NS, sys.executable, "-c", SSH_RUN, str(golden_file),
         str(creds.parent), json.dumps(marks), SITE, str(settle_s)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_over_ssh_and_snmp_a_change_applies_and_a_cut_rolls_back(
    routers: tuple[Router, Router], sshd: Path
) -> None:
    site, _ = routers
    _restore(site)
    site.vtysh("configure terminal", "ip prefix-list PL-SEDE-EMB-AR seq 5 permit 0.0.0.0/0 le 32")
    applied = _over_ssh(sshd, _golden(), 20)
    assert applied["status"] == "aplicado", applied
    assert applied["commands"] == ["ip prefix-list PL-SEDE-EMB-AR seq 5 permit 198.19.3.0/24"]
    assert remediate("gw-emb-ar", _cleaned(site.vtysh("show running-config")), _golden()).empty
    assert (
        "PL-SEDE-EMB-AR seq 5 permit 198.19.3.0/24" in (site.base / "etc" / "frr.conf").read_text()
    )
    before = _cleaned(site.vtysh("show running-config"))
    cutting = _golden().replace(f"{HQ} remote-as 65000", f"{HQ} remote-as 65099")
    cut = _over_ssh(sshd, cutting, 12)
    assert cut["status"] == "revertido" and cut["rollback_ok"] is True, cut
    assert [s["name"] for s in cut["steps"]][-4:] == [
        "verificar-despues", "revertir", "verificar-reversion", "guardar",
    ]  # fmt: skip
    assert HQ in established(site.vtysh("show bgp summary json"))
    assert _cleaned(site.vtysh("show running-config")) == before
    assert not any(s in json_text for s in SECRETS.values() for json_text in [str(cut)])
