"""Triage of a real lab host over SSH (ansible-runner): each artifact lands as evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli import main
from csirt import custodia
from csirt.casos import open_incident
from csirt.records import EVIDENCE, command
from lab import manage
from lab.sites import LabSite
from pukara.store import SQLiteStore
from tests.conftest import running_lab, write_lab_inventory

pytestmark = pytest.mark.integration
INC = f"INC-{datetime.now(UTC).year}-0001"  # the first case of the year: the fixture opens it

# indexes of their own, away from the other tests' sites
TRIAGE_SITES = [LabSite(index=3611, code="v1", delay_ms=5.0)]


@pytest.fixture(scope="module")
def triage_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, TRIAGE_SITES, "pkv")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(
    triage_lab: manage.Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    """The lab site's gateway in the inventory (profile «lab») and one open incident."""
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(triage_lab.credentials_file))
    db = tmp_path / "pukara.db"
    sedes, activos = write_lab_inventory(tmp_path / "inv", TRIAGE_SITES)
    for path in (sedes, activos):
        code, _, err = run(capsys, "--base-datos", str(db), "inventario", "importar", str(path),
                           "--silencioso")  # fmt: skip
        assert code == 0, err
    with SQLiteStore(db) as store, command(store, "ana") as cmd:
        number = open_incident(cmd, title="Intrusión en v1", severity=3)["number"]
    assert number.endswith("-0001")
    return db


def _login(lab: manage.Lab, site: LabSite) -> None:
    """An SSH login of our own, so the host's authentication log has a line to show."""
    subprocess.run(
        ["ssh", "-i", str(lab.key), "-o", f"UserKnownHostsFile={lab.known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         f"root@{site.v4}", "true"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


def test_triage_of_a_lab_host_lands_as_evidence_with_custody(
    triage_lab: manage.Lab, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = TRIAGE_SITES[0]
    log = triage_lab.site_dir(site) / "messages.log"
    _login(triage_lab, site)
    deadline = time.monotonic() + 10
    while b"Accepted publickey" not in (log.read_bytes() if log.exists() else b""):
        assert time.monotonic() < deadline, "sshd no registró el ingreso"
        time.sleep(0.1)
    before = datetime.now(UTC)
    # the lab host has no /var/log/auth.log (no journald nor system rsyslog writes one here):
    # its rsyslog keeps the site's syslog, sshd's lines included, in the site's folder
    code, out, err = run(capsys, "--base-datos", str(db), "--analista", "ana", "csirt",
                         "evidencia", "recolectar", INC, "--equipo", site.hostname,
                         "--registro-auth", "/no/existe/auth.log", "--registro-auth", str(log),
                         "--formato", "json")  # fmt: skip
    assert code == 0, err
    items = {d["kind"]: d for d in json.loads(out)}
    assert set(items) == {"conexiones", "procesos", "sesiones", "registro_auth"}, err
    for item in items.values():
        assert item["host"] == site.hostname and item["incident_number"] == INC
        acquired = datetime.fromisoformat(item["acquired_at"].replace("Z", "+00:00"))
        assert before - timedelta(seconds=1) <= acquired <= datetime.now(UTC)
    # when the host answered each command, most volatile first (RFC 3227), not when stored
    order = [
        items[k]["acquired_at"] for k in ("conexiones", "procesos", "sesiones", "registro_auth")
    ]
    assert order == sorted(order) and len(set(order)) == 4
    assert all(d["acquired_at"] < d["added_at"] for d in items.values())
    with SQLiteStore(db) as store:
        job_ids = {e["ansible"]["job_id"] for e in store.search_events(dataset="ansible.evento")}
        assert len(job_ids) == 1
        job = job_ids.pop()
        entries = {k: custodia.history(store, d["id"]) for k, d in items.items()}
        stored = {d["id"]: d for d in store.entities(EVIDENCE)}
    assert set(stored) == {d["id"] for d in items.values()}
    for kind, (entry,) in entries.items():
        assert entry["action"] == "adquirida" and entry["analyst"] == "ana", kind
        assert job in entry["purpose"] and job in entry["where"], entry
        assert entry["sha256_after"] == items[kind]["sha256"]
    # what the host said, as it said it
    data_dir = Path(db).parent / "home" / "data" / "pukara" / "evidencia"
    text = {k: (data_dir / d["stored_path"]).read_text() for k, d in items.items()}
    assert "ESTAB" in text["conexiones"] and f"{site.v4}:22" in text["conexiones"]
    assert "sshd" in text["conexiones"]  # -p: the process that holds the socket
    assert text["procesos"].split()[:3] == ["PID", "PPID", "USER"] and "sshd" in text["procesos"]
    assert "Accepted publickey for root" in text["registro_auth"]
    assert items["registro_auth"]["name"] == "messages.log"
    assert f"{site.v4}" in entries["registro_auth"][0]["where"]
    assert "SHA-256 en el equipo al empezar" in entries["registro_auth"][0]["where"]
    # and all of it verifies
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "verificar",
                       INC)  # fmt: skip
    assert code == 0, err
    # and a tampered copy is caught
    blob = data_dir / items["registro_auth"]["stored_path"]
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes().replace(b"Accepted", b"Rejected"))
    blob.chmod(0o400)
    code, out, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "verificar",
                         INC, "--formato", "json")  # fmt: skip
    assert code == 3, err
    [finding] = json.loads(out)
    assert finding["kind"] == "alterada" and finding["evidence_id"] == items["registro_auth"]["id"]


def test_a_host_that_cannot_be_reached_is_a_partial_result_and_records_nothing(
    triage_lab: manage.Lab, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an address of the lab where no host answers, with the lab's credentials
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "recolectar",
                       INC, "--equipo", "198.18.250.9", "--credencial", "lab")  # fmt: skip
    assert code == 3, err
    assert "198.18.250.9" in err and "inalcanzable" in err
    with SQLiteStore(db) as store:
        assert list(store.entities(EVIDENCE)) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--equipo", "gw-v1; reboot"], "no es un activo ni una sede del inventario"),
        (["--equipo", "$(reboot)"], "no es un activo ni una sede"),
        (["--equipo", "198.18.250.9"], "indique el perfil con --credencial"),
        (
            ["--equipo", "v1", "--registro-auth", "/var/log/{{ lookup('pipe','id') }}"],
            "ruta de registro inválida",
        ),
    ],
)
def test_bad_hosts_and_paths_are_refused_before_anything_runs(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "--base-datos", str(db), "csirt", "evidencia", "recolectar",
                       INC, *args)  # fmt: skip
    assert code == 2 and needle in err, err
    with SQLiteStore(db) as store:
        assert list(store.search_events(dataset="ansible.evento")) == []


def test_the_playbook_changes_nothing_and_runs_in_check_mode(
    triage_lab: manage.Lab, tmp_path: Path
) -> None:
    """Plain ansible-playbook, twice with --check and once without: nothing changed on the
    host, every time (the copy of the log lands on this machine, not there)."""
    site = TRIAGE_SITES[0]
    inventory = tmp_path / "inventario.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"v1": {
        "ansible_host": str(site.v4), "ansible_user": "root",
        "ansible_ssh_private_key_file": str(triage_lab.key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={triage_lab.known_hosts} "
                                   "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}))  # fmt: skip
    log = triage_lab.site_dir(site) / "messages.log"
    playbook = Path(__file__).resolve().parents[2] / "playbooks" / "csirt" / "triage.yml"
    ansible = Path(sys.executable).parent / "ansible-playbook"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    # no SSH master left behind (ControlMaster off): nothing of the test outlives it
    env |= {"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=no"}  # fmt: skip
    for i, check in enumerate((True, True, False)):
        extra = tmp_path / f"vars{i}.json"  # each run copies the log into a folder of its own
        extra.write_text(json.dumps({"triage_dest": str(tmp_path / f"copia{i}"),
                                     "triage_auth_logs": [str(log)]}))  # fmt: skip
        done = subprocess.run(
            [str(ansible), "-i", str(inventory), str(playbook), "-e", f"@{extra}",
             *(["--check"] if check else [])],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        recap = done.stdout.rsplit("PLAY RECAP", 1)[1]
        assert "failed=0" in recap and "unreachable=0" in recap, recap
        # nothing changed on the host; only the copy of the log, here, counts as a change
        assert ("changed=0" if check else "changed=1") in recap, done.stdout
    assert (tmp_path / "copia2" / "v1" / "auth.log").read_bytes()[:100] == log.read_bytes()[:100]
