"""`pukara red remediar`: llevar equipos a su configuración dorada, con reversión automática."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, SilenciosoOpt, message, plain_console
from pukara.errors import ExitCode, UsageError
from pukara.store import Store
from pukara.text import clean_line
from red.equipos import NetDevice, select

STATUS = {
    "sin_cambios": "ya cumple",
    "simulado": "simulado (sin cambios en el equipo)",
    "aplicado": "aplicado",
    "rechazado": "rechazado",
    "fallido": "falló",
    "revertido": "revertido",
}


def register(app: typer.Typer) -> None:
    """Add this module's command to `pukara red`."""
    app.command("remediar")(remediar)


def _devices(store: Store, settings: Settings, wanted: list[str], todos: bool) -> list[NetDevice]:
    if bool(wanted) == todos:
        raise UsageError("nombre uno o más equipos (o sedes), o use --todos")
    devices = select(store, wanted, default_profile=settings.red_credenciales)
    if not devices:
        raise UsageError("el inventario no tiene equipos de red")
    return devices


def _forced(path: Path | None) -> tuple[str, ...] | None:
    if path is None:
        return None
    from red.remediacion import command_list

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--ordenes {path}: no se puede leer ({e})") from None
    commands = command_list(text.splitlines())
    if not commands:
        raise UsageError(f"--ordenes {path}: el archivo no tiene órdenes")
    return commands


def _show(outcomes: list[Any]) -> None:
    console = plain_console()
    for out in outcomes:
        console.print(f"== {out.device}: {STATUS.get(out.status, out.status)}", style="bold")
        rem = out.remediation
        for line in rem.diff if rem else ():
            mark = line.lstrip()[:1]
            console.print(line, style={"+": "green", "-": "red"}.get(mark))
        if rem and rem.commands:
            console.print("órdenes:")
            for command in rem.commands:
                console.print(f"  {command}")
        if out.rollback:
            console.print("órdenes de la reversión:")
            for command in out.rollback:
                console.print(f"  {command}")
        for step in out.steps:  # details and reasons may quote the device's own output
            ok = "ok" if step.ok else "falló"
            console.print(f"  [{ok}] {step.name} {clean_line(step.detail)}".rstrip())
        if out.reason:
            console.print(f"  motivo: {clean_line(out.reason)}")


def remediar(
    ctx: typer.Context,
    equipos: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="EQUIPOS|SEDES",
            help="Nombres de equipo o códigos de sede (o --todos).",
            show_default=False,
        ),
    ] = None,
    todos: Annotated[bool, typer.Option("--todos", help="Todos los equipos de red.")] = False,
    simular: Annotated[
        bool,
        typer.Option("--simular", help="Muestra la diferencia y las órdenes; no cambia nada."),
    ] = False,
    desde_respaldo: Annotated[
        bool,
        typer.Option(
            "--desde-respaldo",
            help="Con --simular: parte del último respaldo, sin conectarse a los equipos.",
        ),
    ] = False,
    ansible: Annotated[
        bool, typer.Option("--ansible", help="Envía las órdenes con el playbook red/remediar.yml.")
    ] = False,
    cuenta_ansible: Annotated[
        str,
        typer.Option(
            "--cuenta-ansible",
            metavar="CUENTA",
            help="Con --ansible: la cuenta Linux del equipo con que entra Ansible.",
        ),
    ] = "operador",
    perfil_ansible: Annotated[
        str,
        typer.Option(
            "--perfil-ansible",
            metavar="PERFIL",
            help="Con --ansible: perfil con la llave SSH; por omisión el del inventario.",
        ),
    ] = "",
    ordenes: Annotated[
        Path | None,
        typer.Option(
            "--ordenes",
            metavar="ARCHIVO",
            help="Envía estas órdenes (una por línea) en vez de las calculadas; la guarda las revisa "
            "escritas completas (rechaza abreviaturas ambiguas y secretos en claro).",
            dir_okay=False,
        ),
    ] = None,
    perfil_snmp: Annotated[
        str,
        typer.Option(
            "--perfil-snmp",
            metavar="PERFIL",
            help=(
                "Perfil de credenciales SNMP de la verificación; por omisión el perfil del "
                "activo en el inventario (el de monitoreo)."
            ),
        ),
    ] = "",
    espera_bgp: Annotated[
        float,
        typer.Option(
            "--espera-bgp", min=0, max=600, help="Segundos de espera a que BGP se restablezca."
        ),
    ] = 45.0,
    formato: Annotated[
        Formato, typer.Option("--formato", "-f", help="Formato de salida: tabla o json.")
    ] = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Lleva equipos a su configuración dorada con las órdenes calculadas por hier_config.

    Antes de cambiar: el equipo responde SSH y SNMP y se anotan sus vecinos BGP establecidos;
    se respalda su configuración. Después: si no responde o algún vecino no vuelve a
    establecerse, se revierte solo a ese respaldo. Se rechaza un cambio que quitaría el acceso
    de gestión. Las líneas con secretos no se envían (se avisan). Sale con 3 si algún equipo
    falló, fue rechazado o se revirtió.
    """
    from pukara.store import opened_store
    from red import aplicar

    if formato is Formato.csv:
        raise UsageError("--formato: use tabla o json")
    if desde_respaldo and not simular:
        raise UsageError("--desde-respaldo solo vale con --simular")
    settings: Settings = ctx.obj
    forced = _forced(ordenes)
    with opened_store(settings) as store:
        devices = _devices(store, settings, equipos or [], todos)
        kind = aplicar.Offline if desde_respaldo else aplicar.Live
        access = kind(store, settings, snmp_profile=perfil_snmp)
        push = None
        if ansible:
            push = aplicar.ansible_pusher(
                settings, store, account=cuenta_ansible, profile_name=perfil_ansible
            )
        remediator = aplicar.Remediator(
            access,
            push=push,
            settle_s=espera_bgp,
            on_event=lambda doc: store.write_events([doc]),
            commands=forced,
            lock_dir=settings.data_dir / "red",
        )
        outcomes = []
        for device in devices:
            outcomes.append(remediator.remediate_device(device, simulate=simular))
    for out in outcomes:
        for warning in out.remediation.warnings if out.remediation else ():
            message(warning, style="yellow")
    if formato is Formato.json:
        doc = [o.as_dict() for o in outcomes]
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        _show(outcomes)
    failed = [o for o in outcomes if o.failed]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{STATUS.get(k, k)}: {v}" for k, v in sorted(counts.items()))
    message(f"{len(outcomes)} equipos ({summary}).", quiet=silencioso or formato is Formato.json)
    if failed:
        raise typer.Exit(ExitCode.PARTIAL)
