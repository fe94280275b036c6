"""Each transition of monitoreo.states, round by round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from monitoreo.states import (
    DEGRADED,
    DOWN,
    REFUSED,
    UNKNOWN,
    UNREACHABLE,
    UP,
    Notice,
    Observation,
    Policy,
    Tracker,
)
from pukara import formats

NO_WINDOW: frozenset[str] = frozenset()


SENT = 5  # probes a round: vigilar's default --cuenta


def obs(
    entity: str, ok: bool | None, *, parent: str | None = None, lost: int = 0,
    median: float = 50.0, sent: int = SENT,
) -> Observation:  # fmt: skip
    """One round of ``sent`` probes, ``lost`` of them unanswered, as the watcher observes it:
    with the counts (site_observation always passes them), so the loss window is used."""
    site = entity.split("/")[0]
    got = sent - lost if ok else 0
    return Observation(entity, site, parent, ok, loss_pct=100 * (sent - got) / sent,
                       median_ms=median if ok else None, sent=sent, received=got)  # fmt: skip


SLOW = 600.0  # over the 500 ms latency threshold: degraded at once, with no window


def feed(
    t: Tracker, rounds: list[list[Observation]], maint: frozenset[str] = NO_WINDOW
) -> list[Notice]:
    out: list[Notice] = []
    for obs_round in rounds:
        out += t.update(obs_round, now=f"r{t.round_no}", maintenance=maint)
    return out


def kinds(notices: list[Notice]) -> list[tuple[str, str, str]]:
    return [(n.entity, n.kind, n.current) for n in notices]


def test_unknown_to_up_takes_one_round_and_alerts_nobody() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=3))
    notices = feed(t, [[obs("a", True)]])
    assert kinds(notices) == [("a", "state", UP)]
    assert not notices[0].notifies and t.states["a"].state == UP


def test_up_to_degraded_after_fall_rounds_is_one_alert() -> None:
    t = Tracker(Policy(fall_rounds=3))
    feed(t, [[obs("a", True)]])
    assert feed(t, [[obs("a", True, median=SLOW)]] * 2) == []  # not yet confirmed
    notices = feed(t, [[obs("a", True, median=SLOW)]])
    assert kinds(notices) == [("a", "alert", DEGRADED)] and notices[0].notifies
    assert feed(t, [[obs("a", True, median=SLOW)]] * 3) == []  # one alert, not one per round


def test_recovery_needs_rise_rounds_that_meet_the_stricter_condition() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=2))
    feed(t, [[obs("a", True)], [obs("a", True, median=SLOW)]])
    assert t.states["a"].state == DEGRADED and t.states["a"].alerted == DEGRADED
    # 1 of 5 lost a round: not surely under half the 5 % threshold (2 of 20: the interval's
    # lower bound is 2.8 %): better, but still degraded, not recovered
    assert feed(t, [[obs("a", True, lost=1)]] * 2) == []
    assert t.states["a"].state == DEGRADED
    # latency over 80 % of its threshold blocks the recovery too
    assert feed(t, [[obs("a", True, median=450.0)]] * 3) == []
    assert t.states["a"].state == DEGRADED
    assert feed(t, [[obs("a", True)]]) == []  # one good round of two
    notices = feed(t, [[obs("a", True)]])
    assert kinds(notices) == [("a", "recovery", UP)] and notices[0].notifies
    assert t.states["a"].alerted is None


def test_flapping_starts_once_mutes_and_ends() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, flap_changes=4, flap_window_rounds=6))
    notices = feed(t, [[obs("a", i % 2 == 0)] for i in range(8)])
    assert [n.kind for n in notices].count("flapping") == 1
    after = notices[[n.kind for n in notices].index("flapping") + 1 :]
    # the change that starts flapping ends the alert that went out: that recovery is heard
    assert (after[0].kind, after[0].notifies) == ("recovery", True)
    assert len(after) > 1 and all(not n.notifies for n in after[1:])
    assert t.states["a"].flapping
    # stable and up: the window empties and flapping ends, with no alert since it is up
    notices = feed(t, [[obs("a", True)]] * 7)
    assert ("a", "flapping_end", UP) in kinds(notices)
    assert not t.states["a"].flapping and "alert" not in [n.kind for n in notices]


def test_flapping_that_ends_while_down_raises_the_alert_then() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, flap_changes=4, flap_window_rounds=6))
    feed(t, [[obs("a", i % 2 == 0)] for i in range(7)])  # ends up, flapping
    assert t.states["a"].flapping and t.states["a"].alerted is None
    held = feed(t, [[obs("a", False)]] * 5)
    assert all(not n.notifies for n in held) and t.states["a"].state == DOWN
    notices = feed(t, [[obs("a", False)]] * 3)
    assert [n.kind for n in notices] == ["flapping_end", "alert"]
    assert notices[1].notifies and "al terminar la oscilación" in notices[1].message
    assert t.states["a"].alerted == DOWN
    assert feed(t, [[obs("a", False)]] * 3) == []  # raised once


def test_child_of_a_down_parent_is_unreachable_without_an_alert() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=1, isolated_min_sites=10))
    up = [obs("hub", True), obs("c1", True, parent="hub"), obs("c1/vpn", True, parent="c1")]
    down = [obs("hub", False), obs("c1", False, parent="hub"), obs("c1/vpn", False, parent="c1")]
    feed(t, [up])
    notices = feed(t, [down, down])
    assert [n.entity for n in notices if n.kind == "alert"] == ["hub"]
    child = [n for n in notices if n.entity == "c1"]
    assert child and all(not n.notifies and n.muted for n in child)
    assert t.states["c1"].state == UNREACHABLE and t.states["c1/vpn"].state == UNREACHABLE


def test_isolation_starts_holds_states_and_ends() -> None:
    t = Tracker(Policy(fall_rounds=1, isolated_min_sites=3, isolated_fraction=0.6))
    ok = [obs(c, True) for c in "abcd"]
    cut = [obs(c, False) for c in "abcd"]
    feed(t, [ok])
    notices = feed(t, [cut, cut])
    assert kinds(notices) == [("monitor", "isolated", DOWN)] and notices[0].notifies
    assert all(s.state == UP for s in t.states.values())
    notices = feed(t, [ok])
    assert kinds(notices) == [("monitor", "isolated_end", UP)]


def test_window_that_ends_while_down_raises_the_alert_then() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=2))
    window = frozenset({"a"})
    feed(t, [[obs("a", True)]])
    held = feed(t, [[obs("a", False)]] * 4, window)
    assert [(n.kind, n.muted) for n in held] == [("state", "mantenimiento")]
    assert t.states["a"].state == DOWN and t.states["a"].alerted is None
    notices = feed(t, [[obs("a", False)]])  # the window is over; still down
    assert kinds(notices) == [("a", "alert", DOWN)] and notices[0].notifies
    assert "al terminar el mantenimiento" in notices[0].message
    assert feed(t, [[obs("a", False)]] * 2) == []


def test_window_that_ends_while_degraded_raises_the_alert_then() -> None:
    t = Tracker(Policy(fall_rounds=1))
    feed(t, [[obs("a", True)], [obs("a", True, median=SLOW)]], frozenset({"a"}))
    notices = feed(t, [[obs("a", True, median=SLOW)]])
    assert kinds(notices) == [("a", "alert", DEGRADED)]


def test_a_window_that_ends_while_the_site_answers_again_raises_no_late_alert() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=3))
    window = frozenset({"a"})
    feed(t, [[obs("a", True)], [obs("a", False)], [obs("a", False)]], window)
    assert t.states["a"].state == DOWN and t.states["a"].alerted is None
    # the window is over and the site answers; it is still down until rise_rounds are met
    notices = feed(t, [[obs("a", True)]] * 2)
    assert notices == [] and t.states["a"].state == DOWN
    notices = feed(t, [[obs("a", True)]])
    assert kinds(notices) == [("a", "state", UP)] and not notices[0].notifies
    assert t.states["a"].alerted is None  # no alert, hence no recovery, ever went out


def test_a_site_down_again_before_it_recovered_raises_the_late_alert() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=3))
    feed(t, [[obs("a", True)], [obs("a", False)]], frozenset({"a"}))
    assert feed(t, [[obs("a", True)]]) == []  # after the window: answering, not yet up
    notices = feed(t, [[obs("a", False)]])  # down again: the problem is still there
    assert kinds(notices) == [("a", "alert", DOWN)] and notices[0].notifies
    assert "al terminar el mantenimiento" in notices[0].message


def test_degraded_alerted_then_down_inside_a_window_raises_the_down_alert_after() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=2))
    window = frozenset({"a"})
    feed(t, [[obs("a", True)]])
    notices = feed(t, [[obs("a", True, median=SLOW)]])
    assert kinds(notices) == [("a", "alert", DEGRADED)] and t.states["a"].alerted == DEGRADED
    held = feed(t, [[obs("a", False)]] * 2, window)  # worse, inside the window
    assert [(n.kind, n.current, n.muted) for n in held] == [("state", DOWN, "mantenimiento")]
    notices = feed(t, [[obs("a", False)]])  # the window is over; still down
    assert kinds(notices) == [("a", "alert", DOWN)] and notices[0].notifies
    assert "sigue caída al terminar el mantenimiento" in notices[0].message
    assert t.states["a"].alerted == DOWN
    assert feed(t, [[obs("a", False)]] * 2) == []  # raised once
    notices = feed(t, [[obs("a", True)]] * 2)
    assert kinds(notices) == [("a", "recovery", UP)] and notices[0].notifies


def test_a_site_that_recovers_inside_its_window_raises_nothing_after() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1))
    feed(t, [[obs("a", True)], [obs("a", False)], [obs("a", True)]], frozenset({"a"}))
    assert feed(t, [[obs("a", True)]] * 2) == []


def test_a_recovery_inside_a_window_notifies_the_alert_that_went_out() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1))
    feed(t, [[obs("a", True)], [obs("a", False)]])  # alert open
    notices = feed(t, [[obs("a", True)]], frozenset({"a"}))  # recovers inside a window
    assert kinds(notices) == [("a", "recovery", UP)]
    assert notices[0].muted is None and notices[0].notifies
    assert t.states["a"].alerted is None
    # a new problem inside the same window is muted again
    held = feed(t, [[obs("a", False)]], frozenset({"a"}))
    assert [(n.kind, n.muted) for n in held] == [("state", "mantenimiento")]


def test_a_recovery_while_flapping_notifies_the_alert_that_went_out() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, flap_changes=4, flap_window_rounds=20))
    feed(t, [[obs("a", True)], [obs("a", False)], [obs("a", True)]])  # alert, recovery
    notices = feed(t, [[obs("a", False)]])  # alert again, the third change
    assert kinds(notices) == [("a", "alert", DOWN)] and t.states["a"].alerted == DOWN
    notices = feed(t, [[obs("a", True)]])  # the fourth change: flapping from now on
    assert [(n.kind, n.notifies) for n in notices] == [("flapping", True), ("recovery", True)]
    notices = feed(t, [[obs("a", False)], [obs("a", True)]])  # raised and cleared, muted
    assert [(n.kind, n.muted) for n in notices] == [("state", "oscilación")] * 2
    assert not any(n.notifies for n in notices)


def test_muted_notices_never_notify() -> None:
    muted = Notice("a", "a", "alert", UP, DOWN, "x", muted="mantenimiento")
    assert not muted.notifies
    for kind in ("alert", "recovery", "flapping", "isolated", "isolated_end"):
        assert Notice("a", "a", kind, UP, DOWN, "x").notifies
    assert not Notice("a", "a", "state", UP, DOWN, "x").notifies


def test_an_unknown_observation_changes_no_state() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=2))
    assert feed(t, [[obs("a/vpn", None, parent="a")]] * 3) == []
    assert t.states["a/vpn"].state == UNKNOWN
    feed(t, [[obs("a/vpn", True, parent="a")]])
    assert feed(t, [[obs("a/vpn", None, parent="a")]] * 5) == []
    assert t.states["a/vpn"].state == UP
    # down, unknown, down: the unknown round neither confirms nor resets the streak
    assert feed(t, [[obs("a/vpn", False, parent="a")], [obs("a/vpn", None, parent="a")]]) == []
    notices = feed(t, [[obs("a/vpn", False, parent="a")]])
    assert kinds(notices) == [("a/vpn", "alert", DOWN)]
    assert feed(t, [[obs("a/vpn", None, parent="a")]] * 4) == []
    assert t.states["a/vpn"].state == DOWN


def test_unknown_sites_do_not_count_as_lost_for_isolation() -> None:
    t = Tracker(Policy(fall_rounds=1, isolated_min_sites=3))
    feed(t, [[obs(c, True) for c in "abcd"]])
    assert feed(t, [[obs(c, None) for c in "abcd"]]) == []
    assert not t.isolated


def test_the_isolation_threshold_in_the_readme_is_the_one_in_the_code() -> None:
    import inspect
    import re
    from pathlib import Path

    from monitoreo import cli

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(r"al menos\s+el (\d+) % de las sedes vigiladas\s+\(con (\d+) sedes", readme)
    assert found, "el README debe decir el umbral de aislamiento del monitor"
    pct, minimum = float(found[1]), int(found[2])
    assert "--aislamiento" in readme[found.start() : found.start() + 300]
    policy = Policy()
    assert (policy.isolated_fraction * 100, policy.isolated_min_sites) == (pct, minimum)
    assert inspect.signature(cli.vigilar).parameters["aislamiento"].default == pct
    # and the code does what the README says, at the threshold and just under it
    at = [obs(c, c < "c") for c in "abcde"]  # c, d, e: 3 of 5 = 60 % lost
    under = [obs(c, c < "d") for c in "abcde"]  # 40 %
    assert kinds(feed(Tracker(), [at]))[0] == ("monitor", "isolated", DOWN)
    assert not any(n.kind == "isolated" for n in feed(Tracker(), [under]))
    few = [obs(c, False) for c in "ab"]  # under the minimum number of sites
    assert not any(n.kind == "isolated" for n in feed(Tracker(), [few]))


def _alerts(notices: list[Notice]) -> list[tuple[str, str]]:
    return [(n.entity, n.current) for n in notices if n.notifies and n.kind == "alert"]


LOSSY = 3  # of 5 probes lost a round: 60 %, degraded once the window has 20 probes


def test_a_tunnel_raises_nothing_while_its_sites_link_is_degraded() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    lossy = [obs("a", True, lost=LOSSY), obs("a/vpn", True, parent="a", lost=LOSSY)]
    notices = feed(t, [lossy] * 5)
    assert _alerts(notices) == [("a", DEGRADED)]  # one alert for one root cause
    held = [n for n in notices if n.entity == "a/vpn"]
    assert [n.current for n in held] == [DEGRADED] and held[0].muted == (
        "depende de a, que está degradada")  # fmt: skip
    good = [obs("a", True), obs("a/vpn", True, parent="a")]
    notices = feed(t, [good] * 35)  # the lossy probes leave the window: both clear
    assert _alerts(notices) == [] and [(n.entity, n.kind) for n in notices if n.notifies] == [
        ("a", "recovery")]  # fmt: skip
    assert t.states["a/vpn"].state == UP


def test_a_tunnel_still_down_once_its_site_recovers_raises_its_alert_then() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=2, isolated_min_sites=10,
                       loss_window_probes=20, parent_hold_rounds=100))  # fmt: skip
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    notices = feed(t, [[obs("a", True, lost=LOSSY), obs("a/vpn", True, parent="a")]] * 4)
    notices += feed(t, [[obs("a", True, lost=LOSSY), obs("a/vpn", False, parent="a")]] * 3)
    assert _alerts(notices) == [("a", DEGRADED)]
    assert t.states["a/vpn"].state == DOWN and t.states["a/vpn"].alerted is None
    notices = feed(t, [[obs("a", True), obs("a/vpn", False, parent="a")]] * 6)
    assert _alerts(notices) == [("a/vpn", DOWN)]
    late = next(n for n in notices if n.entity == "a/vpn" and n.kind == "alert")
    assert late.message.startswith("a/vpn: sigue caída tras recuperarse a")
    assert feed(t, [[obs("a", True), obs("a/vpn", False, parent="a")]] * 2) == []  # once


def test_a_tunnel_recovering_slower_than_its_site_raises_no_late_alert() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=2, isolated_min_sites=10,
                       loss_window_probes=20))  # fmt: skip
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    feed(t, [[obs("a", True, lost=LOSSY), obs("a/vpn", True, parent="a", lost=LOSSY)]] * 3)
    assert t.states["a"].state == DEGRADED and t.states["a/vpn"].state == DEGRADED
    # both better: the site clears first; the tunnel (2 of 20 lost) is under its threshold,
    # not yet clear of the recovery one
    notices = feed(t, [[obs("a", True), obs("a/vpn", True, parent="a", lost=i % 2)]
                       for i in range(8)])  # fmt: skip
    assert t.states["a"].state == UP and t.states["a/vpn"].state == DEGRADED
    assert _alerts(notices) == []


def test_a_dead_tunnel_alerts_while_its_gateway_port_refuses() -> None:
    t = Tracker(Policy(fall_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    refused = replace(obs("a", True, lost=SENT), refused=True)  # every probe answered by RST
    notices = feed(t, [[refused, obs("a/vpn", False, parent="a")]] * 3)
    assert sorted(_alerts(notices)) == [("a", REFUSED), ("a/vpn", DOWN)]  # two causes


def test_a_dead_tunnel_alerts_while_its_sites_link_is_only_slow() -> None:
    t = Tracker(Policy(fall_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    notices = feed(t, [[obs("a", True, median=650.0), obs("a/vpn", False, parent="a")]] * 3)
    assert sorted(_alerts(notices)) == [("a", DEGRADED), ("a/vpn", DOWN)]
    # a slow tunnel on a slow link is the link's problem: one alert
    t = Tracker(Policy(fall_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    slow = [obs("a", True, median=650.0), obs("a/vpn", True, parent="a", median=660.0)]
    assert _alerts(feed(t, [slow] * 3)) == [("a", DEGRADED)]


def test_an_alert_held_for_its_parent_goes_out_after_parent_hold_rounds() -> None:
    t = Tracker(Policy(fall_rounds=2, isolated_min_sites=10, parent_hold_rounds=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    # the link loses for good, then the tunnel dies: held back, but not indefinitely
    notices = feed(t, [[obs("a", True, lost=LOSSY), obs("a/vpn", True, parent="a")]] * 4)
    notices += feed(t, [[obs("a", True, lost=LOSSY), obs("a/vpn", False, parent="a")]] * 40)
    assert _alerts(notices) == [("a", DEGRADED), ("a/vpn", DOWN)]
    late = next(n for n in notices if n.entity == "a/vpn" and n.kind == "alert")
    held = next(n for n in notices if n.entity == "a/vpn" and n.current == DOWN)
    assert held.muted == "depende de a, que está degradada"
    assert notices.index(late) > notices.index(held)
    assert late.message.startswith("a/vpn: sigue caída desde hace 10 rondas, aunque a ")


def test_the_round_after_monitor_conectado_raises_one_alert_per_root_cause() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, isolated_min_sites=3))
    up = [o for c in "abcd" for o in (obs(c, True), obs(f"{c}/vpn", True, parent=c))]
    cut = [o for c in "abcd" for o in (obs(c, False), obs(f"{c}/vpn", False, parent=c))]
    feed(t, [up])
    assert kinds(feed(t, [cut])) == [("monitor", "isolated", DOWN)]
    # the monitor is back, but a's own link is slow: its tunnel is as slow
    back = [obs("a", True, median=SLOW), obs("a/vpn", True, parent="a", median=SLOW),
            *[o for o in up if o.site != "a"]]  # fmt: skip
    notices = feed(t, [back])
    assert [(n.entity, n.kind) for n in notices if n.notifies] == [
        ("monitor", "isolated_end"), ("a", "alert")]  # fmt: skip


def test_loss_that_led_into_the_isolation_degrades_nobody_after_it() -> None:
    t = Tracker(Policy())  # production defaults, --cuenta 5
    sites = "abcde"
    feed(t, [[obs(c, True) for c in sites]] * 10)
    feed(t, [[obs(c, True, lost=3) for c in sites]] * 2)  # the monitor's own uplink degrades
    assert kinds(feed(t, [[obs(c, False) for c in sites]] * 3)) == [
        ("monitor", "isolated", DOWN)]  # fmt: skip
    notices = feed(t, [[obs(c, True) for c in sites]] * 20)  # back, every link clean
    assert kinds(notices) == [("monitor", "isolated_end", UP)]
    assert all(s.state == UP for s in t.states.values())


def test_rounds_that_led_into_the_isolation_confirm_nothing_after_it() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=1, isolated_min_sites=3))
    sites = "abcde"
    up = [o for c in sites for o in (obs(c, True), obs(f"{c}/vpn", True, parent=c))]
    feed(t, [up])
    # the cut begins: a's tunnel (to headquarters, where the monitor is) and two sites drop
    start = [obs("a", True), obs("a/vpn", False, parent="a"), obs("b", False), obs("c", False),
             obs("d", True), obs("e", True)]  # fmt: skip
    cut = [obs(c, False) for c in sites]
    assert feed(t, [start]) == []
    assert kinds(feed(t, [cut])) == [("monitor", "isolated", DOWN)]
    # back: a's tunnel reconnects one round later than the rest
    back = [obs("a", True), obs("a/vpn", False, parent="a"),
            *[obs(c, True) for c in "bcde"]]  # fmt: skip
    assert _alerts(feed(t, [back])) == []  # not confirmed with a round from before the cut
    assert _alerts(feed(t, [back])) == [("a/vpn", DOWN)]  # two rounds of its own: it is down


def probes(entity: str, lost: int, sent: int = 5, threshold: float = 5.0) -> Observation:
    """A round of ``sent`` probes of which ``lost`` got no reply, as the watcher observes it."""
    got = sent - lost
    return Observation(entity, entity.split("/")[0], None, got > 0,
                       loss_pct=100 * lost / sent, median_ms=30.0 if got else None,
                       loss_threshold_pct=threshold, sent=sent, received=got)  # fmt: skip


def test_one_probe_lost_in_five_is_not_a_degraded_link() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=3, isolated_min_sites=10))
    # a link that loses about 2 %: now and then 1 of a round's 5 probes, twice in a row too
    lost = {3: 1, 4: 1, 17: 1, 30: 1, 31: 1, 46: 1, 58: 1}
    notices = feed(t, [[probes("a", lost.get(i, 0))] for i in range(60)])
    assert [n.current for n in notices] == [UP]  # unknown -> up, and nothing after that
    assert t.states["a"].window is not None and t.states["a"].window.low_pct < 5.0


def test_a_burst_in_the_first_rounds_is_too_few_probes_to_judge() -> None:
    t = Tracker(Policy(fall_rounds=2, isolated_min_sites=10))
    notices = feed(t, [[probes("a", 2)], [probes("a", 0)], [probes("a", 0)]])
    assert _alerts(notices) == []


def _rounds_to_alert(
    t: Tracker, lost: Callable[[int], int], most: int = 300
) -> tuple[int, Notice] | None:
    """How many rounds of ``lost(i)`` probes lost it takes for the entity's alert, and it."""
    for i in range(1, most + 1):
        notices = feed(t, [[probes("a", lost(i))]])
        if _alerts(notices):
            return i, next(n for n in notices if n.kind == "alert")
    return None


def test_sustained_loss_over_the_threshold_is_degraded_and_said_with_its_interval() -> None:
    t = Tracker(Policy(isolated_min_sites=10))  # production defaults, --cuenta 5
    feed(t, [[probes("a", 0)]] * 30)  # a full window of clean probes
    found = _rounds_to_alert(t, lambda _: 2)
    assert found is not None and found[0] == 8  # 40 % lost: 8 rounds, as the README says
    alert = found[1]
    pct = formats.percent
    assert f"pérdida en los últimos 150 sondeos (30 rondas): {pct(10.7, 1)}" in alert.message
    assert f"16 perdidos (IC 95 %: {pct(6.7, 1)}–{pct(16.6, 1)})" in alert.message
    # the loss ends: it clears once its probes have left the window, and alerts nothing again
    notices = feed(t, [[probes("a", 0)]] * 35)
    assert [(n.kind, n.current) for n in notices if n.notifies] == [("recovery", UP)]
    assert t.states["a"].state == UP


def test_severe_loss_on_a_new_site_is_caught_with_its_first_20_probes() -> None:
    t = Tracker(Policy(isolated_min_sites=10))
    found = _rounds_to_alert(t, lambda _: 2)
    assert found is not None and found[0] == 5  # seen at 20 probes, confirmed a round later


def test_twice_the_threshold_sustained_is_degraded_at_five_probes_a_round() -> None:
    t = Tracker(Policy(isolated_min_sites=10))  # 10 % lost on a 5 % threshold, --cuenta 5
    feed(t, [[probes("a", 0)]] * 30)
    found = _rounds_to_alert(t, lambda i: i % 2)  # 1 probe lost every other round
    assert found is not None and found[0] <= 30


def test_rounds_with_no_reply_are_down_and_not_counted_as_loss_afterwards() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=1, isolated_min_sites=10))
    feed(t, [[probes("a", 0)]] * 10)
    notices = feed(t, [[probes("a", 5)]] * 3 + [[probes("a", 0)]] * 3)
    assert [(n.kind, n.current) for n in notices if n.notifies] == [
        ("alert", DOWN), ("recovery", UP)]  # fmt: skip


def test_the_loss_window_in_the_readme_is_the_one_in_the_code() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(r"sobre los últimos (\d+) sondeos.*?con al menos (\d+) sondeos", readme,
                      re.S)  # fmt: skip
    assert found, "el README debe decir sobre cuántos sondeos se juzga la pérdida"
    policy = Policy()
    assert (policy.loss_window_probes, policy.loss_min_probes) == (int(found[1]), int(found[2]))
    held = re.search(r"un túnel caído\s+sale de todos modos tras (\d+) rondas", readme)
    assert held and int(held[1]) == policy.parent_hold_rounds
    # what the README says is caught how fast, at 5 probes a round, is what the code does
    said = re.search(r"pierde el 40 %\s+alerta en (\d+) rondas \(en (\d+) si", readme)
    assert said, "el README debe decir en cuántas rondas alerta una pérdida del 40 %"
    after_history, on_a_new_site = Tracker(Policy(isolated_min_sites=10)), Tracker(Policy())
    feed(after_history, [[probes("a", 0)]] * 30)
    for t, rounds in ((after_history, int(said[1])), (on_a_new_site, int(said[2]))):
        found = _rounds_to_alert(t, lambda _: 2)
        assert found is not None and found[0] == rounds
