"""Subcomandos de `pukara inventario`."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, output_file, render
from pukara.errors import ExitCode, UsageError
from pukara.formats import number
from pukara.labels import collection_label
from pukara.results import Result, Status
from pukara.text import count

if TYPE_CHECKING:
    from inventario.files import ParsedFile

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
    Tipo | None, typer.Option("--tipo", help="sedes o activos (por omisión, según el archivo).")
]

ASSET_COLUMNS = {
    "name": "Nombre", "kind": "Tipo", "site": "Sede", "mgmt_ipv4": "IPv4", "mgmt_ipv6": "IPv6",
    "vendor": "Fabricante", "model": "Modelo", "serial": "N.º de serie", "status": "Estado",
}  # fmt: skip
SITE_COLUMNS = {
    "code": "Código", "name": "Nombre", "kind": "Tipo", "country": "País", "city": "Ciudad",
    "timezone": "Zona horaria", "parent": "Superior", "wan_bandwidth_mbps": "WAN (Mb/s)",
    "vpn_kit": "Kit VPN", "availability_target": "Meta (%)", "monitored": "Vigilada",
}  # fmt: skip
CHANGE_COLUMNS = {
    "kind": "Colección", "key": "Clave", "action": "Acción", "field": "Campo",
    "before": "Antes", "after": "Después",
}  # fmt: skip


def _shown(row: dict[str, Any], digits: dict[str, int] | None = None) -> dict[str, Any]:
    """A record as a person reads it in a table: Spanish labels for the values of kind,
    status and criticality, numbers through pukara.formats; JSON and CSV keep raw values."""
    from inventario.model import ASSET_KINDS, CRITICALITIES, SITE_KINDS, STATUSES

    labels = {"status": STATUSES, "criticality": CRITICALITIES,
              "kind": SITE_KINDS | ASSET_KINDS}  # fmt: skip
    out = dict(row)
    for key, names in labels.items():
        if isinstance(out.get(key), str):
            out[key] = names.get(out[key], out[key])
    for key, places in (digits or {}).items():
        value = out.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = number(value, places)
    return out


SITE_DIGITS = {"wan_bandwidth_mbps": 0, "availability_target": 2}


def _kind(tipo: Tipo | None) -> str | None:
    from inventario import files

    return None if tipo is None else files.KIND_NAMES[tipo.value]


@app.command()
def importar(
    ctx: typer.Context,
    archivo: Annotated[
        Path | None,
        typer.Argument(
            help="Archivo .csv o .json; «-» lee la entrada estándar (CSV o JSON).",
            readable=False,  # read_file says why it cannot, as it does for a missing file
        ),
    ] = None,
    ejemplo: Annotated[
        bool, typer.Option("--ejemplo", help="Carga el inventario de EJEMPLO incorporado.")
    ] = False,
    simular: Annotated[
        bool, typer.Option("--simular", help="Muestra los cambios sin escribir nada.")
    ] = False,
    tipo: TipoOpt = None,
    codificacion: Annotated[
        str | None,
        typer.Option(
            "--codificacion",
            help="Codificación del archivo si no es UTF-8 (p. ej. cp1252, la de Excel).",
        ),
    ] = None,
    renombrar: Annotated[
        bool,
        typer.Option(
            "--renombrar",
            help="Confirma que una fila cuya IP es de otro activo renombra ese activo.",
        ),
    ] = False,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Importa sedes y activos; valida todo el archivo y no aplica nada si hay un error."""
    from inventario import catalog, plan
    from inventario.model import field_label
    from pukara.store import opened_store

    if (archivo is None) == (not ejemplo):
        raise UsageError("indique un ARCHIVO o --ejemplo (uno de los dos)")
    with opened_store(ctx.obj) as store:
        if ejemplo:
            message("Cargando datos de EJEMPLO (ficticios, direcciones del laboratorio).",
                    quiet=silencioso)  # fmt: skip
            result = catalog.import_sample(store, dry_run=simular)
        elif archivo is not None:
            parsed = _read_input(archivo, _kind(tipo), codificacion)
            options = plan.Options(rename_by_address=renombrar)
            result = catalog.import_file(store, parsed, dry_run=simular, options=options)
    if simular or formato is not Formato.tabla:
        render(catalog.change_records(result.changes), formato, CHANGE_COLUMNS,
               title="Cambios que se aplicarían" if simular else "Cambios aplicados",
               shown={"kind": collection_label, "field": field_label})  # fmt: skip
    news = sum(1 for c in result.changes if c.action == "alta")
    done = ("cambio se aplicaría", "cambios se aplicarían") if simular else (
        "cambio aplicado", "cambios aplicados")  # fmt: skip
    changes = count(len(result.changes), *done)
    message(
        f"{changes} ({count(news, 'alta', 'altas')}, "
        f"{count(len(result.changes) - news, 'modificación', 'modificaciones')}); "
        f"{count(result.unchanged, 'registro', 'registros')} sin cambios.",
        quiet=silencioso,
    )


def _read_input(path: Path, kind: str | None, encoding: str | None) -> ParsedFile:
    """The file to import; ``-`` is standard input, CSV or JSON told apart by its start."""
    from inventario import files

    if str(path) != "-":
        return files.read_file(path, kind, encoding)
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("importar -: la entrada estándar es una terminal; envíe el archivo "
                         "por una tubería (pukara inventario exportar | pukara inventario "
                         "importar -) o indique su nombre")  # fmt: skip
    return files.read_bytes(sys.stdin.buffer.read(), kind=kind, encoding=encoding)


@app.command()
def exportar(
    ctx: typer.Context,
    formato: Annotated[
        FormatoArchivo, typer.Option("--formato", "-f", help="csv (una colección) o json (ambas).")
    ] = FormatoArchivo.json,
    tipo: Annotated[
        Tipo | None, typer.Option("--tipo", help="sedes o activos (CSV: activos por omisión).")
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

    with opened_store(ctx.obj, read_only=True) as store:
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
    bajas: Annotated[
        bool, typer.Option("--bajas", help="Incluye los activos dados de baja.")
    ] = False,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Lista los activos, con filtros; los dados de baja solo con --bajas o --estado."""
    from inventario import catalog
    from inventario.model import parse_asset_kind, parse_country, parse_status
    from pukara.store import opened_store

    try:  # the same parsers as an import, so every label the files accept works here
        kind = parse_asset_kind(tipo) if tipo else None
        status = parse_status(estado) if estado else None
        country = parse_country(pais) if pais else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    flt = catalog.AssetFilter(
        site=sede.lower() if sede else None,
        kind=kind,
        country=country,
        tag=etiqueta,
        status=status,
        text=buscar,
        retired=bajas,
    )
    with opened_store(ctx.obj, read_only=True) as store:
        rows = catalog.filtered_assets(store, flt)
    if formato is Formato.tabla:
        rows = [_shown(r) for r in rows]
    render(rows, formato, ASSET_COLUMNS)


sedes_app = typer.Typer(
    help="Sedes: lista con filtros y ficha de una sede (inventario sedes mostrar SEDE).",
    invoke_without_command=True,
    subcommand_metavar="[COMMAND [ARGS]...]",  # it lists without one: «[ORDEN [ARGUMENTOS]...]»
)
app.add_typer(sedes_app, name="sedes")


@sedes_app.callback()
def sedes(
    ctx: typer.Context,
    tipo: Annotated[
        str | None, typer.Option("--tipo", help="Tipo de sede (embajada, consulado…).")
    ] = None,
    pais: Annotated[str | None, typer.Option("--pais", help="País ISO (PE, ES…).")] = None,
    superior: Annotated[
        str | None, typer.Option("--superior", help="Solo las que dependen de esta sede.")
    ] = None,
    vpn: Annotated[
        bool | None, typer.Option("--vpn/--sin-vpn", help="Solo con (o sin) kit VPN.")
    ] = None,
    vigilada: Annotated[
        bool | None,
        typer.Option(
            "--vigilada/--no-vigilada",
            help="Solo las marcadas (o no) para monitoreo: pasarela con la etiqueta «monitoreo».",
        ),
    ] = None,
    buscar: Annotated[
        str | None, typer.Option("--buscar", help="Texto en cualquier campo.")
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Lista las sedes, con filtros."""
    if ctx.invoked_subcommand is not None:
        return
    from inventario import catalog
    from inventario.model import parse_country, parse_site_kind
    from pukara.store import opened_store

    try:
        kind = parse_site_kind(tipo) if tipo else None
        country = parse_country(pais) if pais else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    flt = catalog.SiteFilter(kind=kind, country=country,
                             parent=superior.lower() if superior else None, vpn_kit=vpn,
                             monitored=vigilada, text=buscar)  # fmt: skip
    with opened_store(ctx.obj, read_only=True) as store:
        rows = catalog.filtered_sites(store, flt)
    if formato is Formato.tabla:
        rows = [_shown(r, SITE_DIGITS) for r in rows]
    render(rows, formato, SITE_COLUMNS)


SITE_DETAIL = {
    "monitored": "Vigilada", "children": "Sedes dependientes", "assets_total": "Activos",
    "assets_in_service": "Activos en servicio", "assets_by_status": "Activos por estado",
    "assets_by_kind": "Activos por tipo",
}  # fmt: skip


@sedes_app.command("mostrar")
def sedes_mostrar(
    ctx: typer.Context,
    sede: Annotated[str, typer.Argument(help="Código de la sede.")],
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Muestra todos los campos de una sede, sus sedes dependientes y sus activos."""
    from inventario import catalog
    from inventario.model import FIELDS, SITES
    from pukara.store import opened_store

    with opened_store(ctx.obj, read_only=True) as store:
        detail = catalog.site_detail(store, sede)
    if formato is not Formato.tabla:
        flat = catalog.flatten(detail)
        render([flat], formato, {k: k for k in flat})
        return
    from inventario.model import ASSET_KINDS

    labels = {f.name: f.label for f in FIELDS[SITES]} | SITE_DETAIL
    shown = _shown(detail, SITE_DIGITS)
    shown["assets_by_kind"] = {
        ASSET_KINDS.get(k, k): n for k, n in detail["assets_by_kind"].items()
    }
    rows = []
    for key, label in labels.items():
        value = shown.get(key)
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {number(v)}" for k, v in value.items())
        elif isinstance(value, int) and not isinstance(value, bool):
            value = number(value)
        rows.append({"field": label, "value": value})
    render(rows, formato, {"field": "Campo", "value": "Valor"}, title=detail["code"])


@app.command()
def mostrar(
    ctx: typer.Context,
    activo: Annotated[str, typer.Argument(help="Nombre, código patrimonial, serie o IP.")],
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Muestra todos los campos de un activo y lo último que el descubrimiento vio de él."""
    from inventario import catalog, observations
    from inventario.model import ASSETS, FIELDS, canonical
    from pukara.store import opened_store

    with opened_store(ctx.obj, read_only=True) as store:
        asset = catalog.find_asset(store, activo)
        seen = observations.for_asset(store, asset["name"])
    if formato is Formato.json:
        render([{**canonical(ASSETS, asset), "observations": seen}], formato, {"name": "Nombre"})
        return
    if formato is Formato.csv:  # the whole record, nested fields as dotted columns
        flat = catalog.flatten({**canonical(ASSETS, asset), "observations": seen})
        render([flat], formato, {k: k for k in flat})
        return
    labels = {f.name: f.label for f in FIELDS[ASSETS]}
    rows = [{"field": labels[k], "value": v} for k, v in _shown(asset).items() if k in labels]
    for obs in seen:
        for k, v in sorted(obs.get("facts", {}).items()):
            if not isinstance(v, list | dict):
                rows.append({"field": f"visto por {obs['source']}: {k}", "value": v})
    render(rows, formato, {"field": "Campo", "value": "Valor"}, title=asset["name"])


@app.command()
def baja(
    ctx: typer.Context,
    activo: Annotated[str, typer.Argument(help="Nombre, código patrimonial, serie o IP.")],
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué se da de baja (obligatorio).")],
    fecha: Annotated[
        str | None, typer.Option("--fecha", help="Fecha de la baja AAAA-MM-DD (por omisión, hoy).")
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Da de baja un activo: queda en el inventario y en su historial, fuera del servicio.

    El monitoreo, el descubrimiento y el inventario de Ansible lo dejan fuera; `listar
    --bajas` o `listar --estado "dado de baja"` lo muestran.
    """
    from inventario import catalog
    from pukara.store import opened_store

    on = _day("--fecha", fecha)
    with opened_store(ctx.obj) as store:
        asset = catalog.retire(store, activo, motivo, on)
    message(f"«{asset['name']}» dado de baja el {asset['retired_on']}: {asset['retired_reason']}",
            quiet=silencioso)  # fmt: skip


YES = frozenset({"s", "si", "sí", "y", "yes"})


def _confirmed(question: str) -> bool:
    """A yes (s, sí, y…) typed in the terminal; Enter, anything else or Ctrl-D is a no.
    Ctrl-C still interrupts (130)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # Ctrl-D: end the prompt's line before the next message
        sys.stderr.write("\n")
    return answer.strip().lower() in YES


@app.command()
def borrar(
    ctx: typer.Context,
    activo: Annotated[str, typer.Argument(help="Nombre, código patrimonial, serie o IP.")],
    si: Annotated[bool, typer.Option("--si", help="No pide confirmación.")] = False,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Borra un activo ingresado por error (el registro de cambios guarda lo que era).

    Un equipo retirado se da de baja (`inventario baja`), no se borra.
    """
    from inventario import catalog
    from pukara.store import opened_store

    with opened_store(ctx.obj) as store:
        asset = catalog.find_asset(store, activo)
        if not si:
            if not sys.stdin.isatty():
                raise UsageError(
                    f"borrar «{asset['name']}» pide confirmación: repita con --si "
                    "(o en una terminal)"
                )
            if not _confirmed(f"¿Borrar el activo «{asset['name']}» del inventario? [s/N] "):
                message("No se borró nada.", quiet=silencioso)
                return
        name = catalog.delete_asset(store, asset["name"])
    message(f"«{name}» borrado; el registro de cambios conserva lo que era.", quiet=silencioso)


HISTORY_COLUMNS = {
    "seq": "N.º", "@timestamp": "Fecha", "actor": "Analista", "action": "Acción",
    "fields": "Campos cambiados", "status": "Estado", "reason": "Motivo de baja",
}  # fmt: skip
ACTIONS = {"insert": "alta", "update": "modificación", "delete": "borrado"}


@app.command()
def historial(
    ctx: typer.Context,
    activo: Annotated[str, typer.Argument(help="Nombre, código patrimonial, serie o IP.")],
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Los cambios de un activo según el registro de cambios: altas, cambios, bajas, borrado."""
    from inventario import catalog
    from pukara.store import opened_store

    with opened_store(ctx.obj, read_only=True) as store:
        rows = catalog.history(store, activo)
    if formato is Formato.tabla:
        from inventario.model import ASSETS, FIELDS
        from pukara.formats import datetime_text

        names = {f.name: f.label for f in FIELDS[ASSETS]}
        rows = [_shown({
            **r, "action": ACTIONS.get(r["action"], r["action"]),
            "@timestamp": datetime_text(datetime.fromisoformat(r["@timestamp"]), seconds=True),
            "fields": [names.get(f, f) for f in r["fields"]],
        }) for r in rows]  # fmt: skip
    render(rows, formato, HISTORY_COLUMNS, title=f"Historial de {activo}")


def _day(option: str, text: str | None) -> date:
    try:
        return date.fromisoformat(text) if text else datetime.now(UTC).date()
    except ValueError:
        raise UsageError(f"{option}: «{text}» no es una fecha AAAA-MM-DD") from None


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
        list[str] | None,
        typer.Option(
            "--metodo", "-m", help="snmp, ssh o ansible (repetible, o separados por comas)."
        ),
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

    methods = [m.strip() for m in ",".join(metodo or discovery.METHODS).split(",") if m.strip()]
    unknown = [m for m in methods if m not in discovery.METHODS]
    if unknown:
        raise UsageError(f"método desconocido: {', '.join(unknown)}; use snmp, ssh o ansible")
    settings: Settings = ctx.obj
    with opened_store(ctx.obj) as store:
        targets = discovery.resolve(store, objetivos or [], excluir or [])
        if not targets:
            raise UsageError("no hay objetivos: importe activos o indique IP, prefijo o sede")
        message(
            f"Descubriendo {count(len(targets), 'objetivo', 'objetivos')} por "
            f"{', '.join(methods)}…",
            quiet=silencioso,
        )
        report = discovery.run(
            store, settings, targets, methods=methods, profiles=credencial or [],
            timeout_s=espera, reporter=RichReporter(quiet=silencioso),
        )  # fmt: skip
    rows = [
        {"method": m, "target": r.target, "name": r.data.get("facts", {}).get("name"),
         "serial": r.data.get("facts", {}).get("serial"), "credential": r.data.get("credential"),
         "status": "falló" if r.failed else _no_answer(r) or "ok", "error": r.error}
        for m, r in report.results
    ]  # fmt: skip
    render(rows, formato, OBS_COLUMNS)
    failed = sum(1 for _, r in report.results if r.failed)
    silent = sum(1 for _, r in report.results if _no_answer(r))
    message(
        f"{count(len(rows) - failed - silent, 'respuesta', 'respuestas')}, "
        f"{count(failed, 'fallida', 'fallidas')}"
        + (
            f", {count(silent, 'dirección sin respuesta', 'direcciones sin respuesta')}"
            if silent
            else ""
        )
        + "; "
        f"{count(report.changed, 'observación nueva o cambiada', 'observaciones nuevas o cambiadas')}, "
        f"{number(report.unchanged)} sin cambios.",
        quiet=silencioso,
    )
    if failed:
        raise typer.Exit(ExitCode.PARTIAL)


def _no_answer(result: Result) -> str | None:
    """«sin respuesta» for an address of a prefix sweep that nothing answered on."""
    from inventario.discovery import NO_ANSWER

    return NO_ANSWER if result.status is Status.SKIPPED and result.error == NO_ANSWER else None


FIELD_COLUMNS = {
    "asset": "Activo", "field": "Campo", "declared": "Declarado (importación)",
    "snmp": "SNMP", "ssh": "SSH", "ansible": "Ansible (hechos)", "agree": "Coinciden",
    "differ": "Difieren", "state": "Estado",
}  # fmt: skip
UNKNOWN_COLUMNS = {
    "target": "Dirección", "snmp": "Nombre (SNMP)", "ssh": "Nombre (SSH)",
    "ansible": "Nombre (Ansible)", "serial": "N.º de serie", "vendor": "Fabricante",
    "model": "Modelo", "differ": "Visto por",
}  # fmt: skip


@app.command()
def conciliar(
    ctx: typer.Context,
    aplicar: Annotated[
        bool, typer.Option("--aplicar", help="Escribe en el inventario lo observado.")
    ] = False,
    agregar: Annotated[
        bool,
        typer.Option(
            "--agregar-desconocidos",
            help="Con --aplicar, da de alta los equipos no inventariados (tipo «otro», con "
            "nombre, dirección, serie, fabricante, modelo y SO vistos).",
        ),
    ] = False,
    todos: Annotated[
        bool, typer.Option("--todos", help="También los campos en que todas las fuentes coinciden.")
    ] = False,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Compara lo declarado con lo que vio cada fuente y, con --aplicar, actualiza el inventario.

    Campo por campo (SNMP, SSH, Ansible), y aparte los equipos descubiertos que no están en el
    inventario: esos solo se dan de alta con --agregar-desconocidos.
    """
    from inventario import observations
    from pukara.store import opened_store

    if agregar and not aplicar:
        raise UsageError("--agregar-desconocidos va con --aplicar")
    with opened_store(ctx.obj) as store:
        if not observations.current(store):
            if formato is not Formato.tabla:  # the empty list or header, for a script
                render([], formato, FIELD_COLUMNS)
            message("Aún no hay nada observado: ejecute «pukara inventario descubrir» primero.",
                    quiet=silencioso)  # fmt: skip
            return
        rows = observations.comparison(store, everything=todos)
        found = observations.proposals(store)
        unknown = [r for r in rows if r["state"] == observations.UNKNOWN_DEVICE]
        fields = [r for r in rows if r["state"] != observations.UNKNOWN_DEVICE]
        _render_comparison(fields, unknown, rows, formato)
        differ = sum(1 for r in fields if r["state"] != observations.AGREE)
        left_out = 0 if agregar else len(unknown)
        if aplicar and found:
            result = observations.apply(store, found, add_unknown=agregar)
            applied = count(len(result.changes), "activo actualizado o dado de alta",
                            "activos actualizados o dados de alta")  # fmt: skip
            outside = count(left_out, "equipo no inventariado queda",
                            "equipos no inventariados quedan")  # fmt: skip
            rest = f"; {outside} fuera (--agregar-desconocidos los da de alta)" if left_out else ""
            message(f"{applied}{rest}.", quiet=silencioso)
        elif found or differ or unknown:
            message(f"{count(differ, 'campo difiere o falta', 'campos difieren o faltan')}, "
                    f"{count(len(unknown), 'equipo no inventariado', 'equipos no inventariados')}; "
                    "use --aplicar para escribirlos (y --agregar-desconocidos para dar de alta "
                    "los no inventariados).", quiet=silencioso)  # fmt: skip
        else:
            message("Lo observado coincide con lo declarado.", quiet=silencioso)
    if (not aplicar and (differ or unknown)) or (aplicar and left_out):
        raise typer.Exit(ExitCode.PARTIAL)  # findings, as every command reports them


def _render_comparison(
    fields: list[dict[str, Any]],
    unknown: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    formato: Formato,
) -> None:
    if formato is not Formato.tabla:
        render(rows, formato, FIELD_COLUMNS | {"target": "target", "serial": "serial",
                                               "vendor": "vendor", "model": "model"})  # fmt: skip
        return
    from inventario.model import ASSETS, FIELDS

    names = {f.name: f.label for f in FIELDS[ASSETS]}
    source = {"snmp": "SNMP", "ssh": "SSH", "ansible": "Ansible"}
    shown = [{**r, "field": names.get(r["field"], r["field"]),
              "declared": r["declared"] if r["declared"] is not None else "—",
              "agree": [source[x] for x in r["agree"]],
              "differ": [source[x] for x in r["differ"]]} for r in fields]  # fmt: skip
    render(shown, formato, FIELD_COLUMNS, title="Campo por campo: declarado y observado")
    if unknown:
        render([{**r, "differ": [source[x] for x in r["differ"]]} for r in unknown], formato,
               UNKNOWN_COLUMNS, title="Equipos descubiertos que no están en el inventario")  # fmt: skip


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
    "disk_used_pct": "Disco %", "load_avg_15m": "Carga 15 min", "ipv6_enabled": "IPv6",
    "over": "Sobre umbral",
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
    umbral_cpu: Annotated[
        float,
        typer.Option(
            "--umbral-cpu", min=1, max=100, help="CPU (%) sobre la que un servidor es hallazgo."
        ),
    ] = 80.0,
    umbral_ram: Annotated[
        float,
        typer.Option(
            "--umbral-ram", min=1, max=100, help="Memoria (%) sobre la que un servidor es hallazgo."
        ),
    ] = 85.0,
    umbral_disco: Annotated[
        float,
        typer.Option(
            "--umbral-disco",
            min=1,
            max=100,
            help="Disco (%, el sistema de archivos más lleno) sobre el que es hallazgo.",
        ),
    ] = 90.0,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Uso de CPU, memoria y disco de los servidores según los últimos hechos de Ansible."""
    from inventario import catalog, observations, reports
    from pukara.formats import percent
    from pukara.store import opened_store

    with opened_store(ctx.obj, read_only=True) as store:
        result = reports.capacity(
            catalog.assets(store), observations.current(store),
            observations.latest_metrics(store), reports.Thresholds(umbral_cpu, umbral_ram, umbral_disco),
        )  # fmt: skip
    rows = result.rows
    if formato is Formato.tabla:
        rows = [_readable_capacity(r) for r in rows]
    render(rows, formato, CAPACITY_COLUMNS, title="Capacidad de servidores")
    avg, plan = result.averages, reports.PLAN_AVERAGES

    def pct(v: float | None, digits: int = 1) -> str:
        return "sin datos" if v is None else percent(v, digits)

    message(
        f"Promedios medidos: CPU {pct(avg['cpu'])}, RAM {pct(avg['memory'])}, disco "
        f"{pct(avg['disk'])} (promedios previstos en el plan de capacidad: {pct(plan['cpu'], 0)}, "
        f"{pct(plan['memory'], 0)} y {pct(plan['disk'], 0)}). "
        f"{count(len(result.over), 'equipo', 'equipos')} sobre algún umbral "
        f"(--umbral-cpu {number(umbral_cpu)}, --umbral-ram {number(umbral_ram)}, "
        f"--umbral-disco {number(umbral_disco)}).",
        quiet=silencioso,
    )
    if result.over:
        raise typer.Exit(ExitCode.PARTIAL)


def _readable_capacity(row: dict[str, Any]) -> dict[str, Any]:
    digits = {"cpu_used_pct": 1, "memory_used_pct": 1, "disk_used_pct": 1, "disk_gb": 1,
              "load_avg_15m": 2, "memory_mb": 0, "cpu_count": 0}  # fmt: skip
    return {k: number(v, digits[k]) if k in digits and isinstance(v, int | float) else v
            for k, v in row.items()}  # fmt: skip


@informe.command("ciclo-de-vida")
def ciclo_de_vida(
    ctx: typer.Context,
    dias: Annotated[int, typer.Option("--dias", min=1, help="Horizonte de vencimiento.")] = 180,
    todos: Annotated[
        bool, typer.Option("--todos", help="Todos los activos, no solo los que requieren atención.")
    ] = False,
    fecha: Annotated[
        str | None,
        typer.Option("--fecha", help="Fecha de referencia AAAA-MM-DD (por omisión, hoy en UTC)."),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Edad, garantía y fin de vida: lo vencido, lo que vence en --dias y lo desconocido.

    Sale con 3 cuando hay algo que atender (como toda orden con hallazgos).
    """
    from inventario import catalog, reports
    from pukara.store import opened_store

    today = _day("--fecha", fecha)
    with opened_store(ctx.obj, read_only=True) as store:
        rows, buckets = reports.lifecycle(catalog.assets(store), today, dias,
                                          everything=todos)  # fmt: skip
    shown = rows
    if formato is Formato.tabla:
        shown = [_shown(r, {"age_years": 1}) for r in rows]
    render(
        shown,
        formato,
        LIFECYCLE_COLUMNS,
        title=f"Ciclo de vida (horizonte {count(dias, 'día', 'días')})",
    )
    findings = sum(1 for r in rows if r["attention"])
    message("Antigüedad: " + ", ".join(f"{k}: {number(v)}" for k, v in
                                       reports.ordered_buckets(buckets))
            + f". {count(findings, 'activo requiere', 'activos requieren')} atención.",
            quiet=silencioso)  # fmt: skip
    if findings:
        raise typer.Exit(ExitCode.PARTIAL)
