"""`ipv6 dominios` against a small real DNS server on 127.0.0.1: NXDOMAIN is «el dominio no
existe», SERVFAIL is asked again with CD=1 (bogus vs broken), a resolver that does not answer,
and the ``IP:PUERTO`` forms of ``--resolutor``."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from ipv6 import dominios
from ipv6.modelo import CheckResult, Context, Status
from pukara.errors import UsageError

SOA = "ns1.test. admin.test. 1 3600 600 86400 300"


def _answer(query: dns.message.Message) -> dns.message.Message:
    reply = dns.message.make_response(query)
    name = query.question[0].name.to_text().lower()
    checking_disabled = bool(query.flags & dns.flags.CD)
    if name.endswith("nx.test."):
        reply.set_rcode(dns.rcode.NXDOMAIN)
    elif name.endswith("bogus.test.") and not checking_disabled:
        reply.set_rcode(dns.rcode.SERVFAIL)
    elif name.endswith("bogus.test.") and query.question[0].rdtype == dns.rdatatype.SOA:
        reply.answer.append(dns.rrset.from_text(name, 300, "IN", "SOA", SOA))
    else:  # roto.test and everything else
        reply.set_rcode(dns.rcode.SERVFAIL)
    return reply


@pytest.fixture
def server() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(_answer(dns.message.from_wire(data)).to_wire(), peer)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    yield sock.getsockname()[1]
    stop.set()
    worker.join()
    sock.close()


def _run(resolver: str, *names: str) -> dict[str, dict[str, CheckResult]]:
    ctx = Context(v6_ok=False, connect_timeout_s=0.5,
                  resolver=dominios.make_resolver(resolver, 0.5))  # fmt: skip
    _c1, results = asyncio.run(
        dominios.run_async([dominios.idna_name(n) for n in names], ctx, [], 4)
    )
    out: dict[str, dict[str, CheckResult]] = {}
    for r in results:
        out.setdefault(r.subject, {})[r.check] = r
    return out


def test_nxdomain_says_the_domain_does_not_exist_never_dnssec(server: int) -> None:
    got = _run(f"127.0.0.1:{server}", "nx.test")["nx.test"]
    assert set(got) == set(dominios.ALL_CHECKS)
    assert {r.status for r in got.values()} == {Status.NOT_TESTED}
    n5 = got["N5"]
    assert n5.message == "el dominio no existe (NXDOMAIN)"
    assert n5.evidence["rcode"] == "NXDOMAIN"
    assert "DNSSEC" not in n5.message


def test_servfail_is_asked_again_with_cd_bogus_versus_broken(server: int) -> None:
    got = _run(f"127.0.0.1:{server}", "bogus.test", "roto.test")
    bogus, broken = got["bogus.test"], got["roto.test"]
    assert bogus["N5"].status is Status.FAIL
    assert "firma DNSSEC inválida" in bogus["N5"].message
    assert bogus["N5"].evidence["rcode_cd"] == "NOERROR"
    assert {r.status for c, r in bogus.items() if c != "N5"} == {Status.NOT_TESTED}
    assert {r.status for r in broken.values()} == {Status.NOT_TESTED}
    assert "ni sin validar" in broken["N5"].message
    assert "DNSSEC" not in broken["N5"].message
    assert broken["N5"].evidence["rcode_cd"] == "SERVFAIL"


def test_a_resolver_that_does_not_answer_is_a_timeout_for_every_domain() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        got = _run(f"127.0.0.1:{silent.getsockname()[1]}", "a.test", "b.test")
    finally:
        silent.close()
    assert set(got) == {"a.test", "b.test"}
    assert all(r.evidence["error"] == "timeout" for d in got.values() for r in d.values())
    assert dominios.unanswered([r for d in got.values() for r in d.values()])


def test_the_resolver_takes_an_address_and_a_port() -> None:
    assert dominios.resolver_address("198.19.16.6") == ("198.19.16.6", 53)
    assert dominios.resolver_address("198.19.16.6:5353") == ("198.19.16.6", 5353)
    assert dominios.resolver_address("[fd70:756b:6172::53]:5353") == ("fd70:756b:6172::53", 5353)
    assert dominios.resolver_address("fd70:756b:6172::53") == ("fd70:756b:6172::53", 53)
    assert dominios.resolver_address("[::1]") == ("::1", 53)
    for bad in ("resolutor.test", "198.19.16.6:0", "198.19.16.6:70000", "[198.19.16.6]:53",
                "[::1", "[::1]x", "198.19.16.6:x", ""):  # fmt: skip
        with pytest.raises(UsageError, match="IPv4:PUERTO"):
            dominios.resolver_address(bad)
    resolver = dominios.make_resolver("[::1]:5300", 1.0)
    assert (resolver.nameservers, resolver.port) == (["::1"], 5300)
