"""Each transition of monitoreo.states, round by round."""

from __future__ import annotations

from monitoreo.states import (
    DEGRADED,
    DOWN,
    UNKNOWN,
    UNREACHABLE,
    UP,
    Notice,
    Observation,
    Policy,
    Tracker,
)

NO_WINDOW: frozenset[str] = frozenset()


def obs(
    entity: str, ok: bool | None, *, parent: str | None = None, loss: float = 0.0,
    median: float = 50.0,
) -> Observation:  # fmt: skip
    site = entity.split("/")[0]
    return Observation(entity, site, parent, ok, loss_pct=loss,
                       median_ms=median if ok else None)  # fmt: skip


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
    assert feed(t, [[obs("a", True, loss=10.0)]] * 2) == []  # not yet confirmed
    notices = feed(t, [[obs("a", True, loss=10.0)]])
    assert kinds(notices) == [("a", "alert", DEGRADED)] and notices[0].notifies
    assert feed(t, [[obs("a", True, loss=10.0)]] * 3) == []  # one alert, not one per round


def test_recovery_needs_rise_rounds_that_meet_the_stricter_condition() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=2))
    feed(t, [[obs("a", True)], [obs("a", True, loss=10.0)]])
    assert t.states["a"].state == DEGRADED and t.states["a"].alerted == DEGRADED
    # 3 % loss is under the 5 % threshold but over half of it: still degraded, not recovered
    assert feed(t, [[obs("a", True, loss=3.0)]] * 2) == []
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
    feed(t, [[obs("a", True)], [obs("a", True, loss=20.0)]], frozenset({"a"}))
    notices = feed(t, [[obs("a", True, loss=20.0)]])
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
    notices = feed(t, [[obs("a", True, loss=20.0)]])
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


def test_a_tunnel_raises_nothing_while_its_sites_link_is_degraded() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    lossy = [obs("a", True, loss=20.0), obs("a/vpn", True, parent="a", loss=20.0)]
    notices = feed(t, [lossy] * 4)
    assert _alerts(notices) == [("a", DEGRADED)]  # one alert for one root cause
    held = [n for n in notices if n.entity == "a/vpn"]
    assert [n.current for n in held] == [DEGRADED] and held[0].muted == (
        "depende de a, que está degradada")  # fmt: skip
    good = [obs("a", True), obs("a/vpn", True, parent="a")]
    notices = feed(t, [good] * 3)
    assert _alerts(notices) == [] and [(n.entity, n.kind) for n in notices if n.notifies] == [
        ("a", "recovery")]  # fmt: skip
    assert t.states["a/vpn"].state == UP


def test_a_tunnel_still_down_once_its_site_recovers_raises_its_alert_then() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    notices = feed(t, [[obs("a", True, loss=20.0), obs("a/vpn", False, parent="a")]] * 3)
    assert _alerts(notices) == [("a", DEGRADED)]
    assert t.states["a/vpn"].state == DOWN and t.states["a/vpn"].alerted is None
    notices = feed(t, [[obs("a", True), obs("a/vpn", False, parent="a")]] * 2)
    assert _alerts(notices) == [("a/vpn", DOWN)]
    late = next(n for n in notices if n.entity == "a/vpn" and n.kind == "alert")
    assert late.message.startswith("a/vpn: sigue caída tras recuperarse a")
    assert feed(t, [[obs("a", True), obs("a/vpn", False, parent="a")]] * 2) == []  # once


def test_a_tunnel_recovering_slower_than_its_site_raises_no_late_alert() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=2, isolated_min_sites=10))
    feed(t, [[obs("a", True), obs("a/vpn", True, parent="a")]])
    feed(t, [[obs("a", True, loss=20.0), obs("a/vpn", True, parent="a", loss=20.0)]])
    # both better: the site clears first; the tunnel is under its threshold, not yet clear
    notices = feed(t, [[obs("a", True), obs("a/vpn", True, parent="a", loss=3.0)]] * 3)
    assert _alerts(notices) == []


def test_the_round_after_monitor_conectado_raises_one_alert_per_root_cause() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, isolated_min_sites=3))
    up = [o for c in "abcd" for o in (obs(c, True), obs(f"{c}/vpn", True, parent=c))]
    cut = [o for c in "abcd" for o in (obs(c, False), obs(f"{c}/vpn", False, parent=c))]
    feed(t, [up])
    assert kinds(feed(t, [cut])) == [("monitor", "isolated", DOWN)]
    # the monitor is back, but a's own link is lossy: its tunnel loses the same
    back = [obs("a", True, loss=30.0), obs("a/vpn", True, parent="a", loss=30.0),
            *[o for o in up if o.site != "a"]]  # fmt: skip
    notices = feed(t, [back])
    assert [(n.entity, n.kind) for n in notices if n.notifies] == [
        ("monitor", "isolated_end"), ("a", "alert")]  # fmt: skip


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


def test_sustained_loss_over_the_threshold_is_degraded_and_said_with_its_interval() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=3, isolated_min_sites=10))
    feed(t, [[probes("a", 0)]] * 10)
    per_round = [feed(t, [[probes("a", 2)]]) for _ in range(6)]  # 40 % lost, round after round
    assert [_alerts(n) for n in per_round] == [[], [], [], [("a", DEGRADED)], [], []]
    alert = next(n for n in per_round[3] if n.kind == "alert")  # 4 rounds after it started
    assert "pérdida en las últimas 10 rondas" in alert.message and "IC 95 %" in alert.message
    # the loss ends: it clears once the window says so, and then alerts nothing again
    notices = feed(t, [[probes("a", 0)]] * 15)
    assert [(n.kind, n.current) for n in notices if n.notifies] == [("recovery", UP)]
    assert t.states["a"].state == UP


def test_loss_just_over_the_threshold_for_long_is_degraded() -> None:
    t = Tracker(Policy(fall_rounds=2, isolated_min_sites=10))
    # 10 % lost (1 of 10 probes a round) on a 5 % threshold: sure only after enough probes
    notices = feed(t, [[probes("a", 1, sent=10)]] * 20)
    assert _alerts(notices) == [("a", DEGRADED)]


def test_rounds_with_no_reply_are_down_and_not_counted_as_loss_afterwards() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=1, isolated_min_sites=10))
    feed(t, [[probes("a", 0)]] * 10)
    notices = feed(t, [[probes("a", 5)]] * 3 + [[probes("a", 0)]] * 3)
    assert [(n.kind, n.current) for n in notices if n.notifies] == [
        ("alert", DOWN), ("recovery", UP)]  # fmt: skip
