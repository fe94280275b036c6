"""A case opened and walked to closure with casos' commands, then measured, reported and
notified with metricas, informe and cnsd: everything from the case's own events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli import main

TITLE = "Phishing <script>alert(1)</script> $(reboot); rm -rf /"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_case_walk_then_metrics_report_and_cnsd(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ["--base-datos", str(tmp_path / "p.db"), "--analista", "ana"]
    detected = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    occurred = detected - timedelta(minutes=90)
    lima = "%Y-%m-%dT%H:%M:%S-05:00"
    code, out, err = run(capsys, *db, "csirt", "incidente", "nuevo", TITLE, "--severidad", "4",
                         "--tipo", "phishing", "--asignar", "ana", "--tlp", "amber",
                         "--detectado", (detected - timedelta(hours=5)).strftime(lima),
                         "--ocurrido", (occurred - timedelta(hours=5)).strftime(lima),
                         "-f", "json")  # fmt: skip
    assert code == 0, err
    number = json.loads(out)[0]["number"]
    for phase in ("analisis", "contencion", "erradicacion", "recuperacion", "post_incidente"):
        code, _, err = run(capsys, *db, "csirt", "incidente", "estado", number, phase)
        assert code == 0, err
    code, _, err = run(capsys, *db, "csirt", "cnsd", number, "--notificado",
                       "--referencia", "correo a incidentes@cnsd.gob.pe")  # fmt: skip
    assert code == 0 and "Notificación al CNSD registrada" in err
    code, _, err = run(capsys, *db, "csirt", "incidente", "cerrar", number,
                       "--determinacion", "blocked", "--disposicion", "incident:confirmed",
                       "--impacto", "sin_impacto", "--lecciones", "Filtrar el dominio")  # fmt: skip
    assert code == 0, err

    code, out, err = run(capsys, *db, "csirt", "metricas", "-f", "json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["severity"] == 4 and row["cases"] == 1
    assert row["ttd_median_s"] == 90 * 60  # detection - occurrence, from the "creado" entry
    assert row["tta_median_s"] == 0  # assigned as it opened
    assert 0 < row["ttc_median_s"] <= row["ttn_median_s"] <= row["ttr_median_s"] < 60
    assert all(row[f"{m}_count"] == 1 for m in ("ttd", "tta", "ttc", "ttn", "ttr"))

    page_file = tmp_path / "informe.html"
    code, _, err = run(capsys, *db, "csirt", "informe", number, "--html", str(page_file))
    assert code == 0, err
    page = page_file.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "$(reboot); rm -rf /" in page and "Notificado al CNSD el" in page
    assert page.count("Cambio de fase:") == 6 and "TLP:AMBER" in page

    code, out, err = run(capsys, *db, "csirt", "cnsd", number, "-f", "json")
    assert code == 0, err
    draft = json.loads(out)
    fields = {f["key"]: f for f in draft["fields"]}
    assert fields["detected_at"]["value"] == detected.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert fields["classification"]["value"]["rsit"] == "fraud / phishing"
    assert any(m.startswith("Caso cerrado el") for m in fields["measures"]["value"])
    assert fields["personal_data"]["text"] == "No consta"
    assert fields["people_affected"]["text"] == "No aplica"
    assert draft["deadline"]["level"] == "notificado"
