"""`pukara lab estado` with the internet lab recorded: its resolver, anchors and the settings."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from cli import main
from lab import internet
from pukara.config import load_settings


def _settings_block(err: str) -> str:
    """The lines from ``[ipv6]`` to the line before «o, solo en esta terminal:»."""
    lines = err.splitlines()
    start = lines.index("[ipv6]")
    return "\n".join(lines[start : lines.index("o, solo en esta terminal:")]) + "\n"


def test_estado_shows_the_resolver_the_anchors_and_the_settings_to_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "lab"
    monkeypatch.setenv("PUKARA_LAB_DIR", str(state))
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("PUKARA_CONFIG", "PUKARA_IPV6_ANCLAS", "PUKARA_IPV6_PREFIJOS_GLOBALES",
                 "PUKARA_IPV6_RAICES_TLS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert main(["lab", "estado"]) == 0
    assert "Laboratorio de internet" not in capsys.readouterr().err  # not up: nothing said
    (state / "internet").mkdir(parents=True)
    (state / "internet" / "estado.json").write_text(
        json.dumps({"domains": ["rree.test"], "namespaces": ["pkx-isrv"]})
    )
    assert main(["lab", "estado"]) == 0
    out, err = capsys.readouterr()
    anchors = list(internet.ANCHORS)
    assert "fd70:756b:6172:b100::11" in out  # the table's anchor column
    assert f"resolutor {internet.RESOLVER_V4} (o {internet.RESOLVER_V6})" in err
    assert f"anclas IPv6 {', '.join(anchors)}." in err
    block = _settings_block(err)
    roots = str(state / "internet" / "web" / "raiz.crt")  # W6c's trust store in the lab
    assert tomllib.loads(block) == {
        "ipv6": {"prefijos_globales": ["fd70:756b:6172::/48"], "anclas": anchors,
                 "raices_tls": roots}
    }  # fmt: skip
    # the lines, pasted into a pukara.toml (under [pukara] or not), are the settings the checks read
    config = tmp_path / "pukara.toml"
    config.write_text("[pukara]\nconcurrency = 8\n\n" + block)
    settings = load_settings(environ={"PUKARA_CONFIG": str(config), "HOME": str(tmp_path)})
    assert settings.ipv6_anclas == tuple(anchors)
    assert settings.ipv6_prefijos_globales == ("fd70:756b:6172::/48",)
    assert settings.ipv6_raices_tls == Path(roots)
    export = next(line for line in err.splitlines() if line.startswith("export "))
    env = dict(part.split("=", 1) for part in export.split()[1:])
    assert env == {"PUKARA_IPV6_PREFIJOS_GLOBALES": "fd70:756b:6172::/48",
                   "PUKARA_IPV6_ANCLAS": ",".join(anchors),
                   "PUKARA_IPV6_RAICES_TLS": roots}  # fmt: skip
    # once set, the lab says so instead of repeating the block
    monkeypatch.setenv("PUKARA_CONFIG", str(config))
    assert main(["lab", "estado", "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [] and "\n[ipv6]\n" not in err and "ya nombran el ULA" in err


def test_the_settings_name_the_whole_lab_ula_and_the_anchors_that_answer() -> None:
    hint = internet.checker_settings()
    assert hint["global_prefixes"] == ["fd70:756b:6172::/48"]
    assert hint["resolver"] == [internet.RESOLVER_V4, internet.RESOLVER_V6]
    assert hint["anchors"] == [internet.z.ROOT_NS.v6, internet.z.NS["ns1"].v6,
                               internet.z.WEB["dual"].v6, internet.z.MX["mx1"].v6]  # fmt: skip
