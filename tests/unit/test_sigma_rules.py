"""Loading Sigma rules: the shipped set is complete and sound; a bad file is refused with its
name and the reason."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from registros import detections
from registros.detections import RulesRefused, load_rules

GOOD = """
title: Prueba
id: 0d6f7a3e-1111-4c1a-9a00-000000000001
status: test
description: Una regla de prueba.
logsource: {product: linux, service: sshd}
detection:
  sel:
    log.syslog.appname: sshd
    event.outcome: failure
  condition: sel
level: low
"""


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "reglas"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def _refused(tmp_path: Path, text: str) -> str:
    folder = _folder(tmp_path, mala=text)
    with pytest.raises(RulesRefused) as caught:
        load_rules([folder], shipped=False)
    (path, reason), = caught.value.problems  # fmt: skip
    assert path == folder / "mala.yml"
    assert str(path) in caught.value.message
    return reason


def test_at_least_twenty_shipped_rules_each_complete() -> None:
    rules = load_rules()
    assert len(rules) >= 20
    for rule in rules:
        assert uuid.UUID(rule.id)
        assert rule.title and rule.description and rule.level in detections.SEVERITY
        assert any(t.startswith("attack.") for t in rule.tags), rule.path.name
        assert rule.ruleset == "pukara"
    kinds = {("silence" if r.silence else "corr" if r.correlation else "simple") for r in rules}
    assert kinds == {"silence", "corr", "simple"}


def test_every_shipped_document_has_the_sigma_metadata() -> None:
    for path in sorted(detections.SHIPPED.glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert {"title", "id", "description", "level", "status"} <= set(doc), path.name
            if "correlation" not in doc:
                assert {"product"} <= set(doc["logsource"]), path.name


def test_the_ministrys_folder_adds_to_the_shipped_rules(tmp_path: Path) -> None:
    folder = _folder(tmp_path, propia=GOOD)
    shipped = load_rules()
    rules = load_rules([folder])
    assert len(rules) == len(shipped) + 1
    own = [r for r in rules if r.ruleset == "ministerio"]
    assert [r.title for r in own] == ["Prueba"]


def test_unknown_field_is_refused_with_file_and_field(tmp_path: Path) -> None:
    reason = _refused(tmp_path, GOOD.replace("event.outcome", "user.nmae"))
    assert "campo 'user.nmae' desconocido" in reason


def test_a_yaml_list_instead_of_a_rule_is_refused_with_file_and_reason(tmp_path: Path) -> None:
    assert "cada documento YAML debe ser un mapa" in _refused(tmp_path, "- a\n- b\n")


def test_unknown_group_by_field_is_refused(tmp_path: Path) -> None:
    corr = (
        GOOD
        + """---
title: Corr
id: 0d6f7a3e-1111-4c1a-9a00-000000000002
correlation:
  type: event_count
  rules: [0d6f7a3e-1111-4c1a-9a00-000000000001]
  group-by: [source.ipp]
  timespan: 5m
  condition: {gte: 3}
"""
    )
    assert "campo 'source.ipp' desconocido" in _refused(tmp_path, corr)


def test_yaml_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    reason = _refused(tmp_path, "title: [roto\nid: x\n")
    assert reason.startswith("no es YAML válido")
    assert "línea" in reason


def test_rule_without_detection_is_refused(tmp_path: Path) -> None:
    reason = _refused(tmp_path, "title: x\nid: 0d6f7a3e-1111-4c1a-9a00-000000000009\n")
    assert reason.startswith("no es Sigma válido")


def test_keyword_search_without_field_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  sel:\n    log.syslog.appname: sshd\n    event.outcome: failure\n",
        "  sel:\n    - segfault\n",
    )
    assert "sin campo" in _refused(tmp_path, text)


def test_temporal_correlation_is_refused(tmp_path: Path) -> None:
    corr = (
        GOOD
        + """---
title: Corr
id: 0d6f7a3e-1111-4c1a-9a00-000000000002
correlation:
  type: temporal
  rules: [0d6f7a3e-1111-4c1a-9a00-000000000001]
  group-by: [source.ip]
  timespan: 5m
"""
    )
    assert "no admitida" in _refused(tmp_path, corr)


def test_same_id_in_two_files_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, una=GOOD, otra=GOOD.replace("Prueba", "Otra"))
    with pytest.raises(RulesRefused, match="repetido"):
        load_rules([folder], shipped=False)


def test_bad_silence_spec_is_refused(tmp_path: Path) -> None:
    text = GOOD + "pukara:\n  silencio: {campo: host.name, ventana: una hora}\n"
    assert "duración inválida" in _refused(tmp_path, text)


def test_lucene_query_folds_every_value_of_a_list(tmp_path: Path) -> None:
    """A list becomes ``a OR b`` on the .lc subfield, each value lowered (not ``f:(A OR B)``,
    which would skip the folding); |cased and regular expressions keep the field itself."""
    text = GOOD.replace(
        "    event.outcome: failure\n",
        "    user.name: [Root, ADMIN]\n    process.name|cased: SSHD\n    message|re: '.*X.*'\n",
    )
    (rule,) = load_rules([_folder(tmp_path, lista=text)], shipped=False)
    lucene = rule.queries[0].lucene
    assert "(user.name.lc:root OR user.name.lc:admin)" in lucene
    assert "process.name:SSHD" in lucene
    assert "message.keyword:/.*X.*/" in lucene
    sql = rule.queries[0].sql
    assert "`user.name.lc`='root' OR `user.name.lc`='admin'" in sql
    assert "`process.name` GLOB 'SSHD'" in sql


def test_raw_line_field_is_refused_with_the_way_out(tmp_path: Path) -> None:
    reason = _refused(
        tmp_path, GOOD.replace("event.outcome: failure", "event.original|contains: x")
    )
    assert "no se indexa" in reason and "use message" in reason


def test_base_rules_alert_on_their_own_only_with_generate(tmp_path: Path) -> None:
    corr = (
        GOOD
        + """---
title: Corr
id: 0d6f7a3e-1111-4c1a-9a00-000000000002
correlation:
  type: event_count
  rules: [0d6f7a3e-1111-4c1a-9a00-000000000001]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3}
"""
    )
    folder = _folder(tmp_path, sin=corr)
    assert [r.title for r in load_rules([folder], shipped=False)] == ["Corr"]
    (folder / "sin.yml").write_text(
        corr.replace("  type: event_count", "  type: event_count\n  generate: true")
    )
    assert sorted(r.title for r in load_rules([folder], shipped=False)) == ["Corr", "Prueba"]
