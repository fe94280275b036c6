"""`pukara lab arriba --syslog`: a destination outside the lab is refused before anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main


def test_a_syslog_destination_outside_the_lab_is_refused_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PUKARA_LAB_DIR", str(tmp_path / "lab"))
    # a missing table as well: should the destination pass, nothing could be built anyway
    args = ["lab", "arriba", "--tabla", str(tmp_path / "no-existe.csv"), "--sin-esperar"]
    assert main([*args, "--syslog", "192.0.2.10:514"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "fuera del laboratorio" in err and "198.18.0.1:5514" in err
    assert not (tmp_path / "lab").exists()
