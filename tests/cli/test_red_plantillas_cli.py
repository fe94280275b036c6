"""The ministry's own golden templates ([red] plantillas): they override the shipped ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from red import intencion
from tests.cli import test_red_cumplimiento_cli as case

db, folder, run = case.db, case.folder, case.run  # its inventory and folder of backups

SHIPPED = Path(intencion.__file__).parent / "plantillas"


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ministry folder with its own router-mision.j2 (gw-lima keeps the shipped template)."""
    out = tmp_path / "mis-plantillas"
    out.mkdir()
    text = (SHIPPED / "router-mision.j2").read_text("utf-8")
    assert " description enlace a sede central\n" in text
    (out / "router-mision.j2").write_text(
        text.replace(" description enlace a sede central\n", " description enlace a Lima\n")
    )
    monkeypatch.setenv("PUKARA_RED_PLANTILLAS", str(out))
    yield out
    intencion.use_templates(None)  # the next test in this process reads the shipped ones


def _status(out: str) -> dict[str, str]:
    return {d["device"]: d["status"] for d in json.loads(out)["devices"]}


def test_own_template_first_then_the_shipped_ones(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path, own: Path
) -> None:
    args = [*db, "red", "cumplimiento", "gw-lima", "gw-emb-bo", "--directorio", str(folder)]
    code, out, err = run(capsys, *args, "-f", "json")
    assert code == 3 and _status(out) == {"gw-lima": "compliant", "gw-emb-bo": "non_compliant"}
    code, out, err = run(capsys, *args)
    assert "description enlace a Lima" in out and "description enlace a sede central" in out
    # the ministry's reglas.toml wins too: it maps missions to a template of its own name
    rules = (SHIPPED / "reglas.toml").read_text("utf-8")
    (own / "reglas.toml").write_text(rules.replace('"router-mision.j2"', '"mision.j2"'))
    (own / "mision.j2").write_text((SHIPPED / "router-mision.j2").read_text("utf-8"))
    code, out, err = run(capsys, *args, "-f", "json")
    assert _status(out) == {"gw-lima": "compliant", "gw-emb-bo": "compliant"}, err
    alone = [*db, "red", "cumplimiento", "gw-emb-bo", "--directorio", str(folder)]
    code, out, err = run(capsys, *alone, "-f", "json")  # no finding with gw-lima left out
    assert code == 0 and _status(out) == {"gw-emb-bo": "compliant"}, err


def test_errors_name_the_ministry_file_and_line(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path, own: Path
) -> None:
    args = [*db, "red", "cumplimiento", "gw-emb-bo", "--directorio", str(folder), "-f", "json"]
    template = own / "router-mision.j2"
    lines = template.read_text("utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if "bgp.router_id" in line)
    template.write_text("".join(lines).replace("bgp.router_id", "bgp.routerid"))
    code, out, err = run(capsys, *args)
    assert code == 3
    reason = json.loads(out)["devices"][0]["reason"]
    assert f"plantilla {template}, línea {number}:" in reason and "routerid" in reason
    (own / "reglas.toml").write_text("[plantillas\n")
    code, out, err = run(capsys, *args)
    assert code == 2 and f"{own / 'reglas.toml'} no es TOML válido" in err


def test_a_missing_folder_is_named(
    capsys: pytest.CaptureFixture[str], db: list[str], folder: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    gone = tmp_path / "no-existe"
    monkeypatch.setenv("PUKARA_RED_PLANTILLAS", str(gone))
    try:
        code, _, err = run(capsys, *db, "red", "cumplimiento", "--directorio", str(folder))
    finally:
        intencion.use_templates(None)
    assert code != 0 and f"la carpeta de plantillas de red «{gone}»" in err
    assert "PUKARA_RED_PLANTILLAS" in err


def test_remediar_reads_the_same_templates(
    capsys: pytest.CaptureFixture[str],
    db: list[str],
    own: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    from red.repositorio import ConfigRepo, default_path
    from tests.unit.red_cumplimiento_case import as_backed_up, real

    data = tmp_path / "datos"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("PUKARA_DATA_DIR", str(data))
    repo = ConfigRepo(default_path(data))
    text = as_backed_up(real("gw-emb-bo")).encode()
    repo.commit({"emb-bo/gw-emb-bo.cfg": text}, "Respaldo: gw-emb-bo", author="ana",
                when=datetime(2026, 11, 20, tzinfo=UTC))  # fmt: skip
    code, out, err = run(capsys, *db, "red", "remediar", "gw-emb-bo", "--simular",
                         "--desde-respaldo", "--formato", "json")  # fmt: skip
    assert code == 0, err
    (result,) = json.loads(out)
    assert "description enlace a Lima" in [c.strip() for c in result["commands"]], result
