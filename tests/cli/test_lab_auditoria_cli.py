"""`pukara lab arriba/estado` and the audit hosts: the switches and the listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main


def test_arriba_brings_the_audit_hosts_unless_told_not_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lab", "arriba", "--help"]) == 0
    out, _ = capsys.readouterr()
    assert "--sin-auditoria" in out and "auditoría" in out


def test_estado_lists_the_audit_hosts_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "lab"
    monkeypatch.setenv("PUKARA_LAB_DIR", str(state))
    assert main(["lab", "estado", "--auditoria", "-f", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "code,name,profile,netns,ipv4,ipv6,firewall,running,sshd,description"
    ]
    assert "no están arriba" in err
    # recorded but not running (its processes gone): listed, and said to be down
    (state / "auditoria").mkdir(parents=True)
    (state / "auditoria" / "state.json").write_text(json.dumps({"hosts": ["aud1", "aud6"]}))
    assert main(["lab", "estado", "--auditoria", "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["running"], r["sshd"]) for r in rows] == [
        ("srv-aud1", False, False), ("srv-aud6", False, False),
    ]  # fmt: skip
    assert rows[1]["ipv6"] == "" and rows[0]["ipv4"] == "198.19.0.198"
    assert main(["lab", "estado", "-f", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("site.code,") and "Servidores de auditoría: 2" in err
