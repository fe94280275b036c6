"""Bring the lab up, take it down, report its state.

State lives in one folder (``Settings.lab_state_dir``): ``state.json`` (sites and the
namespaces this lab made), the lab SSH key, the lab credentials (both 0600), known_hosts and
one folder per site. ``down`` removes every process, namespace, route and file ``up`` made.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lab import frr, netns, nflog, ready, rsyslog, services, vpn
from lab.services import LabCredentials
from lab.sites import V4_BLOCK, V6_BLOCK, LabSite, check_topology
from pukara.errors import LabError
from pukara.files import make_private_dirs

NFT_TABLE = "pukara_lab"
WAN_IF = "wan0"


@dataclass(frozen=True, slots=True)
class Lab:
    state_dir: Path
    prefix: str = "pk"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credenciales.toml"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    def ns(self, site: LabSite) -> str:
        return f"{self.prefix}-{site.index:04d}"

    def host_if(self, site: LabSite) -> str:
        return f"{self.prefix}h{site.index}"

    def site_dir(self, site: LabSite) -> Path:
        return self.state_dir / "sedes" / site.code

    @property
    def audit_dir(self) -> Path:
        """The audit hosts' folder (see lab.auditoria)."""
        return self.state_dir / "auditoria"


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("el laboratorio necesita root (crea espacios de nombres de red): use sudo")


def _load_state(lab: Lab) -> dict[str, Any]:
    try:
        return dict(json.loads(lab.state_file.read_text()))
    except FileNotFoundError:
        return {"prefix": lab.prefix, "namespaces": [], "sites": []}
    except (OSError, ValueError) as e:
        raise LabError(f"{lab.state_file}: estado del laboratorio ilegible: {e}") from e


def _reached(lab: Lab, state: dict[str, Any]) -> list[LabSite]:
    """The sites of the lab as the last finished ``up`` left it; refused while half-changed."""
    if state.get("changing"):
        raise LabError(
            "el laboratorio quedó a medio cambiar: el último «pukara lab arriba» no terminó; "
            "repítalo (o ejecute «pukara lab abajo») antes de usarlo"
        )
    return [LabSite(**raw) for raw in state["sites"]]


def _save_state(lab: Lab, state: dict[str, Any]) -> None:
    tmp = lab.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(lab.state_file)


def _ensure_credentials(lab: Lab) -> LabCredentials:
    """The lab's profile ``lab``: SNMP v2c/v3 secrets, SSH user, key and known_hosts paths."""
    if lab.credentials_file.exists():
        raw = tomllib.loads(lab.credentials_file.read_text())["lab"]
        creds = LabCredentials(raw["community"], raw["snmp_user"], raw["auth_key"], raw["priv_key"])
    else:
        creds = LabCredentials(
            community="lab-" + secrets.token_hex(8),
            v3_user="pukara",
            v3_auth=secrets.token_hex(12),
            v3_priv=secrets.token_hex(12),
        )
    lab.credentials_file.touch(mode=0o600)
    lab.credentials_file.chmod(0o600)
    lab.credentials_file.write_text(
        "# Credenciales del laboratorio de pukara (generadas; solo para el laboratorio)\n"
        "[lab]\n"
        f'username = "root"\ncommunity = "{creds.community}"\nsnmp_user = "{creds.v3_user}"\n'
        f'auth_key = "{creds.v3_auth}"\npriv_key = "{creds.v3_priv}"\n'
        f'key_file = "{lab.key}"\nknown_hosts = "{lab.known_hosts}"\n'
        # the sites share this machine's file system: its system Python, not a pyenv shim
        'python_interpreter = "/usr/bin/python3"\n'
        # the network user of the lab's routers (its login lands in vtysh; see lab.frr)
        "\n[red]\n"
        f'username = "{services.NETWORK_USER}"\nkey_file = "{lab.key}"\n'
        f'known_hosts = "{lab.known_hosts}"\n'
        # the audit hosts' account (see lab.auditoria): sudo without password, that one only
        "\n[auditoria]\n"
        f'username = "auditoria"\nkey_file = "{lab.key}"\n'
        f'known_hosts = "{lab.audit_dir / "known_hosts"}"\n'
        'python_interpreter = "/usr/bin/python3"\n'
    )
    return creds


def ensure_credentials(lab: Lab) -> LabCredentials:
    """The lab's credentials file (profiles ``lab``, ``red`` and ``auditoria``)."""
    return _ensure_credentials(lab)


def ensure_key(lab: Lab) -> Path:
    """The lab's SSH key (made once); returns the authorized_keys file that holds it."""
    return _ensure_key(lab)


def _ensure_key(lab: Lab) -> Path:
    if not lab.key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pukara-lab", "-f", str(lab.key)],
            check=True, stdin=subprocess.DEVNULL, capture_output=True,
        )  # fmt: skip
    authorized = lab.state_dir / "authorized_keys"
    authorized.write_text(lab.key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    return authorized


def _check_names(lab: Lab, sites: Sequence[LabSite], ours: set[str]) -> None:
    taken = netns.existing() - ours
    for site in sites:
        if lab.ns(site) in taken:
            raise LabError(
                f"el espacio de nombres de red {lab.ns(site)} ya existe y no es de este "
                "laboratorio; elimínelo o use otro prefijo"
            )
        if lab.ns(site) not in ours and Path(f"/sys/class/net/{lab.host_if(site)}").exists():
            raise LabError(f"la interfaz {lab.host_if(site)} ya existe y no es de este laboratorio")


def _interfaces(where: str | None) -> set[str]:
    """Names of the network interfaces of namespace ``where`` (None: the host's)."""
    if where is None:
        return set(os.listdir("/sys/class/net"))
    done = subprocess.run(
        ["ip", "-n", where, "-o", "link", "show"], capture_output=True, text=True, check=False
    )
    return {line.split(":")[1].strip().split("@")[0] for line in done.stdout.splitlines()}


def _misplaced(lab: Lab, sites: Sequence[LabSite], ours: set[str]) -> list[LabSite]:
    """Existing sites whose headquarters-side end is not where the topology wants it.

    That is a site that now hangs from a hub, or no longer does, or whose hub went away.
    """
    by_code = {s.code: s for s in sites}
    wanted = {s.code: lab.ns(by_code[s.parent]) if s.parent else None for s in sites}
    seen = {
        where: _interfaces(where)
        for where in set(wanted.values())
        if where is None or where in ours
    }
    return [
        s for s in sites
        if lab.ns(s) in ours and lab.host_if(s) not in seen.get(wanted[s.code], set())
    ]  # fmt: skip


def _unlink(lab: Lab, moved: Sequence[LabSite]) -> None:
    """Take the moved sites' links down for :func:`_links` to make them again.

    Deleting ``wan0`` deletes its peer wherever it lives; the route the host had to a child
    through its hub goes too, and the site's daemons (bound to the old link) start again.
    """
    services.stop(*(pid for s in moved for pid in netns.pids_in(lab.ns(s))))
    for s in moved:
        for argv in (
            ["ip", "-n", lab.ns(s), "link", "del", WAN_IF],
            ["ip", "route", "del", str(s.v4_net)],
            ["ip", "-6", "route", "del", str(s.v6_net)],
        ):
            subprocess.run(argv, capture_output=True, check=False, stdin=subprocess.DEVNULL)


def _links(lab: Lab, sites: Sequence[LabSite], ours: set[str]) -> None:
    """veth links: a site hangs from the host, or from its hub's namespace (then routed)."""
    by_code = {s.code: s for s in sites}
    moved = _misplaced(lab, sites, ours)
    _unlink(lab, moved)
    netns.ip_batch([f"netns add {lab.ns(s)}" for s in sites if lab.ns(s) not in ours])
    linked = ours - {lab.ns(s) for s in moved}  # the moved sites' links are made again
    # commands for the namespace that holds each site's headquarters-side end (None: the host)
    sides: dict[str | None, list[str]] = {}
    host_routes: list[str] = []
    for s in sites:
        hub = by_code[s.parent] if s.parent else None
        where = lab.ns(hub) if hub else None
        hif = lab.host_if(s)
        cmds = sides.setdefault(where, [])
        if lab.ns(s) not in linked:
            cmds.append(f"link add {hif} type veth peer name {WAN_IF} netns {lab.ns(s)}")
        cmds += [
            f"addr replace {s.v4_host}/30 dev {hif}",
            f"addr replace {s.v6_host}/64 dev {hif} nodad",
            f"link set {hif} up",
        ]
        if hub:
            host_routes += [
                f"route replace {s.v4_net} via {hub.v4}",
                f"route replace {s.v6_net} via {hub.v6}",
            ]
    for where, cmds in sides.items():
        netns.ip_batch(cmds, netns=where)
    netns.ip_batch(host_routes)
    for s in sites:
        netns.ip_batch(
            [
                "link set lo up",
                f"addr replace {s.v4}/30 dev {WAN_IF}",
                f"addr replace {s.v6}/64 dev {WAN_IF} nodad",
                f"link set {WAN_IF} up",
                f"route replace default via {s.v4_host}",
                f"route replace default via {s.v6_host}",
                # the mission's LAN side, reached across its VPN tunnel only
                *([f"addr replace {s.lan}/32 dev lo"] if s.tunnel else []),
            ],
            netns=lab.ns(s),
        )
    _neighbour_room(len(sites))
    # Nothing for the lab's ranges ever leaves through the real default route.
    netns.ip_batch([f"route replace blackhole {V4_BLOCK}", f"route replace blackhole {V6_BLOCK}"])


def _neighbour_room(count: int) -> None:
    """One neighbour entry per site and family: raise the host's table limits (never lower)."""
    for family in ("ipv4", "ipv6"):
        for level, factor in (("gc_thresh1", 1), ("gc_thresh2", 2), ("gc_thresh3", 4)):
            key = f"net.{family}.neigh.default.{level}"
            path = Path("/proc/sys") / key.replace(".", "/")
            wanted = (count + 256) * factor
            if int(path.read_text()) < wanted:
                netns.write_sysctl(key, str(wanted))


def hq_address(site: LabSite, sites: Sequence[LabSite]) -> str:
    """Headquarters' address a site reaches first: its own link's, or its hub's."""
    if site.parent:
        return str(next(s for s in sites if s.code == site.parent).v4_host)
    return str(site.v4_host)


def nft_rules(site: LabSite) -> str:
    """Loss and outage of the site's WAN link; a hub's also hit what it forwards."""
    rules = []
    if site.down:
        rules.append("drop")
    elif site.loss_pct > 0:
        rules.append(f"numgen random mod 10000 < {round(site.loss_pct * 100)} drop")
    # telnet is refused at every mission gateway, and each refusal logged (see lab.nflog)
    telnet = f'tcp dport 23 log group {nflog.GROUP} prefix "{nflog.PREFIX}" drop'
    inbound = "\n    ".join(f'iifname "{WAN_IF}" {r}' for r in [*rules, telnet])
    forwarded = "\n    ".join(rules)
    # a down link carries nothing out either (the site's syslog, above all)
    outbound = f'oifname "{WAN_IF}" drop' if site.down else ""
    return (
        f"table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n"
        f"table inet {NFT_TABLE} {{\n  chain input {{\n"
        f"    type filter hook input priority 0; policy accept;\n    {inbound}\n  }}\n"
        f"  chain forward {{\n"
        f"    type filter hook forward priority 0; policy accept;\n    {forwarded}\n  }}\n"
        f"  chain output {{\n"
        f"    type filter hook output priority 0; policy accept;\n    {outbound}\n  }}\n}}\n"
    )


def _configure_ns(lab: Lab, site: LabSite) -> None:
    with netns.inside(lab.ns(site)):
        netns.write_sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        netns.write_sysctl("net.ipv6.icmp.echo_ignore_all", "1")
        netns.write_sysctl("net.ipv4.icmp_ratelimit", "0")
        netns.write_sysctl("net.ipv6.icmp.ratelimit", "0")
        netns.write_sysctl("net.ipv4.ip_forward", "1")  # a hub routes its children
        netns.write_sysctl("net.ipv6.conf.all.forwarding", "1")
        done = subprocess.run(
            ["nft", "-f", "-"], input=nft_rules(site), capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise LabError(f"nft falló en {lab.ns(site)}: {done.stderr.strip()[:300]}")


def _responder_pid(lab: Lab) -> int | None:
    pidfile = lab.state_dir / "responder.pid"
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"lab.responder" in cmdline else None


def path_delay_ms(site: LabSite, by_code: Mapping[str, LabSite]) -> float:
    """A site behind a hub answers after its own link's delay plus every hub's on the way."""
    total, seen = site.delay_ms, {site.code}
    parent = by_code.get(site.parent) if site.parent else None
    while parent is not None and parent.code not in seen:  # the site table refuses cycles
        total += parent.delay_ms
        seen.add(parent.code)
        parent = by_code.get(parent.parent) if parent.parent else None
    return total


def _start_responder(lab: Lab, sites: Sequence[LabSite]) -> int:
    old = _responder_pid(lab)
    if old:
        services.stop(old)
    plan = lab.state_dir / "responder.json"
    by_code = {s.code: s for s in sites}
    plan.write_text(
        json.dumps(
            [
                {
                    "netns": lab.ns(s),
                    "delay_ms": path_delay_ms(s, by_code),
                    "jitter_ms": s.jitter_ms,
                }
                for s in sites
            ]
        )
    )
    pidfile = lab.state_dir / "responder.pid"
    pidfile.unlink(missing_ok=True)
    log = (lab.state_dir / "responder.log").open("ab")
    with log:
        subprocess.run(
            ["setsid", "-f", sys.executable, "-m", "lab.responder", str(plan), str(pidfile)],
            check=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = _responder_pid(lab)
        if pid:
            return pid
        time.sleep(0.02)
    raise LabError(f"el respondedor de eco no arrancó; vea {lab.state_dir / 'responder.log'}")


def up(
    lab: Lab,
    sites: Sequence[LabSite],
    *,
    services_on: bool = True,
    syslog: rsyslog.Destination = rsyslog.DEFAULT_DESTINATION,
    auditoria: bool = False,
) -> list[dict[str, Any]]:
    """Build (or repair) the lab; idempotent. Returns :func:`status`.

    ``services_on=False`` gives echo-only sites (no snmpd, sshd, rsyslog or tunnels), for
    large sweeps. ``syslog`` is where every site's rsyslog forwards (headquarters' receiver).
    ``auditoria``: the audit hosts too (see lab.auditoria; rebuilt from scratch).
    """
    require_root()
    services.require_binaries()
    check_topology(list(sites), "laboratorio")
    if any(s.tunnel for s in sites):
        vpn.require()
    if services_on:
        frr.require()
    make_private_dirs(lab.state_dir)
    lab.state_dir.chmod(0o700)
    state = _load_state(lab)
    ours = set(state["namespaces"]) & netns.existing()
    _check_names(lab, sites, ours)
    wanted = {lab.ns(s) for s in sites}
    stale = [ns for ns in state["namespaces"] if ns not in wanted]
    if stale:  # its sockets in those namespaces would keep them (and their links) alive
        nflog.start(lab.state_dir, [])
    _remove_namespaces(stale)
    _stop_stale_tunnels(lab, sites)
    # a namespace whose index now carries another site code: its old daemons must go
    previous = {int(x["index"]): x["code"] for x in [*state["sites"], *state.get("changing", [])]}
    recoded = [lab.ns(x) for x in sites if previous.get(x.index, x.code) != x.code]
    services.stop(*(pid for ns in recoded if ns in ours for pid in netns.pids_in(ns)))
    creds = _ensure_credentials(lab)
    authorized = _ensure_key(lab)
    # Record the namespaces before making them, so that a failure half-way can still be torn
    # down, and the sites being built as a change under way: ``sites`` stays the lab that was
    # reached until this one is, and while ``changing`` is there the lab is known to be neither.
    state.update(
        prefix=lab.prefix,
        namespaces=sorted(wanted | (set(state["namespaces"]) & netns.existing())),
        changing=[asdict(s) for s in sites],
    )
    _save_state(lab, state)
    _links(lab, sites, ours)
    _hq_log_addresses("replace")
    known: list[str] = []
    for site in sites:
        _configure_ns(lab, site)
        folder = lab.site_dir(site)
        make_private_dirs(folder)
        if not services_on:
            continue
        key = services.host_key(folder)
        known += [f"{site.v4} {key}", f"{site.v6} {key}"]
        # the kit's tunnel first: snmpd then lists its interface from the start
        if site.tunnel:
            vpn.start(
                site, lab.ns(site), folder, vpn.ensure_key(lab.state_dir), hq_address(site, sites)
            )
        else:
            vpn.stop_all(folder)
        services.start_snmpd(site, lab.ns(site), folder, creds)
        rsyslog.start(site, lab.ns(site), folder, syslog)  # before sshd: its /dev/log
        frr.make_dirs(frr.folder(lab, site))  # before sshd: they are bound in its view
        services.start_sshd(site, lab.ns(site), folder, authorized,
                            router=(lab.ns(site), frr.folder(lab, site)))  # fmt: skip
    if services_on:
        frr.up(lab, sites)
        known += frr.hq_up(lab, sites, authorized)
    lab.known_hosts.write_text("\n".join(known) + "\n")
    _start_responder(lab, sites)
    nflog.start(lab.state_dir, [
        (lab.ns(s), rsyslog.socket_path(lab.site_dir(s))) for s in sites if services_on
    ])  # fmt: skip
    _save_state(lab, {"prefix": lab.prefix, "namespaces": sorted(wanted),
                      "sites": [asdict(s) for s in sites], "syslog": str(syslog)})  # fmt: skip
    if auditoria:
        from lab import auditoria as audit_hosts

        audit_hosts.up(lab)
    return status(lab)


def wait_ready(lab: Lab, timeout_s: float = ready.DEFAULT_TIMEOUT_S) -> list[dict[str, Any]]:
    """Wait until every site's echo, snmpd, sshd, tunnel and BGP answer (see :mod:`lab.ready`)."""
    state = _load_state(lab)
    sites = _reached(lab, state)
    if not sites:
        raise LabError("el laboratorio no está arriba: ejecute «pukara lab arriba»")
    ready.wait(
        sites, lab.credentials_file, timeout_s=timeout_s,
        services_on=lambda s: (lab.site_dir(s) / "sshd_config").exists(),
        bgp=lambda s: frr.bgp_established(lab, s),
    )  # fmt: skip
    return status(lab)


def _stop_stale_tunnels(lab: Lab, sites: Sequence[LabSite]) -> None:
    """Headquarters' tunnel ends live in the host: stop those of sites no longer wanted."""
    wanted = {lab.site_dir(s) for s in sites}
    root = lab.state_dir / "sedes"
    for folder in root.iterdir() if root.exists() else []:
        if folder not in wanted:
            vpn.stop_all(folder)


def alter(lab: Lab, code: str, **changes: Any) -> LabSite:
    """Change one running site's outage, loss or tunnel, as a real link would change."""
    require_root()
    state = _load_state(lab)
    sites = _reached(lab, state)
    if not sites:
        raise LabError("el laboratorio no está arriba: ejecute «pukara lab arriba»")
    try:
        old = next(s for s in sites if s.code == code)
    except StopIteration:
        raise LabError(f"el laboratorio no tiene la sede {code!r}") from None
    new = replace(old, **changes)
    if new.tunnel_broken and not new.tunnel:
        raise LabError(f"la sede {code} no tiene túnel que romper")
    sites = [new if s.code == code else s for s in sites]
    _configure_ns(lab, new)
    if new.tunnel:
        key = vpn.ensure_key(lab.state_dir)
        vpn.start(new, lab.ns(new), lab.site_dir(new), key, hq_address(new, sites))
    if (new.delay_ms, new.jitter_ms) != (old.delay_ms, old.jitter_ms):
        _start_responder(lab, sites)
    state["sites"] = [asdict(s) for s in sites]  # recorded once the site is as asked
    _save_state(lab, state)
    return new


def _remove_namespaces(names: Sequence[str]) -> None:
    present = netns.existing()
    services.stop(*(pid for ns in names if ns in present for pid in netns.pids_in(ns)))
    netns.ip_batch([f"netns del {ns}" for ns in names if ns in present])


def down(lab: Lab) -> int:
    """Remove everything the lab made. Returns how many sites were removed."""
    from lab import auditoria

    require_root()
    auditoria.down(lab)  # its processes hold mounts under the state dir
    if not lab.state_file.exists():
        if lab.state_dir.exists():
            shutil.rmtree(lab.state_dir)
        return 0
    state = _load_state(lab)
    for pid in (_responder_pid(lab), nflog.running(lab.state_dir)):
        if pid:
            services.stop(pid)
    recorded = [LabSite(**raw) for raw in [*state["sites"], *state.get("changing", [])]]
    for site in recorded:
        vpn.stop_all(lab.site_dir(site))
    frr.down(lab)
    # the kernel frees a deleted namespace (and the veth ends it holds) later, in the
    # background: delete the host's ends now, so that none is left when this returns
    host = _interfaces(None)
    ends = sorted({lab.host_if(s) for s in recorded} & host)
    subprocess.run(
        ["ip", "-force", "-batch", "-"], input="".join(f"link del {e}\n" for e in ends),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    _remove_namespaces(state["namespaces"])
    if not any(_is_lab_ns(ns) for ns in netns.existing()):
        _hq_log_addresses("del")
        subprocess.run(
            ["ip", "route", "del", "blackhole", str(V4_BLOCK)], capture_output=True, check=False
        )
        subprocess.run(
            ["ip", "-6", "route", "del", "blackhole", str(V6_BLOCK)],
            capture_output=True,
            check=False,
        )
    shutil.rmtree(lab.state_dir)
    return len(state["namespaces"])


def _hq_log_addresses(verb: str) -> None:
    """Headquarters' log collector addresses on the machine's loopback (``replace`` or ``del``).

    Shared by every lab on the machine: added by each ``up``, removed with the last lab.
    """
    done = subprocess.run(
        ["ip", "-force", "-batch", "-"],
        input=f"addr {verb} {rsyslog.HQ_LOG_V4}/32 dev lo\n"
        f"addr {verb} {rsyslog.HQ_LOG_V6}/128 dev lo\n",
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if verb == "replace" and done.returncode != 0:
        raise LabError(f"ip falló al poner la dirección de syslog de la sede central: "
                       f"{done.stderr.strip()[:300]}")  # fmt: skip


def refused_telnet(lab: Lab, code: str) -> tuple[str, int]:
    """Knock on site ``code``'s telnet port from headquarters: its firewall drops and logs it.

    One TCP SYN, from the machine's end of the site's link; returns that (address, port).
    """
    sites = _reached(lab, _load_state(lab))
    site = next((s for s in sites if s.code == code), None)
    if site is None:
        raise LabError(f"el laboratorio no tiene la sede {code!r}")
    hub = next((s for s in sites if s.code == site.parent), None)
    if site.down or (hub and hub.down):
        raise LabError(f"la sede {code} está caída: su enlace no lleva nada que registrar")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((hq_address(site, sites), 0))
        source = sock.getsockname()
        sock.settimeout(0.3)  # less than TCP's first retransmission: one SYN only
        try:
            sock.connect((str(site.v4), 23))
        except TimeoutError:  # dropped, as the firewall should
            return str(source[0]), int(source[1])
        except OSError as e:
            raise LabError(
                f"la sede {code} respondió a telnet ({e.strerror}): su cortafuegos no lo descarta"
            ) from e
    raise LabError(f"la sede {code} aceptó telnet: su cortafuegos no lo descarta")


def _is_lab_ns(name: str) -> bool:
    head, _, tail = name.rpartition("-")
    return head.isalpha() and len(tail) == 4 and tail.isdigit() and head.startswith("pk")


def lab_sites(lab: Lab) -> list[LabSite]:
    """The sites of the running lab (as its last finished ``up`` left them)."""
    return _reached(lab, _load_state(lab))


def _router_state(lab: Lab, site: LabSite, sessions: Mapping[str, str]) -> str:
    if not frr.running(lab, site):
        return "no"
    state = sessions.get(str(site.v4), "")
    return "BGP establecido" if state == "Established" else f"BGP caído ({state or '-'})"


def status(lab: Lab) -> list[dict[str, Any]]:
    """One record per site: addresses, emulated link and whether each service runs."""
    state = _load_state(lab)
    present = netns.existing()
    sessions = frr.hq_sessions(lab) if state.get("sites") else {}
    responder = _responder_pid(lab) is not None
    destination = state.get("syslog", str(rsyslog.DEFAULT_DESTINATION))
    out = []
    for site in _reached(lab, state):
        folder = lab.site_dir(site)
        out.append(
            {
                "site.code": site.code,
                "netns": lab.ns(site),
                "ipv4": str(site.v4),
                "ipv6": str(site.v6),
                "delay_ms": site.delay_ms,
                "jitter_ms": site.jitter_ms,
                "loss_pct": site.loss_pct,
                "down": site.down,
                "netns_up": lab.ns(site) in present,
                "snmpd": services.alive(folder / "snmpd.pid", services.SNMPD) is not None,
                "sshd": services.alive(folder / "sshd.pid", services.SSHD) is not None,
                "syslog": site.syslog if rsyslog.running(folder) else "no",
                "syslog_dest": destination,
                "echo": responder,
                "parent": site.parent,
                "tunnel": "roto" if site.tunnel_broken else ("sí" if site.tunnel else "no"),
                "lan": str(site.lan) if site.tunnel else "",
                "router": _router_state(lab, site, sessions),
                "router_kind": site.router,
            }
        )
    return out
