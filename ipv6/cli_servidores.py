"""`pukara ipv6 servidores`: IPv6 readiness of the inventory's Linux servers (S1-S4)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, SilenciosoOpt, message, render
from pukara.errors import ExitCode

if TYPE_CHECKING:
    from ipv6.servidores import ServerReport


class FormatoServidores(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"
    junit = "junit"


STATUS_SHOWN = {"pass": "cumple", "fail": "falla", "warn": "advierte", "not-tested": "sin probar",
                "not-applicable": "no aplica", "partial": "parcial"}  # fmt: skip
SUMMARY_COLUMNS = {"host.name": "Servidor", "site": "Sede", "address": "Dirección",
                   **{f"S{i}": f"S{i}" for i in range(1, 5)}}  # fmt: skip
DETAIL_COLUMNS = {"host.name": "Servidor", "check": "Prueba", "status": "Resultado",
                  "message": "Detalle"}  # fmt: skip
RECORD_COLUMNS = {"host.name": "Servidor", "site": "Sede", "address": "Dirección",
                  "check": "Prueba", "title": "Qué se prueba", "status": "Resultado",
                  "message": "Detalle", "evidence": "Evidencia"}  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this module's command to `pukara ipv6`."""
    app.command("servidores", epilog=EPILOG)(servidores)


EPILOG = """\b
Ejemplos:
  pukara ipv6 servidores
  pukara ipv6 servidores lima --sin-escaneo -f csv
"""


def _detail_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's «Pruebas que no cumplen»: a server that could not be read is one row
    («todas», with the reason), not four (JSON and CSV keep every result)."""
    out: list[dict[str, Any]] = []
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_subject.setdefault(row["host.name"], []).append(row)
    for subject_rows in by_subject.values():
        shown = [r for r in subject_rows if r["status"] != "pass"]
        same = len({r["message"] for r in shown}) == 1
        unread = len(shown) == len(subject_rows) > 1 and same and all(
            r["status"] == "not-tested" for r in shown)  # fmt: skip
        out.extend([{**shown[0], "check": "todas"}] if unread else shown)
    return out


def _summary(reports: list[ServerReport]) -> list[dict[str, Any]]:
    return [
        {"host.name": r.name, "site": r.site, "address": r.address,
         **{c.check: STATUS_SHOWN.get(c.status.value, c.status.value) for c in r.checks}}
        for r in reports
    ]  # fmt: skip


def utc_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _save(settings: Settings, reports: list[ServerReport], meta: dict[str, Any]) -> str | None:
    """Store the run as ``ipv6.resultado`` + ``ipv6.corrida`` events (for ``ipv6 diff`` and
    ``ipv6 informe``); returns its id, or None after a warning when the store refuses it."""
    from ipv6.almacen import store_run
    from pukara.errors import PukaraError

    results = [c for r in reports for c in r.checks]
    try:
        return store_run(settings, "servidores", results,
                         {**meta, "targets": [r.name for r in reports]})  # fmt: skip
    except PukaraError as e:
        message(f"Aviso: la corrida no se guardó (ipv6 diff e ipv6 informe no la verán): "
                f"{e.message}")  # fmt: skip
        return None


def servidores(
    ctx: typer.Context,
    alcance: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SEDES|SERVIDORES",
            help="Códigos de sede o nombres de servidor; sin ninguno, todos los servidores.",
            show_default=False,
        ),
    ] = None,
    formato: Annotated[
        FormatoServidores,
        typer.Option("--formato", "-f", help="Formato de salida: tabla, json, csv o junit."),
    ] = FormatoServidores.tabla,
    credencial: Annotated[
        str,
        typer.Option(
            "--credencial",
            metavar="PERFIL",
            help="Perfil de credenciales SSH (usuario, llave, known_hosts).",
        ),
    ] = "auditoria",
    sin_escaneo: Annotated[
        bool,
        typer.Option("--sin-escaneo", help="Sin S4: no se conecta a los puertos del servidor."),
    ] = False,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Revisa la preparación IPv6 de los servidores Linux del inventario por Ansible (solo
    lectura): S1 IPv6 habilitado en el núcleo, S2 cada servicio que escucha en IPv4 también
    escucha en IPv6, S3 cortafuegos para ambas familias con ICMPv6 de vecinos y PTB permitido
    y S4 escaneo desde esta máquina: los mismos puertos TCP abiertos por IPv4 y por IPv6.

    Cada resultado es cumple, falla, advierte, no aplica o sin probar, con su evidencia. Un
    servidor que no responde no detiene la revisión. Sale con 0 si nada falla y con 3 si
    alguna prueba falla o algún servidor no se pudo revisar.
    """
    from ipv6 import servidores as srv
    from pukara.store import opened_store
    from pukara.text import count

    settings: Settings = ctx.obj
    with opened_store(settings, read_only=True) as store:
        targets = srv.select(store, alcance or [], credencial)
    from pukara.errors import SecretsError, UsageError
    from pukara.secrets import require_profile

    if not targets:
        raise UsageError("el inventario no tiene servidores (servidor físico, blade, máquina "
                         "virtual o NAS activo con dirección de gestión)")  # fmt: skip
    try:  # a mistyped profile would store a run where nothing was tested
        require_profile(credencial)
    except SecretsError as e:
        raise UsageError(f"--credencial {credencial}: {e}") from None
    message(f"Revisando {count(len(targets), 'servidor', 'servidores')} por Ansible…",
            quiet=silencioso or formato is not FormatoServidores.tabla)  # fmt: skip
    started = utc_text()
    with opened_store(settings) as store:
        reports = srv.run(targets, settings, store=store, scan=not sin_escaneo)
    meta = {"started_at": started, "finished_at": utc_text(), "credential_profile": credencial,
            "scope": list(alcance or []), "scan": not sin_escaneo}  # fmt: skip
    rows = srv.records(reports)
    if formato is FormatoServidores.junit:
        from ipv6.junit import records_junit

        errors = sum(1 for r in reports if r.error is not None)
        typer.echo(records_junit("pukara ipv6 servidores", rows, errors), nl=False)
    elif formato is FormatoServidores.tabla:
        render(_summary(reports), Formato.tabla, SUMMARY_COLUMNS, title="IPv6 en servidores")
        found = _detail_rows(rows)
        if found:
            render(found, Formato.tabla, DETAIL_COLUMNS, title="Pruebas que no cumplen",
                   shown={"status": lambda s: STATUS_SHOWN.get(s, s)})  # fmt: skip
    else:
        render(rows, Formato(formato.value), RECORD_COLUMNS)
    n = srv.counts(reports)
    message(
        f"{count(n['servers'], 'servidor', 'servidores')}: "
        f"{count(n['fail'], 'prueba falla', 'pruebas fallan')}, "
        f"{count(n['warn'], 'advierte', 'advierten')}, {n['not-tested']} sin probar; "
        f"{count(n['errors'], 'servidor no se pudo revisar', 'servidores no se pudieron revisar')}.",
        quiet=silencioso or formato is not FormatoServidores.tabla,
    )
    run_id = _save(settings, reports, meta)  # after the output: a store error loses nothing
    if run_id is not None:
        message(f"Corrida guardada: {run_id}",
                quiet=silencioso or formato is not FormatoServidores.tabla)  # fmt: skip
    if any(r.failed for r in reports):
        raise typer.Exit(ExitCode.PARTIAL)
