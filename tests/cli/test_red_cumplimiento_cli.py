"""`pukara red cumplimiento` through the single error boundary: formats, files, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli import main
from tests.unit.red_cumplimiento_case import ACTIVOS, SEDES, as_backed_up, real


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    base = ["--base-datos", str(tmp_path / "inv.db")]
    for name, text in (
        ("sedes.csv", SEDES),
        ("activos.csv", ACTIVOS.replace(",FRR,", ",FRRouting,")),
    ):
        (tmp_path / name).write_text(text, "utf-8")
        assert main([*base, "inventario", "importar", str(tmp_path / name), "--silencioso"]) == 0
    capsys.readouterr()
    return base


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "cfg"
    for path, text in (
        ("lima/gw-lima.cfg", real("gw-lima")),
        ("emb-ar/gw-emb-ar.cfg", real("gw-emb-ar", "as-errado")),
        ("gw-emb-bo.cfg", real("gw-emb-bo")),  # a plain folder of files named after devices
    ):
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(as_backed_up(text), "utf-8")
    return out


def test_json_from_a_folder(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path
) -> None:
    code, out, err = run(
        capsys, *db, "red", "cumplimiento", "--directorio", str(folder), "-f", "json"
    )
    assert code == 3, err  # drift to review: one device does not comply, one finding
    data = json.loads(out)
    status = {d["device"]: d["status"] for d in data["devices"]}
    assert status == {
        "gw-lima": "compliant",
        "gw-emb-ar": "non_compliant",
        "gw-emb-bo": "compliant",
    }
    assert [(f["kind"], f["device"]) for f in data["findings"]] == [("peering", "gw-emb-ar")]


def test_table_names_the_lines(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path
) -> None:
    code, out, err = run(capsys, *db, "red", "cumplimiento", "--directorio", str(folder))
    assert code == 3, err
    assert "no cumple" in out and "neighbor 198.18.0.5 remote-as 65099" in out
    assert "vecindad BGP" in out
    assert "3 equipos: 2 cumplen, 1 no cumple, 0 sin revisar; 1 hallazgo sin conexión." in err


def test_csv_and_html_to_a_file(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, *db, "red", "cumplimiento", "--directorio", str(folder), "-f", "csv")
    assert code == 3
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["record"] for r in rows} == {"equipo", "linea", "hallazgo"}
    page = tmp_path / "informe.html"
    code, out, err = run(capsys, *db, "red", "cumplimiento", "--directorio", str(folder), "-f", "html",
                         "--salida", str(page))  # fmt: skip
    assert code == 3 and out == ""  # the whole report is written before exiting 3
    assert "escrito en" in err and "gw-emb-ar" in page.read_text("utf-8")


def test_one_device_is_chosen_and_a_missing_backup_exits_3(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path
) -> None:
    code, out, _ = run(capsys, *db, "red", "cumplimiento", "gw-emb-ar", "--directorio", str(folder),
                       "-f", "json")  # fmt: skip
    assert code == 3
    assert [d["device"] for d in json.loads(out)["devices"]] == ["gw-emb-ar"]
    (folder / "gw-emb-bo.cfg").unlink()
    code, out, _ = run(
        capsys, *db, "red", "cumplimiento", "emb-bo", "--directorio", str(folder), "-f", "json"
    )
    assert code == 3
    assert json.loads(out)["devices"][0]["status"] == "no_backup"


def test_exit_0_only_when_everything_complies(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path
) -> None:
    code, out, err = run(capsys, *db, "red", "cumplimiento", "gw-emb-bo",
                         "--directorio", str(folder), "-f", "json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)["summary"]
    assert (summary["compliant"], summary["non_compliant"], summary["findings"]) == (1, 0, 0)
    code, out, err = run(capsys, *db, "red", "cumplimiento", "gw-emb-ar",
                         "--directorio", str(folder))  # fmt: skip
    assert code == 3 and "1 equipo: 0 cumplen, 1 no cumple" in err


def test_bad_input(capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, *db, "red", "cumplimiento", "--directorio", str(tmp_path / "no"))
    assert code == 2 and "no es una carpeta" in err
    (tmp_path / "vacia").mkdir()
    code, _, err = run(capsys, *db, "red", "cumplimiento", "--directorio", str(tmp_path / "vacia"))
    assert code == 2 and "no tiene archivos .cfg" in err
    code, _, err = run(
        capsys, *db, "red", "cumplimiento", "gw-nadie", "--directorio", str(tmp_path)
    )
    assert code == 2 and "«gw-nadie»" in err
    code, _, err = run(capsys, *db, "red", "cumplimiento")
    assert code == 2 and "aún no hay respaldos" in err


def test_raw_files_with_secrets_never_reach_any_report(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    import re

    raw = tmp_path / "crudo"
    ar = (
        real("gw-emb-ar")
        .replace(
            " description enlace a sede central",
            " description enlace a sede central\n ip ospf authentication-key 0spfK3y",
        )
        .replace(
            "neighbor 198.18.0.5 password bgpSecret1", "neighbor 198.18.0.5 password 7 Tipo7S3c"
        )
    )
    ar = ar.replace("\nend", "\nsnmp-server community c0mun1dad RO\nkey chain K\n key 1\n"
                    "  key-string cadena secreta\n exit\nexit\nend")  # fmt: skip
    for path, text in (("lima/gw-lima.cfg", real("gw-lima")), ("emb-ar/gw-emb-ar.cfg", ar),
                       ("gw-emb-bo.cfg", real("gw-emb-bo"))):  # fmt: skip
        (raw / path).parent.mkdir(parents=True, exist_ok=True)
        (raw / path).write_text(text, "utf-8")
    secrets = set(re.findall(r"password (?:7 )?(\S+)", real("gw-lima") + real("gw-emb-bo") + ar))
    secrets |= {"0spfK3y", "Tipo7S3c", "c0mun1dad", "cadena secreta", "cadena"}
    assert {"vtyHQ", "bgpSecret2", "Tipo7S3c"} <= secrets
    outputs = []
    for fmt in ("tabla", "json", "csv", "html"):
        code, out, err = run(
            capsys, *db, "red", "cumplimiento", "--directorio", str(raw), "-f", fmt
        )
        assert code == 3, err  # one device does not comply: the report is written, exit 3
        outputs.append(out + err)
    data = json.loads(outputs[1])
    ar_result = next(d for d in data["devices"] if d["device"] == "gw-emb-ar")
    assert ar_result["status"] == "non_compliant"  # the extra lines are there, masked
    text = "\n".join(outputs)
    assert "ip ospf authentication-key <secreto" in text  # reported, masked
    for secret in secrets:
        assert secret not in text, secret


def test_the_run_is_recorded_for_the_audit(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path, tmp_path: Path
) -> None:
    from auditoria import propios
    from pukara.config import load_settings
    from pukara.events import get_field
    from pukara.store import SQLiteStore

    assert run(capsys, *db, "red", "cumplimiento", "--directorio", str(folder))[0] == 3
    store = SQLiteStore(tmp_path / "inv.db")
    try:
        docs = list(store.search_events(dataset="red.cumplimiento"))
        assert sorted(get_field(d, "host.name") for d in docs) == ["gw-emb-ar", "gw-emb-bo",
                                                                 "gw-lima"]  # fmt: skip
        assert len({get_field(d, "red.cumplimiento.run") for d in docs}) == 1
        settings = load_settings({"data_dir": tmp_path, "db": tmp_path / "inv.db"}, environ={})
        got = {r.check_id: r for r in propios.run(store, settings)}["rec_config_compliance"]
    finally:
        store.close()
    assert got.status.value == "pass", got.message
    assert got.evidence["drift"] == {"gw-emb-ar": ["bgp"]}
    assert "remote-as" not in repr(docs)  # names and statuses, no configuration text
