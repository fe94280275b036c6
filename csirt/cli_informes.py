"""`pukara csirt`: metricas, informe, cnsd."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, date_option, message, output_file, render
from pukara.errors import UsageError
from pukara.text import count

# -- metricas -------------------------------------------------------------------------------
_GROUP_HEADERS = {"month": "Mes (UTC)", "severity": "Severidad", "rsit_class": "Clase RSIT",
                  "cnsd_class": "Clase CNSD", "site": "Misión"}  # fmt: skip


def metricas(
    ctx: typer.Context,
    desde: Annotated[
        str | None,
        typer.Option(
            "--desde", help="Incidentes creados desde esta fecha (AAAA-MM-DD o ISO 8601)."
        ),
    ] = None,
    hasta: Annotated[
        str | None,
        typer.Option("--hasta", help="Hasta esta fecha; AAAA-MM-DD incluye todo ese día."),
    ] = None,
    por: Annotated[
        str,
        typer.Option(
            "--por",
            metavar="DIMENSIONES",
            help="Agrupa por estas dimensiones, separadas por comas: mes, severidad, rsit, "
            "cnsd, mision (un caso con varias misiones cuenta en cada una).",
        ),
    ] = "mes,severidad",
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Tiempos del CSIRT por grupo: detectar (TTD), atender (TTA), contener (TTC), notificar al
    CNSD (TTN) y resolver (TTR).

    Cada tiempo sale de la línea de tiempo del caso (nunca de los campos del incidente):
    mediana, percentil 90 y cuántos casos lo tienen. Sin --por, por mes y severidad."""
    from csirt import metricas as m
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    by = m.parse_by(por)
    since, until = date_option("--desde", desde), date_option("--hasta", hasta, end_of_day=True)
    with opened_store(settings, read_only=True) as store:
        result = m.compute(store, since=since, until=until, by=by)
        sites = {
            c: store.get("site", [c]) for c in {r["site"] for r in result.rows if r.get("site")}
        }
    names = {code: str(site.get("name") or "") for code, site in sites.items() if site}
    _render_metrics(result, formato, names)
    if not result.cases:
        message("No hay incidentes creados en ese periodo." if since or until
                else "No hay incidentes.")  # fmt: skip
    if result.without_creation:
        shown = ", ".join(result.without_creation[:5])
        more = len(result.without_creation) - 5
        message(f"Sin entrada «creado» en su línea de tiempo (no se cuentan): {shown}"
                + (f" y {more} más" if more > 0 else ""))  # fmt: skip
    if result.discarded:
        cases = (
            "1 caso descartado"
            if result.discarded == 1
            else f"{result.discarded} casos descartados"
        )
        message(f"Se dejan fuera {cases} (falsos positivos, duplicados).")  # fmt: skip
    if result.inconsistent:
        message(f"Se dejaron fuera {result.inconsistent} tiempos negativos (una entrada con "
                "fecha anterior a la creación o una detección anterior a la ocurrencia).")  # fmt: skip


def _render_metrics(result: Any, formato: Formato, site_names: dict[str, str]) -> None:
    from csirt import metricas as m

    keys = [m.DIMENSIONS[n] for n in result.by]
    if formato is not Formato.tabla:
        columns = {k: k for k in keys} | {"cases": "cases"}
        for name in m.METRICS:
            columns |= {f"{name}_{s}": "" for s in ("median_s", "p90_s", "count")}
        render(result.rows, formato, columns)
        return
    from pukara.formats import number

    def cell(row: dict[str, Any], name: str) -> str:
        if not row[f"{name}_count"]:
            return "—"
        return (f"{m.duration_text(row[f'{name}_median_s'])} / "
                f"{m.duration_text(row[f'{name}_p90_s'])} ({number(row[f'{name}_count'])})")  # fmt: skip

    shown_rows = []
    for row in result.rows:
        out: dict[str, Any] = {k: _group_text(k, row[k]) for k in keys}
        if row.get("site") and site_names.get(row["site"]):
            out["site"] += f" ({site_names[row['site']]})"
        out["cases"] = number(row["cases"])
        out |= {name: cell(row, name) for name in m.METRICS}
        shown_rows.append(out)
    columns = {k: _GROUP_HEADERS[k] for k in keys} | {"cases": "Casos"}
    columns |= {name: name.upper() for name in m.METRICS}
    render(shown_rows, formato, columns, priority=dict.fromkeys(keys, 0),
           title=f"Métricas del CSIRT: mediana / p90 (casos con el dato), "
                 f"{count(result.cases, 'caso', 'casos')}")  # fmt: skip


def _group_text(key: str, value: Any) -> str:
    from csirt.metricas import SEVERITY

    if value is None:
        return {"site": "sin misión", "rsit_class": "sin clase", "cnsd_class": "sin clase"}.get(
            key, "—"
        )
    if key == "severity":
        return f"{value} ({SEVERITY.get(value, '?')})"
    return str(value)


# -- informe -------------------------------------------------------------------------------
IncidenteArg = Annotated[
    str, typer.Argument(metavar="INCIDENTE", help="Número (INC-2026-0001) o identificador.")
]


def _write(path: Path | None, text: str, what: str) -> None:
    """``text`` to ``path`` atomically, or to stdout without one."""
    if path is None:
        import sys

        sys.stdout.write(text)
        return
    from pukara.files import write_atomically

    write_atomically(path, text)
    message(f"{what} escrito en {path}")


def informe(
    ctx: typer.Context,
    incidente: IncidenteArg,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="ARCHIVO",
            callback=output_file,
            help="Escribe el informe en este archivo HTML (sin la opción, a la salida estándar).",
        ),
    ] = None,
) -> None:
    """Informe del caso en una página HTML autocontenida: resumen, línea de tiempo,
    observables, tareas, contramedidas, evidencia con sus hashes y cadena de custodia."""
    from csirt import informe as report
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    with opened_store(settings, read_only=True) as store:
        data = report.build(store, incidente)
    _write(html, report.html(data), f"Informe de {data['number']}")


# -- cnsd ----------------------------------------------------------------------------------
class FormatoCnsd(StrEnum):
    texto = "texto"
    json = "json"
    html = "html"


def cnsd(
    ctx: typer.Context,
    incidente: IncidenteArg,
    formato: Annotated[
        FormatoCnsd,
        typer.Option("--formato", "-f", help="Formato del borrador: texto, json o html."),
    ] = FormatoCnsd.texto,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo",
            "-o",
            metavar="ARCHIVO",
            callback=output_file,
            help="Escribe el borrador en este archivo (sin la opción, a la salida estándar).",
        ),
    ] = None,
    perfil: Annotated[
        Path | None,
        typer.Option(
            "--perfil",
            metavar="ARCHIVO",
            help="Perfil TOML con la entidad que reporta, los campos y el plazo (por omisión "
            "pe-cnsd-2025, no verificado; copie csirt/perfiles/pe-cnsd-2025.toml y edítelo).",
        ),
    ] = None,
    notificado: Annotated[
        bool,
        typer.Option(
            "--notificado",
            help="Registra en la línea de tiempo que un analista envió el reporte al CNSD (de "
            "ahí sale el TTN); no envía nada.",
        ),
    ] = False,
    fecha: Annotated[
        str | None,
        typer.Option(
            "--fecha",
            metavar="FECHA",
            help="Con --notificado: cuándo se envió (2026-12-01 08:30, con zona como "
            "2026-12-01T08:30-05:00; sin zona, la del equipo). Por omisión, ahora.",
        ),
    ] = None,
    referencia: Annotated[
        str | None,
        typer.Option(
            "--referencia",
            help="Con --notificado: el número o código que dio el CNSD, o el asunto del correo.",
        ),
    ] = None,
) -> None:
    """Borrador del reporte al CNSD con los campos del formulario nacional de incidentes (texto,
    JSON o HTML); con --notificado, registra su envío.

    Lo envía un analista por los canales del CNSD; pukara nunca lo envía. Avisa al 50 % y al
    90 % del plazo de notificación del perfil."""
    from csirt import cnsd as report
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    if (fecha or referencia) and not notificado:
        raise UsageError("--fecha y --referencia van con --notificado")
    profile = report.load_profile(perfil)
    if notificado:
        from csirt.records import command

        with opened_store(settings) as store, command(store, settings.analyst) as cmd:
            entry = report.record_notification(
                cmd, incidente, when=fecha, reference=referencia or "", profile=profile.name
            )
        from csirt.informe import moment

        message(f"Notificación al CNSD registrada: {moment(entry['ts'])}.")
        return
    with opened_store(settings, read_only=True) as store:
        data = report.draft(store, incidente, profile)
    if formato is FormatoCnsd.json:
        import json

        out = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    elif formato is FormatoCnsd.html:
        out = report.html(data)
    else:
        out = report.text(data)
    _write(archivo, out, f"Borrador CNSD de {data['incident']['number']}")
    level = data["deadline"].get("level")
    if (
        level
        and level != "notificado"
        and (archivo is not None or formato is not FormatoCnsd.texto)
    ):
        message(data["deadline"]["warning"], style="bold red")


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to `pukara csirt`."""
    app.command()(metricas)
    app.command()(informe)
    app.command()(cnsd)
