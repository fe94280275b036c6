"""`ipv6 dominios`: the anchors setting, the cache of host lookups, one part failing alone,
Spanish reasons, names with their line, and the exit code without C1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import cast

import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest

from ipv6 import dominios
from ipv6.cli_dominios import _summary
from ipv6.modelo import Category, CheckResult, Status
from pukara.config import ipv6_anchors, load_settings
from pukara.errors import ConfigError


def test_the_anchors_setting_takes_ipv6_addresses_only(tmp_path: object) -> None:
    assert ipv6_anchors(
        ["fd70:756b:6172:b100::1", " fd70:756b:6172:b100:0:0::1", "2001:db8::1"]
    ) == (
        "fd70:756b:6172:b100::1",
        "2001:db8::1",
    )
    for bad, said in (("198.51.100.1", "no es una dirección IPv6"),
                      ("anclas.example", "no es una dirección IPv6"),
                      ("::ffff:198.51.100.1", "IPv4 mapeada"), ("::1", "loopback"),
                      ("fe80::1", "enlace local"), ("ff02::1", "multicast"),
                      ("::", "no especificada")):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            load_settings(environ={"PUKARA_IPV6_ANCLAS": f"2001:db8::1,{bad}"})
        assert f"«{bad}»" in e.value.message and said in e.value.message
        assert "PUKARA_IPV6_ANCLAS" in e.value.message


# ---- a small real DNS server on 127.0.0.1 that loses the first queries -------------------


class _Server(asyncio.DatagramProtocol):
    def __init__(self, lose: int) -> None:
        self.lose = lose
        self.asked = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.asked += 1
        if self.asked <= self.lose or self.transport is None:
            return  # a lost packet
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        q = query.question[0]
        text = {1: "198.19.17.11", 28: "fd70:756b:6172:b100::11"}.get(q.rdtype)
        if text:
            reply.answer.append(dns.rrset.from_text(q.name, 60, "IN", q.rdtype, text))
        self.transport.sendto(reply.to_wire(), addr)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_a_failed_host_lookup_is_asked_again_an_answer_is_kept(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def scenario() -> None:
        transport, server = await loop.create_datagram_endpoint(
            lambda: _Server(lose=4), local_addr=("127.0.0.1", 0)
        )
        try:
            port = transport.get_extra_info("sockname")[1]
            resolver = dominios.make_resolver("127.0.0.1", 0.3)
            resolver.port = port
            lookup = dominios._Lookup(resolver, retries=1)
            first = await lookup.host("ns1.rree.test")
            assert first.error == "timeout"  # A and AAAA, each with its retry, all lost
            again = await lookup.host("NS1.rree.test.")
            assert again.error is None and again.v6 == ("fd70:756b:6172:b100::11",)
            asked = server.asked
            kept = await lookup.host("ns1.rree.test")
            assert kept == again and server.asked == asked  # an answer is looked up once
        finally:
            transport.close()

    loop.run_until_complete(scenario())


# ---- one part failing alone --------------------------------------------------------------


def test_a_part_that_raises_makes_only_its_checks_not_tested(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> list[CheckResult]:
        raise KeyError("x")

    async def fine() -> list[CheckResult]:
        return [CheckResult("a.test", "M2", Status.PASS, "", Category.MAIL)]

    async def both() -> list[list[CheckResult]]:
        return list(await asyncio.gather(dominios._part("a.test", "web", dominios.WEB_CHECKS, broken()),
                                         dominios._part("a.test", "correo", ("M2",), fine())))  # fmt: skip

    with caplog.at_level(logging.DEBUG, logger="pukara.ipv6.dominios"):
        web, mail = asyncio.run(both())
    assert [r.check for r in web] == list(dominios.WEB_CHECKS)
    assert {r.status for r in web} == {Status.NOT_TESTED}
    assert web[0].evidence == {"error": "error interno (KeyError)", "part": "web"}
    assert "error interno al revisar la web" in web[0].message and "--debug" in web[0].message
    assert mail[0].status is Status.PASS
    assert dominios.failed(web) and not dominios.failed(mail)
    record = next(r for r in caplog.records if r.name == "pukara.ipv6.dominios")
    assert record.exc_info is not None and record.exc_info[0] is KeyError  # the traceback


# ---- Spanish -----------------------------------------------------------------------------


def test_idna_errors_are_spanish_and_keep_the_librarys_words() -> None:
    cases = {"a" * 64 + ".test": "más de 63 caracteres",
             "-bad-.test": "empieza o termina con guion",
             "ab--cd.test": "guiones en las posiciones 3 y 4",
             "a_b.test": "carácter que no se admite",
             "a..b.test": "etiqueta vacía"}  # fmt: skip
    for text, said in cases.items():
        name = dominios.idna_name(text)
        assert name.error is not None and said in name.error, (text, name.error)
        assert name.detail  # the library's own text, for the evidence
        assert not any(w in name.error for w in ("Label", "Codepoint", "hyphen")), name.error


def test_dnspython_errors_are_spanish() -> None:
    assert dominios._reason(dns.name.LabelTooLong()) == "una etiqueta tiene más de 63 octetos"
    assert dominios._reason(dns.message.Truncated()) == "respuesta DNS truncada"
    assert dominios._reason(dns.exception.SyntaxError()) == "error de DNS (SyntaxError)"
    out = dominios.not_tested("a.test", "timeout")
    assert "el resolutor no respondió a tiempo" in out[0].message
    assert out[0].evidence == {"error": "timeout"}


# ---- names from a file carry their line ---------------------------------------------------


def test_a_bad_name_from_the_file_names_its_line() -> None:
    names = dominios.read_names(["rree.test"], ["# lista", "lima.rree.test", "", "a_b.test  # x"])
    assert [(n.ascii or n.given, n.line) for n in names] == [
        ("rree.test", None), ("lima.rree.test", 2), ("a_b.test", 4)]  # fmt: skip
    result = dominios._name_result(names[2])
    assert result.status is Status.FAIL and result.evidence["line"] == 4
    assert "(línea 4)" in result.message and "U+005F" in result.evidence["idna"]
    assert "line" not in dominios._name_result(dominios.idna_name("a_b.test")).evidence


# ---- without C1 ---------------------------------------------------------------------------


def test_without_c1_the_run_exits_3_and_the_scores_are_not_shown() -> None:
    c1_fail = CheckResult(dominios.VANTAGE, "C1", Status.FAIL, "", Category.VANTAGE)
    c1_none = CheckResult(dominios.VANTAGE, "C1", Status.NOT_TESTED, "", Category.VANTAGE)
    c1_pass = CheckResult(dominios.VANTAGE, "C1", Status.PASS, "", Category.VANTAGE)
    results = [CheckResult("a.test", "W1a", Status.PASS, "", Category.WEB),
               CheckResult("a.test", "W3", Status.NOT_TESTED, "", Category.WEB, {"v6_ok": False}),
               CheckResult("a.test", "N5", Status.PASS, "", Category.DNSSEC)]  # fmt: skip
    assert not dominios.failed(results)
    assert dominios.failed(results, c1_fail) and dominios.failed(results, c1_none)
    assert not dominios.failed(results, c1_pass)
    (row,) = _summary(results, v6_ok=False)
    assert row["web"] == "sin probar" and row["total"] == "sin probar"
    assert row["dnssec"] == "100"  # read through the resolver: no IPv6 needed
    (shown,) = _summary(results, v6_ok=True)
    assert shown["web"] == "100"
