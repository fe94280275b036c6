"""Which ifTable row is the tunnel when a restart left a stale row of the same name."""

from __future__ import annotations

from monitoreo.device import _tunnel_row

DOWN, UP = 2, 1


def test_the_row_that_is_up_wins_over_a_stale_one_of_the_same_name() -> None:
    names = {1: "lo", 2: "eth0", 3: "kbcs0", 4: "kbcs0"}
    assert _tunnel_row(names, {"3": DOWN, "4": UP}, "kbcs0") == 4
    assert _tunnel_row(names, {"3": UP, "4": DOWN}, "kbcs0") == 3
    assert _tunnel_row(names, {"3": DOWN, "4": DOWN}, "kbcs0") == 4  # the newest of the down ones
    assert _tunnel_row(names, {}, "tun9") is None
