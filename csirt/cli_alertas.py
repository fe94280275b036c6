"""`pukara csirt alertas`: recibir sin duplicados, listar, promover, unir y descartar."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render

app = typer.Typer(
    help="Alertas: recibir sin duplicados, promover a incidente, unir o descartar.",
    no_args_is_help=True,
)

COLUMNS = {
    "id": "Id", "status": "Estado", "severity": "Severidad", "source": "Fuente",
    "title": "Título", "count": "Veces", "first_seen": "Primera vez", "last_seen": "Última vez",
    "incident_number": "Caso",
}  # fmt: skip
FILE_HELP = (
    'Archivos JSON: un objeto, una lista o líneas JSON. Forma genérica: {"source": ..., '
    '"source_ref": ... (la referencia única en la fuente), "title": ..., "description", '
    '"severity": 1-4 o baja|media|alta|crítica, "tlp": CLEAR|GREEN|AMBER|AMBER+STRICT|RED, '
    '"pap", "seen": ISO 8601, "observables": ["ipv4:198.51.100.7", {"type": "domain", '
    '"value": "malo.test"}]}. También alertas de TheHive (sourceRef, artifacts con '
    'dataType/data, tlp 0-4, pap 0-3) y eventos MISP ({"Event": {...}}).'
)


TABLE_LIMIT = 100  # rows a table shows without --limite (json and csv give them all)


class Estado(StrEnum):
    nueva = "nueva"
    promovida = "promovida"
    unida = "unida"
    descartada = "descartada"


def _shown() -> dict[str, Any]:
    from csirt.alertas import SEVERITY_LABELS, STATUS_LABELS
    from pukara.events import parse_timestamp
    from pukara.formats import datetime_text, number
    from registros.search import local_zone

    zone = local_zone()  # the machine's, as the case's tables

    def when(v: Any) -> str:
        return datetime_text(parse_timestamp(v), zone, seconds=True) if v else ""

    return {
        "status": lambda v: STATUS_LABELS.get(v, v),
        "severity": lambda v: SEVERITY_LABELS.get(v, v),
        "count": lambda v: number(v),
        "first_seen": when,
        "last_seen": when,
        "incident_number": lambda v: v or "",
    }


@app.command()
def importar(
    ctx: typer.Context,
    archivos: Annotated[
        list[Path] | None, typer.Argument(help=FILE_HELP, show_default=False)
    ] = None,
    desde_registros: Annotated[
        bool,
        typer.Option(
            "--desde-registros", help="Las detecciones guardadas por `registros reglas ejecutar`."
        ),
    ] = False,
    desde_monitoreo: Annotated[
        bool,
        typer.Option(
            "--desde-monitoreo",
            help="Las alertas de estado de `monitoreo vigilar` (sede caída, degradada, "
            "oscilando, monitor aislado); las recuperaciones no son alertas.",
        ),
    ] = False,
    desde: Annotated[
        str | None,
        typer.Option(
            "--desde",
            help="Eventos del almacén desde (-1h, -2d, ahora o ISO 8601; "
            "sin zona, UTC). Por omisión, todos.",
        ),
    ] = None,
    hasta: Annotated[
        str | None, typer.Option("--hasta", help="Eventos del almacén hasta (excluido).")
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Importa alertas sin duplicados: la misma fuente y referencia otra vez sube el contador
    y la última vez; importar de nuevo lo mismo no crea ni cuenta nada. Un archivo con una
    alerta inválida se rechaza entero (con su línea o posición) y no se guarda nada."""  # fmt: skip
    from csirt import alertas
    from pukara.formats import number
    from pukara.store import opened_store
    from pukara.text import count
    from registros.reglas_cli import window

    since, until = (None, None)
    if desde is not None or hasta is not None:
        since, until = window(desde, hasta)
    with opened_store(ctx.obj) as store:
        report = alertas.import_sources(
            store, archivos or [], registros=desde_registros, monitoreo=desde_monitoreo,
            since=since, until=until,
        )  # fmt: skip
    origins = ", ".join(f"{number(n)} de {k}" for k, n in report.read.items())
    message(
        f"Alertas leídas: {origins or 'ninguna'}. {count(report.inserted, 'nueva', 'nuevas')}, "
        f"{count(report.counted, 'repetida', 'repetidas')} (contador sumado), "
        f"{count(report.unchanged, 'ya vista', 'ya vistas')} (sin cambios).",
        quiet=silencioso,
    )


@app.command()
def agregar(
    ctx: typer.Context,
    titulo: Annotated[str, typer.Option("--titulo", help="Título de la alerta.")],
    severidad: Annotated[
        str, typer.Option("--severidad", help="1-4 o baja, media, alta, crítica.")
    ],
    observable: Annotated[
        list[str] | None,
        typer.Option(
            "--observable",
            help="TIPO:VALOR (ip:198.51.100.7, domain:malo.test, sha256:...); repetible.",
            show_default=False,
        ),
    ] = None,
    descripcion: Annotated[str, typer.Option("--descripcion", help="Descripción.")] = "",
    tlp: Annotated[
        str, typer.Option("--tlp", help="TLP 2.0: CLEAR, GREEN, AMBER, AMBER+STRICT o RED.")
    ] = "AMBER",
    pap: Annotated[str, typer.Option("--pap", help="PAP: CLEAR, GREEN, AMBER o RED.")] = "AMBER",
    fuente: Annotated[str, typer.Option("--fuente", help="Quién la informó.")] = "manual",
    referencia: Annotated[
        str | None,
        typer.Option(
            "--referencia",
            help="Referencia en la fuente (la misma otra vez es una "
            "repetición); por omisión, una nueva.",
        ),
    ] = None,
) -> None:
    """Registra a mano una alerta (p. ej. un aviso por teléfono o correo)."""
    from csirt import alertas
    from pukara.store import opened_store

    doc = alertas.by_hand(title=titulo, severity=severidad, observables=observable or [],
                          description=descripcion, tlp=tlp, pap=pap, source=fuente,
                          source_ref=referencia)  # fmt: skip
    with opened_store(ctx.obj) as store:
        report = alertas.ingest(store, [doc])
        stored = alertas.find(store, doc["id"]) if report.inserted else None
    if stored is None:
        message(f"Repetición de {fuente}/{referencia}: se sumó al contador de la alerta.")
    else:
        typer.echo(stored["id"])
        message(f"Alerta {stored['id']} registrada.")


@app.command()
def listar(
    ctx: typer.Context,
    estado: Annotated[Estado | None, typer.Option("--estado", help="Solo este estado.")] = None,
    fuente: Annotated[str | None, typer.Option("--fuente", help="Solo esta fuente.")] = None,
    limite: Annotated[
        int | None,
        typer.Option(
            "--limite",
            min=1,
            help=f"Las N vistas más recientemente; por omisión, {TABLE_LIMIT} en la tabla y "
            "todas en json y csv.",
            show_default=False,
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Alertas, de la vista más recientemente a la más antigua: estado, veces, primera y
    última vez y el caso al que pasaron."""
    from csirt import alertas
    from pukara.formats import number
    from pukara.store import opened_store

    limit = limite if limite is not None or formato is not Formato.tabla else TABLE_LIMIT
    with opened_store(ctx.obj, read_only=True) as store:
        rows = alertas.listing(store, status=estado.value if estado else None, source=fuente)
    total = len(rows)
    if limit is not None and total > limit:
        rows = rows[:limit]
        if limite is None:
            message(f"{number(limit)} de {number(total)}, las vistas más recientemente; "
                    "--limite N para ver más, o -f csv/json para todas.")  # fmt: skip
    render(rows, formato, COLUMNS, title="Alertas", shown=_shown(), priority={"id": 0,
           "title": 0, "status": 1})  # fmt: skip


@app.command()
def mostrar(
    ctx: typer.Context,
    alerta: Annotated[str, typer.Argument(help="Id de la alerta (ULID) o su comienzo.")],
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Una alerta con sus observables y el documento original (en json)."""
    from csirt import alertas
    from pukara.store import opened_store

    with opened_store(ctx.obj, read_only=True) as store:
        alert = alertas.find(store, alerta)
    if formato is Formato.json:
        render([alert], formato, COLUMNS)
        return
    fields = {"id": "Id", "source": "Fuente", "source_ref": "Referencia", **COLUMNS,
              "tlp": "TLP", "pap": "PAP", "description": "Descripción",
              "incident_id": "Caso (id)", "discard_reason": "Motivo del descarte"}  # fmt: skip
    shown = _shown()
    rows = [{"field": label, "value": shown.get(k, lambda v: v)(alert.get(k)) or ""}
            for k, label in fields.items() if k != "incident_number"]  # fmt: skip
    rows += [{"field": "Observable", "value": f"{o['type']}: {o['value']}"}
             for o in alert.get("observables") or []]  # fmt: skip
    render(rows, formato, {"field": "Campo", "value": "Valor"}, title=f"Alerta {alert['id']}")


CasoOpts = dict[str, Any]


@app.command()
def promover(
    ctx: typer.Context,
    alerta: Annotated[str, typer.Argument(help="Id de la alerta (ULID) o su comienzo.")],
    titulo: Annotated[
        str | None, typer.Option("--titulo", help="Título del caso (por omisión, el de la alerta).")
    ] = None,
    severidad: Annotated[
        str | None, typer.Option("--severidad", help="1-4 o baja, media, alta, crítica.")
    ] = None,
    clase: Annotated[
        str | None, typer.Option("--clase", help="Clase RSIT; por omisión, la de --tipo.")
    ] = None,
    tipo: Annotated[
        str | None, typer.Option("--tipo", help="Tipo RSIT (p. ej. phishing, brute-force, ddos).")
    ] = None,
) -> None:
    """Abre un caso nuevo desde la alerta y le copia sus observables."""
    from csirt import alertas, alertas_fuentes
    from csirt.records import command
    from pukara.store import opened_store

    extra: CasoOpts = {"title": titulo, "rsit_class": clase, "rsit_type": tipo}
    if severidad is not None:
        try:
            extra["severity"] = alertas_fuentes.severity(severidad)
        except alertas_fuentes.Bad as e:
            from pukara.errors import UsageError

            raise UsageError(f"--severidad: {e}") from None
    settings = ctx.obj
    with opened_store(settings) as store, command(store, settings.analyst) as cmd:
        alert, case = alertas.promote(cmd, alerta, **extra)
    typer.echo(case.get("number") or case["id"])
    message(f"Alerta {alert['id']} promovida al caso {case.get('number')}.")


@app.command()
def unir(
    ctx: typer.Context,
    alerta: Annotated[str, typer.Argument(help="Id de la alerta (ULID) o su comienzo.")],
    incidente: Annotated[str, typer.Argument(help="Caso abierto: INC-2026-0001 o su id.")],
) -> None:
    """Une la alerta a un caso abierto: sus observables y una entrada en la línea de tiempo."""
    from csirt import alertas
    from csirt.records import command
    from pukara.store import opened_store

    settings = ctx.obj
    with opened_store(settings) as store, command(store, settings.analyst) as cmd:
        alert, case = alertas.merge(cmd, alerta, incidente)
    message(f"Alerta {alert['id']} unida al caso {case.get('number')}.")


@app.command()
def descartar(
    ctx: typer.Context,
    alerta: Annotated[str, typer.Argument(help="Id de la alerta (ULID) o su comienzo.")],
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué se descarta (obligatorio).")],
) -> None:
    """Descarta una alerta nueva (falso positivo, ruido...), con su motivo."""
    from csirt import alertas
    from csirt.records import command
    from pukara.store import opened_store

    settings = ctx.obj
    with opened_store(settings) as store, command(store, settings.analyst) as cmd:
        alert = alertas.discard(cmd, alerta, motivo)
    message(f"Alerta {alert['id']} descartada.")
