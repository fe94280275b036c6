from pathlib import Path

import pytest

from pukara.errors import SecretsError
from pukara.secrets import Secret, load_profile


def _file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "credenciales.toml"
    path.write_text('[lima-core]\nusername = "netadmin"\npassword = "desde-archivo"\n')
    path.chmod(mode)
    return path


def test_env_beats_file_and_values_never_print(tmp_path: Path) -> None:
    path = _file(tmp_path, 0o600)
    env = {"PUKARA_CRED_LIMA_CORE_PASSWORD": "desde-entorno"}
    profile = load_profile("lima-core", required=["username", "password"], environ=env, path=path)
    assert profile.require("password").reveal() == "desde-entorno"
    assert profile.require("username").reveal() == "netadmin"
    text = f"{profile} {profile.fields} {profile.require('password')!r}"
    assert "desde-entorno" not in text and "desde-archivo" not in text


def test_open_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = _file(tmp_path, 0o644)
    with pytest.raises(
        SecretsError, match=r"credenciales\.toml: permisos -rw-r--r-- demasiado abiertos"
    ):
        load_profile("lima-core", environ={}, path=path)


def test_prompt_fills_only_missing_required_fields(tmp_path: Path) -> None:
    asked: list[tuple[str, str]] = []

    def prompt(profile: str, field: str) -> str:
        asked.append((profile, field))
        return "tecleado"

    profile = load_profile(
        "kbcs", required=["password"], environ={}, path=tmp_path / "nada.toml", prompt=prompt
    )
    assert asked == [("kbcs", "password")]
    assert profile.require("password") == Secret("tecleado")


def test_missing_field_says_how_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="PUKARA_CRED_KBCS_PASSWORD"):
        load_profile("kbcs", required=["password"], environ={}, path=tmp_path / "nada.toml")


def test_bad_profile_name() -> None:
    with pytest.raises(SecretsError, match="inválido"):
        load_profile("../etc", environ={})


def test_child_environment_drops_pukara_secrets() -> None:
    from pukara.secrets import child_environment

    env = {"PATH": "/usr/bin", "PUKARA_CRED_LAB_PASSWORD": "x", "PUKARA_ALERT_WEBHOOK": "http://u",
           "PUKARA_CREDENTIALS": "/c.toml", "PUKARA_DB": "/d.db"}  # fmt: skip
    out = child_environment({"SSH_AUTH_SOCK": "/s"}, environ=env)
    assert out == {"PATH": "/usr/bin", "PUKARA_DB": "/d.db", "SSH_AUTH_SOCK": "/s"}
