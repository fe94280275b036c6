"""`pukara ipv6 equipos`: IPv6 readiness of the inventory's network devices (D1-D6)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, SilenciosoOpt, message, render
from pukara.errors import ExitCode

if TYPE_CHECKING:
    from ipv6.equipos import DeviceReport


class FormatoEquipos(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"
    junit = "junit"


STATUS_SHOWN = {"pass": "cumple", "fail": "falla", "warn": "advierte", "not-tested": "sin probar",
                "partial": "parcial"}  # fmt: skip
SUMMARY_COLUMNS = {"host.name": "Equipo", "site": "Sede", "address": "Dirección",
                   **{f"D{i}": f"D{i}" for i in range(1, 7)}}  # fmt: skip
DETAIL_COLUMNS = {"host.name": "Equipo", "check": "Prueba", "status": "Resultado",
                  "message": "Detalle"}  # fmt: skip
RECORD_COLUMNS = {"host.name": "Equipo", "site": "Sede", "role": "Tipo", "address": "Dirección",
                  "check": "Prueba", "title": "Qué se prueba", "status": "Resultado",
                  "message": "Detalle", "evidence": "Evidencia"}  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this module's command to `pukara ipv6`."""
    app.command("equipos", epilog=EPILOG)(equipos)


EPILOG = """\b
Ejemplos:
  pukara ipv6 equipos --credencial lab
  pukara ipv6 equipos lima --sin-ssh -f json
"""


def _summary(reports: list[DeviceReport]) -> list[dict[str, Any]]:
    return [
        {"host.name": r.name, "site": r.site, "address": r.address,
         **{c.check: STATUS_SHOWN.get(c.status, c.status) for c in r.checks}}
        for r in reports
    ]  # fmt: skip


def utc_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _save(settings: Settings, rows: list[dict[str, Any]], meta: dict[str, Any]) -> str | None:
    """Store the run as ``ipv6.resultado`` + ``ipv6.corrida`` events (for ``ipv6 diff`` and
    ``ipv6 informe``); returns its id, or None after a warning when the store refuses it."""
    from ipv6.almacen import from_records, store_run
    from ipv6.modelo import Category
    from pukara.errors import PukaraError

    try:
        return store_run(settings, "equipos", from_records(rows, Category.DEVICE), meta)
    except PukaraError as e:
        message(f"Aviso: la corrida no se guardó (ipv6 diff e ipv6 informe no la verán): "
                f"{e.message}")  # fmt: skip
        return None


def equipos(
    ctx: typer.Context,
    objetivos: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SEDES|EQUIPOS",
            help="Códigos de sede o nombres de equipo; sin ninguno, todos los equipos de red.",
            show_default=False,
        ),
    ] = None,
    formato: Annotated[
        FormatoEquipos,
        typer.Option("--formato", "-f", help="Formato de salida: tabla, json, csv o junit."),
    ] = FormatoEquipos.tabla,
    credencial: Annotated[
        str | None,
        typer.Option(
            "--credencial",
            metavar="PERFIL",
            help="Perfil SNMP para los equipos que no nombran uno (credential_profile).",
        ),
    ] = None,
    sin_ssh: Annotated[
        bool,
        typer.Option(
            "--sin-ssh",
            help="Solo SNMP: D5 prueba solo SNMP por IPv6 (si no responde falla; si responde "
            "queda sin probar, pues cumplir exige también SSH) y D6 queda sin probar.",
        ),
    ] = False,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Revisa la preparación IPv6 de los equipos de red del inventario: D1 IPv6 habilitado,
    D2 dirección global preferida, D3 reenvío y vecinos IPv6 (IP-MIB por SNMP), D4 lectura
    por IPV6-MIB cuando IP-MIB no basta, D5 gestión por SNMP y SSH en la dirección IPv6 del
    equipo y D6 evidencia de la CLI por SSH (interfaces y rutas IPv6).

    Cada resultado es cumple, falla, advierte o sin probar, con su evidencia. Una dirección
    es global si está en 2000::/3 (y no es de uso especial) o en el ajuste
    ipv6_prefijos_globales (clave prefijos_globales de la sección ipv6 de pukara.toml).
    Un equipo que no responde no detiene la revisión. La corrida se guarda para ipv6 informe
    e ipv6 diff. Sale con 0 si nada falla y con 3 si alguna prueba falla o algún equipo no se
    pudo revisar.
    """
    from ipv6 import equipos as eq
    from pukara.console import RichReporter
    from pukara.store import opened_store
    from pukara.text import count

    settings: Settings = ctx.obj
    extra = eq.global_prefixes(settings.ipv6_prefijos_globales)
    with opened_store(settings, read_only=True) as store:
        devices = eq.select(store, objetivos or [], snmp_profile=credencial,
                            cli_profile=settings.red_credenciales)  # fmt: skip
    if not devices:
        from pukara.errors import UsageError

        raise UsageError("el inventario no tiene equipos de red (router, firewall o switch "
                         "activo con dirección de gestión)")  # fmt: skip
    reporter = RichReporter(quiet=silencioso)
    started = utc_text()
    reports = eq.collect(devices, timeout_s=min(settings.timeout_s, 5.0),
                         concurrency=settings.concurrency, extra=extra, ssh=not sin_ssh,
                         reporter=reporter)  # fmt: skip
    rows = eq.records(reports)
    meta = {"started_at": started, "finished_at": utc_text(), "scope": list(objetivos or []),
            "credential_profile": credencial, "ssh": not sin_ssh,
            "global_prefixes": [str(p) for p in extra], "targets": [r.name for r in reports]}  # fmt: skip
    if formato is FormatoEquipos.junit:
        from ipv6.junit import records_junit

        errors = sum(1 for r in reports if r.error is not None)
        typer.echo(records_junit("pukara ipv6 equipos", rows, errors), nl=False)
    elif formato is FormatoEquipos.tabla:
        render(_summary(reports), Formato.tabla, SUMMARY_COLUMNS, title="IPv6 en equipos de red")
        found = [r for r in rows if r["status"] != "pass"]
        if found:
            render(found, Formato.tabla, DETAIL_COLUMNS, title="Pruebas que no cumplen",
                   shown={"status": lambda s: STATUS_SHOWN.get(s, s)})  # fmt: skip
    else:
        render(rows, Formato(formato.value), RECORD_COLUMNS)
    n = eq.counts(reports)
    message(
        f"{count(n['devices'], 'equipo', 'equipos')}: {count(n['fail'], 'prueba falla', 'pruebas fallan')}, "
        f"{count(n['warn'], 'advierte', 'advierten')}, {n['not-tested']} sin probar; "
        f"{count(n['errors'], 'equipo no se pudo revisar', 'equipos no se pudieron revisar')} "
        "del todo.",
        quiet=silencioso or formato is not FormatoEquipos.tabla,
    )
    run_id = _save(settings, rows, meta)  # after the output: a store error loses nothing
    if run_id is not None:
        message(f"Corrida guardada: {run_id}",
                quiet=silencioso or formato is not FormatoEquipos.tabla)  # fmt: skip
    if any(r.failed for r in reports):
        raise typer.Exit(ExitCode.PARTIAL)
