"""Settings the Ansible wrapper refuses before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from pukara.ansible import run_playbook
from pukara.config import load_settings
from pukara.errors import ConfigError


def test_keeping_zero_artifacts_is_refused_naming_the_key(tmp_path: Path) -> None:
    # ansible-runner reads rotate_artifacts=0 as "keep everything": refused, not obeyed
    settings = load_settings({"data_dir": tmp_path, "ansible_artifacts_keep": 0}, environ={})
    inventory = {"all": {"hosts": {"x": {"ansible_host": "198.18.0.2"}}}}
    with pytest.raises(ConfigError, match="ansible_artifacts_keep"):
        run_playbook("nucleo/ping.yml", inventory, settings=settings)
    assert not (tmp_path / "ansible").exists()
