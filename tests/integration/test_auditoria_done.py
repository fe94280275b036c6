"""Issue 14 "done when", through the CLI, on the lab: the audit of the lab's audit hosts
matches the declared table (0 false passes, 0 false fails), waivers (valid and expired), an
unreachable host (errors, never a pass), the network gateways and pukara's own records; the
bundle verifies, each kind of tampering is caught, exporting again is byte-identical; a seeded
sample is recorded and drawn again; reports in every format.

Needs root and the lab with its audit hosts (``lab.auditoria``); hold both locks::

    flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-auditoria.lock \\
        .venv/bin/pytest tests/integration/test_auditoria_done.py -q
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditoria import claves, ejecutar, paquete
from auditoria.modelo import Kind
from cli import main
from lab import manage
from lab.sites import LabSite
from tests.conftest import running_lab

lab_auditoria: Any = pytest.importorskip("lab.auditoria")

# indexes of their own (3795-3796), away from every other lab of the tests
SITES = [
    LabSite(index=3795, code="q1", snmp_only="v3"),
    LabSite(index=3796, code="q2", router="sin-syslog"),
]
UNREACHABLE = "srv-inalcanzable"  # an audit target where nothing answers (lab address)
UNREACHABLE_V4 = "198.19.0.254"


@pytest.fixture(scope="module")
def audit_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    for the_lab in running_lab(tmp_path_factory, SITES, "pku"):
        try:
            lab_auditoria.up(the_lab)
            manage.wait_ready(the_lab, 90)
            yield the_lab
        finally:
            lab_auditoria.down(the_lab)


def _audit_rows() -> list[dict[str, str]]:
    """Inventory rows of the lab's audit hosts: their addresses from ``lab.auditoria``, else
    the example inventory's rows for them."""
    hosts = lab_auditoria.HOSTS
    if all(hasattr(h, "v4") for h in hosts):
        return [{"name": h.name, "kind": "servidor_fisico", "mgmt_ipv4": str(h.v4),
                 "credential_profile": "auditoria"} for h in hosts]  # fmt: skip
    from inventario import sample
    from inventario.model import ASSETS

    names = {h.name for h in hosts}
    rows = list(csv.DictReader(io.StringIO(sample.text(ASSETS))))
    found = [r for r in rows if r["name"] in names]
    assert {r["name"] for r in found} == names, "the example inventory lacks audit hosts"
    return found


def _inventory(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sedes = folder / "sedes.csv"
    sedes.write_text(
        "code,name,kind,country,city,timezone,vpn_kit\n"
        "lima,Sede central,sede_central,PE,Lima,America/Lima,no\n"
        + "".join(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Lima,no\n" for s in SITES
        )
    )
    activos = folder / "activos.csv"
    header = "name,kind,site,mgmt_ipv4,os,device_type,status,custodian,credential_profile"
    rows = [f"{s.hostname},router,{s.code},{s.v4},FRRouting,linux,activo,Redes,lab" for s in SITES]
    for r in _audit_rows():
        rows.append(f"{r['name']},{r['kind']},lima,{r['mgmt_ipv4']},Linux,linux,activo,OTI,"
                    f"{r['credential_profile']}")  # fmt: skip
    rows.append(
        f"{UNREACHABLE},servidor_fisico,lima,{UNREACHABLE_V4},Linux,linux,activo,OTI,auditoria"
    )
    activos.write_text(header + "\n" + "\n".join(rows) + "\n")
    return [sedes, activos]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


@pytest.fixture(scope="module")
def expected() -> dict[tuple[str, str], str]:
    declared: dict[tuple[str, str], str] = lab_auditoria.expected()
    codes = {h.code: h.name for h in lab_auditoria.HOSTS}
    # the table may name hosts by code (aud1) or by hostname (srv-aud1): results use names
    return {(codes.get(host, host), check): status for (host, check), status in declared.items()}


def _waivers(path: Path, expected: dict[tuple[str, str], str]) -> tuple[tuple[str, str], ...]:
    fails = sorted(k for k, v in expected.items() if v == "fail")
    assert len(fails) >= 2, "the lab declares at least two failing checks"
    valid, old = fails[0], fails[-1]
    path.write_text(
        f'[[waiver]]\nid = "EXC-VIGENTE"\ncheck = "{valid[1]}"\nhost = "{valid[0]}"\n'
        'justification = "Reemplazo planificado"\napprover = "Oficial de seguridad"\n'
        "expires = 2099-12-31\n\n"
        f'[[waiver]]\nid = "EXC-VENCIDA"\ncheck = "{old[1]}"\nhost = "{old[0]}"\n'
        'justification = "Vencida a propósito"\napprover = "Oficial de seguridad"\n'
        "expires = 2020-01-01\n"
    )
    return valid, old


def _copy(bundle: Path, where: Path) -> Path:
    target = where / bundle.name
    shutil.copytree(bundle, target)
    return target


def _resign(bundle: Path) -> None:
    """A forger edits a result, fixes its hash in the manifest and signs with their key."""
    results = bundle / "results.jsonl"
    results.write_bytes(results.read_bytes().replace(b'"fail"', b'"pass"', 1))
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    data = results.read_bytes()
    manifest["files"]["results.jsonl"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                          "bytes": len(data)}  # fmt: skip
    forged = Ed25519PrivateKey.generate()
    manifest["signature"]["key_sha256"] = claves.fingerprint(forged.public_key())
    body = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    (bundle / "manifest.json").write_bytes(body)
    (bundle / "manifest.sig").write_bytes(base64.b64encode(forged.sign(body)) + b"\n")
    (bundle / "clave.pub").write_text(claves.public_pem(forged.public_key()))


def _files(bundle: Path) -> dict[str, bytes]:
    return {p.relative_to(bundle).as_posix(): p.read_bytes()
            for p in sorted(bundle.rglob("*")) if p.is_file()}  # fmt: skip


def test_audit_done(
    audit_lab: manage.Lab,
    expected: dict[tuple[str, str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "datos"))
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(audit_lab.credentials_file))
    for path in _inventory(tmp_path / "inventario"):
        assert main(["inventario", "importar", str(path), "--silencioso"]) == 0
    out = tmp_path / "paquetes"
    out.mkdir()
    waivers = tmp_path / "excepciones.toml"
    valid, old = _waivers(waivers, expected)
    hosts = sorted(h.name for h in lab_auditoria.HOSTS)
    scope = ",".join([*hosts, UNREACHABLE, *(s.code for s in SITES), "pukara"])

    code, stdout, err = _cli(capsys, "auditoria", "ejecutar", "--alcance", scope, "--muestra",
                             "todos", "--excepciones", str(waivers), "--salida", str(out))  # fmt: skip
    assert code == 3, err  # the weak hosts fail
    bundle = Path(stdout.strip())
    assert bundle.parent == out and bundle.name.startswith("auditoria-")
    results = [json.loads(line) for line in (bundle / "results.jsonl").read_text().splitlines()]
    got = {(r["host"], r["check_id"]): r for r in results}

    # every declared Linux result, exactly: 0 false passes, 0 false fails
    false_pass = [k for k, v in expected.items() if v != "pass" and got[k]["status"] == "pass"]
    false_fail = [k for k, v in expected.items() if v == "pass" and got[k]["status"] != "pass"]
    assert not false_pass and not false_fail, (false_pass, false_fail)
    for key, status in expected.items():
        if key == valid:
            assert got[key]["status"] == "waived" and got[key]["waiver"] == "EXC-VIGENTE"
        elif key == old:
            assert got[key]["status"] == "fail" and got[key]["waiver"] == "EXC-VENCIDA"
            assert "venció" in got[key]["message"]
        else:
            assert got[key]["status"] == status, (key, got[key]["message"])
    # the unreachable host: one error per Linux check, never a pass
    lost = [r for r in results if r["host"] == UNREACHABLE]
    assert len(lost) == 27 and {r["status"] for r in lost} == {"error"}
    # the gateways and pukara's own records
    q1, q2 = (s.hostname for s in SITES)
    assert got[(q1, "net_snmp_v3_only")]["status"] == "pass"
    assert got[(q2, "net_snmp_v3_only")]["status"] == "fail"
    assert got[(q2, "net_syslog")]["status"] == "fail"
    assert {r["check_id"] for r in results if r["host"] == "pukara"} == {
        f"rec_{c}" for c in ("asset_owners", "inventory_reconciled", "change_log",
                             "monitoring_capacity", "availability", "config_backups",
                             "config_compliance", "csirt_cases")
    }  # fmt: skip

    manifest = json.loads((bundle / "manifest.json").read_text())
    for host in hosts:
        ident = manifest["hosts"][host]
        assert ident["machine_id"] and ident["hostname"] and ident["os_release"], ident
    assert manifest["sampling"]["method"] == "censo"
    assert manifest["run"]["operator"] and manifest["versions"]["catalogue"]
    assert manifest["versions"]["checks"] and manifest["files"]["events/ansible.jsonl"]["bytes"]

    # offline verification, and each kind of tampering caught, the file named
    code, _, err = _cli(capsys, "auditoria", "verificar", str(bundle))
    assert code == 0 and "Paquete íntegro" in err, err
    tampered = tmp_path / "alterados"
    cases: dict[str, tuple[Callable[[Path], object], str]] = {
        "cambio": (lambda b: (b / "results.jsonl").write_text("{}\n"), "results.jsonl: modificado"),
        "añadido": (lambda b: (b / "raw" / "otro.json").write_text("{}"), "raw/otro.json: añadido"),
        "borrado": (lambda b: (b / "events" / "ansible.jsonl").unlink(),
                    "events/ansible.jsonl: falta"),
        "refirmado": (_resign, "firmado con otra clave"),
    }  # fmt: skip
    for name, (tamper, said) in cases.items():
        copy = _copy(bundle, tampered / name)
        tamper(copy)
        code, _, err = _cli(capsys, "auditoria", "verificar", str(copy))
        assert code == 3 and said in err, (name, err)

    # exporting the same run again is byte-identical
    again = tmp_path / "otra-vez"
    again.mkdir()
    run_id = manifest["run"]["id"]
    code, stdout, err = _cli(capsys, "auditoria", "exportar", run_id, "--salida", str(again))
    assert code == 0, err
    assert _files(Path(stdout.strip())) == _files(bundle)

    # reports
    code, stdout, err = _cli(capsys, "auditoria", "informe", run_id, "--formato", "junit")
    assert code == 0, err
    suites = ET.fromstring(stdout)  # noqa: S314 (our own output)
    assert len(suites.findall("./testsuite/testcase")) == len(results)
    html = tmp_path / "informe.html"
    code, _, err = _cli(capsys, "auditoria", "informe", "--formato", "html", "-o", str(html))
    assert code == 0 and "<svg" in html.read_text(), err

    # a seeded sample: population, method, seed and selection recorded, and drawn again
    code, stdout, err = _cli(capsys, "auditoria", "ejecutar", "--alcance", ",".join(hosts),
                             "--muestra", "2", "--semilla", "7", "--salida", str(again))  # fmt: skip
    assert code in (0, 3), err
    sampled = json.loads((Path(stdout.strip()) / "manifest.json").read_text())["sampling"]
    assert sampled["method"] == "aleatoria simple" and sampled["seed"] == 7
    assert sampled["population"] == hosts and len(sampled["selected"]) == 2
    members = [ejecutar.Member(h, Kind.LINUX) for h in hosts]
    assert list(ejecutar.draw(members, 2, 7).selected) == sampled["selected"]
    trusted = claves.signing_key(tmp_path / "datos", create=False).public_key()
    assert paquete.verify(Path(stdout.strip()), trusted).ok
