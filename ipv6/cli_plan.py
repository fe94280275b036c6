"""`pukara ipv6 plan`: the address-plan linter and the ip6.arpa delegations."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, message, render
from pukara.errors import ExitCode

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
    """The inventory's site codes, or None when there is no database to read."""
    from inventario.catalog import sites
    from pukara.store import opened_store

    if settings.db_origin is None and not settings.db.exists():
        return None
    with opened_store(settings, read_only=True) as store:
        return [str(s["code"]) for s in sites(store)]


def _junit(findings: list[dict[str, Any]]) -> str:
    from ipv6.junit import junit
    from ipv6.plan_reglas import RULES

    failures: dict[str, list[str]] = {}
    for f in findings:
        where = f"línea {f['line']}: " if f["line"] is not None else ""
        failures.setdefault(f["rule"], []).append(where + f["message"])
    return junit("pukara ipv6 plan verificar", RULES, failures)


@app.command("verificar")
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

    Cada hallazgo indica la línea del archivo, la regla, la gravedad y qué corregir. Sale con
    0 si no hay hallazgos, con 3 si los hay y con 2 si el archivo no se puede leer (el mensaje
    nombra la línea).
    """
    from ipv6 import plan
    from pukara.text import count

    entries = plan.read_plan(archivo)
    sites = None if sin_inventario else _inventory_sites(ctx.obj)
    findings = [f.record() for f in plan.check(entries, sites)]
    if formato is FormatoPlan.junit:
        typer.echo(_junit(findings), nl=False)
    else:
        render(findings, Formato(formato.value), FINDING_COLUMNS, title="Hallazgos del plan",
               shown={"severity": lambda s: SEVERITY_SHOWN.get(s, s)})  # fmt: skip
    errors = sum(1 for f in findings if f["severity"] == "error")
    note = "" if sites is not None or sin_inventario else " (sin inventario: no se revisó P10)"
    message(
        f"{count(len(entries), 'prefijo', 'prefijos')} revisados: "
        f"{count(errors, 'error', 'errores')}, "
        f"{count(len(findings) - errors, 'advertencia', 'advertencias')}{note}.",
        quiet=formato is not FormatoPlan.tabla,
    )
    if findings:
        raise typer.Exit(ExitCode.PARTIAL)


@app.command("delegaciones")
def delegaciones(archivo: ArchivoArg, formato: FormatoOpt = Formato.tabla) -> None:
    """Lista las zonas ip6.arpa que el plan delega: una por asignación, bloque ULA y bloque de
    sede en límite de nibble; un bloque fuera de límite se cubre con las zonas del nibble
    siguiente (un /47 son dos zonas /48). Las zonas ULA son solo para los resolutores propios.
    """
    from ipv6 import delegaciones as dele
    from ipv6 import plan

    entries = plan.read_plan(archivo)
    render(dele.delegations(entries), formato, ZONE_COLUMNS, title="Zonas ip6.arpa a delegar",
           shown={"public": lambda v: "sí" if v else "no (ULA)"})  # fmt: skip
