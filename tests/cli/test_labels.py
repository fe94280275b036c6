"""Tables show Spanish labels for stored identifiers; JSON and CSV keep them as stored."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from cli import main
from pukara.labels import COLLECTIONS, collection_key
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
    code, out, err = run(capsys, "--base-datos", str(db), "cambios", "listar", "--todos")
    assert code == 0, err
    for english in ("asset", "insert", "update", "delete", "monitor_state", '["', "T", "Z │"):
        assert english not in out.replace("Fecha", "").replace("UTC", ""), (english, out)
    for spanish in ("activo", "alta", "modificación", "borrado", "estado de monitoreo", "gw-lim"):
        assert spanish in out, (spanish, out)
    code, out, _ = run(
        capsys, "--base-datos", str(db), "cambios", "listar", "-f", "json", "--todos"
    )
    rows = json.loads(out)
    assert [r["action"] for r in rows] == ["insert", "update", "insert", "delete"]
    assert rows[0]["collection"] == "asset" and rows[0]["key"] == '["gw-lim"]'
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "--coleccion",
                       "estado de monitoreo", "-f", "csv")  # fmt: skip
    assert code == 0 and out.count("monitor_state") == 2


def test_collections_are_found_by_their_spanish_name() -> None:
    assert collection_key("Activo") == "asset" and collection_key("observacion") == "observation"
    assert collection_key("asset") == "asset" and collection_key("otra") is None
    assert collection_key("estado snmp") == "monitor_snmp"
    assert collection_key("Estado de Monitoreo") == "monitor_state"
    assert collection_key("sedes") == "site" and collection_key("sites") == "site"
    assert collection_key("observaciones") == "observation"
    assert (
        collection_key("auditorías") == "audit_run" and collection_key("auditorias") == "audit_run"
    )


def test_an_unknown_collection_is_a_usage_error_listing_the_valid_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("monitor_snmp", [{"site": "lim", "ok": True}], key=["site"])
    listar = ["--base-datos", str(db), "cambios", "listar", "--coleccion"]
    code, out, err = run(capsys, *listar, "estado del tiempo")
    assert (code, out) == (2, "")
    assert "--coleccion «estado del tiempo»: colección desconocida; válidas: sede (site)" in err
    assert "estado SNMP (monitor_snmp)" in err
    code, out, err = run(capsys, *listar, "estado snmp", "-f", "json")
    assert code == 0 and [c["collection"] for c in json.loads(out)] == ["monitor_snmp"], err
    code, out, _ = run(capsys, "--base-datos", str(db), "cambios", "listar", "--todos")
    assert "estado SNMP" in out and "monitor_snmp" not in out


STORE_CALLS = frozenset({"upsert", "entities", "put_state", "write_entities"})
STORE_KEY_CALLS = frozenset({"get", "delete"})  # only on something called *store


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _modules() -> dict[str, ast.Module]:
    files = [ROOT / "cli.py", *(p for area in AREAS for p in sorted((ROOT / area).rglob("*.py")))]
    return {_module_name(p): ast.parse(p.read_text()) for p in files}


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        t.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for t in node.targets if isinstance(t, ast.Name)
    }  # fmt: skip


def _imports(tree: ast.Module) -> dict[str, tuple[str, str | None]]:
    """alias → (module, name): ``from m import X as A`` is (m, X), ``import m as A`` is (m, None)."""
    out: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name] = (a.name, None)
    return out


def _collection_arg(node: ast.Call) -> ast.expr | None:
    """The expression naming the collection in a call to the store, if it is one."""
    func = node.func
    if isinstance(func, ast.Name) and func.id == "EntityBatch" and node.args:
        return node.args[0]
    if not isinstance(func, ast.Attribute):
        return None
    on_store = "store" in ast.unparse(func.value).lower()
    if node.args and (func.attr in STORE_CALLS or (func.attr in STORE_KEY_CALLS and on_store)):
        return node.args[0]
    if func.attr == "changes" and on_store:
        return next((k.value for k in node.keywords if k.arg == "collection"), None)
    return None


def _resolve(modules: dict[str, ast.Module], module: str, node: ast.expr) -> str | None:
    """A literal, a module constant or an imported one (``COLLECTION``, ``maintenance.X``)."""
    consts = {name: _constants(tree) for name, tree in modules.items()}
    imports = _imports(modules[module])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts[module]:
        return consts[module][node.id]
    if isinstance(node, ast.Name) and node.id in imports:
        source, name = imports[node.id]
        return consts.get(source, {}).get(name or "")
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        source, name = imports.get(node.value.id, ("", None))
        return consts.get(source if name is None else f"{source}.{name}", {}).get(node.attr)
    return None


def _collection_names() -> dict[str, str]:
    """Every collection name the product code reads or writes, with where it is used."""
    modules = _modules()
    found: dict[str, str] = {}
    for module, tree in modules.items():
        for node in ast.walk(tree):
            arg = _collection_arg(node) if isinstance(node, ast.Call) else None
            name = None if arg is None else _resolve(modules, module, arg)
            if name is not None:
                found.setdefault(name, f"{module}:{getattr(node, 'lineno', 0)}")
    return found


def test_every_collection_the_code_uses_has_a_spanish_label() -> None:
    used = _collection_names()
    expected = {"site", "asset", "observation", "maintenance", "monitor_state", "monitor_snmp"}
    assert expected <= set(used), used  # the scan finds what it must find
    unlabelled = {name: where for name, where in used.items() if name not in COLLECTIONS}
    assert not unlabelled, f"colecciones sin etiqueta en pukara/labels.py: {unlabelled}"
    for label in COLLECTIONS.values():
        assert label == label.strip() and label[:1].islower(), label


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
