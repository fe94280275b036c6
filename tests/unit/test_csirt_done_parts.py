"""Two pieces the end-to-end case leans on: a brute force seen again in a later window folds
into its alert, and a live log's copy is tied to the hash Ansible's stat took."""

from __future__ import annotations

import hashlib
from pathlib import Path

from csirt.alertas_fuentes import Observables, from_registros
from csirt.evidencia_triage import _starts_with_hashed


def _detection(ts: str, group: dict[str, str] | None, key: str) -> dict[str, object]:
    return {
        "@timestamp": ts, "message": "Fuerza bruta SSH desde un mismo origen",
        "event": {"id": key, "severity": 73}, "rule": {"id": "a0b1", "name": "Fuerza bruta"},
        "related": {"ip": ["198.18.0.10"]},
        "pukara": {"alert": {"dedup_key": key, "group": group}},
    }  # fmt: skip


def test_a_grouped_detection_in_another_window_is_the_same_alert() -> None:
    obs = Observables()
    one = from_registros(
        _detection("2026-12-01T10:00:00Z", {"source.ip": "198.18.0.10"}, "k1"), obs
    )
    two = from_registros(
        _detection("2026-12-01T10:20:00Z", {"source.ip": "198.18.0.10"}, "k2"), obs
    )
    other = from_registros(
        _detection("2026-12-01T10:20:00Z", {"source.ip": "198.18.0.14"}, "k3"), obs
    )
    single = from_registros(_detection("2026-12-01T10:20:00Z", None, "k4"), obs)
    assert one and two and other and single
    assert one["source_ref"] == two["source_ref"] != other["source_ref"]
    assert single["source_ref"] == "k4"  # a hit of its own keeps its dedup key


def test_a_live_log_copy_matches_a_hash_that_covers_lines_written_meanwhile(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "auth.log"
    head, grown = b"linea 1\nlinea 2\n", b"linea 3\nlinea 4\n"
    copy.write_bytes(head + grown + b"linea 5\n")
    assert _starts_with_hashed(copy, len(head), hashlib.sha256(head).hexdigest())
    assert _starts_with_hashed(copy, len(head), hashlib.sha256(head + grown).hexdigest())
    assert not _starts_with_hashed(copy, len(head), hashlib.sha256(b"otra\n").hexdigest())
    assert not _starts_with_hashed(copy, len(head), hashlib.sha256(head + b"lin").hexdigest())
