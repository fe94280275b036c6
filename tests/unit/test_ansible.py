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


def test_large_task_results_reach_pukara_whole() -> None:
    """ansible-runner turns a result over MAX_EVENT_RES (700,000 by default) into {}: a
    command's output kept as evidence must not vanish, so pukara raises the bound."""
    from pukara.ansible import MAX_EVENT_RES, _envvars

    env = _envvars({}, None, Path("/tmp"))
    assert int(env["MAX_EVENT_RES"]) == MAX_EVENT_RES >= 16 * 1024 * 1024
