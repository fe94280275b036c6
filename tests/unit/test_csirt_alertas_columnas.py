"""JSON-lines alerts read by blocks, field by field, make what line-by-line reading makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from csirt import alertas_columnas as columnas
from csirt import alertas_fuentes as fuentes

NOW = "2026-12-01T16:00:00.000000Z"
USUAL: dict[str, Any] = {
    "source": "ids-lima", "source_ref": "ids-1", "title": "Escaneo de puertos",
    "description": "Suricata ET SCAN", "severity": 2, "tlp": "AMBER",
    "seen": "2026-11-30T10:00:00+00:00",
    "observables": ["ipv4:198.51.100.7", "domain:c1.malo.test"],
}  # fmt: skip


def _line_by_line(objs: list[Any]) -> list[dict[str, Any]]:
    obs = fuentes.Observables()
    out = []
    for obj in objs:
        alert = fuentes.shape(obj)(obj, obs, NOW)
        alert["raw"] = orjson.Fragment(orjson.dumps(obj))
        out.append(alert)
    return out


def _comparable(alerts: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps({**a, "id": ""}) for a in alerts]


# each changes the usual alert so that the full path must clean, parse or guess something
TRICKY: list[dict[str, Any]] = [
    {"title": " espacio delante"}, {"title": "espacio detrás "}, {"title": "tab\tdentro"},
    {"description": ""}, {"description": " con espacio"}, {"description": "línea\nnueva"},
    {"description": None}, {"title": "x" * 501}, {"source": 7}, {"source_ref": 12},
    {"title": "no\u00a0separable"}, {"severity": "alta"}, {"severity": "4"}, {"severity": 2.0},
    {"tlp": "tlp:red"}, {"tlp": "amber"}, {"pap": "GREEN"}, {"seen": "2026-11-30T10:00:00Z"},
    {"seen": "2026-11-30T10:00:00.123456Z"}, {"seen": "2026-11-30T10:00:00.1234Z"},
    {"seen": "2026-11-30T10:00:00-05:00"}, {"seen": "2026-11-30T100000.1+00:00"},
    {"seen": 1764496800}, {"seen": " 2026-11-30T10:00:00Z"}, {"observables": None},
    {"observables": []}, {"observables": "ipv4:198.51.100.9"},
    {"observables": [{"type": "ip", "value": "2001:db8::1"}]},
    {"observables": ["198.51.100.8", "ipv4:198.51.100.8"]},
    {"observables": ["sha256:" + "A" * 64]}, {"sourceRef": "th-1"},
]  # fmt: skip


@pytest.mark.parametrize("change", TRICKY, ids=[str(c)[:40] for c in TRICKY])
def test_a_block_with_one_unusual_alert_reads_as_line_by_line(
    change: dict[str, Any], tmp_path: Path
) -> None:
    objs = [{**USUAL, "source_ref": f"ids-{n}"} for n in range(5)]
    objs[2] = {**objs[2], **change}
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objs))
    reason = ""
    try:
        expected = _comparable(_line_by_line(objs))
    except fuentes.Bad as e:
        reason = str(e).rstrip(".")
    if reason:
        with pytest.raises(fuentes.AlertFileError, match=r"a\.jsonl:3: ") as err:
            fuentes.read_file(path, fuentes.Observables(), NOW)
        assert reason in str(err.value)
    else:
        assert _comparable(fuentes.read_file(path, fuentes.Observables(), NOW)) == expected


@pytest.mark.parametrize("change", TRICKY, ids=[str(c)[:40] for c in TRICKY])
def test_the_block_path_takes_only_what_the_full_path_keeps_as_it_is(
    change: dict[str, Any],
) -> None:
    objs = [{**USUAL, **change}, USUAL]
    lines = [orjson.dumps(o) for o in objs]
    got = columnas.block(objs, lines, fuentes.Observables(), NOW)
    if got is not None:
        assert _comparable(got) == _comparable(_line_by_line(objs))


def test_the_usual_block_is_read_by_columns_and_agrees(tmp_path: Path) -> None:
    objs = [{**USUAL, "source_ref": f"ids-{n}", "severity": 1 + n % 4,
             "seen": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
             "observables": [f"ipv4:198.51.100.{n % 7 + 1}", f"domain:c{n % 3}.malo.test"]}
            for n in range(300)]  # fmt: skip
    objs[6]["seen"] = "2026-11-07T06:06:00.250000Z"  # the stored form, kept
    objs[7]["seen"] = "2026-11-08T07:07:00+00:00"
    objs[8].pop("observables")
    objs[9]["observables"] = objs[10]["observables"] = ["ipv4:198.51.100.1"] * 2  # once
    lines = [orjson.dumps(o) for o in objs]
    got = columnas.block(objs, lines, fuentes.Observables(), NOW)
    assert got is not None
    assert _comparable(got) == _comparable(_line_by_line(objs))
    assert got[6]["first_seen"] == "2026-11-07T06:06:00.250000Z"
    assert got[7]["last_seen"] == "2026-11-08T07:07:00.000000Z"
    assert got[9]["observables"] == [{"type": "ipv4", "value": "198.51.100.1"}]
    assert len({a["id"] for a in got}) == len(got)
    assert [bytes(orjson.dumps(a["raw"])) for a in got] == lines  # the line as it came
    without = [{k: v for k, v in o.items() if k != "seen"} for o in objs[:3]]
    times = columnas.block(without, lines[:3], fuentes.Observables(), NOW)
    assert times is not None and {a["first_seen"] for a in times} == {NOW}


@pytest.mark.parametrize(
    "seen", ["2026-02-30T10:00:00Z", "2026-11-30T24:00:00+00:00", "2026-11-30T10:00:60Z"]
)
def test_an_impossible_time_in_a_usual_block_names_its_line(seen: str, tmp_path: Path) -> None:
    objs = [{**USUAL, "source_ref": f"ids-{n}"} for n in range(columnas.BLOCK + 10)]
    objs[columnas.BLOCK + 3]["seen"] = seen  # in the second block
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objs))
    with pytest.raises(fuentes.AlertFileError, match=rf"a\.jsonl:{columnas.BLOCK + 4}: seen no"):
        fuentes.read_file(path, fuentes.Observables(), NOW)


def test_blank_and_bad_lines_in_a_later_block_keep_their_numbers(tmp_path: Path) -> None:
    line = orjson.dumps(USUAL)
    path = tmp_path / "a.jsonl"
    body = [line] * (columnas.BLOCK + 2) + [b"", line, b"{no"]
    path.write_bytes(b"\n".join(body) + b"\n")
    with pytest.raises(fuentes.AlertFileError, match=rf"a\.jsonl:{columnas.BLOCK + 5}: JSON"):
        fuentes.read_file(path, fuentes.Observables(), NOW)
    path.write_bytes(b"\n".join(body[:-1]) + b"\n")
    assert len(fuentes.read_file(path, fuentes.Observables(), NOW)) == columnas.BLOCK + 3
