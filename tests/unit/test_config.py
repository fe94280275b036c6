import getpass
import os
import re
from pathlib import Path

import pytest

from pukara.config import default_analyst, load_settings
from pukara.errors import ConfigError


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pukara.toml"
    path.write_text(text)
    return path


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    conf = _toml(tmp_path, 'concurrency = 7\ntimeout_s = 2.5\ndb = "/srv/archivo.db"\n')
    env = {"PUKARA_CONFIG": str(conf), "PUKARA_CONCURRENCY": "9"}
    s = load_settings({"db": tmp_path / "flag.db"}, environ=env)
    assert s.db == tmp_path / "flag.db"  # flag
    assert s.concurrency == 9  # env beats file
    assert s.timeout_s == 2.5  # file beats default
    assert s.ansible_artifacts_keep == 50  # default
    assert s.source == conf


def test_pukara_section_is_accepted(tmp_path: Path) -> None:
    conf = _toml(tmp_path, "[pukara]\nconcurrency = 3\n")
    assert load_settings(environ={"PUKARA_CONFIG": str(conf)}).concurrency == 3


def test_default_db_lives_in_data_dir(tmp_path: Path) -> None:
    s = load_settings({"data_dir": tmp_path}, environ={})
    assert s.db == tmp_path / "pukara.db"
    assert s.lab_state_dir == tmp_path / "lab"


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings({"data_dir": tmp_path}, environ={})
    with pytest.raises(AttributeError):
        s.concurrency = 1  # type: ignore[misc]


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    conf = _toml(tmp_path, "concurrencia = 3\n")
    with pytest.raises(ConfigError, match=r"pukara\.toml: clave desconocida «concurrencia»"):
        load_settings(environ={"PUKARA_CONFIG": str(conf)})


def test_wrong_type_names_file_and_key(tmp_path: Path) -> None:
    conf = _toml(tmp_path, 'concurrency = "muchos"\n')
    with pytest.raises(ConfigError, match=r"pukara\.toml: la clave «concurrency» debe ser"):
        load_settings(environ={"PUKARA_CONFIG": str(conf)})


def test_malformed_toml_names_file(tmp_path: Path) -> None:
    conf = _toml(tmp_path, "concurrency = = 3\n")
    with pytest.raises(ConfigError, match=r"pukara\.toml: TOML mal formado"):
        load_settings(environ={"PUKARA_CONFIG": str(conf)})


def test_bad_env_value_names_variable() -> None:
    with pytest.raises(ConfigError, match="PUKARA_CONCURRENCY"):
        load_settings(environ={"PUKARA_CONCURRENCY": "-2"})


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PUKARA_CONFIG"):
        load_settings(environ={"PUKARA_CONFIG": str(tmp_path / "no-existe.toml")})


def test_config_found_in_home(tmp_path: Path) -> None:
    home_conf = Path.home() / ".config" / "pukara" / "pukara.toml"
    home_conf.parent.mkdir(parents=True)
    home_conf.write_text("concurrency = 4\n")
    assert load_settings(environ={}).concurrency == 4


def test_analyst_flag_over_pukara_analista_over_file_over_os_user(tmp_path: Path) -> None:
    conf = _toml(tmp_path, 'analyst = "desde-archivo"\n')
    env = {"PUKARA_CONFIG": str(conf), "PUKARA_ANALISTA": "desde-entorno"}
    assert load_settings({"analyst": "ana"}, environ=env).analyst == "ana"
    assert load_settings(environ=env).analyst == "desde-entorno"
    assert load_settings(environ={"PUKARA_CONFIG": str(conf)}).analyst == "desde-archivo"
    assert load_settings(environ={}).analyst == getpass.getuser()
    # only the documented Spanish variable is read
    assert load_settings(environ={"PUKARA_ANALYST": "x"}).analyst == getpass.getuser()


def test_analyst_without_a_user_name_falls_back_to_the_uid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("pwd.getpwuid", _no_passwd_entry)
    assert default_analyst() == f"uid {os.getuid()}"


def _no_passwd_entry(uid: int) -> None:
    raise KeyError(f"getpwuid(): uid not found: {uid}")


def test_analyst_is_one_clean_line(tmp_path: Path) -> None:
    s = load_settings({"analyst": "ana\x1b[31m\nquispe"}, environ={})
    assert s.analyst == "ana quispe"
    with pytest.raises(ConfigError, match="--analista"):
        load_settings({"analyst": "\x07"}, environ={})


def test_retention_days_default_env_and_file(tmp_path: Path) -> None:
    assert load_settings(environ={}).retention_days == 30
    assert load_settings(environ={"PUKARA_RETENTION_DAYS": "90"}).retention_days == 90
    conf = _toml(tmp_path, "retention_days = 45\n")
    assert load_settings(environ={"PUKARA_CONFIG": str(conf)}).retention_days == 45


@pytest.mark.parametrize("value", ["0", "-3"])
def test_retention_of_zero_or_negative_days_is_refused(value: str) -> None:
    with pytest.raises(
        ConfigError, match=r"PUKARA_RETENTION_DAYS: la clave «retention_days» debe ser al menos 1"
    ):
        load_settings(environ={"PUKARA_RETENTION_DAYS": value})


def test_zero_retention_in_the_file_names_the_minimum(tmp_path: Path) -> None:
    conf = _toml(tmp_path, "retention_days = 0\n")
    with pytest.raises(ConfigError, match="«retention_days» debe ser al menos 1"):
        load_settings(environ={"PUKARA_CONFIG": str(conf)})


@pytest.mark.parametrize(
    ("name", "value"),
    [("PUKARA_TIMEOUT_S", "0"), ("PUKARA_TIMEOUT_S", "-1"), ("PUKARA_TIMEOUT_S", "nan"),
     ("PUKARA_TIMEOUT_S", "1e9"), ("PUKARA_CONCURRENCY", "0")],
)  # fmt: skip
def test_a_timeout_or_concurrency_that_cannot_work_is_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={name: value})


def test_a_config_file_not_in_utf8_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "pukara.toml"
    cfg.write_bytes("analyst = 'José'\n".encode("cp1252"))
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(cfg))}: el texto no está en UTF-8 \(byte 0xe9"
    ):
        load_settings(environ={"PUKARA_CONFIG": str(cfg)})


def test_who_named_the_database_is_kept(tmp_path: Path) -> None:
    cfg = tmp_path / "pukara.toml"
    cfg.write_text(f'db = "{tmp_path / "f.db"}"\n')
    assert load_settings(environ={"HOME": str(tmp_path)}).db_origin is None
    env = {"PUKARA_CONFIG": str(cfg)}
    assert load_settings(environ=env).db_origin == f"{cfg} (clave «db»)"
    env["PUKARA_DB"] = str(tmp_path / "e.db")
    assert load_settings(environ=env).db_origin == "variable PUKARA_DB"
    assert load_settings({"db": tmp_path / "x.db"}, environ=env).db_origin == "--base-datos"
