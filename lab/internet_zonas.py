"""The internet lab's domains: their configurations, zone files and expected verdicts.

Every domain is one :class:`Profile`: how its zone is signed, which name servers it names,
which web configuration its apex and ``www`` point at and which mail configuration its MX
is. The lab's addresses are grouped by configuration, not by domain (nginx and postfix tell
domains apart by name), so 1,000 domains cost no more processes than a dozen.

The ground truth (``lab/datos/internet_dominios.csv``, :func:`expected_rows`) follows from the
profiles with the rules of the agreed check ids, for a checker that counts the lab's ULA /48
as global (the setting ``ipv6_prefijos_globales``). Conventions:

- A bogus zone does not resolve through the validating resolver (SERVFAIL): N5 fails and
  every other check is ``not-tested``.
- N5 judges the domain's own zone; N5m the zones of its MX hosts (``not-applicable`` with a
  null MX). ``mxi`` lies in the unsigned ``correo-inseguro.test`` and ``mxr`` in the bogus
  ``correo-roto.test``: N5m fails. ``mxr`` does not resolve, so M1-M3, M2s and M5 are
  ``not-tested`` there (M4 reads the domain's own SPF).
- N3 warns everywhere: every lab address lies in one /48. N4 warns where a name server
  has no A (ns5, IPv6-only).
- W2-W8 judge the names (apex, www) that have AAAA; with none they are ``not-applicable``.
  Where the v6 address does not answer, W5-W8 are ``not-tested``.
- W3h/W3s per port (80/443): a port IPv4 offers and no AAAA accepts fails (443v4: W3h pass,
  W3s fail; muerto6: both fail); a port neither family offers is ``not-applicable``.
- W4h over http://, W4s over https:// only where both families offer 443 (else
  ``not-applicable``). Same 4xx on both families warns, as internet.nl does.
- W6c/W6p only where both families offer 443. cadena6's v6 listener sends the leaf without
  its intermediate (W6c fail, W6p pass); tls12v6's v6 listener offers TLS 1.2 only while v4
  offers 1.2 and 1.3 (W6p fail). W7 only where an answer exceeds 1280 bytes: redir4 answers
  with a small 301 on both families, so W7 is ``not-applicable`` there.
- No cell is left out: every domain has a row for every check of :data:`CHECKS` (a check
  that does not apply is ``not-applicable``, one that could not run ``not-tested``), so a
  result the truth did not foresee is always a difference.
- pmtu6: the server's namespace drops IPv6 packets over 1280 bytes leaving its address (a PMTU
  black hole: a narrow link whose ICMPv6 Packet Too Big is filtered); it serves HTTP only, so
  W3s/W4s/W6c/W6p are ``not-applicable``. Connects pass (W3h, W8), the page never arrives over
  IPv6: W7 fails, W4h fails too (the v6 request fails where v4's completes), and W5 is
  ``not-tested`` (no first answer to follow; the failure is W4h's and W7's).
- lento6: the namespace drops the first two SYNs of every new connection to its v6 address,
  so each v6 connect takes about 3 s (1 s + 2 s of SYN retransmits): W8 fails, every other
  check passes (3 s is within the 4 s connect timeout).
- pmtu6 and lento6 are not among the generated domains' templates (:data:`TEMPLATES`): they
  measure timeouts, not throughput, and the 1,000-domain benchmark keeps the mix it had.
- M2-M5 and M2s need an MX with AAAA (else ``not-applicable``); a null MX makes M1-M5 and
  M2s ``not-applicable``. Every postfix listener offers STARTTLS but mx5's IPv6 one: M2s
  fails there (M2 passes). M4 only where SPF has ``ip4:`` (``v=spf1 -all`` is not-applicable).
  M5 compares 465/587/993 between families: mx3 offers 587 on IPv4 only (fail).
- C1 is the run's, not a domain's: :func:`lab.internet.anchors` answer from the machine,
  nothing v6 answers from :func:`lab.internet.vantage_v4_only`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

CHECKS = (
    "N1", "N2u", "N2t", "N3", "N4", "N5", "N5m",
    "W1a", "W1w", "W2", "W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8",
    "M1", "M2", "M2s", "M3", "M4", "M5",
)  # fmt: skip
TABLE = Path(__file__).resolve().parent / "datos" / "internet_dominios.csv"
GENERATED_MAX = 2000  # generated domains the table's rules cover (see expected_rows)
PARENT = "rree.test"  # the zone that holds the name servers and the mail servers

V4_NET = "198.19.16.0/20"
V6_NET = "fd70:756b:6172:b000::/52"
V6_PREFIX = "fd70:756b:6172:"
REVERSE_ZONE = "b.2.7.1.6.b.6.5.7.0.7.d.f.ip6.arpa"  # the /52 above, nibble by nibble


@dataclass(frozen=True, slots=True)
class Host:
    """A lab name: its A and its AAAA (either may be empty)."""

    v4: str
    v6: str = ""


# the lab root's server and the name servers (ns3 has no AAAA; ns4's AAAA does not answer;
# ns5 has no A: an IPv6-only name server)
ROOT_NS = Host("198.19.17.1", V6_PREFIX + "b100::1")
NS = {
    "ns1": Host("198.19.17.11", V6_PREFIX + "b100::11"),
    "ns2": Host("198.19.17.12", V6_PREFIX + "b100::12"),
    "ns3": Host("198.19.17.13"),
    "ns4": Host("198.19.17.14", V6_PREFIX + "b100::14"),
    "ns5": Host("", V6_PREFIX + "b100::15"),
}
SILENT_NS_V6 = {NS["ns4"].v6}  # addressed, but knot does not listen there

# web configurations: the A and AAAA a name of that configuration points at
WEB = {
    "dual": Host("198.19.18.10", V6_PREFIX + "b200::10"),  # the same site on both families
    "v4": Host("198.19.18.20"),  # no AAAA
    "muerto6": Host("198.19.18.30", V6_PREFIX + "b200::30"),  # AAAA where nothing listens
    "443v4": Host("198.19.18.40", V6_PREFIX + "b200::40"),  # 443 open on IPv4 only
    "distinto": Host("198.19.18.50", V6_PREFIX + "b200::50"),  # other content, other cert
    "redir4": Host("198.19.18.60", V6_PREFIX + "b200::60"),  # redirects to an IPv4 literal
    "404": Host("198.19.18.70", V6_PREFIX + "b200::70"),  # the same 404 on both
    "cadena6": Host("198.19.18.80", V6_PREFIX + "b200::80"),  # v6: leaf without intermediate
    "tls12v6": Host("198.19.18.90", V6_PREFIX + "b200::90"),  # v6: TLS 1.2 only
    "pmtu6": Host("198.19.18.100", V6_PREFIX + "b200::100"),  # v6: PMTU black hole, HTTP only
    "lento6": Host("198.19.18.110", V6_PREFIX + "b200::110"),  # v6: connects take ~3 s
}
PMTU_LIMIT = 1280  # pmtu6: IPv6 packets longer than this never leave its address
SLOW_WEB = ("pmtu6", "lento6")  # the lab's nft rules in the server namespace (lab.internet)
# mail servers, names under rree.test: mx2's v6 address has no PTR, mx3 offers submission
# (587) on IPv4 only, mx4 has no AAAA, mx5 offers STARTTLS on IPv4 only
MX = {
    "mx1": Host("198.19.19.10", V6_PREFIX + "b300::10"),
    "mx2": Host("198.19.19.20", V6_PREFIX + "b300::20"),
    "mx3": Host("198.19.19.30", V6_PREFIX + "b300::30"),
    "mx4": Host("198.19.19.40"),
    "mx5": Host("198.19.19.50", V6_PREFIX + "b300::50"),
}
NO_SUBMISSION_V6 = {MX["mx3"].v6}
NO_STARTTLS_V6 = {MX["mx5"].v6}  # its smtpd has TLS off; every other listener offers STARTTLS
# zones that hold only a mail host (``mx``, at mx1's addresses): unsigned, bogus
MAIL_ZONES = {"correo-inseguro.test": "unsigned", "correo-roto.test": "bogus"}
OTHER_MX = {"mxi": "mx.correo-inseguro.test", "mxr": "mx.correo-roto.test"}
PTR = {
    **{MX[n].v6: f"{n}.rree.test" for n in ("mx1", "mx3", "mx5")},
    **{h.v6: f"{n}.rree.test" for n, h in NS.items() if h.v6},
}


@dataclass(frozen=True, slots=True)
class Profile:
    """One domain of the lab. ``dnssec``: signed, unsigned or bogus (DS mismatch).

    ``mail``: a key of :data:`MX` or :data:`OTHER_MX`, or ``null`` (null MX). ``spf``: ``full`` (ip4 and ip6),
    ``v4`` (ip4 only), ``mx`` (the ``mx`` term) or ``none`` (``v=spf1 -all``).
    """

    name: str
    dnssec: str = "signed"
    ns: tuple[str, ...] = ("ns1", "ns2")
    web: str = "dual"
    www: str = ""  # www's configuration when it differs from the apex's
    mail: str = "mx1"
    spf: str = "full"

    @property
    def www_kind(self) -> str:
        return self.www or self.web


BASE = (
    Profile("rree.test"),
    Profile("lima.rree.test"),
    Profile("embperu-ar.test", dnssec="unsigned", web="v4", mail="mx4", spf="v4"),
    Profile("embperu-br.test", web="muerto6"),
    Profile("embperu-cl.test", web="443v4", mail="mx2", spf="mx"),
    Profile("embperu-co.test", dnssec="unsigned", web="distinto", spf="v4"),
    Profile("embperu-ec.test", web="redir4", mail="null", spf="none"),
    Profile("embperu-bo.test", web="404"),
    Profile("embperu-mx.test", ns=("ns1", "ns3")),  # the second NS has no AAAA
    Profile("embperu-us.test", ns=("ns1", "ns4")),  # ns4's AAAA does not answer
    Profile("embperu-es.test", dnssec="bogus"),
    Profile("embperu-fr.test", dnssec="unsigned", www="v4", mail="mx4", spf="mx"),
    Profile("embperu-jp.test", mail="mx2"),
    Profile("embperu-de.test", ns=("ns1", "ns5")),  # an IPv6-only name server
    Profile("embperu-it.test", mail="mx3"),  # client mail ports differ between families
    Profile("embperu-uy.test", mail="mxi"),  # its MX lies in an unsigned zone
    Profile("embperu-py.test", mail="mxr"),  # its MX lies in a bogus zone
    Profile("embperu-ve.test", mail="mx5"),  # STARTTLS on IPv4 only
    Profile("embperu-cu.test", web="cadena6"),
    Profile("embperu-pa.test", web="tls12v6"),
    Profile("embperu-gt.test", web="pmtu6"),
    Profile("embperu-hn.test", web="lento6"),
    *(Profile(name, dnssec=how) for name, how in MAIL_ZONES.items()),
)
TEMPLATES = tuple(p for p in BASE if p.name.count(".") == 1
                  and p.name not in (PARENT, *MAIL_ZONES) and p.web not in SLOW_WEB)  # fmt: skip


def mx_name(key: str) -> str:
    """The MX host name of a :attr:`Profile.mail` key."""
    return OTHER_MX.get(key, f"{key}.{PARENT}")


def mx_host(key: str) -> Host:
    """The addresses of a :attr:`Profile.mail` key's host (its zone's mail host: mx1's)."""
    return MX["mx1"] if key in OTHER_MX else MX.get(key, Host(""))


def generated(count: int) -> list[Profile]:
    """``count`` more domains, ``misionNNNN.test``, cycling over the base configurations."""
    return [
        Profile(f"mision{i:04d}.test", *_fields(TEMPLATES[i % len(TEMPLATES)]))
        for i in range(count)
    ]


def _fields(p: Profile) -> tuple[str, tuple[str, ...], str, str, str, str]:
    return (p.dnssec, p.ns, p.web, p.www, p.mail, p.spf)


def profiles(total: int = 0) -> list[Profile]:
    """The base domains, then generated ones up to ``total`` domains in all."""
    return [*BASE, *generated(max(0, total - len(BASE)))]


# ---- the verdicts each configuration should get ----------------------------------------

WEB_V6_CHECKS = ("W2", "W3h", "W3s", "W4h", "W4s", "W5", "W6c", "W6p", "W7", "W8")
_P, _F, _W, _NT, _NA = "pass", "fail", "warn", "not-tested", "not-applicable"
_WEB_V6 = {  # WEB_V6_CHECKS of a name whose configuration has AAAA
    "dual": (_P,) * 10,
    "muerto6": (_P, _F, _F, _F, _NA, _NT, _NT, _NT, _NT, _NT),
    "443v4": (_P, _P, _F, _P, _NA, _P, _NA, _NA, _P, _P),
    "distinto": (_P, _P, _P, _W, _W, _P, _F, _P, _P, _P),
    "redir4": (_P, _P, _P, _P, _P, _F, _P, _P, _NA, _P),
    "404": (_P, _P, _P, _W, _W, _P, _P, _P, _P, _P),
    "cadena6": (_P, _P, _P, _P, _P, _P, _F, _P, _P, _P),
    "tls12v6": (_P, _P, _P, _P, _P, _P, _P, _F, _P, _P),
    "pmtu6": (_P, _P, _NA, _F, _NA, _NT, _NA, _NA, _F, _P),
    "lento6": (_P, _P, _P, _P, _P, _P, _P, _P, _P, _F),
}


def verdicts(p: Profile) -> dict[str, str]:
    """The expected status of every check of :data:`CHECKS` for ``p`` (see the module's rules)."""
    if p.dnssec == "bogus":
        return {c: ("fail" if c == "N5" else "not-tested") for c in CHECKS}
    out: dict[str, str] = {}
    with_v6 = [NS[n].v6 for n in p.ns if NS[n].v6]
    out["N1"] = "pass" if len(with_v6) >= 2 else "fail"
    answers = "fail" if any(a in SILENT_NS_V6 for a in with_v6) else "pass"
    out["N2u"] = out["N2t"] = answers if with_v6 else "not-applicable"
    out["N3"] = "warn" if with_v6 else "not-applicable"
    out["N4"] = "pass" if all(NS[n].v4 for n in p.ns) else "warn"
    out["N5"] = "pass" if p.dnssec == "signed" else "fail"
    out["N5m"] = {"null": "not-applicable", "signed": "pass"}.get(_mx_zone(p.mail), "fail")
    out["W1a"] = "pass" if WEB[p.web].v6 else "fail"
    out["W1w"] = "pass" if WEB[p.www_kind].v6 else "fail"
    judged = next((k for k in (p.web, p.www_kind) if WEB[k].v6), "")
    row = _WEB_V6.get(judged, (_NA,) * len(WEB_V6_CHECKS))
    out.update(zip(WEB_V6_CHECKS, row, strict=True))
    out.update(_mail(p))
    return out


def _mx_zone(key: str) -> str:
    """How the zone of a mail key's host is signed (``null`` for a null MX)."""
    return "null" if key == "null" else MAIL_ZONES.get(mx_name(key).split(".", 1)[1], "signed")


def _mail(p: Profile) -> dict[str, str]:
    if p.mail == "null":
        return dict.fromkeys(("M1", "M2", "M2s", "M3", "M4", "M5"), "not-applicable")
    mx = mx_host(p.mail)
    out = {"M1": "pass" if mx.v6 else "fail"}
    if _mx_zone(p.mail) == "bogus":
        out = dict.fromkeys(("M1", "M2", "M2s", "M3", "M5"), "not-tested")
    elif mx.v6:
        out.update(M2="pass", M3="pass" if mx.v6 in PTR else "warn")
        out["M2s"] = "fail" if mx.v6 in NO_STARTTLS_V6 else "pass"
        out["M5"] = "fail" if mx.v6 in NO_SUBMISSION_V6 else "pass"
    else:
        out.update(M2="not-applicable", M3="not-applicable", M5="not-applicable")
        out["M2s"] = "not-applicable"
    spf_v6 = {"full": True, "v4": False, "mx": bool(mx.v6)}.get(p.spf)
    out["M4"] = "not-applicable" if spf_v6 is None else ("pass" if spf_v6 else "fail")
    return out


def expected_rows(total: int = 0) -> list[tuple[str, str, str]]:
    """(domain, check, expected) for the base domains and ``total`` domains in all."""
    return [
        (p.name, check, status)
        for p in profiles(total)
        for check, status in sorted(verdicts(p).items(), key=lambda kv: CHECKS.index(kv[0]))
    ]


def table_text() -> str:
    """The ground-truth CSV of the base domains (what ``lab/datos/internet_dominios.csv`` is)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["domain", "check", "expected"])
    writer.writerows(expected_rows())
    return out.getvalue()


def read_table(path: Path = TABLE) -> dict[tuple[str, str], str]:
    with path.open(newline="") as f:
        return {(r["domain"], r["check"]): r["expected"] for r in csv.DictReader(f)}


# ---- zone files -------------------------------------------------------------------------


def _soa(origin: str, serial: int) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 300\n"
        f"@ SOA a.nic.test. hostmaster.rree.test. {serial} 3600 600 86400 300\n"
    )


def _addresses(owner: str, host: Host) -> str:
    return (f"{owner} A {host.v4}\n" if host.v4 else "") + (
        f"{owner} AAAA {host.v6}\n" if host.v6 else ""
    )


def _spf(p: Profile) -> str:
    mx = mx_host(p.mail)
    terms = {
        "full": f"ip4:{mx.v4} ip6:{mx.v6} ",
        "v4": f"ip4:{mx.v4} ",
        "mx": "mx ",
        "none": "",
    }[p.spf]
    return f'@ TXT "v=spf1 {terms}-all"\n'


def zone_text(p: Profile, serial: int, ds: dict[str, list[str]]) -> str:
    """The zone file of domain ``p``; ``rree.test`` also holds the lab's servers."""
    text = _soa(p.name, serial)
    text += "".join(f"@ NS {n}.{PARENT}.\n" for n in p.ns)
    text += _addresses("@", WEB[p.web]) + _addresses("www", WEB[p.www_kind])
    text += "@ MX 0 .\n" if p.mail == "null" else f"@ MX 10 {mx_name(p.mail)}.\n"
    text += _spf(p)
    if p.name in MAIL_ZONES:
        text += _addresses("mx", MX["mx1"])
    if p.name == PARENT:
        text += "".join(_addresses(n, h) for n, h in {**NS, **MX}.items())
        for child in (c for c in BASE if c.name.endswith("." + PARENT)):
            text += _delegation(child, ds)
    return text


def _delegation(child: Profile, ds: dict[str, list[str]]) -> str:
    owner = child.name + "."
    text = "".join(f"{owner} NS {n}.{PARENT}.\n" for n in child.ns)
    return text + "".join(f"{owner} DS {d}\n" for d in ds.get(child.name, []))


def root_zone_text(domains: list[Profile], serial: int, ds: dict[str, list[str]]) -> str:
    """The lab's ``test.`` zone: its server, every delegation with its DS, and glue."""
    text = "$ORIGIN test.\n$TTL 300\n"
    text += f"@ SOA a.nic.test. hostmaster.rree.test. {serial} 3600 600 86400 300\n"
    text += "@ NS a.nic.test.\n" + _addresses("a.nic", ROOT_NS)
    for p in domains:
        if p.name.count(".") == 1:
            text += _delegation(p, ds)
    text += "".join(_addresses(f"{n}.rree", h) for n, h in NS.items())  # glue
    return text


def reverse_zone_text(serial: int) -> str:
    text = _soa(REVERSE_ZONE, serial) + "@ NS ns1.rree.test.\n@ NS ns2.rree.test.\n"
    for address, name in PTR.items():
        text += f"{_nibbles(address)} PTR {name}.\n"
    return text


def _nibbles(address: str) -> str:
    import ipaddress

    full = ipaddress.IPv6Address(address).exploded.replace(":", "")
    return ".".join(reversed(full[13:]))  # below the /52 of REVERSE_ZONE
