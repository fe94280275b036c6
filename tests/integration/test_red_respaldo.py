"""`pukara red respaldar` against the lab's real FRR routers over real SSH.

Runs only with the lab (root, FRR): ``flock /tmp/pukara-lab.lock pytest
tests/integration/test_red_respaldo.py``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from lab import manage
from lab.sites import LabSite
from red.repositorio import ConfigRepo
from tests.conftest import running_lab

# r4's hostname is longer than the 16 characters netmiko's cisco_ios keeps of a prompt
SITES = [LabSite(index=3741, code="r1"), LabSite(index=3742, code="r2"),
         LabSite(index=3743, code="r3"), LabSite(index=3744, code="r4-sede-muy-larga")]  # fmt: skip


@pytest.fixture(scope="module")
def red_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, SITES, "pkr")


def _inventory(folder: Path, lab: manage.Lab) -> Path:
    from lab import frr

    hq_v4, _ = frr.hq_address(SITES)
    folder.mkdir(parents=True, exist_ok=True)
    sedes = folder / "sedes.csv"
    sedes.write_text(
        "code,name,kind,country,city,timezone\nlima,Sede central,sede_central,PE,Lima,America/Lima\n"
        + "".join(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Lima\n" for s in SITES
        )
    )
    activos = folder / "activos.csv"
    # as the shipped example: the gateways are Linux hosts (inventario logs in with ``lab``)
    # that run FRR; red logs in with its own profile
    rows = [f"gw-lima,router,lima,{hq_v4},FRRouting,,,activo"]
    rows += [f"{s.hostname},router,{s.code},{s.v4},FRRouting,linux,lab,activo" for s in SITES]
    activos.write_text("name,kind,site,mgmt_ipv4,os,device_type,credential_profile,status\n"
                       + "\n".join(rows) + "\n")  # fmt: skip
    return folder


@pytest.fixture
def env(red_lab: manage.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(red_lab.credentials_file))
    inv = _inventory(tmp_path / "inv", red_lab)
    for name in ("sedes.csv", "activos.csv"):
        assert main(["inventario", "importar", str(inv / name)]) == 0
    return data


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["red", "respaldar", "--formato", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {"err": err}


def _everything(repo: Path) -> bytes:
    """Every object of the repository (reachable or not), its refs and reflogs, its files."""
    objects = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    files = b"".join(p.read_bytes() for p in repo.rglob("*") if p.is_file())
    return objects + files


def test_backup_history_secrets_and_errors(
    red_lab: manage.Lab,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lab import frr

    repo = ConfigRepo(env / "red" / "respaldos")
    for i in range(10):
        code, doc = _run(capsys)
        assert code == 0, doc
        statuses = {d["device"]: d["status"] for d in doc["devices"]}
        want = "changed" if i == 0 else "ok"
        names = ["gw-lima", "gw-r1", "gw-r2", "gw-r3", "gw-r4-sede-muy-larga"]
        assert statuses == dict.fromkeys(names, want), doc
    assert len(repo.log()) == 1
    latest = repo.latest()
    assert sorted(latest) == ["lima/gw-lima.cfg", "r1/gw-r1.cfg", "r2/gw-r2.cfg", "r3/gw-r3.cfg",
                              "r4-sede-muy-larga/gw-r4-sede-muy-larga.cfg"]  # fmt: skip
    for text in latest.values():  # whole listings, never cut at the hostname
        assert text.rstrip().endswith(b"\nend"), text[-200:]
    r2 = latest["r2/gw-r2.cfg"].decode()
    assert "hostname gw-r2" in r2 and "frr version" in r2 and "Current configuration" not in r2
    assert " neighbor 198." in r2 and "password <secreto:hmac-sha256:" in r2

    # a hand change on one router: a one-device commit with the right diff
    frr.vtysh(red_lab, "r2", "configure terminal\nip prefix-list PL-PRUEBA seq 5 permit "
              "198.18.99.0/24\nrouter bgp " + str(frr.asn(SITES[1])) + "\nneighbor "
              + str(SITES[1].v4_host) + " password otro-secreto-r2")  # fmt: skip
    code, doc = _run(capsys)
    assert code == 0 and [d["device"] for d in doc["devices"] if d["status"] == "changed"] \
        == ["gw-r2"]  # fmt: skip
    log = repo.log()
    assert len(log) == 2 and log[0].message.startswith("Respaldo: gw-r2\n")
    assert main(["red", "diff", "gw-r2"]) == 0
    diff = capsys.readouterr().out
    assert "+ip prefix-list PL-PRUEBA seq 5 permit 198.18.99.0/24" in diff
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in
               ("+++", "---")]  # fmt: skip
    assert len(changed) == 3, diff  # the prefix list, the password's old and new markers
    assert main(["red", "buscar", "PL-PRUEBA"]) == 0
    assert capsys.readouterr().out.startswith("r2/gw-r2.cfg:")

    # no lab secret anywhere in the repository, its history, refs or reflogs
    everything = _everything(repo.path)
    for secret in [*frr.secrets(red_lab), "otro-secreto-r2"]:
        assert secret.encode() not in everything, secret
    assert subprocess.run(["git", "-C", str(repo.path), "fsck", "--strict"]).returncode == 0
    # nor in the compliance reports, nor anywhere else in the data directory (the sqlite store
    # with its events, its WAL, the lock files, the key's folder...)
    reports = tmp_path / "informes"
    reports.mkdir()
    for fmt in ("json", "csv", "html", "tabla"):
        main(["red", "cumplimiento", "-f", fmt, "--salida", str(reports / f"cumplimiento.{fmt}")])
    capsys.readouterr()
    assert sorted(p.name for p in reports.iterdir()) == [
        "cumplimiento.csv", "cumplimiento.html", "cumplimiento.json", "cumplimiento.tabla"]  # fmt: skip
    assert "gw-r2" in (reports / "cumplimiento.json").read_text()
    stored = [p for p in env.rglob("*") if p.is_file() and repo.path not in p.parents]
    assert any(p.suffix in (".db", ".sqlite", ".sqlite3") or "db" in p.name for p in stored), stored
    for path in [*stored, *reports.iterdir()]:
        data = path.read_bytes()
        for secret in [*frr.secrets(red_lab), "otro-secreto-r2"]:
            assert secret.encode() not in data, (path, secret)

    # a wrong credential and a changed host key are those devices' errors; the run exits 3
    other_key = tmp_path / "otra"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)],
                   check=True)  # fmt: skip
    fake_host = subprocess.run(["ssh-keygen", "-y", "-f", str(other_key)], capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
    known = tmp_path / "known_hosts"
    lines = red_lab.known_hosts.read_text().splitlines()
    known.write_text("\n".join(
        f"{SITES[2].v4} {fake_host}" if line.startswith(f"{SITES[2].v4} ") else line
        for line in lines) + "\n")  # fmt: skip
    creds = tmp_path / "credenciales.toml"
    creds.write_text(
        red_lab.credentials_file.read_text()
        + f'\n[malo]\nusername = "red"\nkey_file = "{other_key}"\n'
        f'known_hosts = "{red_lab.known_hosts}"\n'
        + f'\n[cambiada]\nusername = "red"\nkey_file = "{red_lab.key}"\nknown_hosts = "{known}"\n'
    )
    creds.chmod(0o600)
    inv = tmp_path / "inv2.csv"
    inv.write_text(
        "name,kind,site,mgmt_ipv4,os,device_type,credential_profile,status\n"
        f"gw-r1,router,r1,{SITES[0].v4},FRRouting,,malo,activo\n"
        f"gw-r3,router,r3,{SITES[2].v4},FRRouting,,cambiada,activo\n"
    )
    assert main(["inventario", "importar", str(inv)]) == 0
    capsys.readouterr()
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(creds))
    code, doc = _run(capsys)
    assert code == 3, doc
    by = {d["device"]: d for d in doc["devices"]}
    assert by["gw-r1"]["status"] == "error" and "autenticación" in by["gw-r1"]["error"]
    assert by["gw-r3"]["status"] == "error" and "clave de host SSH cambió" in by["gw-r3"]["error"]
    assert by["gw-r2"]["status"] == "ok" and by["gw-lima"]["status"] == "ok"
    assert doc["commit"] is None and len(repo.log()) == 2
