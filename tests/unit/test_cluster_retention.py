"""The lifecycle policies pukara installs where the engine has ILM or ISM."""

from __future__ import annotations

from pukara.store.cluster import retention


def test_ilm_rolls_over_daily_and_deletes_after_the_retention() -> None:
    phases = retention.ilm_policy(30)["policy"]["phases"]
    assert phases["hot"]["actions"]["rollover"]["max_age"] == "1d"
    assert phases["delete"] == {"min_age": "30d", "actions": {"delete": {}}}


def test_ism_does_the_same_for_pukaras_streams_only() -> None:
    policy = retention.ism_policy(45)["policy"]
    hot, delete = policy["states"]
    assert hot["actions"] == [{"rollover": {"min_index_age": "1d"}}]
    assert hot["transitions"][0]["conditions"] == {"min_rollover_age": "45d"}
    assert delete["actions"] == [{"delete": {}}]
    # retention_days is for the raw datasets, as in SQLite: not every stream
    assert policy["ism_template"][0]["index_patterns"] == [
        "pukara-eventos-monitoreo.enlace", "pukara-eventos-monitoreo.sondeo",
        "pukara-eventos-monitoreo.vpn",
    ]  # fmt: skip
