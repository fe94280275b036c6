"""W6c and W6p against real TLS servers on 127.0.0.1 and ::1, with the lab's own chain.

The certificates are the lab web's (:func:`lab.internet_web.make_certs`: a root, an
intermediate, leaves under it), so this also proves that chain verifies with the root only.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from ipv6 import tls_checks
from ipv6.modelo import Context, HostAddresses, Status
from lab import internet_web
from tests.unit.test_ipv6_web import V4, V6, free_port

HOST = HostAddresses("ejemplo.test", (V4,), (V6,))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cadena")
    internet_web.make_certs(path)
    return path


def server_tls(folder: Path, chain: bool = True, only12: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / ("lab-cadena.crt" if chain else "lab.crt"), folder / "lab.key")
    if only12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def judge(
    folder: Path, v4: ssl.SSLContext, v6: ssl.SSLContext, roots: bool = True
) -> dict[str, tuple[Status, str, dict[str, object]]]:
    port = free_port()
    ctx = Context(
        v6_ok=True, connect_timeout_s=2.0,
        tls_roots=str(folder / internet_web.ROOT) if roots else None,
    )  # fmt: skip

    async def main() -> dict[str, tuple[Status, str, dict[str, object]]]:
        servers = [
            await asyncio.start_server(_answer, V4, port, ssl=v4),
            await asyncio.start_server(_answer, V6, port, ssl=v6),
        ]
        try:
            return await tls_checks.check_tls(HOST, {V4: [port], V6: [port]}, port, ctx)
        finally:
            for s in servers:
                s.close()

    return asyncio.run(main())


def test_the_same_chain_and_protocols_pass(folder: Path) -> None:
    got = judge(folder, server_tls(folder), server_tls(folder))
    assert got["W6c"][0] is Status.PASS and got["W6p"][0] is Status.PASS
    evidence = got["W6c"][2]
    assert evidence[V4] == evidence[V6]
    assert evidence[V6]["chain"] == "verificada"  # type: ignore[index]
    assert evidence[V6]["protocols"] == ["TLSv1.2", "TLSv1.3"]  # type: ignore[index]


def test_a_missing_intermediate_on_ipv6_is_a_chain_difference(folder: Path) -> None:
    got = judge(folder, server_tls(folder), server_tls(folder, chain=False))
    status, message, evidence = got["W6c"]
    assert status is Status.FAIL and "cadena" in message
    assert evidence[V4]["cert_sha256"] == evidence[V6]["cert_sha256"]  # type: ignore[index]
    assert evidence[V4]["chain"] == "verificada"  # type: ignore[index]
    assert evidence[V6]["chain"].startswith("error 20")  # type: ignore[index]
    assert got["W6p"][0] is Status.PASS


def test_without_the_lab_root_a_private_chain_fails_alike(folder: Path) -> None:
    """The system's store does not know the lab root: both chains stop at the same error, so
    a private chain needs ``Context.tls_roots`` (the lab passes :func:`lab.internet.web_roots`)."""
    got = judge(folder, server_tls(folder), server_tls(folder, chain=False), roots=False)
    evidence = got["W6c"][2]
    assert evidence[V4]["chain"] == evidence[V6]["chain"]  # type: ignore[index]
    assert evidence[V4]["chain"].startswith("error 20")  # type: ignore[index]


def test_tls_12_only_on_ipv6_fails_w6p(folder: Path) -> None:
    got = judge(folder, server_tls(folder), server_tls(folder, only12=True))
    status, message, evidence = got["W6p"]
    assert status is Status.FAIL and "IPv6 TLSv1.2" in message
    assert evidence[V6]["protocols"] == ["TLSv1.2"]  # type: ignore[index]
    assert "TLSv1.3" in evidence[V6]["errors"]  # type: ignore[index]
    assert got["W6c"][0] is Status.PASS


def test_no_443_on_one_family_is_not_applicable(folder: Path) -> None:
    ctx = Context(v6_ok=True)
    got = asyncio.run(tls_checks.check_tls(HOST, {V4: [443], V6: []}, 443, ctx))
    assert got["W6c"][0] is got["W6p"][0] is Status.NOT_APPLICABLE
