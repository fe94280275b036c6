"""The prober's scheduler on loopback (no lab): order, interval and period between probes."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator

import pytest

from monitoreo import prober
from monitoreo.prober import ProbeOptions, Target, probe
from pukara.errors import PukaraError
from tests.conftest import skip_or_fail

MS = 1_000_000


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int, int]]]:
    """(target index, probe index, send time in ns) of every probe, as the engine sent them."""
    seen: list[tuple[int, int, int]] = []
    real = prober._Engine.send

    def send(self: prober._Engine, ti: int, k: int) -> int:
        at = real(self, ti, k)
        seen.append((ti, k, at))
        return at

    monkeypatch.setattr(prober._Engine, "send", send)
    return seen


def _probe(targets: list[Target], options: ProbeOptions) -> list[prober.Samples]:
    try:
        return probe(targets, options)
    except PukaraError as e:  # no ICMP socket for this user
        skip_or_fail(str(e))


LOOPBACK = [Target(f"l{i}", f"127.0.0.{i}") for i in (1, 2, 3)]


def test_each_target_gets_its_probes_in_order_and_all_answer(
    sends: list[tuple[int, int, int]],
) -> None:
    got = _probe(LOOPBACK, ProbeOptions(count=4, interval_ms=2, period_ms=20, timeout_ms=500))
    assert [s.target.label for s in got] == ["l1", "l2", "l3"]
    assert all(len(s.rtts_ms) == 4 and None not in s.rtts_ms for s in got)
    assert [(ti, k) for ti, k, _ in sends[:3]] == [(0, 0), (1, 0), (2, 0)]  # first round in order
    for ti in range(3):
        assert [k for t, k, _ in sends if t == ti] == [0, 1, 2, 3]


def test_interval_separates_any_two_sends_and_period_two_to_one_target(
    sends: list[tuple[int, int, int]],
) -> None:
    _probe(LOOPBACK, ProbeOptions(count=3, interval_ms=5, period_ms=40, timeout_ms=500))
    times = [at for _, _, at in sends]
    assert len(times) == 9
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 5 * MS - MS // 2  # --intervalo: between any two sends
    for ti in range(3):
        mine = [at for t, _, at in sends if t == ti]
        assert all(b - a >= 40 * MS - MS // 2 for a, b in itertools.pairwise(mine))
        assert all(b - a < 200 * MS for a, b in itertools.pairwise(mine))  # not late


def test_a_period_shorter_than_a_sweep_stretches_instead_of_bursting(
    sends: list[tuple[int, int, int]],
) -> None:
    # 3 targets x 15 ms interval = 45 ms per sweep, more than the 10 ms period asked for
    _probe(LOOPBACK, ProbeOptions(count=3, interval_ms=15, period_ms=10, timeout_ms=500))
    times = [at for _, _, at in sends]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 15 * MS - MS // 2
    for ti in range(3):
        mine = [at for t, _, at in sends if t == ti]
        assert all(b - a >= 45 * MS - MS for a, b in itertools.pairwise(mine))


def test_tcp_probes_measure_an_open_port_and_a_closed_one_is_refused_not_lost() -> None:
    with socket.socket() as listener, socket.socket() as closed:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the kernel answers RST
        targets = [Target("abierto", "127.0.0.1", port=listener.getsockname()[1]),
                   Target("cerrado", "127.0.0.1", port=closed.getsockname()[1])]  # fmt: skip
        opened, refused = probe(targets, ProbeOptions(3, 1, 10, 500))
    assert None not in opened.rtts_ms and opened.error is None and not opened.refused
    assert refused.rtts_ms == [None, None, None] and refused.refused == {0, 1, 2}
    assert refused.error and "rechazada" in refused.error
