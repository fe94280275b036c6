"""`pukara auditoria importar`: the results land in the store once; bad files say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditoria.importar import DATASET, RULE_PREFIX
from cli import main
from pukara.store import SQLiteStore

X12 = "http://checklists.nist.gov/xccdf/1.2"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_importar_openscap_and_lynis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "pukara.db"
    xccdf = tmp_path / "r.xml"
    xccdf.write_text(
        f'<TestResult xmlns="{X12}" id="t" end-time="2026-12-01T10:00:00Z"><target>x</target>'
        f'<rule-result idref="{RULE_PREFIX}sshd_disable_root_login"><result>fail</result>'
        "</rule-result></TestResult>"
    )
    code, out, err = run(capsys, "--base-datos", str(db), "auditoria", "importar", str(xccdf),
                         "--tipo", "openscap", "--host", "srv-aud2")  # fmt: skip
    assert code == 0, err
    assert out == ""
    assert "1 resultado de srv-aud2 (fail 1); 1 nuevo en" in err
    code, _, err = run(capsys, "--base-datos", str(db), "auditoria", "importar", str(xccdf),
                       "--tipo", "openscap", "--host", "srv-aud2")  # fmt: skip
    assert code == 0
    assert "0 nuevos en" in err
    report = tmp_path / "lynis-report.dat"
    report.write_text(
        "report_version_major=1\nreport_datetime_start=2026-12-01 10:00:00\nhostname=h\n"
        "suggestion[]=USB-1000|Disable USB storage|-|-|\n"
    )
    code, _, err = run(capsys, "--base-datos", str(db), "auditoria", "importar", str(report),
                       "--tipo", "lynis")  # fmt: skip
    assert code == 0, err
    store = SQLiteStore(db)
    try:
        stored = list(store.search_events(dataset=DATASET))
    finally:
        store.close()
    got = sorted((e["auditoria"]["result"]["check_id"], e["host"]["name"]) for e in stored)
    assert got == [("ssh_root_login", "srv-aud2"), ("usb_storage", "h")]


def test_importar_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "roto.xml"
    bad.write_text("<a>\n<b>\n</a>\n")
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "auditoria", "importar",
                       str(bad), "--tipo", "openscap")  # fmt: skip
    assert code == 1
    assert "roto.xml, línea 3" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "auditoria", "importar", str(bad), "--tipo", "nessus")
    assert code == 2


def test_a_missing_tipo_lists_its_values_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "auditoria", "importar", str(tmp_path / "r.xml"))
    assert code == 2
    assert "Error: falta la opción '--tipo'; valores posibles: openscap, lynis\n" in err
