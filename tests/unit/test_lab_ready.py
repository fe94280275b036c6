"""What the lab waits for at each site, from the site table alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab import ready
from lab.sites import LabSite
from pukara.errors import LabError

CREDS = {"community": "c", "snmp_user": "u", "auth_key": "a" * 12, "priv_key": "p" * 12}


def test_each_site_is_waited_for_what_it_has() -> None:
    def names(site: LabSite, services_on: bool = True) -> list[str]:
        return list(ready.checks(site, CREDS, services_on))

    assert names(LabSite(1, "a")) == ["eco", "SNMP", "SSH"]
    assert names(LabSite(2, "b", tunnel=True)) == ["eco", "SNMP", "SSH", "túnel"]
    assert names(LabSite(3, "c", tunnel=True, tunnel_broken=True)) == ["eco", "SNMP", "SSH"]
    assert names(LabSite(4, "d", down=True, tunnel=True)) == []
    assert names(LabSite(5, "e"), services_on=False) == ["eco"]


def test_down_sites_and_the_children_of_a_down_hub_are_not_waited_for(tmp_path: Path) -> None:
    creds = tmp_path / "credenciales.toml"
    creds.write_text("[lab]\n" + "".join(f'{k} = "{v}"\n' for k, v in CREDS.items()))
    sites = [LabSite(1, "hub", down=True), LabSite(2, "hija", parent="hub")]
    started = time.monotonic()
    ready.wait(sites, creds, services_on=lambda s: True, timeout_s=1)
    assert time.monotonic() - started < 0.5


def test_unreadable_credentials_are_a_spanish_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="credenciales del laboratorio ilegibles"):
        ready.wait([LabSite(1, "a")], tmp_path / "no-existe.toml", services_on=lambda s: True)
