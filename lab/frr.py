"""The lab's routers: FRRouting (Debian's frr 8.4) in every site, and headquarters' bgpd.

Each site's namespace runs zebra, staticd and bgpd with the pathspace ``-N <namespace>``.
FRR's folders for that pathspace (``/etc/frr/<ps>`` and ``/run/frr/<ps>``) exist only in
private mount namespaces (the daemons' and the site's sshd's), where a tmpfs covers the
machine's ``/etc/frr`` and ``/run/frr`` and the site's own ``frr/etc`` and ``frr/run`` folders
are bound on them: nothing is written in the machine's FRR paths. The configuration is
integrated (``frr.conf``, applied with ``vtysh -b``); ``write memory`` writes it back.

Headquarters is one bgpd in the machine's namespace, ``-Z -n`` (no zebra, no kernel routes:
the machine's routing table is never touched), listening on the headquarters end of every
site's link and peering with each site (AS 65000 against 4200000000 + index). It is device
``gw-lima``: an sshd of the lab listens on :func:`hq_address` (198.19.192.0/18 plus the lab's
lowest site index: 198.19.192.1 for ``pukara lab arriba``), where the network user lands in
its vtysh.

FRR has no ``ntp`` statement: NTP is not part of a router's configuration here.
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import json
import os
import pwd
import re
import secrets as _secrets
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import netns, rsyslog, services
from lab.sites import LabSite
from pukara.errors import LabError

if TYPE_CHECKING:
    from lab.manage import Lab

FRR_BIN = Path("/usr/lib/frr")
DAEMONS = ("zebra", "staticd", "bgpd")
PRIVATE_PATHS = ("/etc/frr", "/run/frr")
HQ_CODE = "lima"
HQ_PATHSPACE = "pukara-hq"
HQ_ASN = 65000
SITE_ASN = 4_200_000_000
HQ_ROUTERS = ipaddress.IPv4Network("198.19.192.0/18")
HQ_ROUTERS6 = ipaddress.IPv6Network("fd70:756b:6172:fffe::/64")
EXTRA_ROUTE = rsyslog.HQ_LOG_V4  # the extra static route of a ``ruta-extra`` site
WRONG_ASN = 65001  # the remote AS an ``as-errado`` site gives headquarters
LINK = "wan0"
_WORKERS = 8
# The daemons' whole environment: nothing of the caller's
ENVIRONMENT = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

# Which compliance features / offline checks must flag each non-standard kind
NONSTANDARD: dict[str, tuple[str, ...]] = {
    "sin-syslog": ("logging",),
    "ruta-extra": ("static-routes",),
    "prefijo-abierto": ("prefix-lists",),
    "ref-indefinida": ("route-maps", "undefined-reference"),
    "as-errado": ("bgp", "peering"),
    "ip-duplicada": ("interfaces", "duplicate-address"),
}


@dataclass(frozen=True, slots=True)
class RouterSecrets:
    vty: str
    enable: str
    bgp: str


def require() -> None:
    missing = [str(p) for p in [*(FRR_BIN / d for d in DAEMONS), Path(services.VTYSH)]
               if not p.exists()]  # fmt: skip
    if missing:
        raise LabError("faltan programas de FRR: " + ", ".join(missing) + " (apt-get install frr)")


def asn(site: LabSite) -> int:
    return SITE_ASN + site.index


def hq_address(sites: Sequence[LabSite]) -> tuple[ipaddress.IPv4Address, ipaddress.IPv6Address]:
    """gw-lima's address in a lab of ``sites``: its own per lab, so that labs do not collide."""
    low = min(s.index for s in sites)
    return HQ_ROUTERS.network_address + low, HQ_ROUTERS6.network_address + low


def hq_site() -> LabSite:
    """Headquarters' router as a site record (hostname gw-lima), for its sshd."""
    return LabSite(index=0, code=HQ_CODE)


def hq_dir(lab: Lab) -> Path:
    return lab.state_dir / "sede-central"


def folder(lab: Lab, site: LabSite | None) -> Path:
    """The router's own folder: ``etc`` (frr.conf) and ``run`` (vty sockets, pid files)."""
    return (lab.site_dir(site) if site else hq_dir(lab)) / "frr"


def pathspace(lab: Lab, site: LabSite | None) -> str:
    return lab.ns(site) if site else HQ_PATHSPACE


# --- secrets -------------------------------------------------------------------------------


def _secrets_file(lab: Lab) -> Path:
    return lab.state_dir / "routers.json"


def load_secrets(lab: Lab, sites: Sequence[LabSite] = ()) -> dict[str, RouterSecrets]:
    """Each router's secrets by site code (headquarters: ``lima``), made once and kept 0600."""
    path = _secrets_file(lab)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raw = {}
    except (OSError, ValueError) as e:
        raise LabError(f"{path}: secretos de los routers ilegibles: {e}") from e
    wanted = [HQ_CODE, *(s.code for s in sites)]
    missing = [code for code in wanted if code not in raw]
    for code in missing:
        raw[code] = {
            "vty": "vty-" + _secrets.token_hex(8),
            "enable": "en-" + _secrets.token_hex(8),
            "bgp": "bgp-" + _secrets.token_hex(8),
        }
    if missing:
        services.write_private(path, json.dumps(raw, indent=1))
    return {code: RouterSecrets(**v) for code, v in raw.items()}


def secrets(lab: Lab) -> list[str]:
    """Every secret of the lab's routers (vty, enable and BGP of each), for leak tests."""
    return sorted({v for s in load_secrets(lab).values() for v in (s.vty, s.enable, s.bgp)})


# --- configuration -------------------------------------------------------------------------


def _other_site(site: LabSite, sites: Sequence[LabSite]) -> LabSite:
    others = [s for s in sites if s.code != site.code]
    standard = [s for s in others if not s.router]
    if not others:
        raise LabError(f"la sede {site.code} (ip-duplicada) necesita otra sede en el laboratorio")
    return (standard or others)[0]


def site_conf(site: LabSite, sites: Sequence[LabSite], secret: RouterSecrets) -> str:
    """The site's frr.conf: the standard gateway configuration, or its declared departure."""
    code = site.code.upper()
    hq = site.v4_host
    kind = site.router
    lan = f"{site.lan}/32"
    lines = ["frr defaults traditional", f"hostname {site.hostname}"]
    if kind != "sin-syslog":
        lines.append("log syslog informational")
    lines += [f"password {secret.vty}", f"enable password {secret.enable}", "!"]
    lines += [
        f"interface {LINK}",
        " description enlace a sede central",
        f" ip address {site.v4}/30",
        f" ipv6 address {site.v6}/64",
        "exit",
        "!",
    ]
    if kind == "ip-duplicada":
        lines += ["interface lo", f" ip address {_other_site(site, sites).v4}/32", "exit", "!"]
    if kind == "ruta-extra":
        lines += [f"ip route {EXTRA_ROUTE}/32 {hq}", "!"]
    permitted = "0.0.0.0/0 le 32" if kind == "prefijo-abierto" else lan
    matched = f"PL-SEDE-{code}-ANTERIOR" if kind == "ref-indefinida" else f"PL-SEDE-{code}"
    lines += [
        f"ip prefix-list PL-SEDE-{code} seq 5 permit {permitted}",
        "ip prefix-list PL-CENTRAL seq 5 permit 0.0.0.0/0",
        "!",
        "route-map RM-HACIA-CENTRAL permit 10",
        f" match ip address prefix-list {matched}",
        "exit",
        "!",
        "route-map RM-DESDE-CENTRAL permit 10",
        " match ip address prefix-list PL-CENTRAL",
        "exit",
        "!",
        f"router bgp {asn(site)}",
        f" bgp router-id {site.v4}",
        f" neighbor {hq} remote-as {WRONG_ASN if kind == 'as-errado' else HQ_ASN}",
        f" neighbor {hq} password {secret.bgp}",
        f" neighbor {hq} description sede-central",
        " !",
        " address-family ipv4 unicast",
        f"  network {lan}",
        f"  neighbor {hq} route-map RM-DESDE-CENTRAL in",
        f"  neighbor {hq} route-map RM-HACIA-CENTRAL out",
        " exit-address-family",
        "exit",
        "!",
    ]
    return "\n".join(lines) + "\n"


def hq_conf(sites: Sequence[LabSite], all_secrets: Mapping[str, RouterSecrets]) -> str:
    """Headquarters' frr.conf: one eBGP neighbour per site, over the site's link."""
    own = all_secrets[HQ_CODE]
    router_id, _ = hq_address(sites)
    lines = [
        "frr defaults traditional",
        f"hostname gw-{HQ_CODE}",
        "log syslog informational",
        f"password {own.vty}",
        f"enable password {own.enable}",
        "!",
        f"router bgp {HQ_ASN}",
        f" bgp router-id {router_id}",
        " no bgp ebgp-requires-policy",
    ]
    for s in sites:
        lines += [
            f" neighbor {s.v4} remote-as {asn(s)}",
            f" neighbor {s.v4} password {all_secrets[s.code].bgp}",
            f" neighbor {s.v4} description {s.hostname}",
            f" neighbor {s.v4} timers connect 5",
        ]
    lines += ["exit", "!"]
    return "\n".join(lines) + "\n"


# --- daemons -------------------------------------------------------------------------------

# Inside the router's own mount and UTS namespaces (its hostname, which vtysh and the daemons
# print as the running configuration's ``hostname``): a tmpfs over each of FRR's folders, the
# router's folders bound on its pathspace's, then every daemon (daemonised once its vty socket
# is up) and ``vtysh -b`` to apply the integrated configuration. Arguments: hostname,
# pathspace, folder, then each daemon's command line, one per argument (words split on spaces).
START_SCRIPT = (
    'name="$1" ps="$2" frr="$3" && shift 3 && hostname "$name"'
    " && mount -t tmpfs -o size=64k,mode=0755 pukara-frr /etc/frr"
    ' && mkdir "/etc/frr/$ps" && mount --bind "$frr/etc" "/etc/frr/$ps"'
    " && mount -t tmpfs -o size=64k,mode=0755 pukara-frr /run/frr"
    ' && mkdir "/run/frr/$ps" && mount --bind "$frr/run" "/run/frr/$ps"'
    ' && for d in "$@"; do $d || exit 1; done'
    f' && exec {services.VTYSH} -N "$ps" -b'
)


def _argv(lab: Lab, site: LabSite | None, sites: Sequence[LabSite]) -> list[str]:
    """Each daemon's command line. No TCP vty (``-P 0``): vtysh only. FRR sizes its tables by
    the file descriptor limit: a site's few sockets need 256 (about 4 MiB less per router);
    headquarters, a listening socket and a session per site."""
    ps = pathspace(lab, site)
    if site is not None:
        return [f"{FRR_BIN / d} -d -N {ps} -P 0 --limit-fds 256" for d in DAEMONS]
    listen = " ".join(f"-l {s.v4_host}" for s in sites if not s.parent)
    fds = 256 + 4 * len(sites)
    return [f"{FRR_BIN / 'bgpd'} -d -N {ps} -P 0 --limit-fds {fds} -Z -n {listen}"]


def _pids(lab: Lab, site: LabSite | None) -> list[int | None]:
    run = folder(lab, site) / "run"
    names = DAEMONS if site else ("bgpd",)
    return [services.alive(run / f"{d}.pid", d) for d in names]


def running(lab: Lab, site: LabSite | None) -> bool:
    """Every daemon of the router is running."""
    return all(_pids(lab, site))


def stop(lab: Lab, site: LabSite | None) -> None:
    services.stop(*(p for p in _pids(lab, site) if p))


def make_dirs(base: Path) -> None:
    """``etc`` root:frrvty 2770 (the network user's ``write memory``), ``run`` frr's own."""
    base.mkdir(mode=0o700, exist_ok=True)
    etc, run = base / "etc", base / "run"
    etc.mkdir(exist_ok=True)
    run.mkdir(exist_ok=True)
    os.chown(etc, 0, grp.getgrnam(services.VTY_GROUP).gr_gid)
    etc.chmod(0o2770)
    frr = pwd.getpwnam("frr")
    os.chown(run, frr.pw_uid, frr.pw_gid)
    run.chmod(0o755)


def prepare(lab: Lab, site: LabSite | None, wanted: str, argv: Sequence[str]) -> bool:
    """Write the router's configuration if the lab's rendering changed; True: (re)start it.

    The rendering last applied (and the daemons' command lines) is kept in ``frr.conf.lab``:
    while it stays the same, the running router (and whatever ``write memory`` saved) is
    left alone.
    """
    base = folder(lab, site)
    make_dirs(base)
    seed = base / "frr.conf.lab"
    conf = base / "etc" / "frr.conf"
    stamp = wanted + "".join(f"! {line}\n" for line in argv)
    try:
        same = seed.read_text() == stamp and conf.exists()
    except OSError:
        same = False
    if same and running(lab, site):
        return False
    stop(lab, site)
    if not same:
        services.write_private(seed, stamp)
        conf.unlink(missing_ok=True)
        services.write_private(conf, wanted)
        vtysh_conf = base / "etc" / "vtysh.conf"
        vtysh_conf.write_text("service integrated-vtysh-config\n")
        vtysh_conf.chmod(0o644)
    return True


_SECRET_WORD = re.compile(r"(?i)\b(password|secret|key-string|key|community)\b\s*\S.*")


def quotable(text: str) -> str:
    """``text`` (a daemon's log) with whatever follows a secret keyword left out: vtysh -b
    logs the configuration line it rejected, which can be ``password <secret>``."""
    return _SECRET_WORD.sub(lambda m: f"{m.group(1)} (omitido)", text)


def start(lab: Lab, site: LabSite | None, sites: Sequence[LabSite]) -> None:
    """Start the router's daemons in its own mount namespace (and the site's network one)."""
    base = folder(lab, site)
    for p in PRIVATE_PATHS:  # mount points only: nothing is ever written in them
        Path(p).mkdir(exist_ok=True)
    name = site.hostname if site else hq_site().hostname
    argv = ["unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh", "-c",
            START_SCRIPT, "sh", name, pathspace(lab, site), str(base),
            *_argv(lab, site, sites)]  # fmt: skip
    log = base / "frr.log"
    where = netns.inside(lab.ns(site)) if site else contextlib.nullcontext()
    with where, log.open("ab") as err:
        done = subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                              env=ENVIRONMENT)  # fmt: skip
    who = f"el router de {site.code}" if site else "el router de la sede central"
    if done.returncode != 0 or not running(lab, site):
        tail = quotable(log.read_text(errors="replace")[-400:].strip())
        raise LabError(f"{who} no arrancó (FRR); registro {log}: {tail}")


def up(lab: Lab, sites: Sequence[LabSite]) -> None:
    """Every site's router and headquarters' bgpd, started in parallel where needed."""
    require()
    all_secrets = load_secrets(lab, sites)
    todo = [
        s for s in sites
        if prepare(lab, s, site_conf(s, sites, all_secrets[s.code]), _argv(lab, s, sites))
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        list(pool.map(lambda s: start(lab, s, sites), todo))
    hq_dir(lab).mkdir(mode=0o700, exist_ok=True)
    if prepare(lab, None, hq_conf(sites, all_secrets), _argv(lab, None, sites)):
        start(lab, None, sites)


def _hq_addresses(verb: str, v4: ipaddress.IPv4Address, v6: ipaddress.IPv6Address) -> None:
    netns.ip_batch([f"addr {verb} {v4}/32 dev lo", f"addr {verb} {v6}/128 dev lo nodad"])


def hq_up(lab: Lab, sites: Sequence[LabSite], authorized_keys: Path) -> list[str]:
    """gw-lima over SSH: its address on the machine's loopback, an sshd bound to it only.

    Returns the known_hosts lines of its host key.
    """
    v4, v6 = hq_address(sites)
    _hq_addresses("replace", v4, v6)
    record = hq_dir(lab) / "address"
    old = record.read_text().split() if record.exists() else []
    if old and old != [str(v4), str(v6)]:
        with contextlib.suppress(LabError):
            _hq_addresses("del", ipaddress.IPv4Address(old[0]), ipaddress.IPv6Address(old[1]))
    record.write_text(f"{v4} {v6}\n")
    home = hq_dir(lab)
    key = services.host_key(home)
    services.start_sshd(hq_site(), None, home, authorized_keys,
                        router=(HQ_PATHSPACE, folder(lab, None)), listen=(str(v4), str(v6)))  # fmt: skip
    return [f"{v4} {key}", f"{v6} {key}"]


def down(lab: Lab) -> None:
    """Stop headquarters' bgpd and sshd, take its address away (sites' daemons go with their
    namespaces)."""
    stop(lab, None)
    home = hq_dir(lab)
    pid = services.alive(home / "sshd.pid", services.SSHD)
    if pid:
        services.stop(pid)
    record = home / "address"
    if record.exists():
        v4, v6 = record.read_text().split()
        with contextlib.suppress(LabError):
            _hq_addresses("del", ipaddress.IPv4Address(v4), ipaddress.IPv6Address(v6))


# --- from outside --------------------------------------------------------------------------


def _find(lab: Lab, site: LabSite | str) -> LabSite | None:
    if isinstance(site, LabSite):
        return site
    if site in (HQ_CODE, f"gw-{HQ_CODE}"):
        return None
    from lab import manage

    for s in manage.lab_sites(lab):
        if site in (s.code, s.hostname):
            return s
    raise LabError(f"el laboratorio no tiene la sede {site!r}")


def vtysh(lab: Lab, site: LabSite | str, *commands: str, check: bool = True) -> str:
    """Run vtysh commands on a router (a site, its code, or ``lima``), as root, from outside.

    Each command is one ``-c``; several lines in one command run in order (configuration
    mode included). Returns vtysh's output; ``check``: a failing command is a LabError.
    """
    found = _find(lab, site)
    base = folder(lab, found)
    hostname = found.hostname if found else hq_site().hostname
    argv = ["unshare", "--uts", "/bin/sh", "-c", 'hostname "$1" && shift && exec "$@"', "sh",
            hostname, services.VTYSH, "--vty_socket", str(base / "run"),
            "--config_dir", str(base / "etc")]  # fmt: skip
    for command in commands:
        argv += ["-c", command]
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
    if check and done.returncode != 0:
        raise LabError(f"vtysh falló en {hostname}: {(done.stdout + done.stderr).strip()[:400]}")
    return done.stdout


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}


def bgp_established(lab: Lab, site: LabSite | str) -> bool:
    """The site's BGP session with headquarters is Established (as the site sees it)."""
    found = _find(lab, site)
    if found is None:
        raise LabError("bgp_established pide una sede, no la sede central")
    hq = str(found.v4_host)
    out = _json(vtysh(lab, found, f"show bgp neighbors {hq} json", check=False))
    return bool(out.get(hq, {}).get("bgpState") == "Established")


def hq_sessions(lab: Lab) -> dict[str, str]:
    """Headquarters' view: each neighbour address -> its BGP state (empty if bgpd is down)."""
    if not running(lab, None):
        return {}
    out = _json(vtysh(lab, HQ_CODE, "show bgp neighbors json", check=False))
    return {addr: str(v.get("bgpState", "")) for addr, v in out.items() if isinstance(v, dict)}
