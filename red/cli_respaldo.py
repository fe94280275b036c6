"""`pukara red`: respaldar, historial, diff, buscar."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, SilenciosoOpt, message, render
from pukara.errors import ExitCode, UsageError

STATUS = {"ok": "sin cambios", "changed": "cambió", "error": "error"}


def register(app: typer.Typer) -> None:
    """Add this module's commands to `pukara red`."""
    app.command("respaldar")(respaldar)
    app.command("historial")(historial)
    app.command("diff")(diff)
    app.command("buscar")(buscar)


class Salida(StrEnum):
    tabla = "tabla"
    json = "json"


def _formato(value: Salida) -> Formato:
    return Formato(value.value)


FormatoTJ = Annotated[
    Salida, typer.Option("--formato", "-f", help="Formato de salida: tabla o json.")
]


def respaldar(
    ctx: typer.Context,
    equipos: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SEDES|EQUIPOS",
            help="Códigos de sede o nombres de equipo; sin ninguno, todos los equipos de red.",
            show_default=False,
        ),
    ] = None,
    paralelo: Annotated[
        int, typer.Option("--paralelo", min=1, max=256, help="Equipos a la vez.")
    ] = 16,
    formato: FormatoTJ = Salida.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Respalda la configuración de los equipos de red en el repositorio git de respaldos.

    Un commit por corrida con los equipos que cambiaron; sin cambios, ningún commit. Los
    secretos se guardan como una marca <secreto:hmac-sha256:...>. Sale con 3 si algún equipo
    falló (los demás se respaldan igual).
    """
    from pukara.console import RichReporter
    from pukara.store import opened_store
    from red import equipos as eq
    from red import respaldo

    fmt = _formato(formato)
    settings: Settings = ctx.obj
    with opened_store(settings) as store:
        devices = eq.select(store, equipos or [], default_profile=settings.red_credenciales)
        if not devices:
            raise UsageError(
                "el inventario no tiene equipos de red (router, firewall o switch activos con "
                "sistema FRRouting y dirección de gestión)"
            )
        run = respaldo.run_backup(
            store, settings, devices, progress=RichReporter(quiet=silencioso), workers=paralelo
        )
    rows = [
        {"device": d.device, "site": d.site, "path": d.path, "status": d.status,
         "error": d.reason}
        for d in run.devices
    ]  # fmt: skip
    if fmt is Formato.json:
        out = {"commit": run.commit, "devices": rows, "notify_errors": run.notify_errors}
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    else:
        render(
            rows, fmt, {"device": "Equipo", "site": "Sede", "status": "Estado", "error": "Motivo"},
            shown={"status": lambda s: STATUS.get(s, s)},
        )  # fmt: skip
    for error in run.notify_errors:
        message(f"aviso no entregado: {error}", style="yellow")
    from pukara.formats import number
    from pukara.text import count

    changed, failed = number(len(run.changed)), number(len(run.failed))
    summary = (
        f"{count(len(run.devices), 'equipo', 'equipos')}: {changed} con cambios, {failed} con error"
    )
    summary += f"; commit {run.commit[:12]}" if run.commit else "; sin commit (nada cambió)"
    message(summary + ".", quiet=silencioso or fmt is Formato.json)
    if run.failed:
        raise typer.Exit(ExitCode.PARTIAL)


EquipoArg = Annotated[str, typer.Argument(metavar="EQUIPO", help="Nombre del equipo de red.")]


def _device_and_repo(settings: Settings, name: str) -> tuple[Any, Any]:
    from pukara.store import opened_store
    from red import equipos as eq
    from red.repositorio import ConfigRepo, default_path

    with opened_store(settings, read_only=True) as store:
        found = [d for d in eq.select(store, [name]) if d.name == name]
    if not found:
        raise UsageError(f"«{name}» es una sede, no un equipo: nombre un equipo")
    return found[0], ConfigRepo(default_path(settings.data_dir))


def historial(ctx: typer.Context, equipo: EquipoArg, formato: FormatoTJ = Salida.tabla) -> None:
    """Las revisiones del repositorio que cambiaron la configuración de un equipo."""
    from pukara.events import format_timestamp, parse_timestamp
    from pukara.formats import datetime_text
    from red import historial as h
    from registros.search import local_zone

    fmt = _formato(formato)
    device, repo = _device_and_repo(ctx.obj, equipo)
    rows = [
        {"when": format_timestamp(r.when), "author": r.author,
         "message": r.message.splitlines()[0] if r.message else "", "commit": r.commit}
        for r in h.history(repo, device)
    ]  # fmt: skip
    if not rows and fmt is Formato.tabla:
        message(f"«{equipo}» aún no tiene respaldos.")
        return
    zone = local_zone()
    render(
        rows, fmt, {"when": "Fecha", "author": "Autor", "message": "Mensaje", "commit": "Commit"},
        shown={
            "when": lambda v: datetime_text(parse_timestamp(v), zone),
            "commit": lambda c: str(c)[:12],
        },
        priority={"when": 0, "commit": 0},
    )  # fmt: skip


def diff(
    ctx: typer.Context,
    equipo: EquipoArg,
    desde: Annotated[
        str | None,
        typer.Option(
            "--desde",
            help="Una revisión (commit) o un momento: AAAA-MM-DD (desde el comienzo de ese "
            "día) o AAAA-MM-DDTHH:MM, en la zona local si no lleva zona. Compara el respaldo "
            "vigente entonces (vacío si aún no había) con el último. Sin ella, el cambio más "
            "reciente.",
        ),
    ] = None,
) -> None:
    """Diferencias (diff unificado) de la configuración de un equipo, en color en una terminal."""
    import re
    from datetime import UTC, datetime

    from red import historial as h
    from registros.search import local_zone, parse_time

    device, repo = _device_and_repo(ctx.obj, equipo)
    since: Any = desde
    if desde is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", desde):
        # a date is the start of that day in the local zone, as in the other --desde options
        since = parse_time(desde, "--desde", now=datetime.now(UTC), tz=local_zone())
    text = h.diff(repo, device, since)
    if not text:
        message("Sin diferencias.")
        return
    _write_diff(text)


def _write_diff(text: str) -> None:
    from pukara.console import plain_console
    from pukara.text import clean

    console = plain_console()
    if not console.is_terminal:
        sys.stdout.write(clean(text))
        return
    styles = {"+": "green", "-": "red", "@": "cyan"}
    for line in clean(text).splitlines():
        style = "bold" if line.startswith(("+++", "---")) else styles.get(line[:1])
        console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def buscar(
    ctx: typer.Context,
    regex: Annotated[str, typer.Argument(metavar="REGEX", help="Expresión regular (Python).")],
    contexto: Annotated[
        int, typer.Option("--contexto", min=0, max=50, help="Líneas alrededor.")
    ] = 0,
    formato: FormatoTJ = Salida.tabla,
) -> None:
    """Busca una expresión regular en las últimas configuraciones respaldadas (archivo y línea)."""
    from red import historial as h
    from red.repositorio import ConfigRepo, default_path

    fmt = _formato(formato)
    settings: Settings = ctx.obj
    h.compile_regex(regex)  # a bad pattern is reported before anything is read
    found = h.search(ConfigRepo(default_path(settings.data_dir)), regex, context=contexto)
    if fmt is Formato.json:
        rows = [{"path": m.path, "line": m.line, "text": m.text, "match": not m.context}
                for m in found]  # fmt: skip
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    from pukara.text import clean_line

    last = None
    for m in found:
        if contexto and last is not None and (m.path, m.line) != (last[0], last[1] + 1):
            sys.stdout.write("--\n")
        sep = "-" if m.context else ":"
        sys.stdout.write(f"{m.path}{sep}{m.line}{sep}{clean_line(m.text)}\n")
        last = (m.path, m.line)
    if not found:
        message("Ninguna línea coincide.")
