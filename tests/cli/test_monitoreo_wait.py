"""The probe wait: ``--espera``, else the configured ``timeout_s``, and in vigilar within the round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from monitoreo.cli import _wait_ms
from pukara.config import load_settings


def test_the_probe_wait_is_the_configured_timeout_unless_given() -> None:
    assert _wait_ms(None, load_settings(environ={"PUKARA_TIMEOUT_S": "0.3"})) == 300
    assert _wait_ms(800.0, load_settings(environ={"PUKARA_TIMEOUT_S": "0.3"})) == 800
    assert _wait_ms(None, load_settings(environ={"PUKARA_TIMEOUT_S": "300"})) == 60000


def test_vigilar_fits_the_configured_wait_into_a_short_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # timeout_s is 5 s by default: a 1 s round still works, the wait is what the round leaves
    code = main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "vigilar", "127.0.0.1",
                 "--ronda", "1", "-c", "1", "--rondas", "1", "--sin-snmp", "-q"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    code = main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "vigilar", "127.0.0.1",
                 "--ronda", "1", "-c", "3", "-t", "900", "--rondas", "1", "--sin-snmp", "-q"])  # fmt: skip
    assert code == 2
    assert "la ronda es más corta que sus sondeos" in capsys.readouterr().err


def test_sondear_reports_with_the_configured_wait(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "0.5")
    code = main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "sondear", "127.0.0.1",
                 "-c", "1", "-f", "json", "-q"])  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)[0]["received"] == 1


def test_a_wait_that_looks_like_seconds_is_pointed_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "sondear", "127.0.0.1",
                 "--no-guardar", "-c", "1", "-t", "5", "-f", "json"])  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert code in (0, 3)
    assert "--espera va en milisegundos" in err and "¿quiso decir -t 5000?" in err
    main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "sondear", "127.0.0.1",
          "--no-guardar", "-c", "1", "-t", "500", "-f", "json"])  # fmt: skip
    assert "milisegundos" not in capsys.readouterr().err


def test_vigilar_leaves_the_round_a_margin_after_its_last_wait() -> None:
    from monitoreo.cli import round_wait_ms

    # --ronda 5 -c 5 -p 1000: the last probe leaves at 4 s; its wait ends by 4.5 s, not 5 s
    assert round_wait_ms(5000, 5, 5, 1000) == 500
    assert round_wait_ms(5000, 1, 1, 1000) == 900  # a 1 s round keeps a tenth for itself
    assert round_wait_ms(300, 30, 5, 1000) == 300  # the configured wait when it fits
