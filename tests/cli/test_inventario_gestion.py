"""Keeping the inventory: retire and delete, sites with filters, reconciliation per field,
file encodings, reused addresses, dates that make sense and one error for an unknown site."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli import main
from inventario import discovery, observations
from inventario.model import FIELDS
from pukara.config import load_settings
from pukara.results import Result, Status
from pukara.store import SQLiteStore


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--base-datos", str(tmp_path / "inv.db")]


@pytest.fixture
def sample(capsys: pytest.CaptureFixture[str], db: list[str]) -> list[str]:
    assert run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")[0] == 0
    return db


def _names(out: str) -> set[str]:
    return {r["name"] for r in json.loads(out)}


def test_retire_keeps_the_asset_out_of_service_and_in_its_history(
    capsys: pytest.CaptureFixture[str], sample: list[str], tmp_path: Path
) -> None:
    db = sample
    code, _, err = run(capsys, *db, "inventario", "baja", "gw-emb-ar", "--motivo",
                       "Reemplazado por un equipo nuevo", "--fecha", "2026-05-01")  # fmt: skip
    assert code == 0 and "dado de baja el 2026-05-01" in err
    code, out, _ = run(capsys, *db, "inventario", "mostrar", "gw-emb-ar", "-f", "json")
    shown = json.loads(out)[0]
    assert (shown["status"], shown["retired_on"], shown["retired_reason"]) == (
        "dado_de_baja", "2026-05-01", "Reemplazado por un equipo nuevo",
    )  # fmt: skip
    # out of the default listing, the Ansible inventory, discovery and monitoring
    assert "gw-emb-ar" not in _names(run(capsys, *db, "inventario", "listar", "-f", "json")[1])
    assert "gw-emb-ar" in _names(
        run(capsys, *db, "inventario", "listar", "--bajas", "-f", "json")[1]
    )
    retired = _names(
        run(capsys, *db, "inventario", "listar", "--estado", "dado de baja", "-f", "json")[1]
    )
    assert retired == {"gw-emb-ar"}
    listed = json.loads(run(capsys, *db, "inventario", "ansible", "--list")[1])
    assert "gw-emb-ar" not in listed["_meta"]["hostvars"]
    from monitoreo.sites import load_sites

    with SQLiteStore(Path(db[1])) as store:
        assert load_sites(store)["emb-ar"].gateway != "gw-emb-ar"
        targets = discovery.resolve(store, [], [])
        assert "198.18.0.6" not in {t.address for t in targets}
    # named explicitly, it is refused before any probe, naming it as retired
    code, _, err = run(capsys, *db, "inventario", "descubrir", "GW-EMB-AR", "-m", "snmp")
    assert code == 2 and "el activo «gw-emb-ar» está dado de baja desde el 2026-05-01" in err
    # in its history and the change log
    code, out, _ = run(capsys, *db, "inventario", "historial", "gw-emb-ar", "-f", "json")
    history = json.loads(out)
    assert code == 0 and [h["action"] for h in history] == ["insert", "update"]
    assert {"status", "retired_on", "retired_reason"} <= set(history[-1]["fields"])
    assert history[-1]["reason"] == "Reemplazado por un equipo nuevo"
    code, out, _ = run(capsys, *db, "cambios", "listar", "--coleccion", "asset",
                       "--clave", "gw-emb-ar", "-f", "json")  # fmt: skip
    assert [c["action"] for c in json.loads(out)] == ["insert", "update"]
    # twice is an error; a reason is required
    code, _, err = run(capsys, *db, "inventario", "baja", "gw-emb-ar", "--motivo", "otra vez")
    assert code == 1 and "ya está dado de baja desde 2026-05-01" in err
    code, _, err = run(capsys, *db, "inventario", "baja", "gw-emb-bo", "--motivo", "  ")
    assert code == 2 and "--motivo" in err
    # a date after today is refused; a retirement by import is dated today
    code, _, err = run(capsys, *db, "inventario", "baja", "gw-emb-bo", "--motivo", "x",
                       "--fecha", "2999-01-01")  # fmt: skip
    assert (
        code == 1
        and "campo «Fecha de baja» (retired_on): la baja (2999-01-01) es posterior a hoy" in err
    )
    by_file = tmp_path / "baja.csv"
    by_file.write_text("name,status,retired_reason\r\ngw-emb-bo,dado de baja,Robado\r\n")
    assert run(capsys, *db, "inventario", "importar", str(by_file), "--tipo", "activos")[0] == 0
    shown = json.loads(run(capsys, *db, "inventario", "mostrar", "gw-emb-bo", "-f", "json")[1])
    assert shown[0]["retired_on"] == datetime.now(UTC).date().isoformat()
    # the retirement survives an export and re-import
    export = tmp_path / "activos.csv"
    run(capsys, *db, "inventario", "exportar", "-f", "csv", "--archivo", str(export))
    assert "2026-05-01,Reemplazado por un equipo nuevo" in export.read_text()
    assert ",Robado" in export.read_text()
    assert "0 cambios aplicados" in run(capsys, *db, "inventario", "importar", str(export))[2]


def test_delete_asks_for_confirmation_and_is_in_the_change_log(
    capsys: pytest.CaptureFixture[str], sample: list[str]
) -> None:
    db = sample
    code, _, err = run(capsys, *db, "inventario", "borrar", "gw-emb-bo")
    assert code == 2 and "--si" in err
    assert run(capsys, *db, "inventario", "mostrar", "gw-emb-bo")[0] == 0
    code, _, err = run(capsys, *db, "inventario", "borrar", "gw-emb-bo", "--si")
    assert code == 0 and "borrado" in err
    code, _, err = run(capsys, *db, "inventario", "mostrar", "gw-emb-bo")
    assert code == 2 and "«gw-emb-bo»" in err
    code, out, _ = run(capsys, *db, "inventario", "historial", "gw-emb-bo", "-f", "json")
    assert code == 0 and [h["action"] for h in json.loads(out)] == ["insert", "delete"]


def test_sites_filters_and_detail(
    capsys: pytest.CaptureFixture[str], sample: list[str], tmp_path: Path
) -> None:
    db = sample
    code, out, _ = run(capsys, *db, "inventario", "sedes", "--tipo", "Consulado", "-f", "json")
    assert code == 0 and len(json.loads(out)) == 64
    assert {s["kind"] for s in json.loads(out)} == {"consulado"}
    code, out, _ = run(capsys, *db, "inventario", "sedes", "--superior", "lima", "-f", "json")
    children = {s["code"] for s in json.loads(out)}
    assert {"dc1", "dc2", "adp"} <= children and "lima" not in children
    code, out, _ = run(capsys, *db, "inventario", "sedes", "--pais", "ar", "-f", "json")
    assert {s["country"] for s in json.loads(out)} == {"AR"}
    assert len(json.loads(run(capsys, *db, "inventario", "sedes", "-f", "json")[1])) == 152
    code, out, _ = run(capsys, *db, "inventario", "sedes", "mostrar", "DC1", "-f", "json")
    detail = json.loads(out)[0]
    assert code == 0 and detail["code"] == "dc1" and detail["timezone"] == "America/Lima"
    assert detail["assets_total"] > 20 and detail["assets_by_kind.servidor_fisico"] == 22
    code, out, _ = run(capsys, *db, "inventario", "sedes", "mostrar", "lima")
    assert code == 0 and "Sedes dependientes" in out and "dc1" in out
    # monitored: the gateway carries the tag monitoring looks for
    tags = tmp_path / "tags.csv"
    tags.write_text("name,tags\r\ngw-emb-ar,ejemplo|kbcs|wan|monitoreo\r\n")
    assert run(capsys, *db, "inventario", "importar", str(tags), "--tipo", "activos")[0] == 0
    code, out, _ = run(capsys, *db, "inventario", "sedes", "--vigilada", "-f", "json")
    assert [s["code"] for s in json.loads(out)] == ["emb-ar"]
    code, out, _ = run(capsys, *db, "inventario", "sedes", "--no-vigilada", "-f", "json")
    assert len(json.loads(out)) == 151
    code, out, _ = run(capsys, *db, "inventario", "sedes", "mostrar", "emb-ar", "-f", "json")
    assert json.loads(out)[0]["monitored"] is True


def test_an_unknown_site_is_the_same_usage_error_in_every_command(
    capsys: pytest.CaptureFixture[str], sample: list[str]
) -> None:
    db = sample
    wanted = "la sede «nope» no está en el inventario"
    for args in (
        ("inventario", "listar", "--sede", "nope"),
        ("inventario", "sedes", "--superior", "nope"),
        ("inventario", "sedes", "mostrar", "nope"),
        ("monitoreo", "mantenimiento", "agregar", "nope", "--desde", "2026-01-01 00:00",
         "--hasta", "2026-01-01 01:00"),
    ):  # fmt: skip
        code, out, err = run(capsys, *db, *args)
        assert (code, out) == (2, ""), args
        assert wanted in err, args
    for args in (("listar", "--pais", "XX"), ("sedes", "--pais", "XX"), ("sedes", "--tipo", "bar")):
        code, out, err = run(capsys, *db, "inventario", *args)
        assert (code, out) == (2, "") and "no es" in err, args


def test_show_as_csv_gives_the_whole_record(
    capsys: pytest.CaptureFixture[str], sample: list[str]
) -> None:
    db = sample
    with SQLiteStore(Path(db[1])) as store:
        facts = {"name": "srv-lima-01", "serial": "CZJ7340017",
                 "disks": [{"mount": "/", "size_gb": 50.0, "used_pct": 10.0}]}  # fmt: skip
        observations.record(store, "ansible", [Result("198.19.0.11", Status.OK,
                                                      data={"facts": facts})])  # fmt: skip
    code, out, _ = run(capsys, *db, "inventario", "mostrar", "srv-lima-01", "-f", "csv")
    header, row = list(csv.reader(io.StringIO(out)))
    record = dict(zip(header, row, strict=True))
    assert code == 0
    assert {f.name for f in FIELDS["asset"]} <= set(header)
    assert record["asset_tag"] == "PAT-00011" and record["purchase_date"] == "2016-06-08"
    assert record["observations.0.source"] == "ansible"
    assert record["observations.0.facts.serial"] == "CZJ7340017"
    assert record["observations.0.facts.disks.0.mount"] == "/"


def test_a_windows_1252_file_is_explained_or_read_with_its_encoding(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "activos excel.csv"
    path.write_bytes("name,kind,serial,custodian\r\nr1,router,S-1,José Muñoz\r\n".encode("cp1252"))
    assert b"Jos\xe9 Mu\xf1oz" in path.read_bytes()
    code, out, err = run(capsys, *db, "inventario", "importar", str(path))
    assert (code, out) == (1, "")
    where = "línea 2, columna 4 («custodian»), carácter 18"
    assert f"{path}: {where}: el archivo no está en UTF-8" in err
    assert "CSV UTF-8" in err and "--codificacion cp1252" in err
    assert "Jos" not in err and "Muñoz" not in err  # where, never what the cell says
    code, _, err = run(capsys, *db, "inventario", "importar", str(path), "--codificacion", "cp1252")
    assert code == 0
    code, out, _ = run(capsys, *db, "inventario", "mostrar", "r1", "-f", "json")
    assert json.loads(out)[0]["custodian"] == "José Muñoz"
    code, _, err = run(
        capsys, *db, "inventario", "importar", str(path), "--codificacion", "klingon"
    )
    assert code == 2 and "klingon" in err


def test_the_encoding_error_never_quotes_a_cell_a_secret_included(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(b"name,kind,site,comunidad\ngw-lim,router,lim,S\xe9cretoP\xfablico99\n")
    for extra in ([], ["--codificacion", "utf-8"]):
        code, out, err = run(
            capsys, *db, "inventario", "importar", str(path), "--tipo", "activos", *extra
        )
        assert (code, out) == (1, "")
        assert f"{path}: línea 2, columna 4 («comunidad»), carácter 20: " in err, err
        assert "cretoP" not in err and "blico99" not in err and "lim,S" not in err
    semicolons = tmp_path / "puntoycoma.csv"
    semicolons.write_bytes(b'name;kind;"site"\n"g;w";router;"Cl\xe1ve1"\n')
    code, _, err = run(capsys, *db, "inventario", "importar", str(semicolons), "--tipo", "activos")
    assert code == 1 and "línea 2, columna 3 («site»), carácter 17" in err, err
    assert "Cl" not in err and "ve1" not in err


def test_a_reused_address_is_a_conflict_to_confirm_and_nothing_half_applied(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    first = tmp_path / "uno.csv"
    first.write_text("name,kind,mgmt_ipv4\r\nrouter-a,router,198.18.9.1\r\n")
    assert run(capsys, *db, "inventario", "importar", str(first), "-q")[0] == 0
    second = tmp_path / "dos.csv"
    second.write_text(
        "name,kind,mgmt_ipv4\r\nrouter-c,router,198.18.9.3\r\nrouter-b,router,198.18.9.1\r\n"
    )
    code, _, err = run(capsys, *db, "inventario", "importar", str(second))
    assert code == 1 and "no se aplicó ningún cambio" in err
    assert f"{second}: línea 3: campo «IPv4 de gestión» (mgmt_ipv4)" in err
    assert "«router-a»" in err and "«router-b»" in err and "--renombrar" in err
    listed = _names(run(capsys, *db, "inventario", "listar", "-f", "json")[1])
    assert listed == {"router-a"}  # neither the rename nor the other row
    code, _, _ = run(capsys, *db, "inventario", "importar", str(second), "--renombrar", "-q")
    assert code == 0
    assert _names(run(capsys, *db, "inventario", "listar", "-f", "json")[1]) == {
        "router-b", "router-c",
    }  # fmt: skip


def test_dates_that_make_no_sense_are_refused(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "fechas.csv"
    path.write_text(
        "name,kind,purchase_date,warranty_end\r\n"
        "s1,pc,2024-05-01,2023-05-01\r\n"
        "s2,pc,2999-01-01,\r\n"
        "s3,pc,2020-01-01,2023-01-01\r\n"
    )
    code, _, err = run(capsys, *db, "inventario", "importar", str(path), "--tipo", "activos")
    assert code == 1
    warranty = "campo «Fin de garantía» (warranty_end): la garantía termina antes de la compra"
    assert f"{path}: línea 2: {warranty} (fin de garantía 2023-05-01; compra 2024-05-01)" in err
    purchase = "campo «Compra» (purchase_date): la compra (2999-01-01) es posterior"
    assert f"{path}: línea 3: {purchase}" in err
    assert "línea 4" not in err
    assert _names(run(capsys, *db, "inventario", "listar", "-f", "json")[1]) == set()


def _shown(capsys: pytest.CaptureFixture[str], db: list[str], name: str) -> dict[str, object]:
    code, out, err = run(capsys, *db, "inventario", "mostrar", name, "-f", "json")
    assert code == 0, err
    return dict(json.loads(out)[0])


def test_reactivating_a_retired_asset_clears_its_retirement(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,kind,purchase_date\r\nr1,router,2020-01-01\r\n")
    assert run(capsys, *db, "inventario", "importar", str(path), "--tipo", "activos")[0] == 0
    code, _, err = run(capsys, *db, "inventario", "baja", "r1", "--motivo", "Averiado",
                       "--fecha", "2025-01-02")  # fmt: skip
    assert code == 0, err
    assert _shown(capsys, db, "r1")["retired_reason"] == "Averiado"
    back = tmp_path / "vuelve.csv"
    back.write_text("name,status\r\nr1,activo\r\n")
    assert run(capsys, *db, "inventario", "importar", str(back), "--tipo", "activos")[0] == 0
    shown = _shown(capsys, db, "r1")
    assert (shown["status"], shown["retired_on"], shown["retired_reason"]) == ("activo", None, None)
    code, _, err = run(capsys, *db, "inventario", "baja", "r1", "--motivo", "Robado")
    assert code == 0, err  # not «ya está dado de baja»
    assert _shown(capsys, db, "r1")["retired_reason"] == "Robado"


def test_a_stored_inconsistent_date_does_not_block_another_change(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    with SQLiteStore(Path(db[1])) as store:  # written before the date checks existed
        store.upsert("asset", [{"name": "old", "kind": "pc", "status": "activo",
                                "purchase_date": "2024-05-01", "warranty_end": "2023-05-01"}],
                     key=["name"])  # fmt: skip
    code, _, err = run(capsys, *db, "inventario", "baja", "old", "--motivo", "Obsoleto",
                       "--fecha", "2025-06-01")  # fmt: skip
    assert code == 0, err
    assert _shown(capsys, db, "old")["status"] == "dado_de_baja"
    # a row that sets one of the two dates is still checked
    fix = tmp_path / "garantia.csv"
    fix.write_text("name,warranty_end\r\nold,2023-06-01\r\n")
    code, _, err = run(capsys, *db, "inventario", "importar", str(fix), "--tipo", "activos")
    assert code == 1 and "campo «Fin de garantía» (warranty_end)" in err
    # as is a retirement dated before the purchase
    with SQLiteStore(Path(db[1])) as store:
        store.upsert("asset", [{"name": "old2", "kind": "pc", "status": "activo",
                                "purchase_date": "2024-05-01", "warranty_end": "2023-05-01"}],
                     key=["name"])  # fmt: skip
    code, _, err = run(capsys, *db, "inventario", "baja", "old2", "--motivo", "x",
                       "--fecha", "2024-01-01")  # fmt: skip
    assert code == 1 and "la baja es anterior a la compra (fecha de baja 2024-01-01; " in err


def test_a_planned_asset_may_be_bought_in_the_future(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "plan.csv"
    path.write_text("name,kind,status,purchase_date\r\nnuevo,switch,planificado,2999-03-01\r\n")
    code, _, err = run(capsys, *db, "inventario", "importar", str(path), "--tipo", "activos")
    assert code == 0, err
    assert _shown(capsys, db, "nuevo")["purchase_date"] == "2999-03-01"
    # in service before it is bought: refused, naming the field in Spanish
    active = tmp_path / "activo.csv"
    active.write_text("name,status\r\nnuevo,activo\r\n")
    code, _, err = run(capsys, *db, "inventario", "importar", str(active), "--tipo", "activos")
    assert (
        code == 1 and "campo «Compra» (purchase_date): la compra (2999-03-01) es posterior" in err
    )


def test_lifecycle_buckets_go_by_age_and_no_findings_exit_0(
    capsys: pytest.CaptureFixture[str], sample: list[str], db: list[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, *sample, "inventario", "informe", "ciclo-de-vida",
                       "--fecha", "2026-06-01", "-f", "json")  # fmt: skip
    assert code == 3
    line = next(ln for ln in err.splitlines() if "Antigüedad" in ln)
    order = ["menos de 3 años", "3 a 5 años", "5 a 8 años", "8 años o más"]
    present = [b for b in order if b in line]
    assert len(present) >= 3 and [line.index(b) for b in present] == sorted(
        line.index(b) for b in present
    )
    fresh = tmp_path / "nuevo.db"
    ok = tmp_path / "ok.csv"
    ok.write_text("name,kind,purchase_date,warranty_end,eol_date\r\nn1,pc,2025-01-01,2030-01-01,"
                  "2032-01-01\r\n")  # fmt: skip
    assert (
        run(
            capsys,
            "--base-datos",
            str(fresh),
            "inventario",
            "importar",
            str(ok),
            "--tipo",
            "activos",
        )[0]
        == 0
    )
    code, _, err = run(capsys, "--base-datos", str(fresh), "inventario", "informe",
                       "ciclo-de-vida", "--fecha", "2026-06-01")  # fmt: skip
    assert code == 0 and "0 activos requieren atención" in err


def test_unknown_credential_profiles_are_errors_naming_them(
    capsys: pytest.CaptureFixture[str],
    db: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,kind,mgmt_ipv4,credential_profile\r\nr9,router,198.18.9.9,falta\r\n")
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    creds = Path.home() / ".config" / "pukara" / "credenciales.toml"
    code, out, err = run(capsys, *db, "inventario", "descubrir", "r9", "--credencial", "nope")
    assert (code, out) == (1, "")
    assert "perfil de credenciales «nope» desconocido" in err
    assert f"no existe el archivo de credenciales {creds}" in err
    code, out, _ = run(capsys, *db, "inventario", "descubrir", "r9", "-m", "snmp", "-f", "json")
    (row,) = json.loads(out)
    assert code == 3 and "«falta» desconocido" in row["error"] and str(creds) in row["error"]
    # a credentials file named by PUKARA_CREDENTIALS that is not there, even if the
    # profile's fields come from the environment
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(tmp_path / "no-esta.toml"))
    monkeypatch.setenv("PUKARA_CRED_FALTA_COMMUNITY", "x")
    code, out, _ = run(capsys, *db, "inventario", "descubrir", "r9", "-m", "snmp", "-f", "json")
    assert f"no existe el archivo de credenciales {tmp_path / 'no-esta.toml'}" in out
    monkeypatch.delenv("PUKARA_CREDENTIALS")
    monkeypatch.delenv("PUKARA_CRED_FALTA_COMMUNITY")
    # with the file present but without that profile, the message says so
    creds.parent.mkdir(parents=True)
    creds.write_text('[otro]\ncommunity = "x"\n')
    creds.chmod(0o600)
    code, out, _ = run(capsys, *db, "inventario", "descubrir", "r9", "-m", "snmp", "-f", "json")
    assert f"no está en el archivo de credenciales {creds}" in json.loads(out)[0]["error"]


def test_reconcile_shows_each_field_with_the_sources_and_unknown_devices(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,kind,mgmt_ipv4,serial,vendor,model\r\n"
                    "srv1,servidor_fisico,198.18.9.10,SER-1,HPE,DL380\r\n")  # fmt: skip
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    settings = load_settings({"db": Path(db[1])}, environ={})
    with SQLiteStore(settings.db) as store:
        observations.record(store, "snmp", [
            Result("198.18.9.10", Status.OK, data={"facts": {"name": "srv1", "serial": "SER-1",
                                                             "vendor": "Dell"}}),
            Result("198.18.9.77", Status.OK, data={"facts": {"name": "intruso",
                                                             "serial": "ZZZ-9"}}),
        ])  # fmt: skip
        observations.record(store, "ansible", [
            Result("198.18.9.10", Status.OK, data={"facts": {"name": "srv1", "serial": "SER-1",
                                                             "vendor": "HPE", "os": "Linux"}}),
        ])  # fmt: skip
    code, out, _ = run(capsys, *db, "inventario", "conciliar", "-f", "json", "--todos")
    assert code == 3  # differences and an unknown device are findings
    rows = {(r["asset"], r["field"]): r for r in json.loads(out)}
    vendor = rows[("srv1", "vendor")]
    assert (vendor["declared"], vendor["snmp"], vendor["ansible"]) == ("HPE", "Dell", "HPE")
    assert (vendor["agree"], vendor["differ"], vendor["state"]) == (["ansible"], ["snmp"],
                                                                    "difiere")  # fmt: skip
    serial = rows[("srv1", "serial")]
    assert serial["agree"] == ["snmp", "ansible"] and serial["state"] == "coincide"
    os_row = rows[("srv1", "os")]  # nothing declared: the sources are compared among them
    assert (os_row["state"], os_row["agree"], os_row["differ"]) == ("sin declarar", ["ansible"], [])
    stranger = rows[(None, "name")]
    assert (stranger["target"], stranger["snmp"], stranger["serial"]) == (
        "198.18.9.77", "intruso", "ZZZ-9",
    )  # fmt: skip
    assert stranger["state"] == "no inventariado"
    _, out, _ = run(capsys, *db, "inventario", "conciliar", "-f", "json")
    assert ("srv1", "serial") not in {(r["asset"], r["field"]) for r in json.loads(out)}
    _, out, _ = run(capsys, *db, "inventario", "conciliar")
    assert "Equipos descubiertos que no están en el inventario" in out and "intruso" in out
    assert "Coinciden" in out and "Difieren" in out


def test_capacity_over_a_threshold_is_a_finding(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,kind,mgmt_ipv4\r\nsrv1,servidor_fisico,198.18.9.10\r\n")
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    code, _, err = run(capsys, *db, "inventario", "informe", "capacidad")
    assert code == 0 and "CPU sin datos" in err
    with SQLiteStore(Path(db[1])) as store:
        facts = {"name": "srv1", "cpu_count": 4, "cpu_used_pct": 95.5, "load_avg": [3.0, 3.5, 3.25],
                 "memory_mb": 16384, "memory_used_pct": 40.0}  # fmt: skip
        observations.record(store, "ansible", [Result("198.18.9.10", Status.OK,
                                                      data={"facts": facts})])  # fmt: skip
    code, out, err = run(capsys, *db, "inventario", "informe", "capacidad")
    assert code == 3 and "1 equipo sobre algún umbral" in err
    assert "95.5\u00a0%" in err and "16,384" in out and "3.25" in out


def _answer(db: list[str], asset: str, reply: bytes) -> tuple[int, str]:
    """``borrar`` run in a real terminal (a pty), answering its question with ``reply``."""
    import os
    import pty
    import select
    import subprocess
    import sys

    main_fd, child_fd = pty.openpty()
    pukara = Path(sys.executable).parent / "pukara"
    proc = subprocess.Popen([str(pukara), *db, "inventario", "borrar", asset],
                            stdin=child_fd, stdout=child_fd, stderr=child_fd)  # fmt: skip
    os.close(child_fd)
    seen = b""
    try:
        while b"[s/N]" not in seen:  # no hanging: a child that never asks fails the test
            ready, _, _ = select.select([main_fd], [], [], 30)
            chunk = os.read(main_fd, 1024) if ready else b""
            assert chunk, f"sin pregunta: {seen!r}"
            seen += chunk
        os.write(main_fd, reply)
        try:
            while chunk := os.read(main_fd, 1024):
                seen += chunk
        except OSError:  # the child closed the terminal
            pass
    finally:
        os.close(main_fd)
        if proc.poll() is None and b"[s/N]" not in seen:
            proc.kill()
        proc.wait(timeout=30)
    return proc.wait(timeout=30), seen.decode()


def test_delete_in_a_terminal_asks_and_takes_a_spanish_yes(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,kind,mgmt_ipv4\r\nerr-1,pc,198.18.9.21\r\n")
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    code, screen = _answer(db, "err-1", b"n\n")
    assert code == 0 and "No se borró nada" in screen  # a no is an answer, not an error
    code, screen = _answer(db, "err-1", b"\x04")  # Ctrl-D at the question is a no
    assert code == 0 and "No se borró nada" in screen and "Interrumpido" not in screen
    assert run(capsys, *db, "inventario", "mostrar", "err-1")[0] == 0
    code, screen = _answer(db, "err-1", b"s\n")
    assert code == 0 and "borrado" in screen
    assert run(capsys, *db, "inventario", "mostrar", "err-1")[0] == 2


def test_reconcile_adds_unknown_devices_only_when_asked_and_with_what_was_seen(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, *db, "inventario", "conciliar", "--todos")
    assert code == 0 and "Aún no hay nada observado" in err and "coincide" not in err
    path = tmp_path / "a.csv"
    path.write_text("name,kind,mgmt_ipv4,vendor\r\nsrv1,servidor_fisico,198.18.9.10,HPE\r\n")
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    with SQLiteStore(Path(db[1])) as store:
        observations.record(store, "snmp", [
            Result("198.18.9.10", Status.OK, data={"facts": {"name": "srv1", "vendor": "Dell"}}),
            Result("198.18.9.77", Status.OK, data={"facts": {
                "name": "intruso", "serial": "ZZZ-9", "vendor": "Cisco", "model": "C9300",
                "os": "IOS-XE", "os_version": "17.9"}}),
        ])  # fmt: skip
    code, _, err = run(capsys, *db, "inventario", "conciliar", "--aplicar")
    assert code == 3 and "1 activo actualizado o dado de alta" in err
    assert "1 equipo no inventariado queda fuera (--agregar-desconocidos" in err
    assert run(capsys, *db, "inventario", "mostrar", "intruso")[0] == 2  # not added silently
    assert _shown(capsys, db, "srv1")["vendor"] == "Dell"
    code, _, _ = run(capsys, *db, "inventario", "conciliar", "--agregar-desconocidos")
    assert code == 2
    code, _, err = run(capsys, *db, "inventario", "conciliar", "--aplicar",
                       "--agregar-desconocidos")  # fmt: skip
    assert code == 0 and "1 activo actualizado o dado de alta." in err
    added = _shown(capsys, db, "intruso")
    assert (added["kind"], added["mgmt_ipv4"], added["serial"], added["vendor"], added["model"],
            added["os"], added["os_version"]) == ("otro", "198.18.9.77", "ZZZ-9", "Cisco",
                                                  "C9300", "IOS-XE", "17.9")  # fmt: skip


def test_lifecycle_before_a_purchase_leaves_that_asset_out_and_says_so(
    capsys: pytest.CaptureFixture[str], db: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name,kind,purchase_date,warranty_end,eol_date\r\n"
                    "n1,pc,2025-01-01,2030-01-01,2032-01-01\r\n"
                    "v1,pc,1998-01-01,1999-01-01,2003-01-01\r\n")  # fmt: skip
    assert run(capsys, *db, "inventario", "importar", str(path), "-q")[0] == 0
    code, out, err = run(capsys, *db, "inventario", "informe", "ciclo-de-vida", "--todos",
                         "--fecha", "2000-01-01", "-f", "json")  # fmt: skip
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["v1"] and rows[0]["age_years"] == 2.0
    assert "comprados después de la fecha: 1" in err and "menos de 3 años: 1" in err
    assert code == 3  # v1's warranty had expired by then
