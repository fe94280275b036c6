"""`pukara csirt contramedida`: proponer, aprobar, rechazar, activar, retirar, vencer, listar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara import hooks
from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render
from pukara.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from pukara.results import Result

app = typer.Typer(
    help="Contramedidas: proponer, aprobar, activar, retirar y vencer (siempre con expiración).",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(help="Id de la contramedida (o sus primeros caracteres).")]
COLUMNS = {
    "id": "Id", "incident_number": "Incidente", "kind": "Tipo", "target.host": "Equipo",
    "target.address": "Dirección", "target.account": "Cuenta", "status": "Estado",
    "expires_at": "Vence", "proposed_by": "Propuso", "approved_by": "Aprobó",
    "last_job_id": "Última ejecución",
}  # fmt: skip


def _when(value: object) -> str:
    """A stored UTC time as a person reads it, in the machine's zone (as the case's tables)."""
    from pukara.events import parse_timestamp
    from pukara.formats import datetime_text
    from registros.search import local_zone

    return datetime_text(parse_timestamp(str(value)), local_zone()) if value else ""


KIND_LABELS = {"bloquear_ip": "bloquear IP", "aislar_host": "aislar equipo",
               "deshabilitar_cuenta": "deshabilitar cuenta"}  # fmt: skip


@hooks.on_each_round
def expire_each_round(settings: Settings) -> None:
    """``contramedida vencer`` after each round of ``monitoreo vigilar`` (its own connection)."""
    from csirt import contramedidas
    from pukara.store import opened_store

    with opened_store(settings) as store:
        for r in contramedidas.expire_due(store, settings):
            if r.failed:
                message(f"contramedida {r.target} no retirada: {r.error}", style="yellow")
            else:
                message(f"contramedida {r.target} vencida y retirada")


def _done(result: Result, quiet: bool) -> int:
    status = result.data.get("status", "")
    if result.failed:
        message(f"{result.target}: {result.error}", quiet=False, style="red")
        return int(ExitCode.PARTIAL)
    job = result.data.get("job_id")
    message(f"{result.target}: {status} (ejecución de Ansible {job})", quiet=quiet)
    return int(ExitCode.OK)


@app.command()
def proponer(
    ctx: typer.Context,
    incidente: Annotated[str, typer.Argument(help="Incidente (INC-2026-0001 o su id).")],
    tipo: Annotated[
        str, typer.Option("--tipo", help="bloquear_ip, aislar_host o deshabilitar_cuenta.")
    ],
    equipo: Annotated[
        str, typer.Option("--equipo", help="El activo del inventario donde se aplica.")
    ],
    expira: Annotated[
        str | None,
        typer.Option(
            "--expira",
            help="Obligatorio: duración (4h, 30m, 2d) o fecha ISO 8601 (sin zona: UTC).",
        ),
    ] = None,
    direccion: Annotated[
        str | None,
        typer.Option(
            "--direccion",
            help="IP o red CIDR a bloquear (bloquear_ip; a lo sumo /8 en IPv4, /32 en IPv6).",
        ),
    ] = None,
    cuenta: Annotated[
        str | None,
        typer.Option("--cuenta-local", help="Cuenta local a deshabilitar (deshabilitar_cuenta)."),
    ] = None,
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué.")] = "",
    silencioso: SilenciosoOpt = False,
) -> None:
    """Propone una contramedida (queda pendiente de aprobación); nada se ejecuta aún."""
    from csirt import contramedidas
    from csirt.records import command
    from pukara.store import opened_store

    # the case is read inside the command: one closed meanwhile takes no countermeasure
    with opened_store(ctx.obj) as store, command(store, ctx.obj.analyst) as cmd:
        cm = contramedidas.propose(
            cmd, ctx.obj, incidente, kind=tipo, host=equipo, expires=expira,
            address=direccion, account=cuenta, reason=motivo,
        )  # fmt: skip
    typer.echo(cm["id"])
    message(f"Propuesta: {contramedidas.describe(cm)}, vence {_when(cm['expires_at'])}",
            quiet=silencioso)  # fmt: skip


@app.command()
def aprobar(ctx: typer.Context, contramedida: IdArg, silencioso: SilenciosoOpt = False) -> None:
    """Aprueba una contramedida pendiente (con dos personas, otro analista que quien la propuso)."""
    from csirt import contramedidas
    from csirt.records import command
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store, command(store, ctx.obj.analyst) as cmd:
        cm = contramedidas.approve(cmd, ctx.obj, contramedida)
    message(f"Aprobada por {cm['approved_by']}: {contramedidas.describe(cm)}", quiet=silencioso)
    if ctx.obj.csirt_dos_personas and cm.get("proposed_by_os") == cm.get("approved_by_os"):
        message(
            f"aviso: la propuso y la aprueba el mismo usuario del sistema ({cm['approved_by_os']}); "
            "queda anotado en la contramedida",
            quiet=False,
            style="yellow",
        )


@app.command()
def rechazar(
    ctx: typer.Context,
    contramedida: IdArg,
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué se rechaza.")],
    silencioso: SilenciosoOpt = False,
) -> None:
    """Rechaza una contramedida pendiente."""
    from csirt import contramedidas
    from csirt.records import command
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store, command(store, ctx.obj.analyst) as cmd:
        cm = contramedidas.reject(cmd, contramedida, motivo)
    message(f"Rechazada: {contramedidas.describe(cm)}", quiet=silencioso)


@app.command()
def activar(
    ctx: typer.Context,
    contramedida: Annotated[
        list[str],
        typer.Argument(
            help="Id de la contramedida (o sus primeros caracteres); varias a la vez "
            "van en una sola ejecución de Ansible por playbook."
        ),
    ],
    simular: Annotated[
        bool, typer.Option("--simular", help="Modo de comprobación de Ansible: no cambia nada.")
    ] = False,
    silencioso: SilenciosoOpt = False,
) -> int:
    """Ejecuta el playbook de una contramedida aprobada en su equipo y verifica el efecto.

    Sale con 3 si alguna no quedó activa y verificada.
    """  # fmt: skip
    from csirt import contramedidas
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        if len(contramedida) == 1:
            results = [contramedidas.activate(store, ctx.obj, contramedida[0],
                                              analyst=ctx.obj.analyst, check=simular)]  # fmt: skip
        else:
            results = contramedidas.activate_many(store, ctx.obj, contramedida,
                                                  analyst=ctx.obj.analyst, check=simular)  # fmt: skip
    codes = [_done(r, silencioso) for r in results]
    return int(ExitCode.PARTIAL) if any(codes) else int(ExitCode.OK)


@app.command()
def retirar(
    ctx: typer.Context,
    contramedida: IdArg,
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué se retira antes.")] = "",
    silencioso: SilenciosoOpt = False,
) -> int:
    """Ejecuta el playbook inverso de una contramedida activa y verifica que el equipo quedó
    como estaba."""
    from csirt import contramedidas
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        result = contramedidas.retire(
            store, ctx.obj, contramedida, analyst=ctx.obj.analyst, reason=motivo
        )
    return _done(result, silencioso)


@app.command()
def vencer(ctx: typer.Context, silencioso: SilenciosoOpt = False) -> int:
    """Retira cada contramedida activa ya vencida (apto para cron: dos a la vez no repiten).

    Sale con 3 si alguna no se pudo retirar (queda pendiente de retiro para la próxima vez).
    """
    from csirt import contramedidas
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        results = contramedidas.expire_due(store, ctx.obj)
    code = [_done(r, silencioso) for r in results]
    message(f"{len(results)} contramedidas vencidas procesadas", quiet=silencioso)
    return int(ExitCode.PARTIAL) if any(code) else int(ExitCode.OK)


@app.command()
def listar(
    ctx: typer.Context,
    incidente: Annotated[
        str | None, typer.Option("--incidente", help="Solo las de este incidente.")
    ] = None,
    estado: Annotated[
        str | None,
        typer.Option("--estado", help="pendiente, activa, pendiente_retiro, retirada o rechazada."),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Las contramedidas, con su estado, su vencimiento y su última ejecución de Ansible."""
    from csirt import casos, contramedidas
    from csirt.records import INCIDENT
    from pukara.store import opened_store

    if estado is not None and estado not in contramedidas.STATUSES:
        raise UsageError(f"--estado {estado!r}: válidos {', '.join(contramedidas.STATUSES)}")
    with opened_store(ctx.obj, read_only=True) as store:
        incident_id = casos.load_incident(store, incidente)["id"] if incidente else None
        rows = contramedidas.listing(store, incident_id=incident_id, status=estado)
        incidents = {i: store.get(INCIDENT, [i]) for i in {r["incident_id"] for r in rows}}
    numbers = {i: (doc or {}).get("number") for i, doc in incidents.items()}
    records = [{**r, "incident_number": numbers.get(r["incident_id"]),
                "last_job_id": (r.get("runs") or [{}])[-1].get("job_id")} for r in rows]  # fmt: skip
    shown: dict[str, Any] | None = None
    if formato is Formato.tabla:
        shown = {"kind": lambda v: KIND_LABELS.get(v, v), "expires_at": _when}
    render(records, formato, COLUMNS, shown=shown)
