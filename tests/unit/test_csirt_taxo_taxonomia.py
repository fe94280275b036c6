"""The CSIRT vocabularies: TLP 2.0, PAP, RSIT v1003, the reviewed RSIT -> CNSD map."""

from __future__ import annotations

import pytest

from csirt import taxonomia as tx
from pukara.errors import UsageError


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("tlp:amber", "AMBER"),
        ("amber", "AMBER"),
        ("TLP:AMBER+STRICT", "AMBER+STRICT"),
        ("tlp:amber+strict", "AMBER+STRICT"),
        ("WHITE", "CLEAR"),
        ("tlp:white", "CLEAR"),
        (" Red ", "RED"),
        ("green", "GREEN"),
    ],
)
def test_parse_tlp_accepts_tlp2_and_the_old_white(text: str, label: str) -> None:
    assert tx.parse_tlp(text) == label


@pytest.mark.parametrize("text", ["amber-strict", "tlp:blue", "", "tlp:", "ex:chr"])
def test_parse_tlp_refuses_in_spanish_naming_the_value(text: str) -> None:
    with pytest.raises(UsageError) as e:
        tx.parse_tlp(text)
    assert e.value.message.startswith("TLP: «")
    assert "AMBER+STRICT" in e.value.message  # the valid ones are listed


def test_tlp_rank_orders_clear_to_red() -> None:
    ranks = [tx.tlp_rank(t) for t in ("clear", "green", "amber", "amber+strict", "red")]
    assert ranks == [0, 1, 2, 3, 4]


def test_pap() -> None:
    assert tx.parse_pap("PAP:white") == "CLEAR"
    assert tx.parse_pap("green") == "GREEN"
    with pytest.raises(UsageError, match="PAP: «AMBER"):
        tx.parse_pap("AMBER+STRICT")  # PAP has no +STRICT


def test_rsit_is_the_misp_v1003_machinetag() -> None:
    assert len(tx.RSIT) == 11
    assert sum(len(t) for t in tx.RSIT.values()) == 39
    assert tx.RSIT["fraud"] == (
        "unauthorised-use-of-resources",
        "copyright",
        "masquerade",
        "phishing",
    )
    assert tx.check_rsit("FRAUD", "Phishing") == ("fraud", "phishing")
    assert tx.check_rsit("rsit:intrusions", "system-compromise") == (
        "intrusions",
        "system-compromise",
    )


def test_check_rsit_refuses_a_type_of_another_class() -> None:
    with pytest.raises(UsageError) as e:
        tx.check_rsit("fraud", "ddos")
    assert "«ddos»" in e.value.message and "phishing" in e.value.message
    with pytest.raises(UsageError, match="Clase RSIT: «fraude» no es un valor válido"):
        tx.check_rsit("fraude", "phishing")


def test_the_cnsd_map_covers_every_rsit_type_with_a_real_cnsd_value() -> None:
    pairs = {(c, t) for c, types in tx.RSIT.items() for t in types}
    assert set(tx.RSIT_TO_CNSD) == pairs
    for klass, value in tx.RSIT_TO_CNSD.values():
        assert klass in tx.CNSD
        assert value is None or value in tx.CNSD[klass]


def test_reviewed_mapping_decisions() -> None:
    # the CNSD lists phishing under Recopilación de información (RSIT: fraud)
    assert tx.cnsd_class("fraud", "phishing") == "Recopilación de información"
    assert tx.cnsd_tag("fraud", "phishing") == 'cnsd:"Recopilación de información"="phishing"'
    assert tx.cnsd_class("fraud", "copyright") == "Contenido abusivo"
    assert tx.cnsd("intrusion-attempts", "brute-force") == (
        "Intentos de intrusión",
        "intento-inicio-sesión",
    )
    assert tx.cnsd_tag("malicious-code", "malware-configuration") == 'cnsd:"Malware"'
    assert tx.rsit_tag("availability", "ddos") == 'rsit:availability="ddos"'


def test_rsit_class_of() -> None:
    assert tx.rsit_class_of("ddos") == "availability"
    with pytest.raises(UsageError):
        tx.rsit_class_of("ransomware")


def test_closing_vocabularies() -> None:
    assert tx.check_determination("False-Positive") == "false-positive"
    with pytest.raises(UsageError, match="Determinación: «maybe»"):
        tx.check_determination("maybe")
    assert tx.check_disposition("incident:confirmed") == "incident:confirmed"
    assert tx.check_disposition('incident-disposition:not-an-incident="faulty-indicator"') == (
        "not-an-incident:faulty-indicator"
    )
    assert tx.check_disposition("incident-disposition:duplicate") == "duplicate"
    assert tx.disposition_tag("incident:confirmed") == 'incident-disposition:incident="confirmed"'
    assert tx.disposition_tag("duplicate") == "incident-disposition:duplicate"
    with pytest.raises(UsageError, match="Disposición: «confirmed»"):
        tx.check_disposition("confirmed")
    assert tx.check_impact("con-impacto") == "con_impacto"
    with pytest.raises(UsageError, match="sin_impacto"):
        tx.check_impact("alto")


def test_error_cleans_the_value_for_the_terminal() -> None:
    with pytest.raises(UsageError) as e:
        tx.parse_tlp("\x1b[2Jred\x07")
    assert "\x1b" not in e.value.message and "\x07" not in e.value.message
