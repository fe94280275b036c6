"""`pukara csirt`: incidente, observable, tarea, linea.

Each command that changes a case opens one :func:`csirt.records.command` (one transaction and
one request id, signed by ``--analista``), calls one library function and says what it did
on stderr; stdout carries data only (the new case's number, a listing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.console import Formato, FormatoOpt, message, render

if TYPE_CHECKING:
    from collections.abc import Callable

    from pukara.config import Settings

incidente = typer.Typer(
    help="Incidentes: abrir, listar, mostrar, cambiar de fase, asignar, cerrar, reabrir.",
    no_args_is_help=True,
)
observable = typer.Typer(help="Observables de un caso: agregar, buscar, listar.",
                         no_args_is_help=True)  # fmt: skip
tarea = typer.Typer(help="Tareas de un caso: agregar, listar, cambiar su estado, asignar.",
                    no_args_is_help=True)  # fmt: skip
linea_app = typer.Typer(
    help="Línea de tiempo de un caso: notas a mano, eventos del almacén de registros.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to `pukara csirt`."""
    app.add_typer(incidente, name="incidente")
    app.add_typer(observable, name="observable")
    app.add_typer(tarea, name="tarea")
    app.add_typer(linea_app, name="linea")


IncidenteArg = Annotated[
    str,
    typer.Argument(
        metavar="INCIDENTE",
        help="Número del incidente (INC-2026-0001) o su id.",
        show_default=False,
    ),
]
ZonaOpt = Annotated[
    str | None,
    typer.Option(
        "--zona",
        help="Zona de las horas sin zona (America/Lima, Europe/Madrid, -05:00); por omisión, "
        "la del equipo.",
    ),
]
MotivoOpt = Annotated[str, typer.Option("--motivo", help="Por qué (queda en la línea de tiempo).")]
DeterminacionOpt = Annotated[
    str | None,
    typer.Option("--determinacion", help="Determinación (STIX): successful-attempt, "
                 "failed-attempt, blocked, false-positive, low-value, suspected."),
]  # fmt: skip
DisposicionOpt = Annotated[
    str | None,
    typer.Option("--disposicion", help="Disposición (MISP incident-disposition), p. ej. "
                 "incident:confirmed, not-an-incident:faulty-indicator, duplicate."),
]  # fmt: skip
ImpactoOpt = Annotated[
    str | None, typer.Option("--impacto", help="Impacto: sin_impacto, con_impacto o no_aplica.")
]
LeccionesOpt = Annotated[
    str | None, typer.Option("--lecciones", help="Nota de lecciones aprendidas.")
]


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _zone() -> Any:
    from registros.search import local_zone

    return local_zone()


def _when(value: Any) -> str:
    """A stored UTC time as a person reads it, in the machine's zone."""
    from pukara.events import parse_timestamp
    from pukara.formats import datetime_text

    return datetime_text(parse_timestamp(str(value)), _zone()) if value else ""


def _when_in(value: Any, tz: Any) -> str:
    from csirt.linea import shown_time
    from pukara.formats import datetime_text

    return datetime_text(shown_time({"ts": value, "tz": tz or "UTC"}))


def _severity(value: Any) -> str:
    from csirt.casos import SEVERITIES

    return f"{value} ({SEVERITIES.get(int(value), '?')})" if value else ""


def _state(value: Any) -> str:
    from csirt.estados import LABELS

    return LABELS.get(str(value), str(value))


def _mutate(ctx: typer.Context, ref: str, act: Callable[[Any, dict[str, Any]], Any]) -> Any:
    """Run ``act(cmd, incident)`` in one command on the case ``ref``."""
    from csirt.casos import load_incident
    from csirt.records import command
    from pukara.store import opened_store

    settings = _settings(ctx)
    with opened_store(settings) as store, command(store, settings.analyst) as cmd:
        return act(cmd, load_incident(cmd, ref))


# -- incidente ----------------------------------------------------------------------------
INCIDENT_COLUMNS = {
    "number": "Número", "status": "Estado", "severity": "Severidad", "priority": "Prioridad",
    "title": "Título", "rsit_type": "Tipo RSIT", "assignee": "Asignado",
    "disposition": "Disposición", "created_at": "Abierto",
}  # fmt: skip
INCIDENT_SHOWN: dict[str, Callable[[Any], Any]] = {
    "status": _state, "severity": _severity, "priority": _severity, "created_at": _when,
}  # fmt: skip


@incidente.command()
def nuevo(
    ctx: typer.Context,
    titulo: Annotated[str, typer.Argument(help="Título del incidente.", show_default=False)],
    severidad: Annotated[
        str, typer.Option("--severidad", help="1 (baja), 2 (media), 3 (alta) o 4 (crítica).")
    ] = "2",
    descripcion: Annotated[str, typer.Option("--descripcion", help="Descripción.")] = "",
    clase: Annotated[
        str | None,
        typer.Option("--clase", help="Clase RSIT (p. ej. fraud); por omisión, la de --tipo."),
    ] = None,
    tipo: Annotated[
        str,
        typer.Option("--tipo", help="Tipo RSIT (p. ej. phishing, brute-force, ddos)."),
    ] = "undetermined",
    tlp: Annotated[
        str, typer.Option("--tlp", help="TLP 2.0: CLEAR, GREEN, AMBER, AMBER+STRICT o RED.")
    ] = "AMBER",
    pap: Annotated[str, typer.Option("--pap", help="PAP: CLEAR, GREEN, AMBER o RED.")] = "AMBER",
    sede: Annotated[
        list[str] | None,
        typer.Option("--sede", help="Sede afectada (código del inventario); repetible."),
    ] = None,
    activo: Annotated[
        list[str] | None,
        typer.Option("--activo", help="Activo afectado (nombre en el inventario); repetible."),
    ] = None,
    detectado: Annotated[
        str | None,
        typer.Option(
            "--detectado", help="Cuándo se detectó (2026-12-01 08:30); por omisión, ahora."
        ),
    ] = None,
    ocurrido: Annotated[
        str | None, typer.Option("--ocurrido", help="Cuándo ocurrió, si se sabe.")
    ] = None,
    zona: ZonaOpt = None,
    asignar: Annotated[str, typer.Option("--asignar", help="Analista a cargo.")] = "",
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Abre un incidente y aplica la plantilla de tareas de su tipo; escribe su número."""
    from csirt import casos, taxonomia

    cls = clase or taxonomia.rsit_class_of(tipo)

    def act(cmd: Any, _: Any) -> dict[str, Any]:
        return casos.open_incident(
            cmd, title=titulo, severity=severidad, description=descripcion, rsit_class=cls,
            rsit_type=tipo, tlp=tlp, pap=pap, sites=sede or (), assets=activo or (),
            detected_at=detectado, occurred_at=ocurrido, tz=zona, assignee=asignar,
        )  # fmt: skip

    doc = _open(ctx, act)
    message(f"{doc['number']} abierto: severidad {_severity(doc['severity'])}, prioridad "
            f"{_severity(doc['priority'])}, CNSD «{doc['cnsd_class']}»"
            + (f", plantilla {doc['template']}" if doc.get("template") else ""))  # fmt: skip
    if formato is Formato.tabla:
        typer.echo(doc["number"])
    else:
        render([doc], formato, INCIDENT_COLUMNS)


def _open(ctx: typer.Context, act: Callable[[Any, Any], dict[str, Any]]) -> dict[str, Any]:
    from csirt.records import command
    from pukara.store import opened_store

    settings = _settings(ctx)
    with opened_store(settings) as store, command(store, settings.analyst) as cmd:
        return act(cmd, None)


@incidente.command()
def listar(
    ctx: typer.Context,
    estado: Annotated[
        list[str] | None, typer.Option("--estado", help="Solo en este estado; repetible.")
    ] = None,
    abiertos: Annotated[
        bool, typer.Option("--abiertos", help="Solo los que no están cerrados ni descartados.")
    ] = False,
    asignado: Annotated[
        str | None, typer.Option("--asignado", help="Solo los asignados a este analista.")
    ] = None,
    sede: Annotated[
        str | None, typer.Option("--sede", help="Solo los que afectan a esta sede (código).")
    ] = None,
    severidad: Annotated[
        str | None,
        typer.Option(
            "--severidad",
            help="Solo los de esta severidad o mayor (1 a 4, o baja, media, alta, crítica).",
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Lista los incidentes, del más reciente al más antiguo."""
    from csirt import casos
    from pukara.store import opened_store

    with opened_store(_settings(ctx), read_only=True) as store:
        rows = casos.listing(store, status=estado or (), open_only=abiertos,
                             assignee=asignado, site=sede,
                             min_severity=casos.check_severity(severidad) if severidad else None)  # fmt: skip
    if not rows and formato is Formato.tabla:
        message("Ningún incidente.")
        return
    render(rows, formato, INCIDENT_COLUMNS, shown=INCIDENT_SHOWN)


DETAIL = {
    "number": "Número", "id": "Id", "title": "Título", "description": "Descripción",
    "status": "Estado", "severity": "Severidad", "priority": "Prioridad",
    "rsit_class": "Clase RSIT", "rsit_type": "Tipo RSIT", "cnsd_class": "Clase CNSD",
    "tlp": "TLP", "pap": "PAP", "sites": "Sedes", "assets": "Activos", "assignee": "Asignado",
    "determination": "Determinación", "disposition": "Disposición", "impact": "Impacto",
    "lessons": "Lecciones", "occurred_at": "Ocurrido", "detected_at": "Detectado",
    "created_at": "Abierto", "acknowledged_at": "Atendido", "contained_at": "Contenido",
    "notified_at": "Notificado al CNSD", "resolved_at": "Resuelto", "closed_at": "Cerrado",
    "alerts": "Alertas", "personal_data": "Datos personales", "template": "Plantilla",
}  # fmt: skip
TIMES = ("occurred_at", "detected_at", "created_at", "acknowledged_at", "contained_at",
         "notified_at", "resolved_at", "closed_at")  # fmt: skip


def _detail_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    shown = {"status": _state, "severity": _severity, "priority": _severity}
    out = []
    for key, label in DETAIL.items():
        value = doc.get(key)
        if key in ("occurred_at", "detected_at") and value:  # in the zone it was told in
            value = _when_in(value, doc.get(key.replace("_at", "_tz")))
        elif key in TIMES:
            value = _when(value)
        elif key in shown and value is not None:
            value = shown[key](value)
        elif key == "personal_data" and isinstance(value, dict):
            value = (f"sí: {value.get('people', 0)} personas"
                     + (f" ({', '.join(value.get('kinds') or [])})" if value.get("kinds") else "")
                     if value.get("affected") else "no")  # fmt: skip
        out.append({"field": label, "value": value})
    return out


@incidente.command()
def mostrar(ctx: typer.Context, incidente_ref: IncidenteArg, formato: FormatoOpt = Formato.tabla,
            ) -> None:  # fmt: skip
    """Muestra un incidente: sus campos, tareas, observables y línea de tiempo.

    JSON: {incident, tasks, observables, timeline}; CSV: los campos del incidente."""
    import json
    import sys

    from csirt import casos, linea, observables_db, tareas
    from pukara.store import opened_store

    with opened_store(_settings(ctx), read_only=True) as store:
        doc = casos.load_incident(store, incidente_ref)
        tasks = tareas.tasks(store, doc["id"])
        obs = observables_db.of_incident(store, doc["id"])
        timeline = linea.entries(store, doc["id"])
    if formato is Formato.json:
        json.dump({"incident": doc, "tasks": tasks, "observables": obs, "timeline": timeline},
                  sys.stdout, ensure_ascii=False, indent=2)  # fmt: skip
        sys.stdout.write("\n")
        return
    if formato is Formato.csv:
        render([{"field": k, "value": doc.get(k)} for k in DETAIL], formato,
               {"field": "field", "value": "value"})  # fmt: skip
        return
    render(_detail_rows(doc), formato, {"field": "Campo", "value": "Valor"},
           title=f"{doc['number']}: {doc['title']}")  # fmt: skip
    if tasks:
        render(tasks, formato, TASK_COLUMNS, shown=TASK_SHOWN, title="Tareas")
    if obs:
        render(obs, formato, OBS_COLUMNS, title="Observables")
    render(_timeline_rows(timeline, formato), formato, TIMELINE_COLUMNS, shown=TIMELINE_SHOWN,
           title="Línea de tiempo")  # fmt: skip


@incidente.command()
def estado(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    nuevo_estado: Annotated[
        str,
        typer.Argument(
            metavar="ESTADO",
            show_default=False,
            help="analisis, contencion, erradicacion, recuperacion, post_incidente, cerrado, "
            "reabierto o descartado.",
        ),
    ],
    motivo: MotivoOpt = "",
    determinacion: DeterminacionOpt = None,
    disposicion: DisposicionOpt = None,
    impacto: ImpactoOpt = None,
    lecciones: LeccionesOpt = None,
) -> None:
    """Pasa el incidente a otra fase según la máquina de estados (y sus condiciones)."""
    _status(ctx, incidente_ref, nuevo_estado, motivo, determination=determinacion,
            disposition=disposicion, impact=impacto, lessons=lecciones)  # fmt: skip


def _status(ctx: typer.Context, ref: str, to: str, reason: str, **fields: Any) -> None:
    from csirt import casos, estados

    before: dict[str, Any] = {}

    def act(cmd: Any, doc: dict[str, Any]) -> dict[str, Any]:
        before.update(doc)
        return casos.change_status(cmd, doc, to, reason=reason, **fields)

    doc = _mutate(ctx, ref, act)
    message(f"{doc['number']}: {estados.LABELS[before['status']]} → "
            f"{estados.LABELS[doc['status']]}")  # fmt: skip


@incidente.command()
def cerrar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    determinacion: DeterminacionOpt = None,
    disposicion: DisposicionOpt = None,
    impacto: ImpactoOpt = None,
    lecciones: LeccionesOpt = None,
    motivo: MotivoOpt = "",
) -> None:
    """Cierra el incidente (desde post-incidente): pide determinación, disposición, impacto
    y lecciones, y que ninguna contramedida siga activa pasada su expiración."""
    _status(ctx, incidente_ref, "cerrado", motivo, determination=determinacion,
            disposition=disposicion, impact=impacto, lessons=lecciones)  # fmt: skip


@incidente.command()
def reabrir(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    motivo: Annotated[str, typer.Option("--motivo", help="Por qué se reabre (obligatorio).")] = "",
) -> None:
    """Reabre un incidente cerrado (luego se pasa a análisis)."""
    _status(ctx, incidente_ref, "reabierto", motivo)


@incidente.command()
def descartar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    disposicion: DisposicionOpt = None,
    motivo: MotivoOpt = "",
) -> None:
    """Descarta un incidente abierto (falso positivo, duplicado): pide la disposición."""
    _status(ctx, incidente_ref, "descartado", motivo, disposition=disposicion)


@incidente.command()
def asignar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    analista: Annotated[str, typer.Argument(help="Analista a cargo.", show_default=False)],
) -> None:
    """Asigna el incidente a un analista."""
    from csirt import casos

    doc = _mutate(ctx, incidente_ref, lambda cmd, d: casos.assign(cmd, d, analista))
    message(f"{doc['number']}: asignado a {doc['assignee']}")


@incidente.command()
def editar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    titulo: Annotated[str | None, typer.Option("--titulo", help="Título nuevo.")] = None,
    descripcion: Annotated[
        str | None, typer.Option("--descripcion", help="Descripción nueva.")
    ] = None,
    severidad: Annotated[
        str | None, typer.Option("--severidad", help="1 (baja) a 4 (crítica).")
    ] = None,
    tlp: Annotated[str | None, typer.Option("--tlp", help="TLP 2.0.")] = None,
    pap: Annotated[str | None, typer.Option("--pap", help="PAP.")] = None,
    sede: Annotated[
        list[str] | None, typer.Option("--sede", help="Sedes afectadas (reemplaza la lista).")
    ] = None,
    activo: Annotated[
        list[str] | None,
        typer.Option("--activo", help="Activos afectados (reemplaza la lista)."),
    ] = None,
    personas: Annotated[
        int | None,
        typer.Option(
            "--personas",
            min=0,
            help="Personas cuyos datos personales se vieron afectados (0: ninguna).",
        ),
    ] = None,
    datos: Annotated[
        list[str] | None,
        typer.Option(
            "--datos", help="Tipo de dato personal afectado (p. ej. DNI, correo); repetible."
        ),
    ] = None,
) -> None:
    """Cambia los campos descriptivos del incidente; la prioridad se recalcula."""
    from csirt import casos

    before: dict[str, Any] = {}

    def act(cmd: Any, doc: dict[str, Any]) -> dict[str, Any]:
        before.update(doc)
        personal = None
        if personas is not None or datos is not None:
            old = doc.get("personal_data") or {}
            personal = {"people": old.get("people", 0) if personas is None else personas,
                        "kinds": old.get("kinds", []) if datos is None else datos}  # fmt: skip
            personal["affected"] = bool(personal["people"] or personal["kinds"])
        return casos.update_incident(cmd, doc, title=titulo, description=descripcion,
                                     severity=severidad, tlp=tlp, pap=pap, sites=sede,
                                     assets=activo, personal_data=personal)  # fmt: skip

    doc = _mutate(ctx, incidente_ref, act)
    if doc == before:
        message(f"{doc['number']}: sin cambios")
    else:
        message(f"{doc['number']}: guardado (prioridad {_severity(doc['priority'])})")


# -- observable ---------------------------------------------------------------------------
OBS_COLUMNS = {"type": "Tipo", "value": "Valor", "ioc": "IOC", "sighted": "Avistado",
               "tlp": "TLP", "also_in": "También en", "description": "Descripción"}  # fmt: skip


@observable.command("agregar")
def observable_agregar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    valor: Annotated[str, typer.Argument(help="El valor, tal como se vio.", show_default=False)],
    tipo: Annotated[
        str | None,
        typer.Option(
            "--tipo",
            help="ipv4, ipv6, cidr, domain, url, email, user, hostname, md5, "
            "sha1, sha256, filename, mac o cve; por omisión, el que se deduce del valor.",
        ),
    ] = None,
    ioc: Annotated[bool, typer.Option("--ioc", help="Es un indicador de compromiso.")] = False,
    avistado: Annotated[
        bool, typer.Option("--avistado", help="Se vio en la red o en los equipos propios.")
    ] = False,
    tlp: Annotated[
        str | None, typer.Option("--tlp", help="TLP del observable; por omisión, el del caso.")
    ] = None,
    descripcion: Annotated[str, typer.Option("--descripcion", help="Descripción.")] = "",
    ignorar_similitud: Annotated[
        bool,
        typer.Option("--ignorar-similitud", help="No enlazarlo con otros casos que lo tengan."),
    ] = False,
) -> None:
    """Agrega un observable al caso, normalizado; dice en qué otros casos está."""
    from csirt import casos, observables
    from pukara.errors import UsageError
    from pukara.text import clean_line

    kind = tipo or observables.guess_type(valor)
    if kind is None:
        raise UsageError(f"no se deduce el tipo de «{clean_line(valor)[:80]}»; indíquelo con "
                         "--tipo (p. ej. --tipo domain, --tipo filename, --tipo user)")  # fmt: skip

    def act(cmd: Any, doc: dict[str, Any]) -> dict[str, Any]:
        obs = casos.add_observable(
            cmd,
            doc,
            kind,
            valor,
            ioc=ioc,
            sighted=avistado,
            tlp=tlp,
            description=descripcion,
            ignore_similarity=ignorar_similitud,
        )
        return {**obs, "number": doc["number"]}  # fmt: skip

    obs = _mutate(ctx, incidente_ref, act)
    message(f"{obs['number']}: observable {obs['type']} {obs['value']}")
    if obs["also_in"]:
        message(f"también en {', '.join(obs['also_in'])}")


@observable.command("buscar")
def observable_buscar(
    ctx: typer.Context,
    valor: Annotated[str, typer.Argument(help="El valor a buscar.", show_default=False)],
    tipo: Annotated[
        str | None, typer.Option("--tipo", help="Solo de este tipo; por omisión, de cualquiera.")
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Lista los casos que tienen este observable (normalizado como cada tipo lo escribe)."""
    from csirt import observables_db
    from pukara.store import opened_store

    with opened_store(_settings(ctx), read_only=True) as store:
        rows = observables_db.find(store, valor, tipo)
    if not rows and formato is Formato.tabla:
        message("Ningún caso tiene ese observable.")
        return
    render(rows, formato, {"number": "Incidente", "status": "Estado", "title": "Título",
                           "type": "Tipo", "value": "Valor", "ioc": "IOC",
                           "sighted": "Avistado"}, shown={"status": _state})  # fmt: skip


@observable.command("listar")
def observable_listar(
    ctx: typer.Context, incidente_ref: IncidenteArg, formato: FormatoOpt = Formato.tabla
) -> None:
    """Lista los observables del caso."""
    from csirt import casos, observables_db
    from pukara.store import opened_store

    with opened_store(_settings(ctx), read_only=True) as store:
        doc = casos.load_incident(store, incidente_ref)
        rows = observables_db.of_incident(store, doc["id"])
    render(rows, formato, OBS_COLUMNS, title=f"Observables de {doc['number']}")


# -- tarea --------------------------------------------------------------------------------
TASK_COLUMNS = {"n": "N.º", "title": "Tarea", "status": "Estado", "phase": "Fase NIST",
                "assignee": "Asignado", "due_at": "Vence"}  # fmt: skip


def _task_status(value: Any) -> str:
    from csirt.tareas import STATUSES

    return STATUSES.get(str(value), str(value))


def _phase(value: Any) -> str:
    from csirt.tareas import PHASES

    return PHASES.get(str(value), str(value))


TASK_SHOWN: dict[str, Callable[[Any], Any]] = {"status": _task_status, "phase": _phase,
                                               "due_at": _when}  # fmt: skip
TareaArg = Annotated[str, typer.Argument(metavar="TAREA", help="Número de la tarea en el caso (o su id).",
                                         show_default=False)]  # fmt: skip


@tarea.command("agregar")
def tarea_agregar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    titulo: Annotated[str, typer.Argument(help="Qué hay que hacer.", show_default=False)],
    fase: Annotated[
        str,
        typer.Option(
            "--fase",
            help="Fase NIST: preparacion, deteccion_analisis, "
            "contencion_erradicacion_recuperacion o post_incidente.",
        ),
    ] = "deteccion_analisis",
    vence: Annotated[
        str | None,
        typer.Option(
            "--vence",
            help="Fecha límite (2026-12-03 18:00; un día solo vence al terminar ese día).",
        ),
    ] = None,
    zona: ZonaOpt = None,
    asignar: Annotated[str, typer.Option("--asignar", help="Analista a cargo.")] = "",
    descripcion: Annotated[str, typer.Option("--descripcion", help="Descripción.")] = "",
) -> None:
    """Agrega una tarea al caso."""
    from csirt import tareas

    def act(cmd: Any, doc: dict[str, Any]) -> dict[str, Any]:
        task = tareas.add_task(cmd, doc, titulo, description=descripcion, phase=fase,
                               due_at=vence, tz=zona, assignee=asignar)  # fmt: skip
        return {**task, "number": doc["number"]}

    task = _mutate(ctx, incidente_ref, act)
    message(f"{task['number']}: tarea {task['n']} agregada")


@tarea.command("listar")
def tarea_listar(
    ctx: typer.Context, incidente_ref: IncidenteArg, formato: FormatoOpt = Formato.tabla
) -> None:
    """Lista las tareas del caso."""
    from csirt import casos, tareas
    from pukara.store import opened_store

    with opened_store(_settings(ctx), read_only=True) as store:
        doc = casos.load_incident(store, incidente_ref)
        rows = tareas.tasks(store, doc["id"])
    render(rows, formato, TASK_COLUMNS, shown=TASK_SHOWN, title=f"Tareas de {doc['number']}")


@tarea.command("estado")
def tarea_estado(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    tarea_ref: TareaArg,
    nuevo_estado: Annotated[
        str,
        typer.Argument(
            metavar="ESTADO",
            show_default=False,
            help="pendiente, en_curso, en_espera, hecha o cancelada.",
        ),
    ],
) -> None:
    """Cambia el estado de una tarea."""
    from csirt import tareas

    task = _mutate(ctx, incidente_ref,
                   lambda cmd, d: tareas.update_task(cmd, d, tarea_ref, status=nuevo_estado))  # fmt: skip
    message(f"tarea {task['n']}: {_task_status(task['status'])}")


@tarea.command("asignar")
def tarea_asignar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    tarea_ref: TareaArg,
    analista: Annotated[str, typer.Argument(help="Analista a cargo.", show_default=False)],
    vence: Annotated[
        str | None, typer.Option("--vence", help="Fecha límite nueva (2026-12-03 18:00).")
    ] = None,
    zona: ZonaOpt = None,
) -> None:
    """Asigna una tarea a un analista (y, si se indica, su fecha límite)."""
    from csirt import tareas

    task = _mutate(ctx, incidente_ref,
                   lambda cmd, d: tareas.update_task(cmd, d, tarea_ref, assignee=analista,
                                                     due_at=vence, tz=zona))  # fmt: skip
    message(f"tarea {task['n']}: asignada a {task['assignee']}")


# -- linea --------------------------------------------------------------------------------
TIMELINE_COLUMNS = {"ts": "Cuándo", "kind": "Tipo", "message": "Qué", "source": "Fuente",
                    "analyst": "Analista", "tlp": "TLP"}  # fmt: skip


def _kind(value: Any) -> str:
    from csirt.linea import KIND_LABELS

    return KIND_LABELS.get(str(value), str(value))


TIMELINE_SHOWN: dict[str, Callable[[Any], Any]] = {"kind": _kind}


def _timeline_rows(rows: list[dict[str, Any]], fmt: Formato) -> list[dict[str, Any]]:
    """In a table each moment is shown in the zone it was told in."""
    if fmt is not Formato.tabla:
        return rows
    from csirt.linea import shown_time
    from pukara.formats import datetime_text

    return [{**r, "ts": datetime_text(shown_time(r), seconds=True)} for r in rows]


@linea_app.command("agregar")
def linea_agregar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    texto: Annotated[str, typer.Argument(help="Qué pasó.", show_default=False)],
    fecha: Annotated[
        str,
        typer.Option(
            "--fecha",
            help="Cuándo pasó (2026-12-01 08:30, o con su zona: "
            "2026-12-01T08:30-05:00); por omisión, ahora.",
        ),
    ] = "ahora",
    zona: ZonaOpt = None,
    fuente: Annotated[str, typer.Option("--fuente", help="De dónde se sabe.")] = "",
    tlp: Annotated[
        str | None,
        typer.Option(
            "--tlp",
            help="TLP de la entrada, más restrictivo que el del caso (nunca "
            "menos); por omisión, el del caso.",
        ),
    ] = None,
) -> None:
    """Agrega una entrada a la línea de tiempo, con la hora en su zona original."""
    from csirt import linea

    entry = _mutate(ctx, incidente_ref,
                    lambda cmd, d: linea.add_note(cmd, d, texto, ts=fecha, tz=zona,
                                                  source=fuente, tlp=tlp))  # fmt: skip
    message(f"entrada agregada ({entry['tz']})")


@linea_app.command("listar")
def linea_listar(
    ctx: typer.Context, incidente_ref: IncidenteArg, formato: FormatoOpt = Formato.tabla
) -> None:
    """La línea de tiempo del caso, en orden de tiempo (cada hora en su zona original)."""
    from csirt import casos, linea
    from pukara.store import opened_store

    with opened_store(_settings(ctx), read_only=True) as store:
        doc = casos.load_incident(store, incidente_ref)
        rows = linea.entries(store, doc["id"])
    render(_timeline_rows(rows, formato), formato, TIMELINE_COLUMNS | {"tz": "Zona"},
           shown=TIMELINE_SHOWN, title=f"Línea de tiempo de {doc['number']}")  # fmt: skip


@linea_app.command("importar")
def linea_importar(
    ctx: typer.Context,
    incidente_ref: IncidenteArg,
    consulta: Annotated[
        str,
        typer.Option(
            "--consulta",
            help="Filtros como en `registros buscar`, separados por "
            'espacios: "host.name=srv-correo source.ip=198.18.7.10".',
        ),
    ] = "",
    desde: Annotated[
        str | None,
        typer.Option(
            "--desde",
            help="Inicio, como en `registros buscar`; por omisión, un día "
            "antes de la ocurrencia (o de la detección) del incidente.",
        ),
    ] = None,
    hasta: Annotated[
        str | None, typer.Option("--hasta", help="Fin (excluido); por omisión, ahora.")
    ] = None,
    texto: Annotated[
        str | None, typer.Option("--texto", help="Palabras que deben estar en el mensaje.")
    ] = None,
    conjunto: Annotated[
        list[str] | None,
        typer.Option("--conjunto", help="Solo este conjunto (event.dataset); repetible."),
    ] = None,
    limite: Annotated[
        int, typer.Option("--limite", min=1, max=100_000, help="Cuántos eventos como máximo.")
    ] = 1000,
) -> None:
    """Trae eventos del almacén de registros a la línea de tiempo: uno por entrada, con su
    event.id como referencia; importar lo mismo otra vez no agrega nada."""
    import shlex
    from datetime import timedelta

    from csirt import casos, linea
    from csirt.records import command
    from pukara.errors import UsageError
    from pukara.events import parse_timestamp, utc_now
    from pukara.store import opened_store
    from registros import search as s

    try:
        filters = shlex.split(consulta)
    except ValueError as e:
        raise UsageError(f"--consulta: comillas sin cerrar ({e})") from None
    if not filters and not texto:
        raise UsageError("indique qué traer: --consulta campo=valor (o --texto)")
    settings = _settings(ctx)
    with opened_store(settings) as store:
        doc = casos.load_incident(store, incidente_ref)
        start = desde
        if start is None:
            first = parse_timestamp(doc.get("occurred_at") or doc["detected_at"])
            start = (first - timedelta(days=1)).isoformat()
        q = s.build_query(filters, since=start, until=hasta, text=texto,
                          datasets=conjunto or (), limit=limite + 1, now=utc_now(),
                          tz=s.local_zone())  # fmt: skip
        hits = list(s.search(store, q))
        more = len(hits) > limite
        with command(store, settings.analyst) as cmd:
            fresh = casos.load_incident(cmd, doc["id"])
            added, present = linea.import_hits(cmd, fresh, hits[-limite:], query=consulta)
    from pukara.text import count

    message(f"{doc['number']}: {count(added, 'entrada agregada', 'entradas agregadas')}; "
            f"{count(present, 'ya estaba', 'ya estaban')} en la línea de tiempo")  # fmt: skip
    if more:
        message(f"Hay más de {limite} eventos: se trajeron los {limite} más recientes; acote "
                "la consulta o use --limite.")  # fmt: skip
