"""`pukara ipv6 plan`: the address-plan linter and the ip6.arpa delegations."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, message, render
from pukara.errors import ExitCode

if TYPE_CHECKING:
    from ipv6.modelo import CheckResult

app = typer.Typer(
    help="Plan de direccionamiento IPv6: verificación de reglas y zonas ip6.arpa a delegar.",
    no_args_is_help=True,
)


class FormatoPlan(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"
    junit = "junit"


FINDING_COLUMNS = {
    "line": "Línea", "rule": "Regla", "severity": "Gravedad", "prefix": "Prefijo",
    "name": "Nombre", "message": "Hallazgo",
}  # fmt: skip
SEVERITY_SHOWN = {"error": "error", "warning": "advertencia"}
ZONE_COLUMNS = {
    "zone": "Zona", "prefix": "Prefijo", "block": "Bloque del plan", "kind": "Tipo",
    "site": "Sede", "name": "Nombre", "line": "Línea", "public": "Pública",
}  # fmt: skip

ArchivoArg = Annotated[
    Path,
    typer.Argument(
        metavar="ARCHIVO",
        help="Plan en CSV (prefix,kind,site,name) o YAML (.yaml/.yml, una lista con esas claves).",
        show_default=False,
    ),
]


def _inventory_sites(settings: Settings) -> list[str] | None:
    """The inventory's site codes, or None when there is no database to read or it holds no
    site (a store that only keeps IPv6 runs is no inventory)."""
    from inventario.catalog import sites
    from pukara.store import opened_store

    if settings.db_origin is None and not settings.db.exists():
        return None
    with opened_store(settings, read_only=True) as store:
        return [str(s["code"]) for s in sites(store)] or None


def _junit(results: list[CheckResult]) -> str:
    """One case per rule ("<plan> P08"), every finding of the rule in its body."""
    from ipv6.junit import Case, cases_junit
    from ipv6.plan_reglas import RULES

    cases = []
    for r in results:
        lines = tuple(
            (f"línea {f['line']}: " if f["line"] is not None else "") + f["message"]
            for f in r.evidence.get("findings", [])
        )
        cases.append(Case(f"{r.subject} {r.check}", r.status.value, r.message, RULES[r.check],
                          lines))  # fmt: skip
    return cases_junit("pukara ipv6 plan verificar", cases)


def _save(settings: Settings, results: list[CheckResult], meta: dict[str, Any]) -> str | None:
    """Store the run (kind ``plan``) for ``ipv6 informe`` and ``ipv6 diff``; a store that
    refuses it is a warning (the findings were already shown), and None."""
    from ipv6.almacen import store_run
    from pukara.errors import PukaraError

    try:
        return store_run(settings, "plan", results, meta)
    except PukaraError as e:
        message(f"Aviso: la corrida no se guardó (ipv6 diff e ipv6 informe no la verán): "
                f"{e.message}")  # fmt: skip
        return None


EPILOG_VERIFICAR = """\b
Ejemplos:
  pukara ipv6 plan verificar plan.csv
  pukara ipv6 plan verificar plan.csv -f junit > plan.xml
"""
EPILOG_DELEGACIONES = """\b
Ejemplos:
  pukara ipv6 plan delegaciones plan.csv
  pukara ipv6 plan delegaciones plan.csv -f csv
"""


@app.command("verificar", epilog=EPILOG_VERIFICAR)
def verificar(
    ctx: typer.Context,
    archivo: ArchivoArg,
    formato: Annotated[
        FormatoPlan,
        typer.Option("--formato", "-f", help="Formato de salida: tabla, json, csv o junit."),
    ] = FormatoPlan.tabla,
    sin_inventario: Annotated[
        bool,
        typer.Option(
            "--sin-inventario",
            help="No compara el plan con las sedes del inventario (regla P10).",
        ),
    ] = False,
) -> None:
    """Verifica el plan de direccionamiento IPv6 con las reglas P01-P13: LAN /64, bloques en
    límite de nibble, enlaces /127 y loopbacks /128 de un /64 reservado, sin superposiciones,
    todo dentro de la asignación, sin prefijos de documentación, ULA con Global ID aleatorio,
    cada sede del inventario con su bloque y nombres sin repetir.

    Cada hallazgo indica la línea del archivo, la regla, la gravedad y qué corregir. La
    corrida se guarda (un resultado por regla) para ipv6 informe e ipv6 diff. Sale con 0 si
    no hay hallazgos, con 3 si los hay y con 2 si el archivo no se puede leer (el mensaje
    nombra la línea).
    """
    from ipv6 import plan, plan_corrida
    from ipv6.almacen import utc_text
    from pukara.text import count

    started = utc_text()
    entries = plan.read_plan(archivo)
    sites = None if sin_inventario else _inventory_sites(ctx.obj)
    found = plan.check(entries, sites)
    findings = [f.record() for f in found]
    results = plan_corrida.results(found, archivo.name, sites_checked=sites is not None)
    if formato is FormatoPlan.junit:
        typer.echo(_junit(results), nl=False)
    else:
        render(findings, Formato(formato.value), FINDING_COLUMNS, title="Hallazgos del plan",
               shown={"severity": lambda s: SEVERITY_SHOWN.get(s, s)})  # fmt: skip
    errors = sum(1 for f in findings if f["severity"] == "error")
    note = "" if sites is not None or sin_inventario else " (sin inventario: no se revisó P10)"
    message(
        f"{count(len(entries), 'prefijo revisado', 'prefijos revisados')}: "
        f"{count(errors, 'error', 'errores')}, "
        f"{count(len(findings) - errors, 'advertencia', 'advertencias')}{note}.",
        quiet=formato is not FormatoPlan.tabla,
    )
    meta = {"started_at": started, "finished_at": utc_text(), "file": str(archivo),
            "entries": len(entries), "inventory": sites is not None}  # fmt: skip
    run_id = _save(ctx.obj, results, meta)  # after the output: a store error loses nothing
    if run_id is not None:
        message(f"Corrida guardada: {run_id}", quiet=formato is not FormatoPlan.tabla)
    if findings:
        raise typer.Exit(ExitCode.PARTIAL)


@app.command("delegaciones", epilog=EPILOG_DELEGACIONES)
def delegaciones(archivo: ArchivoArg, formato: FormatoOpt = Formato.tabla) -> None:
    """Lista las zonas ip6.arpa que el plan delega: una por asignación, bloque ULA y bloque de
    sede en límite de nibble; un bloque fuera de límite se cubre con las zonas del nibble
    siguiente (un /47 son dos zonas /48). Las zonas ULA son solo para los resolutores propios.

    Si alguna fila del plan no se puede leer (prefijo o tipo inválido), lista esas filas con
    su línea (regla P01) en lugar de las zonas y sale con 3.
    """
    from ipv6 import delegaciones as dele
    from ipv6 import plan
    from pukara.text import count

    entries = plan.read_plan(archivo)
    bad = dele.unreadable(entries)
    if bad:
        render(bad, formato, FINDING_COLUMNS, title="Filas del plan que no se pueden leer",
               shown={"severity": lambda s: SEVERITY_SHOWN.get(s, s)})  # fmt: skip
        message(f"{count(len(bad), 'fila no se puede leer', 'filas no se pueden leer')}: "
                "corríjalas antes de delegar las zonas.", quiet=formato is not Formato.tabla)  # fmt: skip
        raise typer.Exit(ExitCode.PARTIAL)
    render(dele.delegations(entries), formato, ZONE_COLUMNS, title="Zonas ip6.arpa a delegar",
           shown={"public": lambda v: "sí" if v else "no (ULA)"})  # fmt: skip
