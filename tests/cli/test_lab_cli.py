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
