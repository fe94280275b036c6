"""The internet lab: public DNS, web and mail of the ministry's domains, under ``.test``.

Three namespaces, ``<prefix>-isrv``, ``<prefix>-ires`` and ``<prefix>-iv4``:

- ``isrv`` hangs from the machine by veth (198.19.16.0/30, fd70:756b:6172:b000::/64) and
  holds every service address on its loopback: knot (``test.``, the domains, the reverse
  zone), nginx and postfix (see :mod:`lab.internet_zonas` for the addresses). It routes the
  other two; the machine routes 198.19.16.0/20 and fd70:756b:6172:b000::/52 to it. Its
  nftables table (:func:`nft_rules`) makes two web configurations' IPv6 bad on purpose:
  pmtu6's is a PMTU black hole, lento6's connects take about 3 s.
- ``ires`` hangs from ``isrv``: the validating unbound, :func:`resolver`.
- ``iv4`` hangs from ``isrv`` with IPv4 only (no IPv6 address or route beyond ``::1``): the
  vantage with no IPv6, :func:`vantage_v4_only`.

No namespace has a default route: nothing in the internet lab reaches past the lab. The
lab's files live in ``<state>/internet`` (``estado.json``, one folder per daemon); ``down``
removes the processes, namespaces, links, routes and that folder. Every ``up`` builds the
internet lab anew (it takes seconds), with ``total`` domains: the base set, then generated
``misionNNNN.test`` domains spread over the same configurations.

The contract with the checkers: :func:`resolver`, :func:`vantage_v4_only`, :func:`anchors`,
:func:`domains`, :func:`web_roots` (W6c's trust store) and :func:`expected` (the ground
truth, ``lab/datos/internet_dominios.csv``); :func:`checker_settings` is what ``pukara lab``
tells a user to set.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import internet_dns, internet_mail, internet_web, netns, services
from lab import internet_zonas as z
from lab.sites import V6_BLOCK
from pukara.errors import LabError
from pukara.files import make_private_dirs, write_atomically

if TYPE_CHECKING:
    from lab.manage import Lab

DEFAULT_TOTAL = len(z.BASE)
LINK_IF = "up0"  # every internet namespace's end toward the machine (or isrv)
HOST_V4, SRV_V4 = "198.19.16.1", "198.19.16.2"
HOST_V6, SRV_V6 = z.V6_PREFIX + "b000::1", z.V6_PREFIX + "b000::2"
RES_GW_V4, RESOLVER_V4 = "198.19.16.5", "198.19.16.6"
RES_GW_V6, RESOLVER_V6 = z.V6_PREFIX + "b001::1", z.V6_PREFIX + "b001::2"
V4O_GW, VANTAGE_V4 = "198.19.16.9", "198.19.16.10"
DAEMONS = {  # folder: (pid file inside it, binary)
    "dns": ("knot.pid", internet_dns.KNOTD),
    "resolutor": ("unbound.pid", internet_dns.UNBOUND),
    "web": ("nginx.pid", internet_web.NGINX),
    "correo": ("cola/pid/master.pid", internet_mail.MASTER),
}


def folder(lab: Lab) -> Path:
    return lab.state_dir / "internet"


def names(lab: Lab) -> dict[str, str]:
    return {k: f"{lab.prefix}-i{k}" for k in ("srv", "res", "v4")}


def host_if(lab: Lab) -> str:
    return f"{lab.prefix}i0"


def require() -> None:
    programs = (internet_dns.KNOTD, internet_dns.KNOTC, internet_dns.UNBOUND,
                internet_web.NGINX, internet_mail.POSTFIX, "/usr/bin/openssl",
                "/usr/sbin/nft")  # fmt: skip
    missing = [p for p in programs if not Path(p).exists()]
    if missing:
        raise LabError(
            "faltan programas del laboratorio de internet: " + ", ".join(missing)
            + " (apt-get install knot knot-dnsutils unbound nginx-light postfix nftables)"
        )  # fmt: skip


def _state(lab: Lab) -> dict[str, Any]:
    try:
        return dict(json.loads((folder(lab) / "estado.json").read_text()))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise LabError(f"{folder(lab)}: estado del laboratorio de internet ilegible: {e}") from e


def up(lab: Lab, total: int = DEFAULT_TOTAL) -> dict[str, Any]:
    """Build the internet lab anew with ``total`` domains (at least the base set)."""
    require()
    down(lab)
    theirs = set(names(lab).values()) & netns.existing()
    if theirs or Path(f"/sys/class/net/{host_if(lab)}").exists():
        raise LabError(
            f"{', '.join(sorted(theirs)) or host_if(lab)} ya existe y no es de este "
            "laboratorio; elimínelo o use otro prefijo"
        )
    _refuse_foreign_routes(lab)
    domains = z.profiles(total)
    make_private_dirs(folder(lab))
    state = {"namespaces": sorted(names(lab).values()), "domains": [p.name for p in domains]}
    write_atomically(folder(lab) / "estado.json", json.dumps(state))  # before making anything
    _network(lab)
    ns = names(lab)
    _nft(ns["srv"], folder(lab) / "reglas.nft")
    internet_dns.start_knot(ns["srv"], folder(lab) / "dns", domains)
    internet_web.start_nginx(ns["srv"], folder(lab) / "web")
    internet_mail.start_postfix(ns["srv"], folder(lab) / "correo")
    anchor = internet_dns.sign_delegations(folder(lab) / "dns", domains)
    internet_dns.start_unbound(ns["res"], folder(lab) / "resolutor", [RESOLVER_V4, RESOLVER_V6],
                               anchor)  # fmt: skip
    return status(lab)


def _refuse_foreign_routes(lab: Lab) -> None:
    """LabError when the machine already routes part of the internet lab's blocks through a
    link that is not this lab's (another prefix's internet lab): ``up`` would take them."""
    for family, block in (("-4", z.V4_NET), ("-6", z.V6_NET)):
        done = subprocess.run(["ip", "-j", family, "route", "show", "root", block],
                              capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, env=services.DAEMON_ENVIRONMENT)  # fmt: skip
        try:
            routes = json.loads(done.stdout or "[]")
        except ValueError as e:
            raise LabError(f"no se pudieron leer las rutas de {block}: {e}") from e
        theirs = [r for r in routes if r.get("dev") != host_if(lab)]
        if theirs:
            where = theirs[0].get("dev") or theirs[0].get("type", "?")
            raise LabError(
                f"la máquina ya enruta {theirs[0].get('dst', block)} por {where}, que no es de "
                "este laboratorio (¿el laboratorio de internet de otro prefijo?); bájelo o "
                "elimine la ruta antes"
            )


def _service_addresses() -> list[str]:
    hosts = [z.ROOT_NS, *z.NS.values(), *z.WEB.values(), *z.MX.values()]
    return [a for h in hosts for a in (h.v4, h.v6) if a]


def _network(lab: Lab) -> None:
    ns = names(lab)
    netns.ip_batch([f"netns add {n}" for n in ns.values()])
    netns.ip_batch([
        f"link add {host_if(lab)} type veth peer name {LINK_IF} netns {ns['srv']}",
        f"addr replace {HOST_V4}/30 dev {host_if(lab)}",
        f"addr replace {HOST_V6}/64 dev {host_if(lab)} nodad",
        f"link set {host_if(lab)} up",
    ])  # fmt: skip
    srv = [
        "link set lo up",
        f"addr replace {SRV_V4}/30 dev {LINK_IF}",
        f"addr replace {SRV_V6}/64 dev {LINK_IF} nodad",
        f"link set {LINK_IF} up",
        f"link add res0 type veth peer name {LINK_IF} netns {ns['res']}",
        f"addr replace {RES_GW_V4}/30 dev res0",
        f"addr replace {RES_GW_V6}/64 dev res0 nodad",
        "link set res0 up",
        f"link add v40 type veth peer name {LINK_IF} netns {ns['v4']}",
        f"addr replace {V4O_GW}/30 dev v40",
        "link set v40 up",
        f"route replace {HOST_V4}/32 dev {LINK_IF}",
        # the rest of the lab's block is the machine's (its sites) or nobody's
        f"route replace unreachable {z.V4_NET}",
        f"route replace unreachable {z.V6_NET}",
        f"route replace 198.18.0.0/15 via {HOST_V4}",
        f"route replace fd70:756b:6172::/48 via {HOST_V6}",
    ]
    srv += [
        f"addr replace {a}/{128 if ':' in a else 32} dev lo" + (" nodad" if ":" in a else "")
        for a in _service_addresses()
    ]
    with netns.inside(ns["srv"]):
        netns.write_sysctl("net.ipv4.ip_forward", "1")
        netns.write_sysctl("net.ipv6.conf.all.forwarding", "1")
    netns.ip_batch(srv, netns=ns["srv"])
    netns.ip_batch([
        "link set lo up",
        f"addr replace {RESOLVER_V4}/30 dev {LINK_IF}",
        f"addr replace {RESOLVER_V6}/64 dev {LINK_IF} nodad",
        f"link set {LINK_IF} up",
        f"route replace 198.18.0.0/15 via {RES_GW_V4}",
        f"route replace fd70:756b:6172::/48 via {RES_GW_V6}",
    ], netns=ns["res"])  # fmt: skip
    with netns.inside(ns["v4"]):
        netns.write_sysctl(f"net.ipv6.conf.{LINK_IF}.disable_ipv6", "1")
    netns.ip_batch([
        "link set lo up",
        f"addr replace {VANTAGE_V4}/30 dev {LINK_IF}",
        f"link set {LINK_IF} up",
        f"route replace 198.18.0.0/15 via {V4O_GW}",
    ], netns=ns["v4"])  # fmt: skip
    netns.ip_batch([f"route replace {z.V4_NET} via {SRV_V4}",
                    f"route replace {z.V6_NET} via {SRV_V6}"])  # fmt: skip


def nft_rules() -> str:
    """The server namespace's nftables table (it goes with the namespace).

    pmtu6: IPv6 packets over 1280 bytes leaving its address are dropped, the effect of a narrow
    link whose ICMPv6 Packet Too Big is filtered (this kernel has no netem). lento6: the first
    two SYNs of every new connection to its address are dropped, keyed on (client address .
    client port) with a timeout, so each connect waits for the retransmits (1 s + 2 s).
    """
    pmtu, slow = z.WEB["pmtu6"].v6, z.WEB["lento6"].v6
    syn = f"ip6 daddr {slow} tcp flags & (syn | ack) == syn"
    seen = "{ ip6 saddr . tcp sport }"
    sets = "".join(
        f"    set {name} {{ type ipv6_addr . inet_service; flags dynamic, timeout; timeout 5s; }}\n"
        for name in ("syn1", "syn2")
    )
    return (
        "table inet pukara_internet {\n" + sets
        + "    chain entrada {\n        type filter hook input priority 0; policy accept;\n"
        f"        {syn} ip6 saddr . tcp sport @syn2 accept\n"
        f"        {syn} ip6 saddr . tcp sport @syn1 add @syn2 {seen} drop\n"
        f"        {syn} add @syn1 {seen} drop\n    }}\n"
        "    chain salida {\n        type filter hook output priority 0; policy accept;\n"
        f"        ip6 saddr {pmtu} meta length > {z.PMTU_LIMIT} drop\n    }}\n}}\n"
    )  # fmt: skip


def _nft(namespace: str, path: Path) -> None:
    path.write_text(nft_rules())
    done = subprocess.run(["ip", "netns", "exec", namespace, "nft", "-f", str(path)],
                          capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, env=services.DAEMON_ENVIRONMENT)  # fmt: skip
    if done.returncode != 0:
        raise LabError(f"nft en {namespace}: {done.stderr.strip()[:300]}")


def down(lab: Lab) -> int:
    """Remove everything ``up`` made; returns how many namespaces went (0: none was up)."""
    state = _state(lab)
    if not state:
        if folder(lab).exists():
            shutil.rmtree(folder(lab))
        return 0
    present = netns.existing()
    recorded = [n for n in state.get("namespaces", []) if n in present]
    services.stop(*(pid for n in recorded for pid in netns.pids_in(n)))
    for argv in (
        ["ip", "link", "del", host_if(lab)],
        ["ip", "route", "del", z.V4_NET, "via", SRV_V4],
        ["ip", "-6", "route", "del", z.V6_NET, "via", SRV_V6],
    ):
        subprocess.run(argv, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    netns.ip_batch([f"netns del {n}" for n in recorded])
    shutil.rmtree(folder(lab))
    return len(recorded)


def status(lab: Lab) -> dict[str, Any]:
    """Whether the internet lab is up: its namespaces, daemons, domains and resolver."""
    state = _state(lab)
    if not state:
        return {}
    present = netns.existing()
    out: dict[str, Any] = {
        "domains": len(state.get("domains", [])),
        "netns_up": all(n in present for n in state.get("namespaces", [])),
        "resolver": f"{RESOLVER_V4} {RESOLVER_V6}",
        "vantage_v4_only": names(lab)["v4"],
    }
    for name, (pidfile, binary) in DAEMONS.items():
        out[name] = services.alive(folder(lab) / name / pidfile, binary) is not None
    return out


def status_rows(lab: Lab) -> list[dict[str, Any]]:
    """:func:`status` as rows for ``pukara lab estado`` (none when it is not up)."""
    state = status(lab)
    return [state] if state else []


# ---- the contract with the checkers ----------------------------------------------------


def _require_up(lab: Lab) -> dict[str, Any]:
    state = _state(lab)
    if not state:
        raise LabError("el laboratorio de internet no está arriba: ejecute «pukara lab arriba»")
    return state


def resolver(lab: Lab) -> tuple[str, str]:
    """The validating resolver's (IPv4, IPv6) addresses, port 53."""
    _require_up(lab)
    return RESOLVER_V4, RESOLVER_V6


def vantage_v4_only(lab: Lab) -> str:
    """The namespace with IPv4 to the lab and no IPv6 route at all."""
    _require_up(lab)
    return names(lab)["v4"]


ANCHORS = (z.ROOT_NS.v6, z.NS["ns1"].v6, z.WEB["dual"].v6, z.MX["mx1"].v6)
LAB_ULA = str(V6_BLOCK)  # the whole lab's ULA /48: sites, audit hosts and this lab


def anchors(lab: Lab) -> list[str]:
    """Lab IPv6 addresses that answer (ping; TCP 53, 80 and 25): C1's anchors."""
    _require_up(lab)
    return list(ANCHORS)


def checker_settings(lab: Lab | None = None) -> dict[str, Any]:
    """What ``pukara ipv6`` needs to test against this lab, for ``pukara lab`` to show: the
    resolver's addresses, the anchors, the prefix to count as global and (given ``lab``) the
    PEM file of its web root, W6c's trust store. The lab never sets them itself: its
    addresses are ULA, global for the checks only through an explicit
    ``[ipv6] prefijos_globales``."""
    out: dict[str, Any] = {
        "resolver": [RESOLVER_V4, RESOLVER_V6],
        "anchors": list(ANCHORS),
        "global_prefixes": [LAB_ULA],
    }
    if lab is not None:
        out["tls_roots"] = str(folder(lab) / "web" / internet_web.ROOT)
    return out


def web_roots(lab: Lab) -> Path:
    """The lab web's root certificate (PEM): the only root W6c should trust in the lab."""
    _require_up(lab)
    return folder(lab) / "web" / internet_web.ROOT


def domains(lab: Lab) -> list[str]:
    """The domains the running internet lab serves."""
    return list(_require_up(lab)["domains"])


def expected() -> dict[tuple[str, str], str]:
    """(domain, check) -> expected status: the table's domains and every generated one.

    Generated domains (``misionNNNN.test``, up to :data:`lab.internet_zonas.GENERATED_MAX`)
    expect what the table says of the base domain they copy.
    """
    table = z.read_table()
    by_domain: dict[str, list[tuple[str, str]]] = {}
    for (domain, check), status in table.items():
        by_domain.setdefault(domain, []).append((check, status))
    out = dict(table)
    for i, p in enumerate(z.generated(z.GENERATED_MAX)):
        template = z.TEMPLATES[i % len(z.TEMPLATES)].name
        out.update({(p.name, c): v for c, v in by_domain.get(template, [])})
    return out
