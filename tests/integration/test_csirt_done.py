"""Issue 13 end to end on the real lab, through the CLI as an analyst types it.

A real SSH brute force from site f2 against f1's sshd lands in f1's rsyslog file; pukara
imports it into the log store, its Sigma rules detect it, the detection becomes an alert (a
repeat only raises its count), the alert becomes a case that walks every phase to closure; an
IP block is activated on f1 with Ansible, verified by a real probe from the blocked address,
expires and is reversed, leaving f1's ruleset as before; evidence is collected from f1 over
SSH, hashed, and a tampered copy is caught; the STIX bundle parses back, the MISP event loads
in pymisp; metrics and the CNSD draft come from the case's own events.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli import main
from csirt import contramedidas
from csirt.records import ALERT, EVIDENCE, INCIDENT
from lab import manage
from lab.sites import LabSite
from pukara.config import load_settings
from pukara.store import SQLiteStore
from tests.conftest import running_lab, write_lab_inventory

pytestmark = pytest.mark.integration

# f2 hangs from f1: its packets reach f1 straight over their link (f2 is the attacker)
SITES = [LabSite(index=3641, code="f1"), LabSite(index=3642, code="f2", parent="f1")]
F1, F2 = SITES


@pytest.fixture(scope="module")
def done_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, SITES, "pkf")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def ruleset(lab: manage.Lab, site: LabSite) -> str:
    return subprocess.run(["ip", "netns", "exec", lab.ns(site), "nft", "list", "ruleset"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def reaches(lab: manage.Lab, source: LabSite, address: str, port: int = 22) -> bool:
    """A real TCP connection from inside ``source``'s namespace, from its own address."""
    done = subprocess.run(
        ["ip", "netns", "exec", lab.ns(source), "timeout", "3", "bash", "-c",
         'exec 3<>"/dev/tcp/$0/$1"', address, str(port)],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def brute_force(lab: manage.Lab, tries: int) -> None:
    """Real SSH logins from f2 as a user f1 does not have: each one fails on f1's sshd."""
    for _ in range(tries):
        subprocess.run(
            ["ip", "netns", "exec", lab.ns(F2), "ssh", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=5", "-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null",
             f"mallory@{F1.v4}", "true"],
            capture_output=True, check=False, timeout=30,
        )  # fmt: skip


def _failures(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count(f"Invalid user mallory from {F2.v4}")


def test_from_a_real_detection_to_a_closed_case(
    done_lab: manage.Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(done_lab.credentials_file))
    (tmp_path / "datos").mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(tmp_path / "datos"))
    db = tmp_path / "datos" / "pukara.db"
    base = ["--base-datos", str(db)]
    ana, beto = [*base, "--analista", "ana"], [*base, "--analista", "beto"]
    # the inventory knows f1 (its gateway is what we protect); f2, the attacker, is not ours
    for path in write_lab_inventory(tmp_path / "inv", [F1]):
        code, _, err = run(capsys, *ana, "inventario", "importar", str(path), "-q")
        assert code == 0, err
    before = ruleset(done_lab, F1)
    assert reaches(done_lab, F2, str(F1.v4))

    # 1. a real brute force, logged by f1's sshd through its rsyslog, imported and detected
    log = done_lab.site_dir(F1) / "messages.log"
    start = datetime.now(UTC) - timedelta(minutes=1)
    brute_force(done_lab, 6)  # 12 failures: 5 or more even if a 5-minute window splits them
    deadline = time.monotonic() + 20
    while _failures(log) < 6:
        assert time.monotonic() < deadline, "sshd de f1 no registró los intentos"
        time.sleep(0.2)
    code, _, err = run(capsys, *ana, "registros", "importar", str(log), "-q")
    assert code == 0, err
    window = ["--desde", start.isoformat(), "--hasta", (start + timedelta(minutes=30)).isoformat()]
    code, _, err = run(capsys, *ana, "registros", "reglas", "ejecutar", *window)
    assert code == 3, err  # findings
    code, _, err = run(capsys, *ana, "csirt", "alertas", "importar", "--desde-registros", "-q")
    assert code == 0, err
    with SQLiteStore(db) as store:
        alerts = list(store.scan(ALERT, ("registros",)))
    brute = [a for a in alerts if "Fuerza bruta" in a["title"]]
    assert len(brute) == 1, [a["title"] for a in alerts]
    alert = brute[0]
    assert {"type": "ipv4", "value": str(F2.v4)} in [
        {"type": o["type"], "value": o["value"]} for o in alert["observables"]
    ]
    # the same detections again: the same sighting, nothing new, nothing counted
    run(capsys, *ana, "registros", "reglas", "ejecutar", *window)
    code, _, err = run(capsys, *ana, "csirt", "alertas", "importar", "--desde-registros", "-q")
    assert code == 0, err
    with SQLiteStore(db) as store:
        again = list(store.scan(ALERT, ("registros",)))
    assert len(again) == len(alerts)
    assert next(a for a in again if a["id"] == alert["id"])["count"] == alert["count"]
    # the same attacker in an earlier window, seen in another server's log: a repeat
    earlier = tmp_path / "auth-srv.jsonl"
    stamp = start - timedelta(minutes=20)
    earlier.write_text("".join(json.dumps({
        "@timestamp": (stamp + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "message": f"Invalid user admin from {F2.v4} port {40000 + i}",
        "host": {"name": "srv-correo"}, "log": {"syslog": {"appname": "sshd"}},
        "event": {"category": ["authentication"], "outcome": "failure", "action": "ssh_login"},
        "source": {"ip": str(F2.v4)}, "related": {"ip": [str(F2.v4)]},
    }) + "\n" for i in range(6)))  # fmt: skip
    code, _, err = run(capsys, *ana, "registros", "importar", str(earlier), "-q")
    assert code == 0, err
    wide = ["--desde", (stamp - timedelta(minutes=5)).isoformat(), "--hasta", window[3]]
    run(capsys, *ana, "registros", "reglas", "ejecutar", *wide)
    code, _, err = run(capsys, *ana, "csirt", "alertas", "importar", "--desde-registros", "-q")
    assert code == 0, err
    with SQLiteStore(db) as store:
        repeated = store.get(ALERT, (alert["source"], alert["source_ref"]))
        assert len([a for a in store.scan(ALERT) if "Fuerza bruta" in a["title"]]) == 1
    assert repeated is not None and repeated["count"] == alert["count"] + 1
    assert repeated["first_seen"] < alert["first_seen"]

    # 2. the alert becomes a case, which walks its phases
    code, out, err = run(capsys, *ana, "csirt", "alertas", "promover", alert["id"][:12],
                         "--clase", "intrusion-attempts", "--tipo", "brute-force")  # fmt: skip
    assert code == 0, err
    number = out.strip()
    assert number.startswith("INC-")
    code, _, err = run(capsys, *ana, "csirt", "incidente", "estado", number, "analisis")
    assert code == 0, err
    # the analysis marks the attacker's address as an indicator of compromise
    code, _, err = run(capsys, *ana, "csirt", "observable", "agregar", number, str(F2.v4),
                       "--tipo", "ipv4", "--ioc", "--avistado")  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, *ana, "csirt", "incidente", "estado", number, "cerrado")
    assert code != 0 and "se puede pasar a: contención" in err  # forbidden, said in Spanish
    code, _, err = run(capsys, *ana, "csirt", "incidente", "estado", number, "contencion")
    assert code == 0, err

    # 3. an IP block on f1, approved by another analyst, activated and verified by a probe
    code, out, err = run(capsys, *ana, "csirt", "contramedida", "proponer", number,
                         "--tipo", "bloquear_ip", "--equipo", f"gw-{F1.code}",
                         "--direccion", str(F2.v4), "--expira", "2h", "-q")  # fmt: skip
    assert code == 0, err
    cm_id = out.strip()
    code, _, err = run(capsys, *beto, "csirt", "contramedida", "aprobar", cm_id, "-q")
    assert code == 0, err
    code, _, err = run(capsys, *ana, "csirt", "contramedida", "activar", cm_id, "-q")
    assert code == 0, err
    assert not reaches(done_lab, F2, str(F1.v4))  # the attacker no longer gets through
    assert ruleset(done_lab, F1) != before

    # 4. evidence collected from f1 over SSH, hashed and in custody
    code, out, err = run(capsys, *ana, "csirt", "evidencia", "recolectar", number,
                         "--equipo", f"gw-{F1.code}", "--registro-auth", str(log),
                         "-f", "json", "-q")  # fmt: skip
    assert code == 0, err
    collected = json.loads(out)
    assert len(collected) >= 3
    code, _, err = run(capsys, *ana, "csirt", "evidencia", "verificar", number, "-q")
    assert code == 0, err

    # 5. the block expires and `vencer` (as `monitoreo vigilar` runs it) reverses it exactly
    settings = load_settings({"db": db, "analyst": "ana"}, environ=dict(os.environ))
    with SQLiteStore(db, actor="ana") as store:
        results = contramedidas.expire_due(store, settings, datetime.now(UTC) + timedelta(hours=3))
        assert [r.failed for r in results] == [False]
    assert ruleset(done_lab, F1) == before
    assert reaches(done_lab, F2, str(F1.v4))

    # 6. the rest of the phases, the CNSD notified, and closure with what it needs
    for phase in ("erradicacion", "recuperacion", "post_incidente"):
        code, _, err = run(capsys, *ana, "csirt", "incidente", "estado", number, phase)
        assert code == 0, (phase, err)
    code, _, err = run(capsys, *ana, "csirt", "cnsd", number, "--notificado",
                       "--referencia", "CNSD-2026-123")  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, *ana, "csirt", "incidente", "cerrar", number)
    assert code != 0  # without determination, disposition, impact and lessons
    code, _, err = run(capsys, *ana, "csirt", "incidente", "cerrar", number,
                       "--determinacion", "blocked", "--disposicion", "incident:confirmed",
                       "--impacto", "sin_impacto",
                       "--lecciones", "Limitar SSH a la red de gestión")  # fmt: skip
    assert code == 0, err
    with SQLiteStore(db) as store:
        case = next(c for c in store.scan(INCIDENT) if c["number"] == number)
    assert case["status"] == "cerrado"

    # 7. a tampered copy of the evidence is caught
    with SQLiteStore(db) as store:
        item = next(e for e in store.scan(EVIDENCE) if e["incident_id"] == case["id"])
    blob = tmp_path / "datos" / "evidencia" / item["stored_path"]
    if not blob.exists():  # stored_path may be relative to the data directory
        blob = tmp_path / "datos" / item["stored_path"]
    blob.chmod(0o600)
    with blob.open("ab") as fh:
        fh.write(b"alterado")
    code, out, err = run(capsys, *ana, "csirt", "evidencia", "verificar", number, "-f", "json")
    assert code == 3, err
    assert item["id"] in out or item["sha256"] in out

    # 8. exports: the STIX bundle parses back, the MISP event loads in pymisp
    code, out, err = run(capsys, *ana, "csirt", "exportar", number, "--formato", "stix",
                         "--destino", "organizacion", "-q")  # fmt: skip
    assert code == 0, err
    import stix2
    from pymisp import MISPEvent

    bundle = stix2.parse(out, allow_custom=False)
    kinds = {o.type for o in bundle.objects}
    assert {"incident", "indicator", "marking-definition", "identity"} <= kinds
    code, out, err = run(capsys, *ana, "csirt", "exportar", number, "--formato", "misp",
                         "--destino", "organizacion", "-q")  # fmt: skip
    assert code == 0, err
    event = MISPEvent()
    event.load(out)
    assert str(F2.v4) in {a.value for a in event.attributes}
    code, _, err = run(capsys, *ana, "csirt", "exportar", number, "--formato", "stix",
                       "--destino", "comunidad")  # fmt: skip
    assert code == 1  # an AMBER case is above what the community may see

    # 9. metrics and the CNSD draft, from the case's own events
    code, out, err = run(capsys, *ana, "csirt", "metricas", "-f", "json")
    assert code == 0, err
    metrics = json.loads(out)
    text = json.dumps(metrics)
    assert "ttr" in text.lower() and "ttn" in text.lower()
    code, out, err = run(capsys, *ana, "csirt", "cnsd", number, "-f", "json")
    assert code == 0, err
    draft = json.loads(out)
    assert number in json.dumps(draft) and str(F2.v4) in json.dumps(draft)
    code, _, err = run(capsys, *ana, "cambios", "verificar")
    assert code == 0, err
