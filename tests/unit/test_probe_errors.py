"""Targets nothing can be sent to are refused before any probe; a send the system refuses is
an error, not loss."""

from __future__ import annotations

import pytest

from cli import main
from monitoreo import rounds, sites
from monitoreo.prober import ProbeOptions, Target
from monitoreo.watch import site_observation
from pukara.errors import UsageError
from pukara.store import SQLiteStore

UNSPECIFIED = "0.0.0.0"  # noqa: S104 - a target refused, nothing is bound
FAST = ProbeOptions(count=3, interval_ms=1, period_ms=10, timeout_ms=300)


@pytest.mark.parametrize(
    ("ref", "why"),
    [("::1%nope", "la zona «%nope» no es una interfaz"), (UNSPECIFIED, "no especificada"),
     ("::", "no especificada"), ("224.0.0.1", "multidifusión"), ("ff02::1", "multidifusión"),
     ("255.255.255.255", "difusión limitada"), ("::1%lo", "solo vale en una dirección de enlace")],
)  # fmt: skip
def test_an_address_nothing_can_be_sent_to_is_refused_naming_it(ref: str, why: str) -> None:
    with pytest.raises(UsageError) as got:
        sites.resolve([ref], {})
    assert f"«{ref}»: " in str(got.value) and why in str(got.value)
    assert "no se envió ningún sondeo" in str(got.value)


def test_a_zone_of_this_host_is_a_valid_target() -> None:
    assert [t.address for t in sites.resolve(["fe80::1%lo", "127.0.0.1"], {})] == [
        "fe80::1%lo",
        "127.0.0.1",
    ]


def test_sondear_refuses_them_all_with_exit_2_and_stores_nothing(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.db"
    code = main(["--base-datos", str(db), "monitoreo", "sondear", "::1%nope", UNSPECIFIED,
                 "224.0.0.1", "127.0.0.1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "«::1%nope»" in err and "«0.0.0.0»" in err and "«224.0.0.1»" in err
    assert "«127.0.0.1»" not in err
    with SQLiteStore(db) as store:
        assert list(store.search_events(dataset="monitoreo.sondeo")) == []


def test_a_send_the_system_refuses_is_an_error_with_nothing_sent_not_loss() -> None:
    """127.255.255.255: the loopback net's broadcast, which the kernel refuses (EACCES)."""
    rnd = rounds.run_round([Target("b", "127.255.255.255", None, "b")], FAST)
    (r,) = rnd.results
    assert r.result == "error" and r.stats.sent == 0 and "no permite enviar" in (r.error or "")
    row = rounds.to_row(r)
    assert row["sent"] == 0 and row["loss_pct"] is None and row["loss_high_pct"] is None
    site = sites.Site("b", "b", "UTC", "127.255.255.255", None, None, None, 99.0, 5.0, 500.0,
                      False, None, None, None)  # fmt: skip
    obs = site_observation(site, r, {"b"})
    assert obs.reachable is False and obs.sent == 0
    assert obs.detail is not None and obs.detail.startswith("no se pudo sondear: ")


def test_a_refused_tcp_row_tells_no_loss_interval() -> None:
    """Port 9 on loopback answers RST: refused, nothing lost, no 56 % upper bound shown."""
    (r,) = rounds.run_round([Target("t", "127.0.0.1", 9)], FAST).results
    row = rounds.to_row(r)
    assert row["result"] == "rechazado" and row["sent"] == 3 and row["loss_pct"] == 0.0
    assert row["loss_high_pct"] is None and row["loss_low_pct"] is None
