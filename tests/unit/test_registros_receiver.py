"""The receiver for real: loopback UDP and TCP sockets (IPv4 and ::1), both TCP framings,
a real SQLite store; the TCP framer; the bounded inbox."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pukara.errors import PukaraError, UsageError
from pukara.store import SQLiteStore
from registros.framing import Framer
from registros.receiver import (
    RECEIVE_BUFFER,
    Endpoint,
    Inbox,
    Receiver,
    _socket,
    parse_endpoint,
    summary_lines,
)
from registros.syslog import MAX_BYTES


# -- HOST:PUERTO ---------------------------------------------------------------------------
def test_parse_endpoint() -> None:
    assert parse_endpoint("127.0.0.1:514", "--udp") == ("127.0.0.1", 514)
    assert parse_endpoint("[::1]:0", "--udp") == ("::1", 0)
    assert parse_endpoint(":5514", "--tcp") == ("::", 5514)
    assert parse_endpoint("[::]:514", "--tcp") == ("::", 514)
    for bad, why in (("::1:514", "corchetes"), ("127.0.0.1", "HOST:PUERTO"),
                     ("127.0.0.1:70000", "puerto"), ("host.test:514", "no es una dirección"),
                     ("[::1]514", "HOST:PUERTO")):  # fmt: skip
        with pytest.raises(UsageError, match=why):
            parse_endpoint(bad, "--udp")


# -- framing -------------------------------------------------------------------------------
def test_octet_counting_in_pieces() -> None:
    msgs = [b"<13>1 - h a - - - one", b"<13>1 - h a - - - two\nwith newline", b"<13>x"]
    stream = b"".join(b"%d %s" % (len(m), m) for m in msgs)
    framer = Framer()
    out = []
    for i in range(len(stream)):  # one byte at a time
        out += framer.feed(stream[i : i + 1])
    assert out == msgs and framer.octets is True


def test_newline_framing_and_last_line_on_close() -> None:
    framer = Framer()
    assert framer.feed(b"<13>a\r\n<13>b\n\n<13>c") == [b"<13>a", b"<13>b"]
    assert framer.close() == [b"<13>c"] and framer.octets is False


def test_oversized_frames_are_cut_and_the_rest_skipped() -> None:
    framer = Framer(max_bytes=10)
    out = framer.feed(b"<13>" + b"x" * 30)
    assert out == [b"<13>" + b"x" * 7]  # max + 1: the parser cuts it and tags it
    assert framer.feed(b"yyyy\n<13>ok\n") == [b"<13>ok"]
    framer = Framer(max_bytes=10)
    assert framer.feed(b"25 " + b"z" * 25 + b"3 abc") == [b"z" * 11, b"abc"]


# -- the inbox -----------------------------------------------------------------------------
def test_inbox_is_bounded_by_count_and_bytes() -> None:
    inbox = Inbox(max_items=3, max_bytes=10)
    assert inbox.offer((b"1234", "a", 1, 0.0)) and inbox.offer((b"1234", "a", 1, 0.0))
    assert not inbox.offer((b"123", "a", 1, 0.0))  # 11 bytes
    assert inbox.offer((b"12", "a", 1, 0.0)) and not inbox.offer((b"", "a", 1, 0.0))
    assert [i[0] for i in inbox.take(10, 0.01)] == [b"1234", b"1234", b"12"]
    assert inbox.take(10, 0.01) == [] and inbox.offer((b"1234567890", "a", 1, 0.0))
    inbox.take(10, 0.01)
    many = [(b"123", "a", 1, 0.0), (b"4567", "b", 1, 0.0), (b"89ab", "c", 1, 0.0)]
    assert inbox.offer_many(many) == 2 and len(inbox) == 2  # 7 bytes fit, 11 do not
    assert inbox.offer_many(many) == 1 and len(inbox) == 3  # one more place: 10 bytes


# -- the receiver --------------------------------------------------------------------------
class Running:
    def __init__(self, store: SQLiteStore, endpoints: list[Endpoint], **kw: Any) -> None:
        self.ready = threading.Event()
        kw.setdefault("open_store", lambda: SQLiteStore(store.path, actor="receptor"))
        self.rx = Receiver(endpoints=endpoints, on_ready=lambda b: self.ready.set(), **kw)
        self.result: Any = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.result = self.rx.run()
        except BaseException as e:  # the test reads it
            self.result = e

    def __enter__(self) -> Running:
        self.thread.start()
        assert self.ready.wait(5), self.result
        return self

    def port(self, transport: str, host: str) -> int:
        return next(b.port for b in self.rx.bound if b.transport == transport and b.host == host)

    def __exit__(self, *exc: object) -> None:
        self.rx.stop()
        self.thread.join(10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "rx.db", actor="prueba")
    yield s
    s.close()


def _events(store: SQLiteStore) -> list[dict[str, Any]]:
    return list(store.search_events(dataset="registros.syslog"))


def test_udp_and_tcp_on_ipv4_and_ipv6_both_framings(store: SQLiteStore) -> None:
    endpoints = [Endpoint("udp", "127.0.0.1", 0), Endpoint("udp", "::1", 0),
                 Endpoint("tcp", "127.0.0.1", 0), Endpoint("tcp", "::1", 0)]  # fmt: skip
    with Running(store, endpoints) as r:
        u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        to4 = ("127.0.0.1", r.port("udp", "127.0.0.1"))
        for i in range(50):
            u4.sendto(b"<38>Dec  1 08:01:02 srv1 sshd[1]: Failed password for root from "
                      b"198.51.100.7 port %d ssh2" % (1000 + i), to4)  # fmt: skip
            u6.sendto(b"<13>1 2026-12-01T10:00:00Z v6host app - - - udp6 %d" % i,
                      ("::1", r.port("udp", "::1")))  # fmt: skip
        octets = [
            b"<13>1 2026-12-01T10:00:00Z h app - - - octet %d\nline two" % i for i in range(5)
        ]
        with socket.create_connection(("127.0.0.1", r.port("tcp", "127.0.0.1"))) as c:
            c.sendall(b"".join(b"%d %s" % (len(m), m) for m in octets))
        with socket.create_connection(("::1", r.port("tcp", "::1"))) as c:
            c.sendall(b"<13>Dec  1 08:00:00 h app: nl 1\n<13>Dec  1 08:00:00 h app: nl 2\n"
                      b"\xff\xfe garbage\n<13>Dec  1 08:00:00 h app: " + b"x" * 70000 + b"\n")  # fmt: skip
        u4.close()
        u6.close()
        deadline = time.monotonic() + 5
        while len(_events(store)) < 109 and time.monotonic() < deadline:
            time.sleep(0.05)
    report = r.result
    docs = _events(store)
    assert len(docs) == 109, len(docs)
    by_text = {d["message"]: d for d in docs}
    assert "octet 3\nline two" in by_text  # octet-counting keeps a newline inside
    sshd = [d for d in docs if d.get("event", {}).get("action") == "ssh_login"]
    assert len(sshd) == 50 and all(d["log"]["source"]["address"] == "127.0.0.1" for d in sshd)
    assert sum(1 for d in docs if d.get("host", {}).get("name") == "v6host") == 50
    failed = [d for d in docs if "registros_parse_failure" in d.get("tags", [])]
    assert len(failed) == 1 and "registros_no_utf8" in failed[0]["tags"]
    long = [d for d in docs if "registros_truncado" in d.get("tags", [])]
    assert len(long) == 1 and len(long[0]["event"]["original"]) == MAX_BYTES
    assert report.sources["127.0.0.1"].received == 55 and report.sources["::1"].stored == 54
    assert report.total().stored == 109 and report.total().failures == 1
    assert any("127.0.0.1: recibidos 55, guardados 55" in line for line in summary_lines(report))


def test_udp_drops_are_counted_when_the_inbox_is_full_and_tcp_waits(store: SQLiteStore) -> None:
    slow = Inbox(max_items=20)
    gate = store.path.with_name("gate")

    class SlowStore(SQLiteStore):  # a store that stalls until the test opens the gate
        def write_events(self, events: Any) -> int:
            while not gate.exists():
                time.sleep(0.01)
            return super().write_events(events)

    endpoints = [Endpoint("udp", "127.0.0.1", 0), Endpoint("tcp", "127.0.0.1", 0)]
    factory = lambda: SlowStore(store.path, actor="receptor")  # noqa: E731
    with Running(store, endpoints, inbox=slow, open_store=factory) as r:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(200):
            u.sendto(b"<13>1 - h a - - - d%d" % i, ("127.0.0.1", r.port("udp", "127.0.0.1")))
        u.close()
        time.sleep(0.5)
        c = socket.create_connection(("127.0.0.1", r.port("tcp", "127.0.0.1")))
        c.sendall(b"".join(b"<13>1 - h a - - - t%d\n" % i for i in range(300)))
        time.sleep(0.3)
        gate.touch()  # the store catches up: TCP resumes, nothing of it lost
        c.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if sum(1 for d in _events(store) if d["message"].startswith("t")) == 300:
                break
            time.sleep(0.05)
    report = r.result
    stats = report.sources["127.0.0.1"]
    tcp = sum(1 for d in _events(store) if d["message"].startswith("t"))
    assert tcp == 300
    assert stats.dropped > 0 and stats.received == 500
    assert stats.stored + stats.dropped == 500  # every datagram read is stored or counted


def test_bind_errors_name_the_address(store: SQLiteStore) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        rx = Receiver(lambda: store, [Endpoint("udp", "127.0.0.1", port)])
        with pytest.raises(
            PukaraError, match=rf"UDP 127.0.0.1:{port}: la dirección ya está en uso"
        ):
            rx.run()
    rx = Receiver(lambda: store, [Endpoint("tcp", "192.0.2.1", 5514)])
    with pytest.raises(PukaraError, match=r"TCP 192.0.2.1:5514: la dirección no pertenece"):
        rx.run()


def test_a_store_that_fails_stops_the_receiver_with_its_reason(tmp_path: Path) -> None:
    def broken() -> SQLiteStore:
        raise PukaraError("almacén: no se puede abrir (prueba)")

    with pytest.raises(PukaraError, match=r"no se puede abrir \(prueba\)"):
        Receiver(broken, [Endpoint("udp", "127.0.0.1", 0)]).run()

    class Full(SQLiteStore):
        def write_events(self, events: Any) -> int:
            raise OSError(28, "No space left on device")

    def send_one(bound: list[Endpoint]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"<13>1 - h a - - - x", ("127.0.0.1", bound[0].port))

    # made once first, as `registros recibir` does before its writers start: writers that
    # all create a new file's schema at the same moment wait on each other
    SQLiteStore(tmp_path / "full.db").close()
    rx = Receiver(lambda: Full(tmp_path / "full.db", actor="r"), [Endpoint("udp", "127.0.0.1", 0)],
                  on_ready=send_one)  # fmt: skip
    with pytest.raises(PukaraError, match="almacén: no queda espacio en el disco"):
        rx.run()


def test_port_514_refused_says_what_to_do() -> None:
    import errno

    from registros.receiver import _bind_error, default_endpoints

    e = _bind_error(Endpoint("udp", "::", 514), OSError(errno.EACCES, "Permission denied"))
    assert e.message == (
        "no se pudo escuchar en UDP [::]:514: permiso denegado (Permission denied); el puerto "
        "514 requiere root o CAP_NET_BIND_SERVICE (o use un puerto alto, p. ej. --udp "
        "0.0.0.0:5514)"
    )
    assert [str(d) for d in default_endpoints()] == ["UDP [::]:514", "TCP [::]:514"]


def test_dual_stack_any_address_takes_ipv4_senders_too(store: SQLiteStore) -> None:
    with Running(store, [Endpoint("udp", "::", 0)]) as r:
        port = r.port("udp", "::")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u4:
            u4.sendto(b"<13>1 - h4 a - - - from v4", ("127.0.0.1", port))
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as u6:
            u6.sendto(b"<13>1 - h6 a - - - from v6", ("::1", port))
        deadline = time.monotonic() + 5
        while len(_events(store)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(r.result.sources) == ["127.0.0.1", "::1"]  # not ::ffff:127.0.0.1
    assert {d["source"]["ip"] for d in _events(store)} == {"127.0.0.1", "::1"}


@pytest.mark.skipif(os.geteuid() != 0, reason="pasar net.core.rmem_max requiere root")
def test_root_gets_the_whole_udp_receive_buffer() -> None:
    s = _socket(Endpoint("udp", "127.0.0.1", 0))
    try:  # the kernel reports twice what was asked (its bookkeeping)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= RECEIVE_BUFFER
    finally:
        s.close()


def test_a_batch_handed_back_after_a_crash_is_stored_once(tmp_path: Path) -> None:
    """The disk queue may give a batch again after a crash (stored, position not saved):
    the ids come from the items, so the second store adds nothing; the same line twice in
    one read stays two events."""
    from pukara.store import SQLiteStore
    from registros.receiver import _store_batch, received_id

    at = 1_764_590_000.123456
    line = b"<38>Dec  1 10:00:00 gw-t1 sshd[42]: Invalid user nadie from 198.18.0.2 port 5000"
    batch = [(line, "198.18.0.2", 514, at), (line, "198.18.0.2", 514, at),
             (b"<13>otra", "198.18.0.3", 514, at + 1)]  # fmt: skip
    store = SQLiteStore(tmp_path / "r.db")
    try:
        _store_batch(batch, store, None)
        _store_batch(batch, store, None)
        assert store.count_events() == 3
    finally:
        store.close()
    first = received_id(batch[0])
    assert first == received_id(batch[0]) != received_id(batch[0], 1)
    assert first != received_id((line, "198.18.0.2", 514, at + 0.000001))
    assert first[14] == "8" and first < received_id(batch[2])  # version 8, by arrival


def test_the_same_line_many_times_stays_many_events(store: SQLiteStore) -> None:
    """A device that repeats one line word for word (no timestamp in it) in a burst over UDP
    and over one TCP connection: every copy is an event of its own, none taken for a resend."""
    endpoints = [Endpoint("udp", "127.0.0.1", 0), Endpoint("tcp", "127.0.0.1", 0)]
    line = b"<12>gw-t1 kernel: nft-drop: IN=wan0 SRC=198.18.0.9 DST=198.18.0.10 DPT=23"
    with Running(store, endpoints) as r:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(3000):
            u.sendto(line, ("127.0.0.1", r.port("udp", "127.0.0.1")))
        u.close()
        with socket.create_connection(("127.0.0.1", r.port("tcp", "127.0.0.1"))) as c:
            c.sendall((line + b"\n") * 500)
        deadline = time.monotonic() + 10
        while len(_events(store)) < 3500 and time.monotonic() < deadline:
            time.sleep(0.05)
    docs = _events(store)
    assert r.result.total().dropped == 0
    assert len(docs) == 3500 == len({d["event"]["id"] for d in docs})


def test_a_datagram_with_an_extreme_date_is_stored_and_the_receiver_goes_on(
    store: SQLiteStore,
) -> None:
    with Running(store, [Endpoint("udp", "127.0.0.1", 0)]) as r:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            to = ("127.0.0.1", r.port("udp", "127.0.0.1"))
            u.sendto(b"<34>1 0001-01-01T00:00:00+05:00 h app - - - hola", to)
            u.sendto(b"<34>1 9999-12-31T23:59:59-05:00 h app - - - hola", to)
            deadline = time.monotonic() + 5
            while len(_events(store)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            u.sendto(b"<13>1 2026-12-01T10:00:00Z h app - - - despues", to)
            while len(_events(store)) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert r.thread.is_alive(), r.result
    docs = _events(store)
    assert len(docs) == 3, r.result
    bad = [d for d in docs if "registros_fecha_invalida" in d.get("tags", [])]
    assert len(bad) == 2 and all(d["event"]["original"].endswith("hola") for d in bad)
