"""`pukara auditoria`: ejecutar, exportar, verificar, informe y clave exportar."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditoria.almacen import AuditRun
from pukara.config import Settings
from pukara.console import SilenciosoOpt, message, output_file
from pukara.errors import ExitCode

clave_app = typer.Typer(help="La clave Ed25519 que firma los paquetes de evidencia.")


class FormatoInforme(StrEnum):
    html = "html"
    json = "json"
    csv = "csv"
    junit = "junit"


def register(app: typer.Typer) -> None:
    """Add this module's commands to `pukara auditoria`."""
    app.command("ejecutar")(ejecutar)
    app.command("exportar")(exportar)
    app.command("verificar")(verificar)
    app.command("informe")(informe)
    app.add_typer(clave_app, name="clave")


def _default_out(settings: Settings) -> Path:
    from pukara.files import make_private_dirs

    folder = settings.data_dir / "auditoria" / "paquetes"
    make_private_dirs(folder)
    return folder


def _out_dir(settings: Settings, salida: Path | None) -> Path:
    from pukara.errors import UsageError

    if salida is None:
        return _default_out(settings)
    if not salida.is_dir():
        raise UsageError(f"--salida {salida}: no existe la carpeta (créela antes)")
    return salida


def ejecutar(
    ctx: typer.Context,
    alcance: Annotated[
        list[str],
        typer.Option(
            "--alcance",
            help="Qué auditar: «todos», códigos de sede o nombres de activo (repita la opción o "
            "sepárelos con comas). «pukara» audita los registros propios.",
        ),
    ],
    muestra: Annotated[
        str,
        typer.Option(
            "--muestra",
            help="Cuántos equipos auditar: un número (muestra aleatoria simple) o «todos».",
        ),
    ],
    semilla: Annotated[
        int | None,
        typer.Option("--semilla", help="Semilla del muestreo (sin ella se sortea y se registra)."),
    ] = None,
    excepciones: Annotated[
        Path | None,
        typer.Option("--excepciones", help="Archivo TOML de excepciones aprobadas."),
    ] = None,
    salida: Annotated[
        Path | None,
        typer.Option(
            "--salida",
            help="Carpeta donde escribir el paquete de evidencia (por omisión, "
            "<datos>/auditoria/paquetes).",
        ),
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Audita los equipos del alcance, guarda los resultados y escribe el paquete firmado.

    Sale con 0 si todo cumple, no aplica o está exceptuado; con 3 si hay algún fallo o error;
    con 130 si se interrumpe (lo observado se guarda como ejecución incompleta, sin paquete).
    """
    from auditoria import claves
    from auditoria import ejecutar as ej
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    size = ej.parse_sample(muestra)
    out = _out_dir(settings, salida)
    key = claves.signing_key(settings.data_dir)
    with opened_store(settings) as store:
        outcome = ej.run(
            store,
            settings,
            scopes=alcance,
            sample_size=size,
            seed=semilla,
            waivers_path=excepciones,
            out_dir=out,
            key=key,
        )
    _summary(outcome.run, silencioso)
    if outcome.bundle is not None:
        print(outcome.bundle)
    if outcome.exit_code:
        raise typer.Exit(ExitCode.PARTIAL)


def _summary(run: AuditRun, quiet: bool) -> None:
    from auditoria import informe as inf
    from pukara.formats import number
    from pukara.text import count

    c = inf.counts(list(run.results))
    parts = ", ".join(f"{number(c[s.value])} {label}" for s, label in inf.STATUS_LABELS.items())
    total = count(len(run.results), "resultado", "resultados")
    message(f"Auditoría {run.id}: {total} ({parts}).", quiet=quiet)


def exportar(
    ctx: typer.Context,
    ejecucion: Annotated[str, typer.Argument(metavar="EJECUCION", help="Id de la ejecución.")],
    salida: Annotated[
        Path,
        typer.Option("--salida", help="Carpeta donde escribir el paquete (debe existir)."),
    ],
) -> None:
    """Vuelve a sellar una ejecución guardada: el mismo paquete, byte a byte."""
    from auditoria import almacen, claves, paquete
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    out = _out_dir(settings, salida)
    key = claves.signing_key(settings.data_dir, create=False)
    with opened_store(settings, read_only=True) as store:
        run = almacen.load_run(store, ejecucion)
    if not run.complete:
        message("Aviso: la ejecución fue interrumpida; el paquete queda marcado incompleto.")
    print(paquete.write(run, key, out))


def verificar(
    ctx: typer.Context,
    paquete_dir: Annotated[
        Path, typer.Argument(metavar="PAQUETE", help="Carpeta auditoria-<id> del paquete.")
    ],
    clave: Annotated[
        Path | None,
        typer.Option(
            "--clave",
            help="Clave pública PEM de quien debió firmarlo (por omisión, la de este equipo si "
            "la hay; sin ninguna clave de confianza el paquete no verifica).",
        ),
    ] = None,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Verifica un paquete sin red: cada archivo, su SHA-256 y la firma Ed25519.

    Sale con 3 y nombra cada archivo modificado, añadido, faltante o que no es un archivo
    regular, o la firma con otra clave; también sin clave de confianza (--clave o la de este
    equipo), porque entonces no se sabe quién firmó.
    """
    from auditoria import claves, paquete
    from pukara.text import clean_line, count

    settings: Settings = ctx.obj
    trusted = None
    if clave is not None:
        trusted = claves.load_public(clave)
    elif claves.key_path(settings.data_dir).exists():
        trusted = claves.signing_key(settings.data_dir, create=False).public_key()
    report = paquete.verify(paquete_dir, trusted)
    if report.problems:
        for problem in report.problems:
            print(clean_line(f"{paquete_dir}: {problem}"), file=sys.stderr)
        message(f"El paquete NO verifica: {count(len(report.problems), 'problema', 'problemas')}.")
        raise typer.Exit(ExitCode.PARTIAL)
    message(
        f"Paquete íntegro: ejecución {report.run_id}, {count(report.files, 'archivo', 'archivos')}"
        f", {count(report.results, 'resultado', 'resultados')} de "
        f"{count(report.hosts, 'equipo', 'equipos')}; firma Ed25519 válida (clave de confianza, huella "
        f"{report.signer[:16]}…).",
        quiet=silencioso,
    )
    if not report.complete:
        message("Aviso: la ejecución fue interrumpida; sus resultados están incompletos.")


def informe(
    ctx: typer.Context,
    ejecucion: Annotated[
        str | None,
        typer.Argument(
            metavar="EJECUCION",
            help="Id de la ejecución (por omisión, la última completa; una interrumpida se "
            "muestra como incompleta, con sus equipos sin observar como error).",
        ),
    ] = None,
    formato: Annotated[
        FormatoInforme,
        typer.Option("--formato", "-f", help="html (para auditores), json, csv o junit."),
    ] = FormatoInforme.html,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo", "-o", help="Escribir aquí en vez de la salida.", callback=output_file
        ),
    ] = None,
) -> None:
    """Informe de una ejecución: HTML autocontenido, JSON, CSV o JUnit XML."""
    from auditoria import almacen
    from auditoria import ejecutar as ej
    from auditoria import informe as inf
    from pukara.files import write_atomically
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    with opened_store(settings, read_only=True) as store:
        run = almacen.load_run(store, ejecucion)
        before = almacen.previous_run_id(store, run.id)
        previous = almacen.load_run(store, before) if before else None
    checks = ej.known_checks()
    if not run.complete:
        message(f"Aviso: la ejecución {run.id} está incompleta (se interrumpió).")
        run = almacen.with_unobserved(run, checks)
    data = inf.render(run, formato.value, checks, previous)
    if archivo is not None:
        write_atomically(archivo, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@clave_app.command("exportar")
def clave_exportar(ctx: typer.Context) -> None:
    """Escribe la clave pública (PEM) que verifica los paquetes de este equipo."""
    from auditoria import claves

    settings: Settings = ctx.obj
    print(claves.public_pem(claves.signing_key(settings.data_dir).public_key()), end="")
