"""`pukara ipv6 equipos` without the lab: targets, the setting and devices that do not answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from pukara.config import load_settings

SEDES = "code,name,kind,timezone\nlima,Sede central,sede_central,America/Lima\n"
ACTIVOS = """name,kind,site,mgmt_ipv4,mgmt_ipv6,os,status
gw-a,router,lima,127.0.0.9,,FRRouting,activo
sw-b,switch,lima,127.0.0.10,,,activo
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
       ) -> list[str]:  # fmt: skip
    base = ["--base-datos", str(tmp_path / "inv.db")]
    for name, text in (("sedes.csv", SEDES), ("activos.csv", ACTIVOS)):
        (tmp_path / name).write_text(text, "utf-8")
        assert main([*base, "inventario", "importar", str(tmp_path / name), "-q"]) == 0
    creds = tmp_path / "credenciales.toml"
    creds.touch(mode=0o600)
    creds.write_text(
        '[lab]\ncommunity = "comunidad-secreta"\n\n'
        '[red]\nusername = "red"\npassword = "clave-secreta-red"\n'
    )
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "0.3")
    capsys.readouterr()
    return base


def test_devices_that_do_not_answer_are_not_tested_and_exit_3(
    capsys: pytest.CaptureFixture[str], db: list[str]
) -> None:
    code, out, _ = run(capsys, *db, "ipv6", "equipos", "--credencial", "lab", "-f", "json")
    rows = json.loads(out)
    assert code == 3
    assert {r["host.name"] for r in rows} == {"gw-a", "sw-b"}
    assert len(rows) == 12 and all(r["status"] != "pass" for r in rows)
    d1 = next(r for r in rows if r["host.name"] == "gw-a" and r["check"] == "D1")
    assert d1["status"] == "not-tested" and "tiempo agotado" in d1["evidence"]["error"]
    d6 = next(r for r in rows if r["host.name"] == "sw-b" and r["check"] == "D6")
    assert d6["status"] == "not-tested" and "sistema" in d6["message"]  # no CLI for its os


def test_table_names_every_device(capsys: pytest.CaptureFixture[str], db: list[str]) -> None:
    code, out, err = run(capsys, *db, "ipv6", "equipos", "lima", "--credencial", "lab",
                         "--sin-ssh")  # fmt: skip
    assert code == 3 and "gw-a" in out and "sw-b" in out and "sin probar" in out
    assert "2 equipos no se pudieron revisar" in err


def test_unknown_target_and_no_devices_are_usage_errors(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, *db, "ipv6", "equipos", "nada")
    assert (code, out) == (2, "") and "«nada»" in err
    empty = ["--base-datos", str(tmp_path / "vacio.db")]
    assert main([*empty, "inventario", "importar", str(tmp_path / "sedes.csv"), "-q"]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, *empty, "ipv6", "equipos")
    assert code == 2 and "no tiene equipos de red" in err


def test_a_bad_global_prefix_setting_is_refused(
    capsys: pytest.CaptureFixture[str], db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_IPV6_PREFIJOS_GLOBALES", "fd70:756b:6172::/48,malo")
    code, _, err = run(capsys, *db, "ipv6", "equipos")
    assert code == 1 and "«malo»" in err


def test_the_setting_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "pukara.toml"
    path.write_text('[ipv6]\nprefijos_globales = ["fd70:756b:6172::/48"]\n')
    settings = load_settings(environ={"PUKARA_CONFIG": str(path)})
    assert settings.ipv6_prefijos_globales == ("fd70:756b:6172::/48",)
    env = {"PUKARA_CONFIG": str(path), "PUKARA_IPV6_PREFIJOS_GLOBALES": "2800:4f0::/32, fd00::/8"}
    assert load_settings(environ=env).ipv6_prefijos_globales == ("2800:4f0::/32", "fd00::/8")
    assert load_settings(environ={}).ipv6_prefijos_globales == ()


def test_the_run_is_stored_for_informe_and_diff_without_secrets(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, *db, "ipv6", "equipos", "--credencial", "lab", "--sin-ssh")
    assert code == 3 and "Corrida guardada: " in err
    first = err.split("Corrida guardada: ")[1].split()[0]
    code, _, err = run(capsys, *db, "ipv6", "equipos", "gw-a", "--credencial", "lab", "-f", "json")
    assert code == 3 and "Corrida guardada" not in err  # only the table says it

    code, out, _ = run(capsys, *db, "ipv6", "informe", first, "-f", "json")
    assert code == 0
    data = json.loads(out)
    devices = data["diagnostico"]["equipos"]
    assert devices["run"]["kind"] == "equipos" and devices["run"]["subjects"] == 2
    assert {s["subject"] for s in devices["subjects"]} == {"gw-a", "sw-b"}
    assert sum(devices["run"]["counts"].values()) == 12 and devices["run"]["counts"]["pass"] == 0
    assert devices["run"]["meta"]["ssh"] is False and devices["checks"][0]["category"] == "equipo"
    code, out, _ = run(capsys, *db, "ipv6", "informe", first)
    assert code == 0 and "gw-a" in out and "equipos de red" in out

    # the second run asked gw-a only (with SSH): sw-b's checks are no longer tested
    code, out, err = run(capsys, *db, "ipv6", "diff", "--tipo", "equipos", "-f", "json")
    rows = json.loads(out)
    assert code == 0 and all(r["subject"] == "gw-a" for r in rows)
    assert f"1 equipo solo en la corrida A ({first}, antes): sw-b; no se comparan." in err

    stored = (tmp_path / "inv.db").read_bytes()
    for name in ("inv.db-wal",):
        if (tmp_path / name).exists():
            stored += (tmp_path / name).read_bytes()
    assert b"gw-a" in stored and b"ipv6.resultado" in stored
    for secret in (b"comunidad-secreta", b"clave-secreta-red"):  # the profiles never reach it
        assert secret not in stored
