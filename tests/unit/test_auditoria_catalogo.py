"""The Annex A catalogue of both editions and the complete crosswalk between them."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from importlib import resources

import pytest

from auditoria import catalogo
from pukara.errors import PukaraError

CLAUSES_2013 = {  # clause -> controls per category, as the 2013 Annex A numbers them
    5: [2], 6: [5, 2], 7: [2, 3, 1], 8: [4, 3, 3], 9: [2, 6, 1, 5], 10: [2], 11: [6, 9],
    12: [4, 1, 1, 4, 1, 2, 1], 13: [3, 4], 14: [3, 9, 1], 15: [3, 2], 16: [7], 17: [3, 1],
    18: [5, 3],
}  # fmt: skip
THEMES_2022 = {5: 37, 6: 8, 7: 14, 8: 34}
NEW_2022 = ["A.5.7", "A.5.23", "A.5.30", "A.7.4", "A.8.9", "A.8.10", "A.8.11", "A.8.12",
            "A.8.16", "A.8.23", "A.8.28"]  # fmt: skip


def expected(edition: str) -> list[str]:
    if edition == "2013":
        return [
            f"A.{clause}.{cat}.{n}"
            for clause, cats in CLAUSES_2013.items()
            for cat, count in enumerate(cats, start=1)
            for n in range(1, count + 1)
        ]
    return [f"A.{theme}.{n}" for theme, count in THEMES_2022.items() for n in range(1, count + 1)]


def raw_keys(name: str, table: str) -> list[str]:
    """Every key written under ``[table]``, duplicates included (TOML itself rejects them)."""
    text = resources.files("auditoria").joinpath("datos", name).read_text("utf-8")
    keys, inside = [], False
    for line in text.splitlines():
        if line.startswith("["):
            inside = line.strip() == f"[{table}]"
        elif inside and line.startswith('"'):
            keys.append(line.split('"')[1])
    return keys


@pytest.mark.parametrize(("edition", "count"), [("2013", 114), ("2022", 93)])
def test_every_control_of_each_edition_once(edition: str, count: int) -> None:
    catalogue = catalogo.load(edition)
    assert len(expected(edition)) == count
    assert list(catalogue.controls) == expected(edition)
    assert raw_keys(f"controles_{edition}.toml", "controls") == expected(edition)


def test_labels_are_short_and_our_own() -> None:
    """CI lint: no label over 12 words keeps standard text out of the shipped catalogue."""
    for edition in ("2013", "2022"):
        catalogue = catalogo.load(edition)
        labels = [c.label for c in catalogue.controls.values()] + list(catalogue.groups.values())
        for label in labels:
            assert 1 <= catalogo.words(label) <= catalogo.MAX_LABEL_WORDS, label
            assert not re.search(r"[.;:]$", label), label
        assert len({c.label for c in catalogue.controls.values()}) == len(catalogue.controls)


def test_2013_groups_and_2022_attributes() -> None:
    c13 = catalogo.load("2013")
    assert list(c13.groups) == [f"A.{n}" for n in range(5, 19)]
    assert {c.group for c in c13.controls.values()} == set(c13.groups)
    assert c13.controls["A.12.4.1"].group == "A.12"
    c22 = catalogo.load("2022")
    assert list(c22.groups) == list(catalogo.THEMES)
    themes = Counter(c.group for c in c22.controls.values())
    assert themes == {"organizacional": 37, "personas": 8, "físico": 14, "tecnológico": 34}
    for control in c22.controls.values():
        assert control.control_type and set(control.control_type) <= set(catalogo.CONTROL_TYPES)
        assert control.properties and set(control.properties) <= set(catalogo.PROPERTIES)
    assert c22.controls["A.8.15"].control_type == ("detective",)
    assert c22.controls["A.8.14"].properties == ("availability",)
    assert c22.controls["A.7.7"].properties == ("confidentiality",)


def test_crosswalk_is_complete_known_unique_and_reciprocal() -> None:
    data = tomllib.loads(
        resources.files("auditoria").joinpath("datos", "correspondencia.toml").read_text("utf-8")
    )
    pairs: dict[str, set[tuple[str, str, str]]] = {}
    for edition, target in (("2013", "2022"), ("2022", "2013")):
        table = f"from_{edition}"
        keys = raw_keys("correspondencia.toml", table)
        assert len(keys) == len(set(keys)), "ID duplicado"
        assert sorted(keys, key=catalogo.sort_key) == expected(edition), f"{table} incompleto"
        known = set(catalogo.load(target).controls)
        seen: set[tuple[str, str, str]] = set()
        for source, maps in data[table].items():
            assert maps, f"{source} sin correspondencia"
            targets = [m["to"] for m in maps]
            assert len(targets) == len(set(targets)), f"{source}: destino duplicado"
            for m in maps:
                assert m["to"] in known, f"{source} -> {m['to']} desconocido"
                assert m["relation"] in catalogo.RELATIONS
                assert 3 <= catalogo.words(m["rationale"]) <= 16, m["rationale"]
                a, b = (source, m["to"]) if edition == "2013" else (m["to"], source)
                rel = m["relation"] if edition == "2013" else catalogo.INVERSE[m["relation"]]
                seen.add((a, b, rel))
        pairs[edition] = seen
    # the same pairs both ways, a subset-of one way being superset-of the other
    assert pairs["2013"] == pairs["2022"]


def test_research_gaps_of_other_tools_are_mapped_right() -> None:
    for cid in ("A.6.1.3", "A.6.1.4", "A.6.1.5", "A.9.2.5", "A.9.2.6", "A.12.6.2",
                "A.12.7.1", "A.14.2.3", "A.14.2.4"):  # fmt: skip
        assert catalogo.crosswalk(cid, "2013"), cid
    for cid in ("A.13.2.1", "A.13.2.2", "A.13.2.3"):
        targets = {m.target for m in catalogo.crosswalk(cid)}
        assert "A.5.14" in targets
        assert "A.8.14" not in targets
    assert {m.target for m in catalogo.crosswalk("A.9.2.5")} == {"A.5.18"}
    assert {m.target for m in catalogo.crosswalk("A.12.7.1")} == {"A.8.34"}
    for cid in NEW_2022:
        maps = catalogo.crosswalk(cid, "2022")
        assert maps, cid
        assert {m.relation for m in maps} == {"intersects-with"}, cid


def test_crosswalk_relations_read_both_ways() -> None:
    [forward] = [m for m in catalogo.crosswalk("A.12.4.2") if m.target == "A.8.15"]
    assert forward.relation == "subset-of"
    back = {m.target: m.relation for m in catalogo.crosswalk("A.8.15")}
    assert back == {"A.12.4.1": "superset-of", "A.12.4.2": "superset-of", "A.12.4.3": "superset-of"}
    assert [m.relation for m in catalogo.crosswalk("a.12.4.4")] == ["equal"]


def test_require_and_unknown_ids_and_editions() -> None:
    assert catalogo.require("2022", "a.8.15").label == "Registro de eventos"
    with pytest.raises(PukaraError, match=r"no existe en la edición 2022.*¿quiso decir A\.8\.1"):
        catalogo.require("2022", "A.8.1.5")
    with pytest.raises(PukaraError, match=r"no existe en la edición 2013"):
        catalogo.require("2013", "A.19.1.1")
    with pytest.raises(PukaraError, match="edición desconocida: '2005'"):
        catalogo.load("2005")
    with pytest.raises(PukaraError, match="no tiene forma de control"):
        catalogo.crosswalk("ISO-1")
    assert catalogo.infer_edition("12.4.1") == "2013"
    assert catalogo.infer_edition("A.8.15") == "2022"


def test_catalogue_version_hashes_the_data_files() -> None:
    import hashlib

    info = catalogo.catalogue_version()
    assert info["editions"] == {"2013": "2026.12.1", "2022": "2026.12.1"}
    assert info["crosswalk"] == "2026.12.1"
    assert set(info["files"]) == set(catalogo.DATA_FILES)
    raw = resources.files("auditoria").joinpath("datos", "correspondencia.toml").read_bytes()
    assert info["files"]["correspondencia.toml"] == hashlib.sha256(raw).hexdigest()


def test_every_shipped_check_links_known_controls_that_the_crosswalk_joins() -> None:
    """Each check's controls exist, and each one maps to one of its controls of the other edition."""
    comprobaciones = pytest.importorskip("auditoria.comprobaciones")
    checks = comprobaciones.load()
    assert len(checks) >= 30
    for check in checks.values():
        for link in check.links:
            catalogo.require(link.edition, link.control)
        for edition in ("2013", "2022"):
            mine, theirs = (
                set(check.controls(edition)),
                set(check.controls(catalogo.other(edition))),
            )
            if not theirs:
                continue
            for cid in mine:
                targets = {m.target for m in catalogo.crosswalk(cid, edition)}
                assert targets & theirs, f"{check.id}: {cid} no se corresponde con {sorted(theirs)}"
