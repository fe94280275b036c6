"""A countermeasure's whole life on real lab sites: proposed, approved, activated through
pukara.ansible.run_playbook, verified by a real probe from the blocked address, expired and
reversed by ``vencer`` (two at once, from the CLI), leaving the host's ruleset as before.

Site c2 hangs from c1 (its link ends in c1's namespace): c2 is the attacker, its packets
reach c1 straight over that link, so c1's block is what stops them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from csirt import contramedidas, permitidos
from csirt.records import COUNTERMEASURE, INCIDENT, command
from lab import manage
from lab.sites import LabSite
from pukara.config import Settings, load_settings
from pukara.errors import UsageError
from pukara.events import format_timestamp, parse_timestamp
from pukara.store import SQLiteStore
from tests.conftest import ROOT, running_lab

pytestmark = pytest.mark.integration

SITES = [LabSite(index=3611, code="d1"), LabSite(index=3612, code="d2", parent="d1"),
         LabSite(index=3613, code="d3", down=True)]  # fmt: skip
D1, D2, D3 = SITES
INCIDENT_DOC = {"id": "01JINCIDENTE0000000000000B", "number": "INC-2026-0042",
                "status": "contencion", "title": "escaneo desde d2"}  # fmt: skip


@pytest.fixture(scope="module")
def cm_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, SITES, "pkd")


@pytest.fixture
def env(cm_lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    (tmp_path / "datos").mkdir(mode=0o700)
    values = {"PUKARA_DATA_DIR": str(tmp_path / "datos"),
              "PUKARA_CREDENTIALS": str(cm_lab.credentials_file)}  # fmt: skip
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def lab_store(env: dict[str, str]) -> Iterator[tuple[SQLiteStore, Settings]]:
    settings = load_settings(environ=env)
    store = SQLiteStore(settings.db, actor="ana")
    with store.transaction("inventario") as tx:  # the inventory knows d1 (not the attacker)
        tx.put("asset", ("gw-d1",), {
            "name": "gw-d1", "kind": "router", "site": "d1", "mgmt_ipv4": str(D1.v4),
            "mgmt_ipv6": str(D1.v6), "preferred_family": "4", "credential_profile": "lab"})  # fmt: skip
        tx.put("asset", ("gw-d3",), {
            "name": "gw-d3", "kind": "router", "site": "d3", "mgmt_ipv4": str(D3.v4),
            "preferred_family": "4", "credential_profile": "lab"})  # fmt: skip
        tx.put(INCIDENT, (INCIDENT_DOC["id"],), INCIDENT_DOC)
    yield store, settings
    store.close()


def ruleset(lab: manage.Lab, site: LabSite) -> str:
    return subprocess.run(["ip", "netns", "exec", lab.ns(site), "nft", "list", "ruleset"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def reaches(lab: manage.Lab, source: LabSite, address: str, port: int = 22) -> bool:
    """A real TCP connection from inside ``source``'s namespace, from its own address."""
    done = subprocess.run(
        ["ip", "netns", "exec", lab.ns(source), "timeout", "2", "bash", "-c",
         'exec 3<>"/dev/tcp/$0/$1"', address, str(port)],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def pukara(env: dict[str, str], *args: str, analyst: str = "ana") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--analista", analyst, "csirt", "contramedida", *args],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_block_verified_by_a_real_probe_expires_and_is_reversed_exactly(
    cm_lab: manage.Lab, env: dict[str, str], lab_store: tuple[SQLiteStore, Settings]
) -> None:
    store, settings = lab_store
    before = ruleset(cm_lab, D1)
    assert reaches(cm_lab, D2, str(D1.v4))  # the attacker gets through, for now

    with command(store, "ana") as cmd:
        cm = contramedidas.propose(
            cmd, settings, INCIDENT_DOC, kind="bloquear_ip", host="gw-d1", expires="2h",
            address=str(D2.v4), reason="escaneo SSH desde d2",
        )  # fmt: skip
    with command(store, "beto") as cmd:
        contramedidas.approve(cmd, settings, cm["id"])

    # check mode first: nothing changes, the record stays pending
    dry = contramedidas.activate(store, settings, cm["id"], analyst="ana", check=True)
    assert not dry.failed and ruleset(cm_lab, D1) == before
    assert (store.get(COUNTERMEASURE, [cm["id"]]) or {})["status"] == "pendiente"

    result = contramedidas.activate(store, settings, cm["id"], analyst="ana")
    assert not result.failed, result.error
    active = store.get(COUNTERMEASURE, [cm["id"]])
    assert active is not None and active["status"] == "activa" and active["claim"] is None
    run = active["runs"][-1]
    assert run["verified"] and run["status"] == "successful" and run["rc"] == 0
    assert run["job_id"] == result.data["job_id"] and len(run["artifacts_sha256"]) == 64
    assert {"rc", "status", "stdout"} <= set(run["files_sha256"])
    assert any(name.startswith("job_events/") for name in run["files_sha256"])
    # the real effect: from the blocked address nothing gets through, over IPv4
    assert not reaches(cm_lab, D2, str(D1.v4))
    assert contramedidas.active_past_expiry(store, INCIDENT_DOC["id"]) == []

    # its expiry comes: two `vencer` at once (cron and vigilar) reverse it exactly once
    past = format_timestamp(parse_timestamp(store.get(COUNTERMEASURE, [cm["id"]])["expires_at"])  # type: ignore[index]
                            - timedelta(hours=3))  # fmt: skip
    with store.transaction("prueba: el tiempo pasa") as tx:
        tx.put(COUNTERMEASURE, (cm["id"],), {**active, "expires_at": past})
    assert [c["id"] for c in contramedidas.active_past_expiry(store, INCIDENT_DOC["id"])] == [
        cm["id"]
    ]
    procs = [pukara(env, "vencer"), pukara(env, "vencer")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    done = store.get(COUNTERMEASURE, [cm["id"]])
    assert done is not None and done["status"] == "retirada" and done["retired_at"]
    reverses = [r for r in done["runs"] if r["playbook"] == "csirt/desbloquear.yml"]
    assert len(reverses) == 1 and reverses[0]["verified"]
    assert ruleset(cm_lab, D1) == before  # exactly as before
    assert reaches(cm_lab, D2, str(D1.v4))  # and the attacker's packets pass again
    assert contramedidas.active_past_expiry(store, INCIDENT_DOC["id"]) == []
    listed = pukara(env, "listar", "--formato", "json", "--incidente", "INC-2026-0042")
    out, err = listed.communicate(timeout=60)
    assert listed.returncode == 0, err
    assert '"status": "retirada"' in out and '"incident_number": "INC-2026-0042"' in out


def test_refusals_come_before_any_playbook_runs(
    cm_lab: manage.Lab, env: dict[str, str], lab_store: tuple[SQLiteStore, Settings]
) -> None:
    store, settings = lab_store
    artifacts = settings.data_dir / "ansible"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"address": str(D1.v4_host)}, "lista de permitidos"),  # this machine (HQ side)
        ({"address": str(D1.v4)}, "lista de permitidos"),  # the inventory's management address
        ({"address": "127.0.0.1"}, "lista de permitidos"),
        ({"address": "$(reboot)"}, "no es una dirección"),
        ({"address": "; rm -rf /"}, "no es una dirección"),
        ({"expires": None}, "toda contramedida vence"),
    ]
    for kw, words in cases:
        args: dict[str, Any] = {"kind": "bloquear_ip", "host": "gw-d1", "expires": "1h",
                                "address": str(D2.v4), **kw}  # fmt: skip
        with command(store, "ana") as cmd, pytest.raises(UsageError, match=words):
            contramedidas.propose(cmd, settings, INCIDENT_DOC, **args)
    assert list(store.scan(COUNTERMEASURE)) == []
    # the same from the CLI: Spanish, exit 2, nothing written
    p = pukara(env, "proponer", "INC-2026-0042", "--tipo", "bloquear_ip", "--equipo", "gw-d1",
               "--direccion", "$(reboot)", "--expira", "1h")  # fmt: skip
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "no es una dirección IP" in err and out == ""
    p = pukara(env, "proponer", "INC-2026-0042", "--tipo", "bloquear_ip", "--equipo", "gw-d1",
               "--direccion", str(D2.v4))  # fmt: skip
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "toda contramedida vence" in err

    # a stored record edited behind pukara's back: activation parses it again, runs nothing
    with command(store, "ana") as cmd:
        cm = contramedidas.propose(cmd, settings, INCIDENT_DOC, kind="bloquear_ip",
                                   host="gw-d1", expires="1h", address=str(D2.v4))  # fmt: skip
        contramedidas.approve(cmd, settings, cm["id"])
    tampered = {**store.get(COUNTERMEASURE, [cm["id"]]),  # type: ignore[dict-item]
                "target": {**cm["target"], "address": "198.51.100.7; reboot"}}  # fmt: skip
    with store.transaction("manipulado") as tx:
        tx.put(COUNTERMEASURE, (cm["id"],), tampered)
    with pytest.raises(permitidos.Refused, match="no es una dirección"):
        contramedidas.activate(store, settings, cm["id"], analyst="ana")
    assert not (artifacts / "artifacts").exists() or not any((artifacts / "artifacts").iterdir())
    left = store.get(COUNTERMEASURE, [cm["id"]])
    assert left is not None and left["status"] == "pendiente" and left["claim"] is None


def _active(store: SQLiteStore, settings: Settings, **kw: Any) -> dict[str, Any]:
    with command(store, "ana") as cmd:
        cm = contramedidas.propose(cmd, settings, INCIDENT_DOC, expires="1h", **kw)
        contramedidas.approve(cmd, settings, cm["id"])
    return cm


def _expire(store: SQLiteStore, cm_id: str) -> None:
    doc = store.get(COUNTERMEASURE, [cm_id])
    assert doc is not None
    past = format_timestamp(parse_timestamp(doc["proposed_at"]) - timedelta(minutes=1))
    with store.transaction("prueba: el tiempo pasa") as tx:
        tx.put(COUNTERMEASURE, (cm_id,), {**doc, "expires_at": past})


def test_one_unreachable_host_fails_alone_and_vencer_exits_3(
    cm_lab: manage.Lab, env: dict[str, str], lab_store: tuple[SQLiteStore, Settings]
) -> None:
    store, settings = lab_store
    before = ruleset(cm_lab, D1)
    good = _active(store, settings, kind="bloquear_ip", host="gw-d1", address=str(D2.v6))
    assert not contramedidas.activate(store, settings, good["id"], analyst="ana").failed
    bad = _active(store, settings, kind="bloquear_ip", host="gw-d3", address="198.51.100.7")
    with store.transaction("prueba: activa en un equipo que luego cae") as tx:
        tx.put(COUNTERMEASURE, (bad["id"],), {**bad, "status": "activa"})
    for cm in (good, bad):
        _expire(store, cm["id"])
    p = pukara(env, "vencer")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 3, (out, err)
    assert bad["id"] in err and "inalcanzable" in err
    assert (store.get(COUNTERMEASURE, [good["id"]]) or {})["status"] == "retirada"
    assert ruleset(cm_lab, D1) == before
    left = store.get(COUNTERMEASURE, [bad["id"]])
    assert left is not None and left["status"] == "pendiente_retiro" and left["claim"] is None
    assert left["runs"][-1]["error"] and not left["runs"][-1]["verified"]
    # still owed: the closing guard sees it, and the next vencer tries it again
    assert [c["id"] for c in contramedidas.active_past_expiry(store, INCIDENT_DOC["id"])] == [
        bad["id"]
    ]
    again = contramedidas.expire_due(store, settings)
    assert [r.target for r in again] == [bad["id"]] and again[0].failed


def test_an_account_is_disabled_and_given_back_exactly(
    cm_lab: manage.Lab, env: dict[str, str], lab_store: tuple[SQLiteStore, Settings]
) -> None:
    store, settings = lab_store
    if any(ln.startswith("operador:") for ln in Path("/etc/passwd").read_text().splitlines()):
        pytest.fail("la máquina ya tiene la cuenta operador: esta prueba actuaría sobre la real")
    pid = int((cm_lab.site_dir(D1) / "sshd.pid").read_text().split()[0])
    etc = Path(f"/proc/{pid}/root/etc")

    def lines() -> list[str]:
        return [ln for f in ("passwd", "shadow") for ln in (etc / f).read_text().splitlines()
                if ln.startswith("operador:")]  # fmt: skip

    before, machine = lines(), Path("/etc/shadow").read_bytes()
    cm = _active(store, settings, kind="deshabilitar_cuenta", host="gw-d1", account="operador")
    assert not contramedidas.activate(store, settings, cm["id"], analyst="ana").failed
    active = store.get(COUNTERMEASURE, [cm["id"]])
    assert active is not None and active["original"] == {
        "shell": "/bin/bash", "expire": "", "locked": False}  # fmt: skip
    assert lines() != before and lines()[0].endswith(":/usr/sbin/nologin")
    result = contramedidas.retire(store, settings, cm["id"], analyst="ana", reason="contenido")
    assert not result.failed, result.error
    assert lines() == before
    assert Path("/etc/shadow").read_bytes() == machine


def test_a_batch_blocks_both_families_on_one_host_in_two_runs(
    cm_lab: manage.Lab, env: dict[str, str], lab_store: tuple[SQLiteStore, Settings]
) -> None:
    store, settings = lab_store
    before = ruleset(cm_lab, D1)
    assert reaches(cm_lab, D2, str(D1.v4)) and reaches(cm_lab, D2, str(D1.v6))
    v4 = _active(store, settings, kind="bloquear_ip", host="gw-d1", address=str(D2.v4))
    v6 = _active(store, settings, kind="bloquear_ip", host="gw-d1", address=str(D2.v6_net))
    results = contramedidas.activate_many(store, settings, [v4["id"], v6["id"]], analyst="ana")
    assert [r.failed for r in results] == [False, False], [r.error for r in results]
    assert results[0].data["job_id"] != results[1].data["job_id"]  # one host: two runs
    assert not reaches(cm_lab, D2, str(D1.v4)) and not reaches(cm_lab, D2, str(D1.v6))
    for cm in (v4, v6):
        _expire(store, cm["id"])
    retired = contramedidas.expire_due(store, settings)
    assert sorted(r.target for r in retired if not r.failed) == sorted([v4["id"], v6["id"]])
    assert ruleset(cm_lab, D1) == before
    assert reaches(cm_lab, D2, str(D1.v4)) and reaches(cm_lab, D2, str(D1.v6))


def test_an_activation_that_reached_the_host_unverified_is_reversed_not_left(
    cm_lab: manage.Lab, env: dict[str, str], lab_store: tuple[SQLiteStore, Settings]
) -> None:
    store, settings = lab_store
    before = ruleset(cm_lab, D1)
    # someone else's element already covers the address: the run reaches d1 and fails there
    cover = ("add table inet pukara_csirt\n"
             "add set inet pukara_csirt block4 { type ipv4_addr; flags interval; }\n"
             "add element inet pukara_csirt block4 { 198.51.100.0/24 }\n")  # fmt: skip
    subprocess.run(["ip", "netns", "exec", cm_lab.ns(D1), "nft", "-f", "-"], input=cover,
                   text=True, check=True)  # fmt: skip
    try:
        cm = _active(store, settings, kind="bloquear_ip", host="gw-d1", address="198.51.100.7")
        result = contramedidas.activate(store, settings, cm["id"], analyst="ana")
        assert result.failed and "otro elemento" in str(result.error)
        doc = store.get(COUNTERMEASURE, [cm["id"]])
        assert doc is not None and doc["status"] == "pendiente_retiro"
        assert doc["runs"][-1]["reached"] and not doc["runs"][-1]["verified"]
        # the next vencer runs the reverse, which leaves the other element where it was
        done = contramedidas.expire_due(store, settings)
        assert [(r.target, r.failed) for r in done] == [(cm["id"], False)], done
        final = store.get(COUNTERMEASURE, [cm["id"]])
        assert final is not None and final["status"] == "retirada"
        assert "198.51.100.0/24" in ruleset(cm_lab, D1)
    finally:
        subprocess.run(["ip", "netns", "exec", cm_lab.ns(D1), "nft", "delete", "table", "inet",
                        "pukara_csirt"], check=False)  # fmt: skip
    assert ruleset(cm_lab, D1) == before
