"""Monitoring logic without a network: statistics, counters, states, SLA arithmetic."""

from __future__ import annotations

import errno
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitoreo import icmp, prober, sla, stats
from monitoreo.counters import CounterSample, rate
from monitoreo.prober import ProbeOptions, Target
from monitoreo.sites import Site, resolve
from monitoreo.states import DOWN, UNREACHABLE, UP, Observation, Policy, Tracker
from pukara.errors import PukaraError, UsageError
from pukara.store import SQLiteStore


def test_summary_counts_dispersion_over_received_samples_only() -> None:
    s = stats.summarize([10.0, None, 12.0, 14.0, None])
    assert (s.sent, s.received, s.loss_pct) == (5, 3, 40.0)
    assert (s.min_ms, s.median_ms, s.mean_ms, s.max_ms) == (10.0, 12.0, 12.0, 14.0)
    assert s.stddev_ms == 2.0  # a lost probe is not a 0 ms sample
    assert s.loss_low_pct < 40.0 < s.loss_high_pct


def test_wilson_interval_bounds_zero_loss_by_about_three_over_n() -> None:
    low, high = stats.wilson_interval(0, 100)
    assert low == 0.0 and 3.0 < high < 4.0
    assert stats.wilson_interval(0, 0) == (0.0, 100.0)


def test_rfc3550_jitter_is_the_smoothed_mean_of_consecutive_differences() -> None:
    assert stats.rfc3550_jitter([10.0, 10.0, 10.0]) == 0.0
    # J1 = (4 - 0)/16 = 0.25; J2 = 0.25 + (4 - 0.25)/16
    assert stats.rfc3550_jitter([10.0, 14.0, 10.0]) == pytest.approx(0.25 + 3.75 / 16)


def test_a_target_with_nothing_back_has_no_latency() -> None:
    s = stats.summarize([None, None])
    assert s.received == 0 and s.median_ms is None and s.loss_pct == 100.0


def test_a_tcp_reset_is_refused_not_loss_in_the_statistics() -> None:
    s = stats.summarize([None, None, 3.0, None], refused=2)
    assert (s.sent, s.received, s.refused, s.loss_pct) == (4, 1, 2, 25.0)
    all_refused = stats.summarize([None, None, None], refused=3)
    assert all_refused.loss_pct == 0.0 and all_refused.loss_high_pct < 60


def test_sondear_says_a_closed_port_on_loopback_is_refused(tmp_path: Path, capsys) -> None:
    from cli import main

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the kernel answers RST
        port = closed.getsockname()[1]
        code = main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "sondear", "-q",
                     "--formato", "json", "-c", "3", "-p", "10", "-t", "500", "--tcp", str(port),
                     "127.0.0.1"])  # fmt: skip
    (row,) = json.loads(capsys.readouterr().out)
    assert code == 3  # a refused port is a partial result, not a success
    assert row["result"] == "rechazado" and row["refused"] == 3 and row["loss_pct"] == 0.0
    assert f"el puerto {port} está cerrado" in row["error"]
    with SQLiteStore(tmp_path / "p.db") as store:
        (event,) = store.search_events(dataset="monitoreo.sondeo")
    assert event["monitoreo"]["refused"] == 3 and event["event"]["outcome"] == "failure"


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EINVAL, "no acepta esta dirección"), (errno.EPERM, "no permitió el envío"),
     (errno.ENETUNREACH, "no hay ruta"), (errno.EHOSTUNREACH, "no es alcanzable"),
     (errno.EACCES, "difusión"), (errno.E2BIG, "error del sistema")],
)  # fmt: skip
def test_system_errors_of_a_probe_are_explained_in_spanish_with_the_original(
    code: int, words: str
) -> None:
    text = prober.error_text(OSError(code, os.strerror(code)))
    assert words in text and text.endswith(f" ({os.strerror(code)})")


def test_a_probe_and_the_rest_of_pukara_explain_an_errno_from_one_table() -> None:
    from pukara.errors import os_reason

    # what a probe knows no better than anyone: the same words as every other message
    for code in (errno.ETIMEDOUT, errno.ECONNRESET, errno.EAFNOSUPPORT, errno.ENOBUFS,
                 errno.EMFILE, errno.ENETDOWN):  # fmt: skip
        e = OSError(code, os.strerror(code))
        assert prober.error_text(e) == os_reason(e) and not os_reason(e).startswith(
            os.strerror(code))  # fmt: skip
    unknown = prober.error_text(OSError(errno.E2BIG, os.strerror(errno.E2BIG)))
    assert unknown == "error del sistema al sondear (E2BIG) (Argument list too long)"


def test_a_target_the_system_refuses_is_explained_and_the_others_are_probed() -> None:
    # loopback's broadcast address: the kernel refuses both before anything is sent
    targets = [Target("difusión", "127.255.255.255"), Target("local", "127.0.0.1"),
               Target("multidifusión", "127.255.255.255", port=22),
               Target("zona", "fd70:756b:6172::1%no-existe")]  # fmt: skip
    try:
        got = {s.target.label: s for s in prober.probe(targets, ProbeOptions(2, 1, 10, 300))}
    except PukaraError as e:  # no ICMP socket for this user
        pytest.skip(str(e))
    assert None not in got["local"].rtts_ms and got["local"].error is None
    assert got["difusión"].error and "(Permission denied)" in got["difusión"].error
    assert got["multidifusión"].error and "no hay ruta" in got["multidifusión"].error
    assert got["zona"].error and got["zona"].error.startswith("la dirección no se pudo interpretar")
    assert all(s.rtts_ms == [None, None] for k, s in got.items() if k != "local")


def test_echo_packets_round_trip() -> None:
    packet = icmp.echo_request(socket.AF_INET, 0x1234, 7, b"x" * 56)
    assert icmp.checksum(packet) == 0
    reply = bytes([0, 0]) + packet[2:]
    assert icmp.parse_reply(socket.AF_INET, False, reply) == (0x1234, 7)
    assert icmp.parse_reply(socket.AF_INET, False, packet) is None  # a request is not a reply


# -- counters: fixtures for what the lab cannot produce (64-bit wraps, resets) ----------------
def _s(uptime: int, octets: int, **kw: int) -> CounterSample:
    return CounterSample(uptime_cs=uptime, in_octets=octets, out_octets=octets, **kw)


def test_a_64_bit_wrap_is_accepted_when_nothing_else_changed() -> None:
    top = (1 << 64) - 1000
    r = rate(_s(100, top, speed_mbps=1000), _s(200, 1000, speed_mbps=1000))
    assert r.in_bps == 2000 * 8 and r.reason is None


def test_a_reboot_makes_the_interval_unknown_not_a_spike() -> None:
    r = rate(_s(500_000, 10_000_000), _s(300, 10))
    assert r.in_bps is None and "reinició" in (r.reason or "")


def test_a_counter_discontinuity_makes_the_interval_unknown() -> None:
    r = rate(_s(100, 5000, discontinuity=0), _s(200, 10, discontinuity=150))
    assert r.in_bps is None and "discontinuidad" in (r.reason or "")


def test_a_rate_faster_than_the_link_is_refused() -> None:
    # a 32-bit style drop read as a 64-bit wrap would mean exabits per second
    r = rate(_s(100, 4_000_000_000, speed_mbps=10), _s(200, 100, speed_mbps=10))
    assert r.in_bps is None and "capacidad" in (r.reason or "")


def test_a_32_bit_wrap_is_accepted_within_the_link() -> None:
    prev = CounterSample(100, (1 << 32) - 500, (1 << 32) - 500, speed_mbps=100, bits=32)
    cur = CounterSample(200, 500, 500, speed_mbps=100, bits=32)
    assert rate(prev, cur).in_bps == 8000


def test_counters_keep_integer_precision_above_2_53() -> None:
    base = (1 << 60) + 1
    r = rate(_s(100, base), _s(200, base + 1))
    assert r.in_bps == 8


# -- states ------------------------------------------------------------------------------------
def _obs(entity: str, ok: bool, *, parent: str | None = None, loss: float = 0.0) -> Observation:
    site = entity.split("/")[0]
    return Observation(entity, site, parent, ok, loss_pct=loss, median_ms=50.0 if ok else None)


def _feed(t: Tracker, rounds: list[list[Observation]], maint: frozenset[str] = frozenset()) -> list:
    out = []
    for i, obs in enumerate(rounds):
        out += t.update(obs, now=f"r{i}", maintenance=maint)
    return out


def test_hysteresis_needs_consecutive_rounds_both_ways() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=3))
    notices = _feed(t, [[_obs("a", True)], [_obs("a", False)], [_obs("a", True)]])
    assert [n.kind for n in notices] == ["state"]  # one lost round raises nothing
    notices = _feed(t, [[_obs("a", False)], [_obs("a", False)]])
    assert [(n.kind, n.current) for n in notices] == [("alert", DOWN)]
    notices = _feed(t, [[_obs("a", True)], [_obs("a", True)]])
    assert notices == []
    notices = _feed(t, [[_obs("a", True)]])
    assert [(n.kind, n.current) for n in notices] == [("recovery", UP)]


def test_recovery_from_degraded_needs_the_stricter_condition() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1))
    _feed(t, [[_obs("a", True)], [_obs("a", True, loss=10.0)]])
    assert t.states["a"].state == "degraded"
    _feed(t, [[_obs("a", True, loss=4.0)]])  # under the 5% threshold, over half of it
    assert t.states["a"].state == "degraded"
    _feed(t, [[_obs("a", True, loss=0.0)]])
    assert t.states["a"].state == UP


def test_children_of_a_down_parent_raise_nothing_of_their_own() -> None:
    t = Tracker(Policy(fall_rounds=2, rise_rounds=1, isolated_min_sites=10))
    up = [_obs("hub", True), _obs("c1", True, parent="hub"), _obs("c1/vpn", True, parent="c1")]
    down = [_obs("hub", False), _obs("c1", False, parent="hub"), _obs("c1/vpn", False, parent="c1")]
    _feed(t, [up])
    notices = _feed(t, [down, down])
    alerts = [n for n in notices if n.kind == "alert"]
    assert [n.entity for n in alerts] == ["hub"]
    assert t.states["c1"].state == UNREACHABLE and t.states["c1/vpn"].state == UNREACHABLE
    notices = _feed(t, [up])
    assert [n.entity for n in notices if n.kind == "recovery"] == ["hub"]


def test_flapping_is_reported_once_then_mutes() -> None:
    t = Tracker(Policy(fall_rounds=1, rise_rounds=1, flap_changes=4, flap_window_rounds=20))
    rounds = [[_obs("a", i % 2 == 0)] for i in range(12)]
    notices = _feed(t, rounds)
    assert sum(n.kind == "flapping" for n in notices) == 1
    after = notices[[n.kind for n in notices].index("flapping") + 1 :]
    assert all(n.kind != "alert" for n in after)


def test_maintenance_mutes_alerts() -> None:
    t = Tracker(Policy(fall_rounds=1))
    notices = _feed(t, [[_obs("a", True)], [_obs("a", False)]], frozenset({"a"}))
    assert notices[-1].kind == "state" and notices[-1].muted == "mantenimiento"


def test_most_sites_down_at_once_is_one_monitor_alert() -> None:
    t = Tracker(Policy(fall_rounds=1, isolated_min_sites=3, isolated_fraction=0.6))
    ok = [_obs(c, True) for c in "abcd"]
    cut = [_obs(c, False) for c in "abcd"]
    _feed(t, [ok])
    notices = _feed(t, [cut, cut, cut])
    assert [n.kind for n in notices] == ["isolated"]
    assert all(s.state == UP for s in t.states.values())
    notices = _feed(t, [ok])
    assert [n.kind for n in notices] == ["isolated_end"]


# -- targets and SLA arithmetic -----------------------------------------------------------------
def _site(code: str, address: str | None) -> Site:
    return Site(code, code, "America/Lima", address, None, None, None, 99.0, 5.0, 500.0, False,
                None, None, None)  # fmt: skip


def test_bad_targets_are_all_named_before_any_probe() -> None:
    known = {"emb-ar": _site("emb-ar", "198.18.0.6"), "lima": _site("lima", None)}
    with pytest.raises(UsageError) as e:
        resolve(["emb-ar", "lima", "999.1.1.1", "no_es_nada", "x.invalid"], known)
    text = str(e.value)
    assert "«lima»" in text and "«999.1.1.1»" in text and "«no_es_nada»" in text
    assert "«x.invalid»: no se pudo resolver el nombre (" in text and "emb-ar" not in text
    targets = resolve(["EMB-AR", "fd70:756b:6172:1::2"], known)
    assert [t.address for t in targets] == ["198.18.0.6", "fd70:756b:6172:1::2"]


def test_month_bounds_follow_the_site_time_zone() -> None:
    start, end = sla.month_bounds("2026-10", "America/Lima")
    assert start == datetime(2026, 10, 1, 5, tzinfo=UTC)
    assert end == datetime(2026, 11, 1, 5, tzinfo=UTC)
    assert sla.previous_month("2026-01") == "2025-12"
    with pytest.raises(UsageError):
        sla.month_bounds("octubre", "UTC")


def _import(db: Path, folder: Path, sedes: str, activos: str) -> None:
    from cli import main

    for name, text in (("sedes.csv", sedes), ("activos.csv", activos)):
        (folder / name).write_text(text)
        assert main(["--base-datos", str(db), "inventario", "importar", str(folder / name),
                     "-q"]) == 0  # fmt: skip


def test_sondear_without_targets_probes_only_the_sites_marked_for_monitoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    db = tmp_path / "p.db"
    assert main(["--base-datos", str(db), "inventario", "importar", "--ejemplo", "-q"]) == 0
    capsys.readouterr()
    args = ["--base-datos", str(db), "monitoreo", "sondear", "-q", "--formato", "json",
            "--no-guardar", "-c", "2", "-p", "10", "-t", "300"]  # fmt: skip
    assert main(args) == 2  # the example's 150 sites are not monitored: nothing is probed
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert captured.out == "" and "ninguna sede del inventario está marcada para monitoreo" in err
    assert "«wan|monitoreo»" in err and "pukara monitoreo sondear " in err
    assert "Traceback" not in captured.err
    assert main([*args[:3], "vigilar", "--rondas", "1", "--sin-snmp"]) == 2
    assert "pukara monitoreo vigilar " in " ".join(capsys.readouterr().err.split())

    _import(db, tmp_path, "code,name,kind,country,city,timezone,parent\n"
            "vig,Vigilada,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires,lima\n"
            "otra,No vigilada,embajada,CL,Santiago,America/Santiago,lima\n",
            "name,kind,site,mgmt_ipv4,tags,status\n"
            "gw-vig,router,vig,127.0.0.2,wan|monitoreo,activo\n"
            "gw-otra,router,otra,127.0.0.3,wan,activo\n")  # fmt: skip
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["target"], r["address"]) for r in rows] == [("vig", "127.0.0.2")]
    assert main([*args, "otra"]) == 0  # a site named is probed, marked or not
    assert [r["target"] for r in json.loads(capsys.readouterr().out)] == ["otra"]


def test_sondear_familia_6_on_marked_ipv4_gateways_says_they_lack_ipv6(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    db = tmp_path / "p.db"
    _import(db, tmp_path, "code,name,kind,country,city,timezone\n"
            "vig,Vigilada,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires\n"
            "dual,Doble pila,embajada,CL,Santiago,America/Santiago\n",
            "name,kind,site,mgmt_ipv4,mgmt_ipv6,tags,status\n"
            "gw-vig,router,vig,127.0.0.2,,wan|monitoreo,activo\n"
            "gw-dual-4,router,dual,127.0.0.3,,wan|monitoreo,activo\n"
            "gw-dual-6,firewall,dual,,::1,wan,activo\n")  # fmt: skip
    capsys.readouterr()
    args = ["--base-datos", str(db), "monitoreo", "sondear", "-q", "--formato", "json",
            "--no-guardar", "--sin-vpn", "-c", "1", "-p", "10", "-t", "300"]  # fmt: skip
    # dual is marked on its IPv4 gateway and has another with IPv6: that one is probed
    assert main([*args, "--familia", "6"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["target"], r["address"]) for r in rows] == [("dual", "::1")]
    _import(db, tmp_path, "code,name,kind,country,city,timezone\n"
            "vig,Vigilada,embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires\n"
            "dual,Doble pila,embajada,CL,Santiago,America/Santiago\n",
            "name,kind,site,mgmt_ipv4,mgmt_ipv6,tags,status,retired_reason\n"
            "gw-vig,router,vig,127.0.0.2,,wan|monitoreo,activo,\n"
            "gw-dual-4,router,dual,127.0.0.3,,wan|monitoreo,activo,\n"
            "gw-dual-6,firewall,dual,,::1,wan,dado_de_baja,Reemplazado\n")  # fmt: skip
    capsys.readouterr()
    assert main([*args, "--familia", "6"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "ninguna de las 2 sedes marcadas para monitoreo (dual, vig) tiene dirección IPv6 de " \
        "gestión en su pasarela" in err and "mgmt_ipv6" in err  # fmt: skip
    assert "ninguna sede del inventario está marcada" not in err


def test_the_inventory_and_monitoring_agree_on_which_sites_are_monitored(tmp_path: Path) -> None:
    from inventario import catalog
    from monitoreo import sites

    db = tmp_path / "p.db"
    _import(db, tmp_path, "code,name,kind,country,city,timezone\n"
            "a,A,embajada,AR,Buenos Aires,UTC\nb,B,embajada,AR,Buenos Aires,UTC\n"
            "c,C,embajada,AR,Buenos Aires,UTC\nd,D,embajada,AR,Buenos Aires,UTC\n",
            "name,kind,site,mgmt_ipv4,tags,status,retired_reason\n"
            "gw-a,router,a,127.0.0.2,monitoreo,activo,\n"
            "gw-b,switch,b,127.0.0.3,monitoreo,activo,\n"  # not a gateway
            "gw-c,router,c,127.0.0.4,monitoreo,dado_de_baja,Reemplazado\n"
            "gw-d1,router,d,127.0.0.5,wan,activo,\n"
            "gw-d2,firewall,d,127.0.0.6,monitoreo,activo,\n")  # fmt: skip
    with SQLiteStore(db) as store:
        from_inventory = catalog.monitored_sites(store)
        from_monitoring = {c for c, s in sites.load_sites(store).items() if s.monitored}
        probed = sites.load_sites(store)["d"].gateway
    assert from_inventory == from_monitoring == {"a", "d"} and probed == "gw-d2"


def test_the_spool_lock_says_why_it_cannot_be_created_in_spanish(tmp_path: Path) -> None:
    from monitoreo.spool import SpoolLock

    (tmp_path / "archivo").write_text("")
    with pytest.raises(PukaraError) as got:
        SpoolLock(tmp_path / "archivo" / "cola" / "m.jsonl.lock")  # a file where a folder goes
    text = str(got.value)
    assert "no se puede crear el cerrojo de la cola: " in text
    reason = text.split("cola: ", 1)[1]
    assert reason.split(" (")[0] in {"ya existe", "una parte de la ruta no es una carpeta"}


def test_the_monitoring_cli_loads_no_state_machine_at_start() -> None:
    import subprocess
    import sys

    code = ("import sys, cli; print(sorted(m for m in ('monitoreo.states', 'monitoreo.stats', "
            "'monitoreo.sites', 'inventario.catalog') if m in sys.modules))")  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"  # `pukara --help` pays for none of them
