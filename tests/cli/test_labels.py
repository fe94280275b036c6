"""Tables show Spanish labels for stored identifiers; JSON and CSV keep them as stored."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from cli import main
from pukara.labels import collection_key
from pukara.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
AREAS = ["pukara", "inventario", "monitoreo", "red", "ipv6", "auditoria", "csirt", "lab"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_change_log_table_speaks_spanish_json_keeps_the_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("asset", [{"name": "gw-lim", "kind": "router"}], key=["name"])
        store.upsert("asset", [{"name": "gw-lim", "kind": "firewall"}], key=["name"])
        store.upsert("monitor_state", [{"entity": "lim", "state": "up"}], key=["entity"])
        store.delete("monitor_state", ["lim"])
    code, out, err = run(capsys, "--base-datos", str(db), "cambios", "listar")
    assert code == 0, err
    for english in ("asset", "insert", "update", "delete", "monitor_state", '["', "T", "Z │"):
        assert english not in out.replace("Fecha", "").replace("UTC", ""), (english, out)
    for spanish in ("activo", "alta", "modificación", "borrado", "estado de monitoreo", "gw-lim"):
        assert spanish in out, (spanish, out)
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "-f", "json")
    rows = json.loads(out)
    assert [r["action"] for r in rows] == ["insert", "update", "insert", "delete"]
    assert rows[0]["collection"] == "asset" and rows[0]["key"] == '["gw-lim"]'
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "--coleccion",
                       "estado de monitoreo", "-f", "csv")  # fmt: skip
    assert code == 0 and out.count("monitor_state") == 2


def test_collections_are_found_by_their_spanish_name() -> None:
    assert collection_key("Activo") == "asset" and collection_key("observacion") == "observation"
    assert collection_key("asset") == "asset" and collection_key("otra") == "otra"


def _column_dicts() -> list[tuple[str, dict[str, str]]]:
    found = []
    for area in AREAS:
        for path in sorted((ROOT / area).rglob("cli.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or getattr(node.func, "id", "") != "render":
                    continue
                if len(node.args) >= 3 and isinstance(node.args[2], ast.Dict):
                    found.append((f"{path.name}:{node.lineno}", _literal(node.args[2])))
            for node in ast.walk(tree):
                if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                        and any(getattr(t, "id", "").endswith("COLUMNS") for t in node.targets)):  # fmt: skip
                    found.append((f"{path.name}:{node.lineno}", _literal(node.value)))
    return found


def _literal(node: ast.Dict) -> dict[str, str]:
    out = {}
    for k, v in zip(node.keys, node.values, strict=True):
        if isinstance(k, ast.Constant) and isinstance(v, ast.Constant):
            out[str(k.value)] = str(v.value)
        elif isinstance(k, ast.Constant):
            out[str(k.value)] = "Calculado"
    return out


def test_every_table_header_is_a_spanish_label_not_the_data_key() -> None:
    tables = _column_dicts()
    assert len(tables) > 15
    for where, columns in tables:
        for key, header in columns.items():
            assert header != key and (header[:1].isupper() or header[:1].isdigit()), (where, key)
            assert not re.search(r"[a-z][._][a-z]", header), (where, key, header)  # site.code


def test_import_preview_names_fields_and_collections_in_spanish(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ["--base-datos", str(tmp_path / "p.db")]
    assert run(capsys, *db, "inventario", "importar", "--ejemplo", "-q")[0] == 0
    sample = ROOT / "inventario" / "ejemplo" / "activos.csv"
    header, first = sample.read_text().splitlines()[:2]
    changed = tmp_path / "cambio.csv"
    changed.write_text(f"{header}\n{first.replace('198.19.0.11', '198.19.0.99')}\n")
    code, out, err = run(capsys, *db, "inventario", "importar", str(changed), "--simular")
    assert code == 0, err
    assert "IPv4 de gestión" in out and "activo" in out and "modificación" in out
    assert "mgmt_ipv4" not in out and "asset" not in out
    code, out, _ = run(capsys, *db, "inventario", "importar", str(changed), "--simular", "-f",
                       "json")  # fmt: skip
    assert json.loads(out)[0]["field"] == "mgmt_ipv4" and json.loads(out)[0]["kind"] == "asset"
