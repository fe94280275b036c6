from pathlib import Path

import pytest

from pukara.config import load_settings
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
