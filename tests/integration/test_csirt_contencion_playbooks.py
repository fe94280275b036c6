"""The containment playbooks on real lab sites, through pukara.ansible.run_playbook.

Each one is idempotent (a second run changes nothing), changes nothing in check mode, and its
reverse leaves the host exactly as before: the site's whole ``nft list ruleset`` and the
account's /etc/passwd and /etc/shadow lines compared before and after. The site's /etc is its
own (an overlay in sshd's mount namespace): the machine's /etc/shadow never changes.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from csirt.contramedidas import route_source
from csirt.contramedidas_run import BEFORE_TASK, host_inventory
from lab import manage, services
from lab.sites import LabSite
from pukara.ansible import PlaybookRun, run_playbook
from pukara.config import Settings, load_settings
from pukara.secrets import load_profile, usable_key_file
from tests.conftest import running_lab

pytestmark = pytest.mark.integration

# c2 hangs from c1: c1's namespace holds c2's link, so c2's packets reach c1 directly
SITES = [
    LabSite(index=3601, code="c1"),
    LabSite(index=3602, code="c2", parent="c1"),
]


def lab_site(code: str) -> LabSite:
    return next(s for s in SITES if s.code == code)


@pytest.fixture(scope="module")
def cont_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, SITES, "pkc")


@pytest.fixture
def run_settings(tmp_path: Path) -> Settings:
    (tmp_path / "datos").mkdir(mode=0o700)
    return load_settings({"data_dir": tmp_path / "datos", "ansible_artifacts_keep": 5}, environ={})


def ruleset(lab: manage.Lab, code: str) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", lab.ns(lab_site(code)), "nft", "list", "ruleset"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def site_etc(lab: manage.Lab, code: str) -> Path:
    """/etc as the site's sshd (and every session it starts) sees it."""
    pid = int((lab.site_dir(lab_site(code)) / "sshd.pid").read_text().split()[0])
    return Path(f"/proc/{pid}/root/etc")


def account(lab: manage.Lab, code: str, name: str = services.ACCOUNT) -> tuple[str, str]:
    etc = site_etc(lab, code)
    lines = [
        next(ln for ln in (etc / f).read_text().splitlines() if ln.startswith(f"{name}:"))
        for f in ("passwd", "shadow")
    ]
    return lines[0], lines[1]


def playbook(
    lab: manage.Lab, settings: Settings, name: str, code: str, variables: Mapping[str, Any],
    *, check: bool = False, events: list[Mapping[str, Any]] | None = None,
) -> PlaybookRun:  # fmt: skip
    profile = load_profile("lab", path=lab.credentials_file, environ={})
    s = lab_site(code)
    inventory = host_inventory(code, str(s.v4), profile, usable_key_file(profile))
    run = run_playbook(
        f"csirt/{name}.yml", inventory, settings=settings, extravars=variables, check=check,
        on_event=events.append if events is not None else None,
    )  # fmt: skip
    assert run.status == "successful", (name, run.stats)
    return run


def changed(run: PlaybookRun) -> int:
    return sum((run.stats.get("changed") or {}).values())


def machine_files() -> dict[str, str]:
    return {
        f: hashlib.sha256(Path(f"/etc/{f}").read_bytes()).hexdigest()
        for f in ("passwd", "shadow", "group", "gshadow")
    }


def test_each_site_has_its_own_etc_with_the_local_account(cont_lab: manage.Lab) -> None:
    machine = Path("/etc/passwd").read_text()
    assert f"\n{services.ACCOUNT}:" not in "\n" + machine
    passwd, shadow = account(cont_lab, "c1")
    assert passwd.endswith(":/nonexistent:/bin/bash") and shadow.split(":")[1] == "*"
    assert account(cont_lab, "c2")[0] == passwd


def test_block_and_unblock_restore_the_ruleset_exactly(
    cont_lab: manage.Lab, run_settings: Settings
) -> None:
    before = ruleset(cont_lab, "c1")
    c2 = lab_site("c2")
    v4 = {"pukara_address": str(c2.v4), "pukara_family": "4"}
    v6 = {"pukara_address": str(c2.v6_net), "pukara_family": "6"}

    # check mode: reports, changes nothing
    playbook(cont_lab, run_settings, "bloquear", "c1", v4, check=True)
    assert ruleset(cont_lab, "c1") == before

    assert changed(playbook(cont_lab, run_settings, "bloquear", "c1", v4)) > 0
    assert changed(playbook(cont_lab, run_settings, "bloquear", "c1", v4)) == 0  # idempotent
    assert changed(playbook(cont_lab, run_settings, "bloquear", "c1", v6)) > 0
    blocked = ruleset(cont_lab, "c1")
    assert "table inet pukara_csirt" in blocked
    assert str(c2.v4) in blocked and c2.v6_net.compressed in blocked

    # unblocking one leaves the other; check mode of the reverse changes nothing either
    playbook(cont_lab, run_settings, "desbloquear", "c1", v4, check=True)
    assert ruleset(cont_lab, "c1") == blocked
    assert changed(playbook(cont_lab, run_settings, "desbloquear", "c1", v4)) > 0
    assert "pukara_csirt" in ruleset(cont_lab, "c1")
    assert changed(playbook(cont_lab, run_settings, "desbloquear", "c1", v6)) > 0
    assert ruleset(cont_lab, "c1") == before  # the table went with its last element
    assert changed(playbook(cont_lab, run_settings, "desbloquear", "c1", v6)) == 0


def test_isolate_keeps_management_and_release_restores(
    cont_lab: manage.Lab, run_settings: Settings
) -> None:
    before = ruleset(cont_lab, "c2")
    sources = {"pukara_mgmt_sources": [route_source(str(lab_site("c2").v4))]}
    playbook(cont_lab, run_settings, "aislar", "c2", sources, check=True)
    assert ruleset(cont_lab, "c2") == before
    assert changed(playbook(cont_lab, run_settings, "aislar", "c2", sources)) > 0
    assert "policy drop" in ruleset(cont_lab, "c2")
    # the management path still works: a second run reaches the host, and changes nothing
    assert changed(playbook(cont_lab, run_settings, "aislar", "c2", sources)) == 0
    # from anywhere else (c1's side of the link) nothing gets through any more
    assert not _tcp_from(cont_lab, "c1", str(lab_site("c2").v4))
    playbook(cont_lab, run_settings, "liberar", "c2", {}, check=True)
    assert "policy drop" in ruleset(cont_lab, "c2")
    assert changed(playbook(cont_lab, run_settings, "liberar", "c2", {})) > 0
    assert ruleset(cont_lab, "c2") == before
    assert changed(playbook(cont_lab, run_settings, "liberar", "c2", {})) == 0
    assert _tcp_from(cont_lab, "c1", str(lab_site("c2").v4))


def test_isolate_refuses_management_sources_that_would_cut_ansible_off(
    cont_lab: manage.Lab, run_settings: Settings
) -> None:
    before = ruleset(cont_lab, "c2")
    profile = load_profile("lab", path=cont_lab.credentials_file, environ={})
    inventory = host_inventory("c2", str(lab_site("c2").v4), profile, usable_key_file(profile))
    run = run_playbook("csirt/aislar.yml", inventory, settings=run_settings,
                       extravars={"pukara_mgmt_sources": ["192.0.2.99"]})  # fmt: skip
    assert run.status == "failed"
    assert ruleset(cont_lab, "c2") == before


def test_disable_and_enable_an_account_exactly_and_only_in_the_site(
    cont_lab: manage.Lab, run_settings: Settings
) -> None:
    machine = machine_files()
    before = account(cont_lab, "c1")
    other_site = account(cont_lab, "c2")
    name = {"pukara_account": services.ACCOUNT}
    playbook(cont_lab, run_settings, "deshabilitar_cuenta", "c1", name, check=True)
    assert account(cont_lab, "c1") == before
    events: list[Mapping[str, Any]] = []
    run = playbook(cont_lab, run_settings, "deshabilitar_cuenta", "c1", name, events=events)
    assert changed(run) == 3  # lock, expire, nologin
    passwd, shadow = account(cont_lab, "c1")
    assert shadow.split(":")[1].startswith("!") and shadow.split(":")[7] == "1"
    assert passwd.endswith(":/usr/sbin/nologin")
    again = playbook(cont_lab, run_settings, "deshabilitar_cuenta", "c1", name)
    assert changed(again) == 0
    original = next(
        e["event_data"]["res"]["pukara_account_before"] for e in events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == BEFORE_TASK
    )  # fmt: skip
    assert original == {"shell": "/bin/bash", "expire": "", "locked": False}
    assert account(cont_lab, "c2") == other_site  # another site's /etc is its own
    assert machine_files() == machine  # and the machine's is untouched

    back = {**name, "pukara_original": original}
    playbook(cont_lab, run_settings, "habilitar_cuenta", "c1", back, check=True)
    assert account(cont_lab, "c1") == (passwd, shadow)
    assert changed(playbook(cont_lab, run_settings, "habilitar_cuenta", "c1", back)) == 3
    assert account(cont_lab, "c1") == before
    assert changed(playbook(cont_lab, run_settings, "habilitar_cuenta", "c1", back)) == 0
    assert machine_files() == machine


def _tcp_from(lab: manage.Lab, code: str, address: str, port: int = 22) -> bool:
    """A real TCP connection from inside site ``code``'s namespace (bash's /dev/tcp)."""
    done = subprocess.run(
        ["ip", "netns", "exec", lab.ns(lab_site(code)), "timeout", "2", "bash", "-c",
         'exec 3<>"/dev/tcp/$0/$1"', address, str(port)],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0
