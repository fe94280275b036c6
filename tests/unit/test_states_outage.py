"""One alert per cause around an outage, and notices that never precede their root cause.

Observations carry their probe counts (sent/received), as ``site_observation`` gives them.
"""

from __future__ import annotations

from monitoreo.states import DEGRADED, DOWN, UNREACHABLE, UP, Notice, Observation, Policy, Tracker

NONE: frozenset[str] = frozenset()


def probes(entity: str, received: int, *, sent: int = 5, parent: str | None = None,
           median: float = 50.0) -> Observation:  # fmt: skip
    site = entity.split("/")[0]
    loss = 100 * (sent - received) / sent
    return Observation(entity, site, parent, received > 0, loss_pct=loss,
                       median_ms=median if received else None, sent=sent,
                       received=received)  # fmt: skip


def feed(t: Tracker, rounds: list[list[Observation]]) -> list[Notice]:
    out: list[Notice] = []
    for obs_round in rounds:
        out += t.update(obs_round, now=f"r{t.round_no}", maintenance=NONE)
    return out


def told(notices: list[Notice]) -> list[tuple[str, str, str]]:
    return [(n.entity, n.kind, n.current) for n in notices]


def test_a_cut_in_the_middle_of_a_round_is_one_alert_and_one_recovery() -> None:
    """The trial's emb-co: 4 probes lost in the round the cut began, 2 in the one it ended."""
    t = Tracker(Policy())
    feed(t, [[probes("co", 5)]] * 10)
    cut = feed(t, [[probes("co", 1)], *[[probes("co", 0)]] * 4])
    assert told(cut) == [("co", "alert", DOWN)]
    back = feed(t, [[probes("co", 3)], *[[probes("co", 5)]] * 12])
    assert told(back) == [("co", "recovery", UP)]
    assert t.states["co"].window is not None and t.states["co"].window.lost == 0


def test_leaving_an_outage_with_light_loss_is_up_not_degraded() -> None:
    """Out of caída only the loss rule itself degrades, not the recovery hysteresis."""
    t = Tracker(Policy(fall_rounds=1, rise_rounds=3))
    feed(t, [[probes("a", 5)], [probes("a", 0)]])
    assert t.states["a"].state == DOWN
    notices = feed(t, [[probes("a", 5)], [probes("a", 4)], [probes("a", 4)]])
    assert told(notices) == [("a", "recovery", UP)]


def test_heavy_loss_after_the_outage_is_still_degraded() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=3))
    feed(t, [[probes("a", 5)], [probes("a", 0)], [probes("a", 0)]])
    notices = feed(t, [[probes("a", 2)]] * 8)
    assert told(notices) == [("a", "alert", DEGRADED)]  # caída → degradada, never arriba


def test_an_unreachable_tunnel_names_its_parent_as_unreachable_not_down() -> None:
    """A hub down, its child unreachable: the child's tunnel depends on an unreachable site."""
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, isolated_min_sites=10))

    def rnd(hub: int) -> list[Observation]:
        return [probes("ar", hub), probes("bo", hub, parent="ar"),
                probes("bo/vpn", hub, parent="bo")]  # fmt: skip

    feed(t, [rnd(5)])
    notices = feed(t, [rnd(0)])
    assert told(notices) == [("ar", "alert", DOWN), ("bo", "state", UNREACHABLE),
                             ("bo/vpn", "state", UNREACHABLE)]  # fmt: skip
    assert notices[1].muted == "depende de ar, que está caída"
    assert notices[2].muted == "depende de bo, que está inalcanzable"


def test_a_held_notice_never_comes_before_its_parents_alert() -> None:
    """The tunnel's loss began a round before its site's: it waits for the site's alert."""
    t = Tracker(Policy(fall_rounds=2, rise_rounds=3, isolated_min_sites=10))
    good = [probes("cl", 20, sent=20), probes("cl/vpn", 20, sent=20, parent="cl")]
    feed(t, [good] * 3)
    out = feed(t, [[probes("cl", 20, sent=20), probes("cl/vpn", 8, sent=20, parent="cl")]])
    lossy = [probes("cl", 8, sent=20), probes("cl/vpn", 8, sent=20, parent="cl")]
    out += feed(t, [lossy])
    assert not [n for n in out if n.entity == "cl/vpn" and n.kind == "state"], told(out)
    out += feed(t, [lossy])
    kinds = told(out)
    assert kinds[0] == ("cl", "alert", DEGRADED), kinds
    assert ("cl/vpn", "state", DEGRADED) in kinds[1:]
