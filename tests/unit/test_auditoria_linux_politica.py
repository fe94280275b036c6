"""The audit policy: the shipped default, the ministry's override, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditoria import politica
from pukara.config import load_settings
from pukara.errors import ConfigError


def default_text() -> str:
    return politica.default_path().read_text(encoding="utf-8")


def test_the_default_policy_names_the_lab_and_the_audit_service_account() -> None:
    policy = politica.load()
    assert "auditoria" in policy.service_accounts
    assert policy.privileged == {"root"}
    assert policy.ntp_servers.covers("198.19.0.1") and policy.ntp_servers.covers("ntp.pukara.test")
    assert not policy.ntp_servers.covers("203.0.113.5")
    assert policy.syslog_collectors.covers("[fd70:756b:6172:a001::1]")
    assert policy.ports("srv-aud1").tcp == {22}
    assert "/usr/bin/su" in policy.setuid_baseline


def test_the_ministry_policy_comes_from_a_setting(tmp_path: Path) -> None:
    own = tmp_path / "politica.toml"
    own.write_text(default_text().replace("min_length = 12", "min_length = 16"), encoding="utf-8")
    conf = tmp_path / "pukara.toml"
    conf.write_text(f'[auditoria]\npolitica = "{own}"\n', encoding="utf-8")
    settings = load_settings(environ={"PUKARA_CONFIG": str(conf), "HOME": str(tmp_path)})
    assert settings.auditoria_politica == own
    assert politica.load(settings).min_length == 16
    assert politica.load(settings).source == str(own)
    assert politica.load().min_length == 12


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("min_length = 12", 'min_length = "doce"', "línea 21, campo «passwords.min_length»"),
    ("history = 5", "history = -1", "campo «passwords.history»: debe ser un número entero"),
    ('approved_servers = ["198.19.0.0/24"', 'approved_servers = ["no es;válido"',
     "campo «ntp.approved_servers»: 'no es;válido' no es una dirección IP"),
    ("ignore_loopback = true", "ignore_loopback = 1", "campo «listening.ignore_loopback»"),
    ("tcp = [22]", "tcp = [22, 70000]", "campo «listening.roles.default.tcp»"),
    ('privileged = ["root"]', "privileged = []", "campo «accounts.privileged»: la lista no puede"),
    ("[capacity]", "[capacidad]", "falta la tabla [capacity]"),
    ("dormant_days = 90\n", "", "campo «accounts»: falta el campo «dormant_days»"),
    ("[shell]", "[shell", "TOML mal formado"),
])  # fmt: skip
def test_a_malformed_policy_names_file_line_and_field(old: str, new: str, expected: str) -> None:
    text = default_text()
    assert old in text
    with pytest.raises(ConfigError) as caught:
        politica.parse(text.replace(old, new, 1), "/etc/pukara/politica.toml")
    assert "/etc/pukara/politica.toml" in str(caught.value)
    assert expected in str(caught.value)


def test_an_unknown_role_is_refused() -> None:
    text = default_text().replace("# [listening.hosts]", '[listening.hosts]\n"srv-*" = "web"\n#')
    with pytest.raises(ConfigError, match=r"campo «listening.hosts.srv-\*»: el rol 'web'"):
        politica.parse(text, "p.toml")


def test_an_unreadable_policy_file_is_a_spanish_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no existe la política de auditoría"):
        politica.load(path=tmp_path / "no-existe.toml")


def test_a_ministry_policy_written_before_the_list_age_limit_keeps_loading(tmp_path: Path) -> None:
    own = tmp_path / "politica.toml"
    text = default_text()
    assert "max_list_age_days = 7\n" in text
    own.write_text(text.replace("max_list_age_days = 7\n", ""), encoding="utf-8")
    conf = tmp_path / "pukara.toml"
    conf.write_text(f'[auditoria]\npolitica = "{own}"\n', encoding="utf-8")
    settings = load_settings(environ={"PUKARA_CONFIG": str(conf), "HOME": str(tmp_path)})
    assert politica.load(settings).apt_lists_max_days == politica.DEFAULT_LIST_AGE_DAYS
