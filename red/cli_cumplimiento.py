"""`pukara red cumplimiento`: golden-config compliance and offline checks of the backups."""

from __future__ import annotations

import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from pukara.config import Settings
from pukara.console import Formato, message, output_file, render
from pukara.errors import ExitCode, UsageError, os_reason

if TYPE_CHECKING:
    from red.informe import Report


class FormatoInforme(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"
    html = "html"


def register(app: typer.Typer) -> None:
    """Add this module's command to `pukara red`."""
    app.command("cumplimiento")(cumplimiento)


def read_folder(folder: Path, key: bytes) -> dict[str, str]:
    """The ``.cfg`` files under ``folder`` by their relative path (``sede/equipo.cfg``), each
    cleaned as a backup is (every secret replaced by its marker under ``key``, the install's
    key): a raw export never brings a secret into the report."""
    from red import limpieza

    if not folder.is_dir():
        raise UsageError(f"--directorio {folder}: no es una carpeta")
    out: dict[str, str] = {}
    try:
        for path in sorted(folder.rglob("*.cfg")):
            if path.is_file():
                text = path.read_text("utf-8", errors="replace")
                out[path.relative_to(folder).as_posix()] = limpieza.mask_secrets(text, "frr", key)
    except OSError as e:
        raise UsageError(f"--directorio {folder}: {os_reason(e)}") from e
    if not out:
        raise UsageError(f"--directorio {folder}: no tiene archivos .cfg")
    return out


def _key(settings: Settings) -> bytes:
    from red.limpieza import load_key
    from red.respaldo import key_path

    return load_key(key_path(settings.data_dir))


def _latest(settings: Settings) -> dict[str, str]:
    from red.repositorio import ConfigRepo, default_path

    repo = ConfigRepo(default_path(settings.data_dir))
    if not repo.exists() or repo.head() is None:
        raise UsageError(
            "aún no hay respaldos de configuración: corra `pukara red respaldar` o indique "
            "--directorio con archivos .cfg"
        )
    return {path: data.decode("utf-8", errors="replace") for path, data in repo.latest().items()}


def cumplimiento(
    ctx: typer.Context,
    equipos: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="EQUIPOS|SEDES",
            help="Nombres de equipo o códigos de sede; sin ninguno, todos los equipos de red.",
            show_default=False,
        ),
    ] = None,
    formato: Annotated[
        FormatoInforme,
        typer.Option("--formato", "-f", help="Formato del informe: tabla, json, csv o html."),
    ] = FormatoInforme.tabla,
    salida: Annotated[
        Path | None,
        typer.Option(
            "--salida",
            metavar="ARCHIVO",
            callback=output_file,
            help="Escribe el informe en este archivo (sin la opción, a la salida estándar).",
        ),
    ] = None,
    directorio: Annotated[
        Path | None,
        typer.Option(
            "--directorio",
            metavar="CARPETA",
            help="Lee las configuraciones de los archivos .cfg de esta carpeta (sede/equipo.cfg "
            "o equipo.cfg) en vez del último respaldo del repositorio.",
        ),
    ] = None,
) -> None:
    """Compara la configuración respaldada de cada equipo con su configuración dorada
    (plantillas de red/plantillas/ o de la carpeta [red] plantillas, por característica) y
    corre las verificaciones sin conexión (vecindad BGP con la sede central, referencias no
    definidas, direcciones repetidas).

    Sale con 0 si todos cumplen y no hay hallazgos; con 3, tras escribir el informe completo,
    si algún equipo no cumple, hay hallazgos sin conexión, o algún equipo no tiene respaldo o
    no se pudo revisar (su plantilla falló; los demás se revisan igual).
    """
    from pukara.events import utc_now
    from pukara.files import write_atomically
    from pukara.store import opened_store
    from red import cumplimiento_registro, informe
    from red import equipos as eq
    from registros.search import local_zone

    settings: Settings = ctx.obj
    source = str(directorio) if directorio else "repositorio de respaldos (último commit)"
    with opened_store(settings, read_only=True) as store:
        devices = eq.select(store, equipos or [], default_profile=settings.red_credenciales)
        if not devices:
            raise UsageError(
                "el inventario no tiene equipos de red (router, firewall o switch activos con "
                "sistema FRRouting y dirección de gestión)"
            )
        configs = read_folder(directorio, _key(settings)) if directorio else _latest(settings)
        report = informe.build(
            devices, configs, store, source=source, when=utc_now(), only_chosen=bool(equipos)
        )
    with opened_store(settings) as store:  # the run's record, which an audit reads
        store.write_events(cumplimiento_registro.events(report))
    out = io.StringIO() if salida is not None else sys.stdout
    if formato is FormatoInforme.html:
        out.write(informe.html(report, local_zone()))
    elif formato is FormatoInforme.json:
        out.write(json.dumps(informe.to_json(report), ensure_ascii=False, indent=2) + "\n")
    else:
        _tables(report, Formato(formato.value), out)
    if isinstance(out, io.StringIO) and salida is not None:
        write_atomically(salida, out.getvalue())
        message(f"informe de cumplimiento escrito en {salida}")
    from pukara.formats import number
    from pukara.text import count

    counts = report.counts()
    message(
        f"{count(len(report.devices), 'equipo', 'equipos')}: "
        f"{count(counts['compliant'], 'cumple', 'cumplen')}, "
        f"{count(counts['non_compliant'], 'no cumple', 'no cumplen')}, "
        f"{number(len(report.failed))} sin revisar; "
        f"{count(counts['findings'], 'hallazgo', 'hallazgos')} sin conexión.",
        quiet=formato is not FormatoInforme.tabla and salida is None,
    )
    if report.failed or counts["non_compliant"] or counts["findings"]:
        raise typer.Exit(ExitCode.PARTIAL)  # drift to review, as inventario conciliar


def _tables(report: Report, fmt: Formato, out: TextIO) -> None:
    from red import informe

    if fmt is Formato.csv:
        render(informe.csv_rows(report), fmt, informe.CSV_COLUMNS, out=out)
        return
    render(informe.rows(report), fmt, informe.DEVICE_COLUMNS, title="Cumplimiento por equipo",
           out=out, shown=informe.SHOWN)  # fmt: skip
    diffs = informe.lines(report)
    if diffs:
        render(diffs, fmt, informe.LINE_COLUMNS, title="Líneas que faltan (−) o sobran (+)",
               out=out, shown=informe.SHOWN)  # fmt: skip
    found = informe.finding_rows(report)
    if found:
        render(found, fmt, informe.FINDING_COLUMNS, title="Verificaciones sin conexión",
               out=out, shown=informe.SHOWN)  # fmt: skip
