"""`pukara lab` on a recorded state, without building anything."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from cli import main
from lab.sites import LabSite


def test_a_lab_left_half_changed_is_said_so_not_shown_as_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = [LabSite(index=3991, code="x1"), LabSite(index=3992, code="x2")]
    hub = [flat[0], LabSite(index=3992, code="x2", parent="x1")]
    state = tmp_path / "lab"
    state.mkdir()
    (state / "state.json").write_text(json.dumps({
        "prefix": "pk", "namespaces": [], "sites": [asdict(s) for s in flat],
        "changing": [asdict(s) for s in hub],
    }))  # fmt: skip
    monkeypatch.setenv("PUKARA_LAB_DIR", str(state))
    for args in (["lab", "estado"], ["lab", "esperar", "--tiempo", "1"]):
        assert main(args) == 1
        out, err = capsys.readouterr()
        assert out == "" and "a medio cambiar" in err and "lab abajo" in err


def test_a_lab_that_is_down_is_said_so_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PUKARA_LAB_DIR", str(tmp_path / "lab"))  # never brought up
    assert main(["lab", "estado", "-f", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("site.code,") and len(out.splitlines()) == 1
    assert "no está arriba" in err
    for args in (["lab", "alterar", "emb-ar", "--caida"], ["lab", "esperar", "--tiempo", "1"]):
        assert main(args) == 1
        out, err = capsys.readouterr()
        assert out == "" and "no está arriba" in err, args


def test_arriba_brings_the_internet_lab_by_default_and_says_how_to_skip_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lab", "arriba", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--internet" in out and "--sin-internet" in out and "--dominios" in out


def test_estado_shows_the_internet_lab_in_its_own_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "lab"
    (state / "internet").mkdir(parents=True)
    (state / "internet" / "estado.json").write_text(json.dumps(
        {"namespaces": ["pk-isrv", "pk-ires", "pk-iv4"], "domains": ["rree.test", "x.test"]}
    ))  # fmt: skip
    monkeypatch.setenv("PUKARA_LAB_DIR", str(state))
    assert main(["lab", "estado"]) == 0
    out, _ = capsys.readouterr()
    assert "Laboratorio de internet" in out and "Resolutor (unbound)" in out
    assert "198.19.16.6" in out
    assert main(["lab", "estado", "-f", "csv"]) == 0  # CSV stays the sites' table alone
    out, _ = capsys.readouterr()
    assert "Laboratorio de internet" not in out and "198.19.16.6" not in out
