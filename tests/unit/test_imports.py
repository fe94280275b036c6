"""The import graph: which package may import which, no cycles, heavy libraries kept lazy."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AREAS = ["inventario", "red", "monitoreo", "registros", "ipv6", "auditoria", "csirt"]
PACKAGES = ["pukara", *AREAS, "lab"]
HEAVY = ["pysnmp", "scapy", "jinja2", "ansible_runner", "netmiko", "paramiko", "ntc_templates",
         "elasticsearch", "opensearchpy", "sigma"]  # fmt: skip


def _sources() -> Iterator[tuple[str, Path]]:
    """(importing package, file) for every product module and for cli.py."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path
    yield "cli", ROOT / "cli.py"


def _imported(path: Path) -> set[str]:
    """Top-level package names a module imports, at any depth (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> files (relative) that import it."""
    graph: dict[str, dict[str, list[str]]] = {}
    known = {*PACKAGES, "cli"}
    for package, path in _sources():
        for other in _imported(path) & known - {package}:
            graph.setdefault(package, {}).setdefault(other, []).append(str(path.relative_to(ROOT)))
    return graph


def test_the_graph_sees_function_level_imports() -> None:
    # monitoreo.cli imports the prober inside its commands; the graph must still see it
    assert "monitoreo" in _imported(ROOT / "monitoreo" / "cli.py")
    assert "pukara" in _graph()["monitoreo"]


def test_no_product_package_imports_the_lab() -> None:
    graph = _graph()
    offenders = {p: graph[p]["lab"] for p in ["pukara", *AREAS] if "lab" in graph.get(p, {})}
    assert offenders == {}


def test_the_core_imports_no_area() -> None:
    core = _graph().get("pukara", {})
    assert {k: v for k, v in core.items() if k != "pukara"} == {}


def test_no_cycle_between_packages() -> None:
    graph = {p: set(deps) for p, deps in _graph().items()}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # each cycle found once, from its least node
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def _modules_after(code: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUKARA_")}
    env["PYTHONPATH"] = str(ROOT)
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT,
        check=True,
    )  # fmt: skip
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _heavy(_modules_after("import cli")) == []


@pytest.mark.parametrize("area", [*AREAS, "lab", "cambios"])
def test_an_areas_help_loads_no_heavy_library(area: str) -> None:
    code = (
        "import contextlib, io, cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert cli.main([{area!r}, '--help']) == 0\n"
    )
    assert _heavy(_modules_after(code)) == []
