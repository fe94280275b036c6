"""The internet lab's DNS: Debian's knot (authoritative, signing) and unbound (validating).

knot serves the lab's own root for ``.test`` (``test.``, signed), every domain's zone and the
reverse zone of the lab's IPv6 block. It signs automatically, with keys it makes in its KASP
database under the lab's folder; the DS of each signed child is computed from the DNSKEY
knot serves (dnspython) and written into the parent, which knot then signs again. A bogus
zone gets a DS whose digest is wrong. unbound trusts the DS of ``test.`` only.

Both daemons get every path on their command line or in their own configuration file in the
lab's folder: nothing is written to ``/etc`` or ``/var``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype

from lab import internet_zonas as z
from lab.services import run_checked, wait_started
from pukara.errors import LabError

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"
UNBOUND = "/usr/sbin/unbound"


def knot_conf(folder: Path, domains: Sequence[z.Profile]) -> str:
    listen = [z.ROOT_NS.v4, z.ROOT_NS.v6] + [
        a for h in z.NS.values() for a in (h.v4, h.v6) if a and a not in z.SILENT_NS_V6
    ]
    signed = {p.name for p in domains if p.dnssec != "unsigned"}
    zones = ["test", z.REVERSE_ZONE, *(p.name for p in domains)]
    lines = [
        "server:",
        f'    rundir: "{folder}"',
        f'    pidfile: "{folder / "knot.pid"}"',
        "    listen: [ " + ", ".join(f'"{a}@53"' for a in listen) + " ]",
        "log:",
        f'  - target: "{folder / "knot.log"}"',
        "    any: warning",
        "database:",
        f'    storage: "{folder}"',
        "control:",
        f'    listen: "{folder / "knot.sock"}"',
        "policy:",
        "  - id: lab",
        "    algorithm: ecdsap256sha256",
        "    single-type-signing: on",
        "    ksk-lifetime: 0",
        "    zsk-lifetime: 0",
        "template:",
        "  - id: default",
        f'    storage: "{folder / "zonas"}"',
        '    file: "%s.zone"',
        "    zonefile-sync: -1",
        "    journal-content: none",
        "zone:",
    ]
    for name in zones:
        lines.append(f'  - domain: "{name}."')
        if name == "test" or name in signed:
            lines += ["    dnssec-signing: on", "    dnssec-policy: lab"]
    return "\n".join(lines) + "\n"


def write_zones(folder: Path, domains: Sequence[z.Profile], serial: int,
                ds: dict[str, list[str]]) -> None:  # fmt: skip
    zones = folder / "zonas"
    zones.mkdir(mode=0o700, exist_ok=True)
    (zones / "test.zone").write_text(z.root_zone_text(list(domains), serial, ds))
    (zones / f"{z.REVERSE_ZONE}.zone").write_text(z.reverse_zone_text(serial))
    for p in domains:
        (zones / f"{p.name}.zone").write_text(z.zone_text(p, serial, ds))


def start_knot(ns: str, folder: Path, domains: Sequence[z.Profile]) -> int:
    folder.mkdir(mode=0o700, exist_ok=True)
    conf = folder / "knot.conf"
    conf.write_text(knot_conf(folder, domains))
    write_zones(folder, domains, 1, {})
    run_checked(["ip", "netns", "exec", ns, KNOTD, "-c", str(conf), "-d"], "knotd")
    return wait_started(folder / "knot.pid", KNOTD, "knotd")


def sign_delegations(folder: Path, domains: Sequence[z.Profile],
                     timeout_s: float = 120.0) -> str:  # fmt: skip
    """Put every signed child's DS in its parent, reload the parents; returns test.'s DS."""
    signed = [p.name for p in domains if p.dnssec != "unsigned"]
    keys = dnskeys(["test", *signed], timeout_s)
    ds = {name: [_ds(name, keys[name])] for name in signed}
    for p in domains:
        if p.dnssec == "bogus":
            ds[p.name] = [_corrupt(d) for d in ds[p.name]]
    write_zones(folder, domains, 1000, ds)
    parents = {"test", z.PARENT} & {"test", *(p.name for p in domains)}
    conf = str(folder / "knot.conf")
    run_checked([KNOTC, "-c", conf, "-b", "zone-reload", *(f"{p}." for p in sorted(parents))],
                "knotc zone-reload")  # fmt: skip
    _wait_serial(["test", z.PARENT], timeout_s)
    return _ds("test", keys["test"])


def dnskeys(zones: Sequence[str], timeout_s: float) -> dict[str, str]:
    """The key-signing DNSKEY (text) of each zone, once knot serves it signed."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        for name in [n for n in zones if n not in found]:
            rrset = _query(name, dns.rdatatype.DNSKEY)
            ksk = [r for r in rrset if r.flags & 1] if rrset is not None else []
            if ksk:
                found[name] = ksk[0].to_text()
        if len(found) == len(zones):
            return found
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(set(zones) - set(found))[:5])
            raise LabError(f"knot no firmó a tiempo las zonas del laboratorio ({missing}…)")
        time.sleep(0.2)


def _query(name: str, rdtype: dns.rdatatype.RdataType) -> dns.rrset.RRset | None:
    qname = dns.name.from_text(name)
    try:
        answer = dns.query.udp(dns.message.make_query(qname, rdtype), z.NS["ns1"].v4, timeout=2)
    except (OSError, dns.exception.DNSException):
        return None
    try:
        return answer.find_rrset(answer.answer, qname, dns.rdataclass.IN, rdtype)
    except KeyError:
        return None


def _ds(name: str, dnskey: str) -> str:
    import dns.rdata
    import dns.rdataclass

    key = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, dnskey)
    return dns.dnssec.make_ds(dns.name.from_text(name), key, "SHA256").to_text()


def _corrupt(ds: str) -> str:
    """The same DS with its digest's last digit changed: a DS that matches no key."""
    last = ds[-1].lower()
    return ds[:-1] + ("0" if last != "0" else "1")


def _wait_serial(zones: Sequence[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    left = list(zones)
    while left:
        left = [n for n in left if not _serial_at_least(n, 1000)]
        if left and time.monotonic() > deadline:
            raise LabError(f"knot no recargó a tiempo {', '.join(left)}")
        if left:
            time.sleep(0.1)


def _serial_at_least(name: str, serial: int) -> bool:
    rrset = _query(name, dns.rdatatype.SOA)
    return rrset is not None and any(r.serial >= serial for r in rrset)


def root_hints() -> str:
    """Root hints naming only the lab's own server: a name outside ``.test`` is asked of
    a lab address (which refuses it), never of the Internet's root servers."""
    return (
        ". 3600000 NS a.nic.test.\n"
        f"a.nic.test. 3600000 A {z.ROOT_NS.v4}\n"
        f"a.nic.test. 3600000 AAAA {z.ROOT_NS.v6}\n"
    )


def unbound_conf(folder: Path, addresses: Sequence[str], anchor: str) -> str:
    stub = [z.ROOT_NS.v4, z.ROOT_NS.v6]
    lines = [
        "server:",
        *(f"    interface: {a}" for a in addresses),
        "    access-control: 0.0.0.0/0 allow",
        "    access-control: ::/0 allow",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{folder}"',
        f'    pidfile: "{folder / "unbound.pid"}"',
        f'    logfile: "{folder / "unbound.log"}"',
        "    use-syslog: no",
        "    do-daemonize: yes",
        "    num-threads: 1",
        "    so-reuseport: no",
        "    val-log-level: 1",
        '    module-config: "validator iterator"',
        "    do-not-query-localhost: no",
        f'    root-hints: "{folder / "root.hints"}"',
        # the lab's names: RFC 6761's test. and the ULA reverse tree are not refused here
        '    local-zone: "test." nodefault',
        '    local-zone: "d.f.ip6.arpa." nodefault',
        f'    trust-anchor: "{anchor}"',
        "remote-control:",
        "    control-enable: no",
        "stub-zone:",
        '    name: "test."',
        *(f"    stub-addr: {a}" for a in stub),
        "stub-zone:",
        f'    name: "{z.REVERSE_ZONE}."',
        *(f"    stub-addr: {h.v4}" for h in (z.NS["ns1"], z.NS["ns2"])),
    ]
    return "\n".join(lines) + "\n"


def start_unbound(ns: str, folder: Path, addresses: Sequence[str], anchor: str) -> int:
    folder.mkdir(mode=0o700, exist_ok=True)
    conf = folder / "unbound.conf"
    (folder / "root.hints").write_text(root_hints())
    conf.write_text(unbound_conf(folder, addresses, f"test. DS {anchor}"))
    run_checked(["ip", "netns", "exec", ns, UNBOUND, "-c", str(conf)], "unbound")
    return wait_started(folder / "unbound.pid", UNBOUND, "unbound")
