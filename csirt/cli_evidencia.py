"""`pukara csirt evidencia`: agregar, recolectar, listar, custodia, verificar."""

from __future__ import annotations

import socket
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render
from pukara.errors import ExitCode

app = typer.Typer(
    help="Evidencia: agregar, recolectar, cadena de custodia y verificación.", no_args_is_help=True
)


class FormatoLista(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"
    sha256sum = "sha256sum"


ITEM_COLUMNS = {
    "id": "Id",
    "incident_number": "Incidente",
    "name": "Nombre",
    "kind": "Tipo",
    "host": "Equipo",
    "size": "Tamaño (bytes)",
    "acquired_at": "Adquirida",
    "sha256": "SHA-256",
    "added_by": "Agregada por",
}
CUSTODY_COLUMNS = {
    "seq": "Nº",
    "ts": "Fecha",
    "analyst": "Analista",
    "action": "Acción",
    "purpose": "Propósito",
    "where": "Lugar",
    "sha256_before": "SHA-256 antes",
    "sha256_after": "SHA-256 después",
}
FINDING_COLUMNS = {"kind": "Hallazgo", "evidence_id": "Evidencia", "message": "Detalle"}

IncidenteArg = Annotated[str, typer.Argument(help="Incidente: número (INC-2026-0001) o id.")]
Proposito = Annotated[
    str | None, typer.Option("--proposito", help="Para qué se toma o entrega la evidencia.")
]


def _when_text(value: Any) -> str:
    from datetime import datetime

    from pukara.formats import datetime_text

    try:
        return datetime_text(datetime.fromisoformat(str(value).replace("Z", "+00:00")),
                             seconds=True)  # fmt: skip
    except ValueError:
        return str(value)


def _figure(value: Any) -> str:
    from pukara.formats import number

    return number(int(value)) if isinstance(value, int) else str(value)


@app.command()
def agregar(
    ctx: typer.Context,
    incidente: IncidenteArg,
    archivo: Annotated[
        Path, typer.Argument(help="Archivo que se agrega («-»: lo que llega por la entrada).")
    ],
    nombre: Annotated[
        str | None,
        typer.Option("--nombre", help="Nombre de la evidencia (por omisión, el del archivo)."),
    ] = None,
    tipo: Annotated[
        str, typer.Option("--tipo", help="Tipo: archivo, imagen, pcap, registro...")
    ] = "archivo",
    equipo: Annotated[
        str | None,
        typer.Option("--equipo", help="Equipo del que se tomó (por omisión, este equipo)."),
    ] = None,
    proposito: Proposito = None,
    adquirida: Annotated[
        str | None,
        typer.Option(
            "--adquirida", help="Cuándo se adquirió (ISO 8601 con zona); por omisión, ahora."
        ),
    ] = None,
    lugar: Annotated[
        str | None, typer.Option("--lugar", help="De dónde se tomó (por omisión, equipo:ruta).")
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Agrega un archivo como evidencia del incidente: se copia por su SHA-256, solo lectura,
    y abre su cadena de custodia («agregada»)."""
    import contextlib

    from csirt import evidencia
    from csirt.records import command
    from pukara.errors import UsageError
    from pukara.store import opened_store

    settings = ctx.obj
    host = equipo or socket.gethostname()
    stdin = str(archivo) == "-"
    if stdin and not nombre:
        raise UsageError("con «-» (la entrada) indique el nombre con --nombre")
    with opened_store(settings) as store:
        incident = evidencia.find_incident(store, incidente)
        d = evidencia.details(
            name=nombre or archivo.name, kind=tipo, host=host,
            purpose=proposito or f"análisis del incidente {incident['number']}",
            acquired_at=adquirida,
            where=lugar or (f"{host}:entrada" if stdin else f"{host}:{archivo.absolute()}"),
        )  # fmt: skip
        source = (
            contextlib.nullcontext(sys.stdin.buffer) if stdin else evidencia.open_source(archivo)
        )
        # the copy first, with the database free; then one short command records it
        with (
            source as stream,
            evidencia.staged(settings, stream) as st,
            command(store, settings.analyst) as cmd,
        ):
            incident = evidencia.find_incident(cmd, incident["id"])
            doc = evidencia.add_staged(cmd, settings, incident, st, d)
    message(f"Evidencia {doc['id']} agregada al incidente {doc['incident_number']}: "
            f"{doc['name']}, {_figure(doc['size'])} bytes, SHA-256 {doc['sha256']}",
            quiet=silencioso)  # fmt: skip
    _render_items([doc], formato)


def _render_items(rows: list[dict[str, Any]], formato: Formato) -> None:
    shown = {"acquired_at": _when_text, "size": _figure}
    render(rows, formato, ITEM_COLUMNS, shown=shown, priority={"sha256": 0, "id": 0})


@app.command()
def recolectar(
    ctx: typer.Context,
    incidente: IncidenteArg,
    equipo: Annotated[
        str,
        typer.Option(
            "--equipo",
            "--host",
            help="Activo o sede del inventario, o una dirección IP (con --credencial).",
        ),
    ],
    perfil: Annotated[
        str | None,
        typer.Option(
            "--credencial", help="Perfil de credenciales SSH (por omisión, el del activo)."
        ),
    ] = None,
    registro_auth: Annotated[
        list[str] | None,
        typer.Option(
            "--registro-auth",
            metavar="RUTA",
            help="Ruta del registro de "
            "autenticación en el equipo (por omisión /var/log/auth.log y "
            "/var/log/secure; la primera que exista). Se puede repetir.",
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Recoge por SSH (Ansible) el triage de un equipo: conexiones (ss -tanp), procesos,
    sesiones (last) y el registro de autenticación; cada uno queda como evidencia
    «adquirida». Sale con 3 si algo no se pudo recoger."""
    from csirt import evidencia, evidencia_triage
    from csirt.records import command
    from pukara.store import opened_store
    from pukara.text import count

    settings = ctx.obj
    logs = tuple(registro_auth or evidencia_triage.DEFAULT_AUTH_LOGS)
    with opened_store(settings) as store:
        incident = evidencia.find_incident(store, incidente)
        targets = evidencia_triage.resolve(store, equipo, perfil)
        names = ", ".join(f"{t.name} ({t.address})" for t in targets)
        message(f"Recogiendo triage de {names}…", quiet=silencioso)
        collected = evidencia_triage.run(store, settings, targets, auth_logs=logs)
        with command(store, settings.analyst) as cmd:
            incident = evidencia.find_incident(cmd, incident["id"])
            hosts = evidencia_triage.record(cmd, settings, incident, collected)
    rows = [item for h in hosts for item in h.items]
    _render_items(rows, formato)
    problems = 0
    for h in hosts:
        if h.error:
            problems += 1
            message(f"{h.target.name}: {h.error}", style="red")
        for what in h.missing:
            problems += 1
            message(f"{h.target.name}: no se recogió {what}", style="yellow")
    message(f"Trabajo de Ansible {collected.job_id}: {count(len(rows), 'evidencia', 'evidencias')} "
            f"del incidente {incident.get('number')}", quiet=silencioso)  # fmt: skip
    if problems:
        raise typer.Exit(ExitCode.PARTIAL)


@app.command()
def listar(
    ctx: typer.Context,
    incidente: Annotated[
        str | None, typer.Argument(help="Incidente (número o id); sin él, toda la evidencia.")
    ] = None,
    formato: Annotated[
        FormatoLista,
        typer.Option(
            "--formato",
            "-f",
            help="Formato: tabla, json, csv o sha256sum (un "
            "manifiesto que «sha256sum -c» comprueba).",
        ),
    ] = FormatoLista.tabla,
) -> None:
    """La evidencia guardada (de un incidente), con su SHA-256."""
    from csirt import evidencia
    from pukara.store import opened_store

    settings = ctx.obj
    with opened_store(settings, read_only=True) as store:
        incident = evidencia.find_incident(store, incidente) if incidente else None
        rows = evidencia.items(store, incident)
    if formato is FormatoLista.sha256sum:
        root = evidencia.evidence_root(settings)
        for line in evidencia.manifest_lines(root, rows):
            sys.stdout.write(line + "\n")
        return
    if not rows and formato is FormatoLista.tabla:
        where = f"el incidente {incident['number']}" if incident else "el almacén"
        message(f"No hay evidencia en {where}: agréguela con «pukara csirt evidencia agregar» "
                "o «recolectar».")  # fmt: skip
        return
    _render_items(rows, Formato(formato.value))


@app.command()
def manifiesto(ctx: typer.Context, incidente: IncidenteArg) -> None:
    """Manifiesto de la evidencia del incidente para «sha256sum -c» (una línea por copia)."""
    listar(ctx, incidente, FormatoLista.sha256sum)


@app.command()
def exportar(
    ctx: typer.Context,
    incidente: IncidenteArg,
    carpeta: Annotated[
        Path, typer.Option("--carpeta", help="Carpeta nueva (o vacía) donde dejar las copias.")
    ],
    proposito: Proposito = None,
    lugar: Annotated[
        str | None,
        typer.Option("--lugar", help="A quién o a dónde va la copia (por omisión, la carpeta)."),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Copia la evidencia del incidente a una carpeta, con SHA256SUMS (para «sha256sum -c»)
    y su cadena de custodia (custodia.json); anota «exportada» en la custodia de cada una."""
    import json

    from csirt import custodia as custody
    from csirt import evidencia, evidencia_exportar
    from csirt.records import command
    from pukara.errors import UsageError
    from pukara.files import write_atomically
    from pukara.store import opened_store

    settings = ctx.obj
    with opened_store(settings) as store:
        incident = evidencia.find_incident(store, incidente)
        rows = evidencia.items(store, incident)
        if not rows:
            raise UsageError(f"el incidente {incident['number']} no tiene evidencia que exportar")
        purpose = custody.check_purpose(
            proposito or f"copia de la evidencia del incidente {incident['number']}"
        )
        # the copies first, with the database free; then one command records them
        done = evidencia_exportar.export_copies(settings, rows, carpeta)
        with command(store, settings.analyst) as cmd:
            for item, name in done:
                evidencia.record_custody(cmd, settings, item, action="exportada", purpose=purpose,
                                         where=lugar or f"{carpeta.absolute()}/{name}")  # fmt: skip
        chain = [{"evidence": item, "file": name, "custody": custody.history(store, item["id"])}
                 for item, name in done]  # fmt: skip
    text = json.dumps({"incident": incident["number"], "items": chain}, ensure_ascii=False,
                      indent=2)  # fmt: skip
    write_atomically(carpeta / "custodia.json", text + "\n", mode=0o400)
    from pukara.text import count

    copies = count(len(done), "copia", "copias")
    message(f"{copies} en {carpeta}: compruébelas con «cd {carpeta} && sha256sum -c "
            f"{evidencia_exportar.MANIFEST}»", quiet=silencioso)  # fmt: skip
    _render_items([{**item, "name": name} for item, name in done], formato)


@app.command()
def custodia(
    ctx: typer.Context,
    evidencia_id: Annotated[str, typer.Argument(metavar="ID", help="Id de la evidencia.")],
    registrar: Annotated[
        str | None,
        typer.Option(
            "--registrar",
            metavar="ACCION",
            help="Registra una acción: transferida, recibida, exportada, devuelta o verificada.",
        ),
    ] = None,
    proposito: Proposito = None,
    lugar: Annotated[
        str | None, typer.Option("--lugar", help="A dónde va o de dónde viene la evidencia.")
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """La cadena de custodia de una evidencia: quién, cuándo, qué, para qué y sus hashes."""
    from csirt import custodia as custody
    from csirt import evidencia
    from csirt.records import command
    from pukara.errors import UsageError
    from pukara.store import opened_store

    settings = ctx.obj
    if registrar is None:
        with opened_store(settings, read_only=True) as store:
            item = evidencia.get_item(store, evidencia_id)
            rows = custody.history(store, item["id"])
    else:
        if not proposito:
            raise UsageError("para registrar una acción de custodia indique --proposito")
        with opened_store(settings) as store, command(store, settings.analyst) as cmd:
            item = evidencia.get_item(cmd.tx, evidencia_id)
            entry = evidencia.record_custody(cmd, settings, item, action=registrar,
                                             purpose=proposito, where=lugar or "")  # fmt: skip
            rows = custody.history(cmd.tx, item["id"])
        message(f"Custodia de {item['id']}: «{entry['action']}» registrada (nº {entry['seq']})",
                quiet=silencioso)  # fmt: skip
    if formato is Formato.tabla:
        rows = [{**r, "action": custody.ACTION_TEXT.get(r["action"], r["action"])} for r in rows]
    title = f"Custodia de {item['name']} ({item['id']}, {item.get('incident_number')})"
    render(rows, formato, CUSTODY_COLUMNS, title=title, shown={"ts": _when_text},
           priority={"seq": 0, "action": 0})  # fmt: skip


@app.command()
def verificar(
    ctx: typer.Context,
    alcance: Annotated[
        str | None,
        typer.Argument(
            metavar="INC|ID",
            help="Un incidente o una evidencia; sin él, todo el almacén de evidencia.",
        ),
    ] = None,
    registrar: Annotated[
        bool,
        typer.Option(
            "--registrar", help="Anota «verificada» en la custodia de cada evidencia intacta."
        ),
    ] = False,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Recalcula el SHA-256 de cada copia y revisa la custodia; sale con 3 si halla algo
    alterado, renombrado, borrado, sobrante o una línea de custodia que no cuadra."""
    from csirt import evidencia
    from csirt.evidencia_verificacion import verify
    from csirt.records import command
    from pukara.store import opened_store
    from pukara.text import count

    settings = ctx.obj
    with opened_store(settings, read_only=not registrar) as store:
        scope, label = evidencia.resolve(store, alcance)
        report = verify(store, settings, scope)
        if registrar and report.verified:
            with command(store, settings.analyst) as cmd:
                for item in report.verified:
                    evidencia.record_custody(cmd, settings, item, action="verificada",
                                             purpose="verificación periódica del hash")  # fmt: skip
    rows: list[dict[str, Any]] = [
        {"kind": f.kind, "evidence_id": f.evidence_id, "message": f.message}
        for f in report.findings
    ]
    if rows or formato is not Formato.tabla:
        render(rows, formato, FINDING_COLUMNS, title=f"Hallazgos en {label}",
               priority={"kind": 0})  # fmt: skip
    summary = (f"{label}: {count(report.items, 'evidencia', 'evidencias')}, "
               f"{count(report.blobs, 'copia', 'copias')} con su hash recalculado "
               f"({_figure(report.bytes)} bytes), "
               f"{count(report.custody_entries, 'entrada', 'entradas')} de custodia")  # fmt: skip
    if report.findings:
        message(f"{summary}: {count(len(report.findings), 'hallazgo', 'hallazgos')}",
                quiet=silencioso)  # fmt: skip
        raise typer.Exit(ExitCode.PARTIAL)
    message(f"{summary}: todo en orden", quiet=silencioso)
