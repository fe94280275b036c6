"""Subcomandos de `pukara inventario`."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, output_file, render
from pukara.errors import ExitCode, UsageError
from pukara.labels import collection_label

# The inventory's library (catalog, plan, model, discovery) and the store are imported inside
# each command, so that `pukara --help` does not pay for them.

app = typer.Typer(
    help="Inventario de sedes y activos: importar, exportar y descubrir equipos.",
    no_args_is_help=True,
)


class Tipo(StrEnum):
    sedes = "sedes"
    activos = "activos"


class FormatoArchivo(StrEnum):
    csv = "csv"
    json = "json"


TipoOpt = Annotated[
    Tipo | None, typer.Option("--tipo", help="sedes o activos (por defecto, según el archivo).")
]

ASSET_COLUMNS = {
    "name": "Nombre", "kind": "Tipo", "site": "Sede", "mgmt_ipv4": "IPv4", "mgmt_ipv6": "IPv6",
    "vendor": "Fabricante", "model": "Modelo", "serial": "N.º de serie", "status": "Estado",
}  # fmt: skip
SITE_COLUMNS = {
    "code": "Código", "name": "Nombre", "kind": "Tipo", "country": "País", "city": "Ciudad",
    "timezone": "Zona horaria", "parent": "Superior", "wan_bandwidth_mbps": "WAN (Mb/s)",
    "vpn_kit": "Kit VPN", "availability_target": "Meta (%)",
}  # fmt: skip
CHANGE_COLUMNS = {
    "kind": "Colección", "key": "Clave", "action": "Acción", "field": "Campo",
    "before": "Antes", "after": "Después",
}  # fmt: skip


def _field_label(name: str) -> str:
    """``mgmt_ipv4`` as the table reads it: ``IPv4 de gestión``."""
    from inventario.model import FIELDS

    labels = {f.name: f.label for fields in FIELDS.values() for f in fields}
    return labels.get(name, name)


def _kind(tipo: Tipo | None) -> str | None:
    from inventario import files

    return None if tipo is None else files.KIND_NAMES[tipo.value]


@app.command()
def importar(
    ctx: typer.Context,
    archivo: Annotated[Path | None, typer.Argument(help="Archivo .csv o .json.")] = None,
    ejemplo: Annotated[
        bool, typer.Option("--ejemplo", help="Carga el inventario de EJEMPLO incorporado.")
    ] = False,
    simular: Annotated[
        bool, typer.Option("--simular", help="Muestra los cambios sin escribir nada.")
    ] = False,
    tipo: TipoOpt = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Importa sedes y activos; valida todo el archivo y no aplica nada si hay un error."""
    from inventario import catalog, files
    from pukara.store import opened_store

    if (archivo is None) == (not ejemplo):
        raise UsageError("indique un ARCHIVO o --ejemplo (uno de los dos)")
    with opened_store(ctx.obj) as store:
        if ejemplo:
            message("Cargando datos de EJEMPLO (ficticios, direcciones del laboratorio).",
                    quiet=silencioso)  # fmt: skip
            result = catalog.import_sample(store, dry_run=simular)
        elif archivo is not None:
            parsed = files.read_file(archivo, _kind(tipo))
            result = catalog.import_file(store, parsed, dry_run=simular)
    if simular or formato is not Formato.tabla:
        render(catalog.change_records(result.changes), formato, CHANGE_COLUMNS,
               title="Cambios que se aplicarían" if simular else "Cambios aplicados",
               shown={"kind": collection_label, "field": _field_label})  # fmt: skip
    news = sum(1 for c in result.changes if c.action == "alta")
    verb = "se aplicarían" if simular else "aplicados"
    message(
        f"{len(result.changes)} cambios {verb} ({news} altas, {len(result.changes) - news} "
        f"modificaciones); {result.unchanged} registros sin cambios.",
        quiet=silencioso,
    )


@app.command()
def exportar(
    ctx: typer.Context,
    formato: Annotated[
        FormatoArchivo, typer.Option("--formato", "-f", help="csv (una colección) o json (ambas).")
    ] = FormatoArchivo.json,
    tipo: Annotated[
        Tipo | None, typer.Option("--tipo", help="sedes o activos (CSV: activos por defecto).")
    ] = None,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo", "-o", help="Escribir aquí en vez de la salida.", callback=output_file
        ),
    ] = None,
) -> None:
    """Exporta el inventario de forma canónica: reimportarlo no cambia nada."""
    from inventario import catalog
    from pukara.files import write_atomically
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        text = catalog.export_text(store, formato.value, _kind(tipo))
    if archivo is None:
        sys.stdout.write(text)
    else:
        write_atomically(archivo, text)


@app.command()
def listar(
    ctx: typer.Context,
    sede: Annotated[str | None, typer.Option("--sede", help="Código de sede.")] = None,
    tipo: Annotated[str | None, typer.Option("--tipo", help="Tipo de activo.")] = None,
    pais: Annotated[str | None, typer.Option("--pais", help="País ISO (PE, ES…).")] = None,
    etiqueta: Annotated[str | None, typer.Option("--etiqueta", help="Etiqueta.")] = None,
    estado: Annotated[str | None, typer.Option("--estado", help="Estado del activo.")] = None,
    buscar: Annotated[
        str | None, typer.Option("--buscar", help="Texto en cualquier campo.")
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Lista los activos, con filtros."""
    from inventario import catalog
    from inventario.model import parse_asset_kind, parse_status
    from pukara.store import opened_store

    try:  # the same parsers as an import, so every label the files accept works here
        kind = parse_asset_kind(tipo) if tipo else None
        status = parse_status(estado) if estado else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    flt = catalog.AssetFilter(
        site=sede.lower() if sede else None,
        kind=kind,
        country=pais.upper() if pais else None,
        tag=etiqueta,
        status=status,
        text=buscar,
    )
    with opened_store(ctx.obj) as store:
        rows = catalog.filtered_assets(store, flt)
    render(rows, formato, ASSET_COLUMNS)


@app.command()
def sedes(ctx: typer.Context, formato: FormatoOpt = Formato.tabla) -> None:
    """Lista las sedes."""
    from inventario import catalog
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        render(catalog.sites(store), formato, SITE_COLUMNS)


@app.command()
def mostrar(
    ctx: typer.Context,
    activo: Annotated[str, typer.Argument(help="Nombre, código patrimonial, serie o IP.")],
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Muestra todos los campos de un activo y lo último que el descubrimiento vio de él."""
    from inventario import catalog, observations
    from inventario.model import ASSETS, FIELDS
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        asset = catalog.find_asset(store, activo)
        seen = observations.for_asset(store, asset["name"])
    if formato is not Formato.tabla:
        render([{**asset, "observations": seen}], formato, {"name": "Nombre"})
        return
    labels = {f.name: f.label for f in FIELDS[ASSETS]}
    rows = [{"field": labels[k], "value": v} for k, v in asset.items() if k in labels]
    for obs in seen:
        for k, v in sorted(obs.get("facts", {}).items()):
            if not isinstance(v, list | dict):
                rows.append({"field": f"visto por {obs['source']}: {k}", "value": v})
    render(rows, formato, {"field": "Campo", "value": "Valor"}, title=asset["name"])


OBS_COLUMNS = {
    "method": "Método", "target": "Objetivo", "name": "Nombre visto", "serial": "Serie",
    "credential": "Credencial", "status": "Resultado", "error": "Error",
}  # fmt: skip


@app.command()
def descubrir(
    ctx: typer.Context,
    objetivos: Annotated[
        list[str] | None,
        typer.Argument(
            help="IP, prefijo (198.18.0.0/24), código de sede o nombre de activo; "
            "sin objetivos, todos los activos en servicio."
        ),
    ] = None,
    excluir: Annotated[
        list[str] | None, typer.Option("--excluir", "-x", help="IP o prefijo a excluir.")
    ] = None,
    metodo: Annotated[
        list[str] | None, typer.Option("--metodo", "-m", help="snmp, ssh o ansible (repetible).")
    ] = None,
    credencial: Annotated[
        list[str] | None,
        typer.Option(
            "--credencial", help="Perfil de credenciales a probar (SNMPv3 antes que v2c)."
        ),
    ] = None,
    espera: Annotated[
        float | None,
        typer.Option(
            "--espera",
            "-t",
            min=0.1,
            max=60,
            help="Espera por solicitud (s); por omisión, timeout_s de la configuración.",
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Descubre equipos por SNMP, SSH y Ansible y guarda lo visto como observaciones."""
    from inventario import discovery
    from pukara.console import RichReporter
    from pukara.store import opened_store

    methods = metodo or list(discovery.METHODS)
    unknown = [m for m in methods if m not in discovery.METHODS]
    if unknown:
        raise UsageError(f"método desconocido: {', '.join(unknown)}; use snmp, ssh o ansible")
    settings: Settings = ctx.obj
    with opened_store(ctx.obj) as store:
        targets = discovery.resolve(store, objetivos or [], excluir or [])
        if not targets:
            raise UsageError("no hay objetivos: importe activos o indique IP, prefijo o sede")
        message(
            f"Descubriendo {len(targets)} objetivos por {', '.join(methods)}…", quiet=silencioso
        )
        report = discovery.run(
            store, settings, targets, methods=methods, profiles=credencial or [],
            timeout_s=espera, reporter=RichReporter(quiet=silencioso),
        )  # fmt: skip
    rows = [
        {"method": m, "target": r.target, "name": r.data.get("facts", {}).get("name"),
         "serial": r.data.get("facts", {}).get("serial"), "credential": r.data.get("credential"),
         "status": "falló" if r.failed else "ok", "error": r.error}
        for m, r in report.results
    ]  # fmt: skip
    render(rows, formato, OBS_COLUMNS)
    failed = sum(1 for _, r in report.results if r.failed)
    message(
        f"{len(rows) - failed} respuestas, {failed} fallidas; {report.changed} observaciones "
        f"nuevas o cambiadas, {report.unchanged} sin cambios.",
        quiet=silencioso,
    )
    if failed:
        raise typer.Exit(ExitCode.PARTIAL)


PROPOSAL_COLUMNS = {
    "asset": "Activo", "target": "Objetivo", "source": "Fuente", "field": "Campo",
    "declared": "Declarado", "observed": "Observado", "note": "Nota",
}  # fmt: skip


@app.command()
def conciliar(
    ctx: typer.Context,
    aplicar: Annotated[
        bool, typer.Option("--aplicar", help="Escribe en el inventario lo observado.")
    ] = False,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Compara lo descubierto con lo declarado y, con --aplicar, lo actualiza."""
    from inventario import observations
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        found = observations.proposals(store)
        render([dataclasses.asdict(p) for p in found], formato, PROPOSAL_COLUMNS,
               title="Diferencias entre lo observado y lo declarado")  # fmt: skip
        if aplicar and found:
            result = observations.apply(store, found)
            message(
                f"{len(result.changes)} activos actualizados o dados de alta.", quiet=silencioso
            )
        elif found:
            message(f"{len(found)} diferencias; use --aplicar para escribirlas.", quiet=silencioso)
        else:
            message("Lo observado coincide con lo declarado.", quiet=silencioso)


@app.command("ansible")
def ansible_inventory(
    ctx: typer.Context,
    lista: Annotated[bool, typer.Option("--list", help="Inventario completo (JSON).")] = False,
    equipo: Annotated[
        str | None, typer.Option("--host", help="Variables de un equipo (JSON).")
    ] = None,
) -> None:
    """Inventario dinámico de Ansible (--list / --host), agrupado por sede, tipo, país y etiqueta."""
    if lista == (equipo is not None):
        raise UsageError("indique --list o --host EQUIPO")
    from inventario import inventory_script

    settings: Settings = ctx.obj
    sys.stdout.write(inventory_script.answer(settings, equipo))


CAPACITY_COLUMNS = {
    "name": "Equipo", "site": "Sede", "cpu_count": "CPU", "cpu_used_pct": "CPU %",
    "memory_mb": "RAM (MB)", "memory_used_pct": "RAM %", "disk_gb": "Disco (GB)",
    "disk_used_pct": "Disco %", "ipv6_enabled": "IPv6", "over": "Sobre umbral",
}  # fmt: skip
LIFECYCLE_COLUMNS = {
    "name": "Activo", "site": "Sede", "kind": "Tipo", "age_years": "Edad (años)",
    "warranty_end": "Garantía", "warranty_state": "Estado garantía", "eol_date": "Fin de vida",
    "eol_state": "Estado fin de vida",
}  # fmt: skip

informe = typer.Typer(help="Informes del inventario.", no_args_is_help=True)
app.add_typer(informe, name="informe")


@informe.command()
def capacidad(
    ctx: typer.Context,
    umbral_cpu: Annotated[float, typer.Option("--umbral-cpu", min=1, max=100)] = 80.0,
    umbral_ram: Annotated[float, typer.Option("--umbral-ram", min=1, max=100)] = 85.0,
    umbral_disco: Annotated[float, typer.Option("--umbral-disco", min=1, max=100)] = 90.0,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Uso de CPU, memoria y disco de los servidores según los últimos hechos de Ansible."""
    from inventario import catalog, observations, reports
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        result = reports.capacity(
            catalog.assets(store), observations.current(store),
            observations.latest_metrics(store), reports.Thresholds(umbral_cpu, umbral_ram, umbral_disco),
        )  # fmt: skip
    render(result.rows, formato, CAPACITY_COLUMNS, title="Capacidad de servidores")
    avg, plan = result.averages, reports.PLAN_AVERAGES

    def pct(v: float | None) -> str:
        return "sin datos" if v is None else f"{v:.1f}%"

    message(
        f"Promedios: CPU {pct(avg['cpu'])} (plan {plan['cpu']:.0f}%), RAM {pct(avg['memory'])} "
        f"(plan {plan['memory']:.0f}%), disco {pct(avg['disk'])} (plan {plan['disk']:.0f}%). "
        f"{len(result.over)} equipos sobre algún umbral.",
        quiet=silencioso,
    )


@informe.command("ciclo-de-vida")
def ciclo_de_vida(
    ctx: typer.Context,
    dias: Annotated[int, typer.Option("--dias", min=1, help="Horizonte de vencimiento.")] = 180,
    todos: Annotated[
        bool, typer.Option("--todos", help="Todos los activos, no solo los que requieren atención.")
    ] = False,
    fecha: Annotated[
        str | None,
        typer.Option("--fecha", help="Fecha de referencia AAAA-MM-DD (por defecto, hoy en UTC)."),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Edad, garantía y fin de vida: lo vencido, lo que vence en --dias y lo desconocido."""
    from inventario import catalog, reports
    from pukara.store import opened_store

    try:
        today = date.fromisoformat(fecha) if fecha else datetime.now(UTC).date()
    except ValueError:
        raise UsageError(f"--fecha: «{fecha}» no es una fecha AAAA-MM-DD") from None
    with opened_store(ctx.obj) as store:
        rows, buckets = reports.lifecycle(catalog.assets(store), today, dias,
                                          everything=todos)  # fmt: skip
    render(rows, formato, LIFECYCLE_COLUMNS, title=f"Ciclo de vida (horizonte {dias} días)")
    message("Antigüedad: " + ", ".join(f"{k}: {v}" for k, v in sorted(buckets.items())),
            quiet=silencioso)  # fmt: skip
