"""The mappings pukara's data streams get: what the contract with SQLite needs of them."""

from __future__ import annotations

from pukara.store.cluster import templates


def _props(flat_object_type: str = "flat_object") -> dict:  # type: ignore[type-arg]
    return templates.mappings(flat_object_type)["properties"]


def test_timestamps_keep_microseconds() -> None:
    # date (milliseconds) would sort two events of one millisecond by event.id alone
    assert _props()["@timestamp"] == {"type": "date_nanos"}


def test_addresses_and_numbers_keep_a_text_form_for_wildcards() -> None:
    source = _props()["source"]["properties"]
    for name, kind in (("ip", "ip"), ("port", "long")):
        assert source[name]["type"] == kind
        assert source[name]["fields"]["text"]["type"] == "keyword"
    dynamic = {next(iter(d)): next(iter(d.values())) for d in
               templates.mappings("flat_object")["dynamic_templates"]}  # fmt: skip
    assert dynamic["strings_as_keyword"]["mapping"]["type"] == "keyword"
    for name, kind in (("longs", "long"), ("doubles", "double"), ("booleans", "boolean")):
        assert dynamic[name]["mapping"]["type"] == kind
        assert dynamic[name]["mapping"]["fields"]["text"]["type"] == "keyword"


def test_the_message_is_text_with_its_whole_value_as_a_keyword() -> None:
    message = _props()["message"]
    assert message["type"] == "text" and message["fields"]["keyword"]["type"] == "keyword"


def test_structured_data_is_flattened_on_elasticsearch_flat_object_on_opensearch() -> None:
    def structured(kind: str) -> dict:  # type: ignore[type-arg]
        syslog = _props(kind)["log"]["properties"]["syslog"]["properties"]
        return syslog["structured_data"]  # type: ignore[no-any-return]

    assert structured("flattened") == {"type": "flattened"}
    assert structured("flat_object") == {"type": "flat_object"}
