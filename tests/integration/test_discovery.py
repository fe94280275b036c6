"""Discovery against the lab's real snmpd (v2c, v3), sshd (netmiko) and Ansible."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from cli import main
from inventario import ansible_inventory, catalog, discovery, files, observations
from lab import manage
from pukara.ansible import run_playbook
from pukara.config import Settings
from pukara.store import SQLiteStore
from tests.conftest import TEST_SITES, site, write_lab_inventory
from tests.integration.conftest import SNMP_SITES, snmp_site

pytestmark = pytest.mark.integration


@pytest.fixture
def inventory(
    lab: manage.Lab, store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SQLiteStore:
    """The test lab's sites and gateways declared in the inventory, with the lab profile."""
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(lab.credentials_file))
    sites = [
        "code,name,kind,timezone,country,vpn_kit",
        "lima,Sede central,sede_central,America/Lima,PE,no",
    ]
    assets = ["name,kind,site,mgmt_ipv4,mgmt_ipv6,preferred_family,device_type,credential_profile"]
    for s in TEST_SITES:
        sites.append(f"{s.code},Sede {s.code},embajada,Europe/Madrid,ES,sí")
        family = "6" if s.code == "t2" else "4"
        assets.append(f"{s.hostname},router,{s.code},{s.v4},{s.v6},{family},linux,lab")
    for name, rows in (("s.csv", sites), ("a.csv", assets)):
        (tmp_path / name).write_text("\n".join(rows) + "\n")
        catalog.import_file(store, files.read_file(tmp_path / name), dry_run=False)
    return store


def _by(report: discovery.Report, method: str) -> dict[str, object]:
    return {r.target: r for r in report.runs[method].results}


def test_snmp_v3_then_v2c_finds_name_serial_and_addresses(
    inventory: SQLiteStore, settings: Settings
) -> None:
    targets = discovery.resolve(inventory, ["t1", "t2", "t3", "t4"], [])
    report = discovery.run(inventory, settings, targets, methods=["snmp"], timeout_s=0.5)
    results = _by(report, "snmp")
    for code in ("t1", "t2"):
        s = site(code)
        address = str(s.v6 if code == "t2" else s.v4)
        r = results[address]
        assert r.status == "ok", r.error
        facts = r.data["facts"]
        assert (facts["name"], facts["serial"]) == (s.hostname, s.serial)
        assert {a["ip"] for a in facts["addresses"]} == {str(s.v4), str(s.v6)}
        assert facts["neighbours"][0]["remote_name"] == "lima-core"
        assert r.data["credential"] == "lab/v3"
    down = results[str(site("t4").v4)]
    assert down.failed and "tiempo agotado" in (down.error or "")
    assert report.failed


def test_credential_ladder_and_wrong_keys(
    inventory: SQLiteStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_CRED_MALO_SNMP_USER", "pukara")
    monkeypatch.setenv("PUKARA_CRED_MALO_AUTH_KEY", "clave-equivocada-1")
    monkeypatch.setenv("PUKARA_CRED_MALO_PRIV_KEY", "clave-equivocada-2")
    monkeypatch.setenv("PUKARA_CRED_MALO_COMMUNITY", "comunidad-equivocada")
    community = tomllib.loads(Path(os.environ["PUKARA_CREDENTIALS"]).read_text())
    monkeypatch.setenv("PUKARA_CRED_SOLOV2_COMMUNITY", community["lab"]["community"])
    t1 = discovery.Target(str(site("t1").v4))
    only_bad = discovery.run(inventory, settings, [t1], methods=["snmp"], profiles=["malo"],
                             timeout_s=0.5)  # fmt: skip
    r = only_bad.runs["snmp"].results[0]
    assert r.failed and "rechazada" in (r.error or "")
    ladder = discovery.run(inventory, settings, [t1, discovery.Target(str(site("t2").v6))],
                           methods=["snmp"], profiles=["malo", "solov2"], timeout_s=0.5)  # fmt: skip
    assert [x.data.get("credential") for x in ladder.runs["snmp"].results] == [
        "solov2/v2c", "solov2/v2c"]  # fmt: skip
    assert observations.remembered_credentials(inventory)[str(site("t1").v4)] == "solov2"


def test_ssh_and_ansible_and_a_second_run_changes_nothing(
    inventory: SQLiteStore, settings: Settings
) -> None:
    targets = discovery.resolve(inventory, ["t1", "t2", "t4"], [])
    first = discovery.run(inventory, settings, targets, methods=["ssh", "ansible"], timeout_s=2)
    ssh = _by(first, "ssh")
    for code in ("t1", "t2"):
        s = site(code)
        r = ssh[str(s.v6 if code == "t2" else s.v4)]
        assert r.status == "ok", r.error
        facts = r.data["facts"]
        assert (facts["name"], facts["serial"], facts["model"]) == (
            s.hostname,
            s.serial,
            "KBCS-LAB-1",
        )
        assert {a["ip"] for a in facts["addresses"]} == {str(s.v4), str(s.v6)}
    assert ssh[str(site("t4").v4)].failed
    ans = _by(first, "ansible")[str(site("t1").v4)]
    assert ans.status == "ok", ans.error
    assert ans.data["facts"]["cpu_count"] >= 1 and ans.data["facts"]["ipv6_enabled"] is True
    # CPU over the playbook's window, with the load average; each file system once
    assert ans.data["facts"]["cpu_window_s"] == 5.0 and len(ans.data["facts"]["load_avg"]) == 3
    mounts = [d["mount"] for d in ans.data["facts"]["disks"]]
    assert mounts and len(mounts) == len(set(mounts))
    assert _by(first, "ansible")[str(site("t4").v4)].failed
    changes = len(list(inventory.changes()))
    again = discovery.run(inventory, settings, targets, methods=["ssh", "ansible"], timeout_s=2)
    assert again.changed == 0 and len(list(inventory.changes())) == changes
    assert len(catalog.assets(inventory)) == len(TEST_SITES)  # no duplicate
    metrics = observations.latest_metrics(inventory)
    assert 0 <= metrics[site("t1").hostname]["cpu_used_pct"] <= 100


def test_changed_host_key_is_a_per_target_error(
    inventory: SQLiteStore, settings: Settings, lab: manage.Lab, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    other = tmp_path / "otra"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    t1, t2 = site("t1"), site("t2")
    forged = tmp_path / "known_hosts"
    good = [
        ln for ln in lab.known_hosts.read_text().splitlines() if str(t1.v4) not in ln.split()[0]
    ]
    key = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    forged.write_text("\n".join([*good, f"{t1.v4} {key}"]) + "\n")
    monkeypatch.setenv("PUKARA_CRED_LAB_KNOWN_HOSTS", str(forged))
    targets = discovery.resolve(inventory, ["t1", "t2"], [])
    report = discovery.run(inventory, settings, targets, methods=["ssh"], timeout_s=2)
    results = _by(report, "ssh")
    assert "cambió" in (results[str(t1.v4)].error or "")
    assert results[str(t2.v6)].status == "ok"


def test_ansible_inventory_script_and_a_playbook_over_it(
    inventory: SQLiteStore, settings: Settings, lab: manage.Lab
) -> None:
    script = Path(sys.executable).with_name("pukara-inventario")
    env = {
        **os.environ,
        "PUKARA_DB": str(settings.db),
        "PATH": f"{script.parent}:{os.environ['PATH']}",
    }
    out = subprocess.run(
        [str(script.with_name("ansible-inventory")), "-i", str(script), "--list"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    listed = json.loads(out.stdout)
    assert listed["_meta"]["hostvars"][site("t1").hostname]["ansible_host"] == str(site("t1").v4)
    assert site("t2").hostname in listed["sede_t2"]["hosts"]
    assert "WARNING" not in out.stderr, out.stderr
    doc = ansible_inventory.build(catalog.sites(inventory), catalog.assets(inventory))
    data = ansible_inventory.to_yaml_inventory(doc)
    data["all"]["vars"] = {
        "ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.known_hosts} -o ConnectTimeout=3",
    }  # fmt: skip
    run = run_playbook("nucleo/ping.yml", data, settings=settings, ssh_keys=[lab.key],
                       limit="sede_t1:sede_t2")  # fmt: skip
    assert run.rc == 0 and set(run.stats["ok"]) == {site("t1").hostname, site("t2").hostname}


@pytest.fixture
def fleet(
    snmp_lab: manage.Lab, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, Path]:
    """The odd agents declared as assets, and profiles that speak only v3 or only v2c."""
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(snmp_lab.credentials_file))
    lab_profile = tomllib.loads(snmp_lab.credentials_file.read_text())["lab"]
    monkeypatch.setenv("PUKARA_CRED_SOLOV2_COMMUNITY", lab_profile["community"])
    for key in ("snmp_user", "auth_key", "priv_key"):
        monkeypatch.setenv(f"PUKARA_CRED_SOLOV3_{key.upper()}", lab_profile[key])
    sedes, activos = write_lab_inventory(settings.data_dir / "inv", SNMP_SITES)
    for f in (sedes, activos):
        assert main(["--base-datos", str(settings.db), "inventario", "importar", str(f), "-q"]) == 0
    return settings, settings.db


def test_a_malformed_agent_is_one_failed_target_and_the_run_goes_on(
    fleet: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, db = fleet
    code = main(["--base-datos", str(db), "inventario", "descubrir", "u1", "u2", "u3", "u4",
                 "-m", "snmp", "--credencial", "lab", "-t", "1", "-f", "json", "-q"])  # fmt: skip
    assert code == 3
    rows = {r["target"]: r for r in json.loads(capsys.readouterr().out)}
    bad = rows[str(snmp_site("u2").v4)]
    assert bad["status"] == "falló"
    assert "mal formada" in bad["error"] and "ipAddressIfIndex" in bad["error"], bad["error"]
    assert "255" in bad["error"]
    for c, cred in (("u1", "lab/v3"), ("u3", "lab/v3"), ("u4", "lab/v2c")):
        row = rows[str(snmp_site(c).v4)]
        assert row["status"] == "ok", row
        assert (row["serial"], row["credential"]) == (snmp_site(c).serial, cred)


def test_v3_first_costs_one_exchange_on_v2c_agents_and_no_timeout_on_v3_ones(
    fleet: tuple[Settings, Path],
) -> None:
    settings, db = fleet
    with SQLiteStore(db) as store:
        targets = [discovery.Target(str(snmp_site(c).v4)) for c in ("u3", "u4")]
        t0 = time.perf_counter()
        # the v2c profile named first: its community would time out on the v3-only agent
        report = discovery.run(store, settings, targets, methods=["snmp"],
                               profiles=["solov2", "solov3"], timeout_s=1.5)  # fmt: skip
        took = time.perf_counter() - t0
    results = _by(report, "snmp")
    assert results[str(snmp_site("u3").v4)].data["credential"] == "solov3/v3"
    assert results[str(snmp_site("u4").v4)].data["credential"] == "solov2/v2c"
    assert took < 1.5, f"{took:.2f} s: un intento se agotó en vez de fallar en un intercambio"


def test_the_configured_timeout_is_the_default_wait(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent that never answers (a silent socket on loopback) costs timeout_s per try."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.42.0.9", 161))  # port 161 needs root, as the integration tests do
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "0.2")
    monkeypatch.setenv("PUKARA_CRED_SOLOV2_COMMUNITY", "publica-de-prueba")
    try:
        t0 = time.perf_counter()
        code = main(["--base-datos", str(settings.db), "inventario", "descubrir", "127.42.0.9",
                     "-m", "snmp", "--credencial", "solov2", "--formato", "json"])  # fmt: skip
        took = time.perf_counter() - t0
    finally:
        silent.close()
    out, err = capsys.readouterr()
    row = json.loads(out)[0]
    assert code == 3 and "tiempo agotado" in row["error"]
    assert "Descubriendo 1 objetivo por snmp" in err  # one target, in the singular
    assert "0 respuestas, 1 fallida;" in err
    assert took < 2.0, f"{took:.2f} s: la espera no fue timeout_s = 0,2 s (3 intentos)"


def test_silent_addresses_of_a_sweep_are_no_failures(
    inventory: SQLiteStore, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prefix around the down site t4: the link's free addresses are «sin respuesta» and do
    not make exit 3; t4 itself, an inventory asset, still fails."""
    sweep = ["inventario", "descubrir", "198.18.46.240/29", "-m", "snmp", "--credencial", "lab",
             "-t", "0.3", "-f", "json"]  # fmt: skip
    down = str(site("t4").v4)
    assert down == "198.18.46.242"
    code = main(["--base-datos", str(settings.db), *sweep, "--excluir", down])
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert code == 0, err
    assert len(rows) == 5 and {r["status"] for r in rows} == {"sin respuesta"}, rows
    assert "0 respuestas, 0 fallidas, 5 direcciones sin respuesta" in " ".join(err.split())
    assert [o["target"] for o in observations.current(inventory)] == []
    code = main(["--base-datos", str(settings.db), *sweep])
    rows = json.loads(capsys.readouterr().out)
    assert code == 3
    assert {r["target"]: r["status"] for r in rows if r["status"] != "sin respuesta"} == {
        down: "falló"}  # fmt: skip


def test_a_bad_key_file_fails_only_its_profiles_devices(
    inventory: SQLiteStore, settings: Settings, lab: manage.Lab,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """gw-t2's profile names a key file that does not exist: SSH and Ansible fail gw-t2 saying
    which profile and file, gw-t1 is discovered in the same run, and the exit is 3."""
    monkeypatch.setenv("PUKARA_CRED_ROTO_USERNAME", "root")
    monkeypatch.setenv("PUKARA_CRED_ROTO_KEY_FILE", "/no/existe/llave")
    monkeypatch.setenv("PUKARA_CRED_ROTO_KNOWN_HOSTS", str(lab.known_hosts))
    asset = inventory.get("asset", [site("t2").hostname])
    assert asset is not None
    inventory.upsert("asset", [{**asset, "credential_profile": "roto"}], key=["name"])
    code = main(["--base-datos", str(settings.db), "inventario", "descubrir", "t1", "t2",
                 "-m", "ssh", "-m", "ansible", "-t", "2", "-f", "json", "-q"])  # fmt: skip
    rows = {(r["method"], r["target"]): r for r in json.loads(capsys.readouterr().out)}
    assert code == 3
    t1, t2 = str(site("t1").v4), str(site("t2").v6)
    for method in ("ssh", "ansible"):
        assert rows[(method, t1)]["status"] == "ok", rows[(method, t1)]
        bad = rows[(method, t2)]
        assert bad["status"] == "falló"
        assert "perfil «roto»: la llave /no/existe/llave no sirve: no existe" in bad["error"]


def test_ssh_offers_only_the_profiles_key_not_the_users_own(
    inventory: SQLiteStore, settings: Settings, lab: manage.Lab, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """gw-t1's profile `malo` has a key sshd does not know, while the user's own ~/.ssh holds
    one it does: gw-t1 fails as `malo`, gw-t2 (profile lab) gets in, in the same run."""
    home = tmp_path / "casa"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "id_ed25519").write_bytes(lab.key.read_bytes())
    (home / ".ssh" / "id_ed25519").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    wrong = tmp_path / "llave-ajena"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    monkeypatch.setenv("PUKARA_CRED_MALO_USERNAME", "root")
    monkeypatch.setenv("PUKARA_CRED_MALO_KEY_FILE", str(wrong))
    monkeypatch.setenv("PUKARA_CRED_MALO_KNOWN_HOSTS", str(lab.known_hosts))
    asset = inventory.get("asset", [site("t1").hostname])
    assert asset is not None
    inventory.upsert("asset", [{**asset, "credential_profile": "malo"}], key=["name"])
    targets = discovery.resolve(inventory, ["t1", "t2"], [])
    results = _by(discovery.run(inventory, settings, targets, methods=["ssh"], timeout_s=2), "ssh")
    bad, good = results[str(site("t1").v4)], results[str(site("t2").v6)]
    assert bad.failed and bad.error == (
        f"SSH rechazó la autenticación de «malo» (la llave {wrong} del perfil no es aceptada por "
        "el equipo)"
    ), bad.error
    assert good.status == "ok" and good.data["credential"] == "lab", good.error
