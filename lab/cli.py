"""Subcomandos de `pukara lab`: la WAN emulada con espacios de nombres de red."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lab.sites import default_sites, read_site_table
from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render
from pukara.formats import number

if TYPE_CHECKING:  # lab.manage (daemons, namespaces) is imported by the commands that use it
    from lab import manage

app = typer.Typer(
    help="Laboratorio: WAN emulada de sedes con snmpd, sshd, rsyslog y routers FRR reales (requiere root).",
    no_args_is_help=True,
)

COLUMNS = {
    "site.code": "Sede",
    "netns": "Espacio de red",
    "ipv4": "IPv4",
    "ipv6": "IPv6",
    "delay_ms": "Retardo (ms)",
    "jitter_ms": "Variación (ms)",
    "loss_pct": "Pérdida (%)",
    "down": "Caída",
    "snmpd": "SNMP",
    "sshd": "SSH",
    "syslog": "Syslog",
    "syslog_dest": "Receptor syslog",
    "echo": "Eco",
    "parent": "Padre",
    "tunnel": "Túnel",
    "lan": "LAN",
    "router": "Router",
    "router_kind": "Router no estándar",
}


INTERNET_BASE = 24  # len(lab.internet_zonas.BASE), checked by the tests
INTERNET_MAX = 2000  # lab.internet_zonas.GENERATED_MAX
INTERNET_COLUMNS = {
    "domains": "Dominios",
    "netns_up": "Espacios de red",
    "dns": "DNS (knot)",
    "resolutor": "Resolutor (unbound)",
    "web": "Web (nginx)",
    "correo": "Correo (postfix)",
    "resolver": "Resolutor",
    "anchors": "Anclas IPv6",
    "vantage_v4_only": "Punto solo IPv4",
}


def internet_advice(settings: Settings) -> str:
    """How to point ``pukara ipv6`` at the internet lab: its resolver, its anchors, the
    ``[ipv6]`` settings and the lab's web root for W6c, in pukara.toml's syntax (the lab
    never writes them for the user)."""
    import json

    from lab import manage
    from lab.internet import checker_settings

    hint = checker_settings(manage.Lab(settings.lab_state_dir))
    v4, v6 = hint["resolver"]
    anchors, prefixes, roots = hint["anchors"], hint["global_prefixes"], hint["tls_roots"]
    head = f"Laboratorio de internet: resolutor {v4} (o {v6}); anclas IPv6 {', '.join(anchors)}."
    set_already = set(prefixes) <= set(settings.ipv6_prefijos_globales)
    if (set_already and set(anchors) <= set(settings.ipv6_anclas)
            and str(settings.ipv6_raices_tls) == roots):  # fmt: skip
        return (
            head
            + "\nSus ajustes [ipv6] ya nombran el ULA del laboratorio, sus anclas y su raíz TLS."
        )
    return "\n".join([
        head,
        "El laboratorio no toca sus ajustes: sus direcciones son ULA y las pruebas IPv6 solo las "
        "cuentan como globales si usted lo pide; W6c solo ve las fallas de cadena TLS del "
        "laboratorio si confía en su raíz. Para «pukara ipv6 dominios … --resolutor "
        f"{v4}», agregue a pukara.toml (~/.config/pukara/pukara.toml o $PUKARA_CONFIG):",
        "[ipv6]",
        f"prefijos_globales = {json.dumps(prefixes)}",
        f"anclas = {json.dumps(anchors)}",
        f"raices_tls = {json.dumps(roots)}",
        "o, solo en esta terminal:",
        f"export PUKARA_IPV6_PREFIJOS_GLOBALES={','.join(prefixes)} "
        f"PUKARA_IPV6_ANCLAS={','.join(anchors)} PUKARA_IPV6_RAICES_TLS={roots}",
    ])  # fmt: skip


def _lab(ctx: typer.Context) -> manage.Lab:
    from lab import manage

    settings: Settings = ctx.obj
    return manage.Lab(settings.lab_state_dir)


@app.command()
def arriba(
    ctx: typer.Context,
    sedes: Annotated[int, typer.Option("--sedes", min=1, help="Cuántas sedes emular.")] = 12,
    tabla: Annotated[
        Path | None,
        typer.Option(
            "--tabla",
            help="CSV: codigo,retardo_ms,variacion_ms,perdida_pct,caida; opcionales padre, "
            "tunel, snmp, snmp_malo, syslog, router e ipv6 (dual, sin-ipv6, solo-enlace-local).",
        ),
    ] = None,
    caidas: Annotated[
        list[str] | None, typer.Option("--caida", help="Código de una sede a marcar caída.")
    ] = None,
    tuneles: Annotated[
        bool, typer.Option("--tuneles/--sin-tuneles", help="Un túnel VPN (OpenVPN) por sede.")
    ] = True,
    rotos: Annotated[
        list[str] | None, typer.Option("--tunel-roto", help="Código de una sede con el kit caído.")
    ] = None,
    esperar: Annotated[
        bool,
        typer.Option(
            "--esperar/--sin-esperar",
            help="Volver solo cuando cada sede responda (eco, SNMP, SSH, túnel y BGP).",
        ),
    ] = True,
    syslog: Annotated[
        str,
        typer.Option(
            "--syslog",
            metavar="HOST:PUERTO",
            help="Receptor de syslog de la sede central al que reenvía el rsyslog de cada sede.",
        ),
    ] = "198.18.0.1:5514",
    internet: Annotated[
        bool,
        typer.Option(
            "--internet/--sin-internet",
            help="También el laboratorio de internet: DNS (knot, unbound), web (nginx) y "
            "correo (postfix) de dominios bajo .test.",
        ),
    ] = True,
    dominios: Annotated[
        int,
        typer.Option(
            "--dominios",
            min=1,
            max=INTERNET_MAX,
            help="Cuántos dominios sirve el laboratorio de internet (los base y, si son más, "
            "generados misionNNNN.test con las mismas configuraciones).",
        ),
    ] = INTERNET_BASE,
    auditoria: Annotated[
        bool,
        typer.Option(
            "--auditoria/--sin-auditoria",
            help="Los servidores Debian de auditoría (perfiles endurecido, Debian y débiles).",
        ),
    ] = True,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Levanta (o repara) el laboratorio; repetirlo no duplica nada.

    Sobre un laboratorio en marcha aplica la tabla nueva: las sedes que pasan a colgar de un
    concentrador (columna «padre»), o dejan de hacerlo, se reconectan.
    """
    from lab import internet as internet_lab
    from lab import manage, rsyslog

    destination = rsyslog.parse_destination(syslog)
    sites = (
        read_site_table(tabla)
        if tabla
        else default_sites(
            sedes, down=frozenset(caidas or []), tunnels=tuneles, broken=frozenset(rotos or [])
        )
    )
    message(f"Levantando {len(sites)} sedes emuladas…", quiet=silencioso)
    if internet:
        internet_lab.require()  # before the sites: a missing program stops nothing half-way
        total = number(max(dominios, INTERNET_BASE))
        message(f"Levantando el laboratorio de internet ({total} dominios)…", quiet=silencioso)
    if auditoria:
        message("Con los servidores de auditoría (--sin-auditoria los omite)…", quiet=silencioso)
    rows = manage.up(
        _lab(ctx), sites, syslog=destination, internet=internet, internet_domains=dominios,
        auditoria=auditoria,
    )  # fmt: skip
    if esperar:
        message("Esperando a que cada sede responda…", quiet=silencioso)
        rows = manage.wait_ready(_lab(ctx))
    render(rows, formato, COLUMNS)
    if internet:
        message(internet_advice(ctx.obj), quiet=silencioso)


@app.command("esperar")
def esperar_listo(
    ctx: typer.Context,
    tiempo: Annotated[
        float, typer.Option("--tiempo", min=1, max=3600, help="Espera máxima (s).")
    ] = 120.0,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Espera a que cada sede responda: eco, SNMP, el banner de SSH, el ping por su túnel y BGP."""
    from lab import manage

    rows = manage.wait_ready(_lab(ctx), tiempo)
    message(f"Laboratorio listo ({len(rows)} sedes).", quiet=silencioso)


@app.command()
def abajo(ctx: typer.Context, silencioso: SilenciosoOpt = False) -> None:
    """Elimina todo lo que creó el laboratorio: espacios de red, procesos, rutas y archivos."""
    from lab import manage

    removed = manage.down(_lab(ctx))
    message(
        f"Laboratorio eliminado ({removed} sede{'' if removed == 1 else 's'}).", quiet=silencioso
    )


AUDIT_COLUMNS = {
    "code": "Código",
    "name": "Nombre",
    "profile": "Perfil",
    "netns": "Espacio de red",
    "ipv4": "IPv4",
    "ipv6": "IPv6",
    "firewall": "Cortafuegos",
    "running": "Arriba",
    "sshd": "SSH",
    "description": "Descripción",
}


@app.command()
def estado(
    ctx: typer.Context,
    formato: FormatoOpt = Formato.tabla,
    auditoria: Annotated[
        bool,
        typer.Option("--auditoria", help="Lista los servidores de auditoría en vez de las sedes."),
    ] = False,
) -> None:
    """Lista las sedes del laboratorio (o sus servidores de auditoría) con direcciones y servicios."""
    from lab import auditoria as audit_hosts
    from lab import internet, manage

    if auditoria:
        hosts = audit_hosts.hosts_state(_lab(ctx))
        if not hosts:
            message("Los servidores de auditoría no están arriba: «pukara lab arriba» los levanta.")
        render(hosts, formato, AUDIT_COLUMNS)
        return
    rows = manage.status(_lab(ctx))
    if not rows:
        message("El laboratorio no está arriba: «pukara lab arriba» lo levanta.")
    render(rows, formato, COLUMNS)
    extra = internet.status_rows(_lab(ctx))
    if extra and formato is Formato.tabla:  # CSV and JSON stay one table, the sites'
        extra = [{**row, "anchors": internet.checker_settings()["anchors"]} for row in extra]
        render(extra, formato, INTERNET_COLUMNS, title="Laboratorio de internet")
    if extra:
        message(internet_advice(ctx.obj))
    count = len(audit_hosts.hosts_state(_lab(ctx)))
    if count:
        message(f"Servidores de auditoría: {count} («pukara lab estado --auditoria» los lista).")


class Tunel(StrEnum):
    ok = "ok"
    roto = "roto"


@app.command()
def alterar(
    ctx: typer.Context,
    sede: Annotated[str, typer.Argument(help="Código de la sede del laboratorio.")],
    caida: Annotated[
        bool | None, typer.Option("--caida/--arriba", help="Corta o restablece el enlace.")
    ] = None,
    perdida: Annotated[
        float | None, typer.Option("--perdida", min=0, max=100, help="Pérdida en %.")
    ] = None,
    retardo: Annotated[
        float | None, typer.Option("--retardo", min=0, max=5000, help="Retardo en ms.")
    ] = None,
    tunel: Annotated[Tunel | None, typer.Option("--tunel", help="ok o roto.")] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Cambia en caliente la caída, la pérdida, el retardo o el túnel de una sede."""
    from lab import manage

    changes: dict[str, object] = {}
    if caida is not None:
        changes["down"] = caida
    if perdida is not None:
        changes["loss_pct"] = perdida
    if retardo is not None:
        changes["delay_ms"] = retardo
    if tunel is not None:
        changes["tunnel_broken"] = tunel is Tunel.roto
    site = manage.alter(_lab(ctx), sede, **changes)
    message(f"Sede {site.code} del laboratorio actualizada.", quiet=silencioso)


@app.command()
def descarte(
    ctx: typer.Context,
    sede: Annotated[str, typer.Argument(help="Código de la sede del laboratorio.")],
    silencioso: SilenciosoOpt = False,
) -> None:
    """Intenta telnet contra la sede: su cortafuegos (nftables) lo descarta y lo registra.

    Un espacio de red no tiene registro de núcleo propio: el paquete real descartado llega por
    NFLOG al laboratorio, que escribe en el rsyslog de la sede la línea que el núcleo
    imprimiría («IN=wan0 OUT= MAC=… SRC=… DST=… PROTO=TCP SPT=… DPT=23 …»), como kern.warning;
    el rsyslog la reenvía a la sede central.
    """
    from lab import manage

    address, port = manage.refused_telnet(_lab(ctx), sede)
    message(
        f"Sede {sede}: telnet desde {address}:{port} descartado y registrado.", quiet=silencioso
    )
