"""`pukara ipv6 dominios`: public services (DNS, DNSSEC, web, mail) of domains over IPv6."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, SilenciosoOpt, message, render
from pukara.errors import ExitCode

if TYPE_CHECKING:
    from ipv6.modelo import CheckResult


class FormatoDominios(StrEnum):
    tabla = "tabla"
    json = "json"
    csv = "csv"
    junit = "junit"


STATUS_SHOWN = {"pass": "cumple", "partial": "parcial", "fail": "falla", "warn": "advierte",
                "not-tested": "sin probar", "not-applicable": "no aplica"}  # fmt: skip
SUMMARY_COLUMNS = {"subject": "Dominio", "dns": "DNS", "dnssec": "DNSSEC", "web": "Web",
                   "correo": "Correo", "total": "Puntaje", "fails": "Fallas"}  # fmt: skip
DETAIL_COLUMNS = {"subject": "Dominio", "check": "Prueba", "status": "Resultado",
                  "message": "Detalle"}  # fmt: skip
RECORD_COLUMNS = {"subject": "Dominio", "check": "Prueba", "category": "Categoría",
                  "status": "Resultado", "message": "Detalle", "evidence": "Evidencia",
                  "duration_ms": "Duración (ms)"}  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this module's command to `pukara ipv6`."""
    app.command("dominios")(dominios)


def _score(value: float | None) -> str:
    from pukara.formats import number

    return "—" if value is None else number(value, 0)


# categories whose score needs IPv6 traffic: without C1 they were never really tried
NEEDS_V6 = ("dns", "web", "correo", "total")


def _summary(results: list[CheckResult], v6_ok: bool = True) -> list[dict[str, Any]]:
    """One row per domain; without C1 the IPv6 scores say «sin probar», not a figure made of
    records alone (JSON and CSV keep every result as it is)."""
    from ipv6.puntaje import scores

    rows = []
    for subject, row in scores(results).items():
        fails = sum(1 for r in results if r.subject == subject and r.status.value == "fail")
        shown = {k: STATUS_SHOWN["not-tested"] if not v6_ok and k in NEEDS_V6 else _score(v)
                 for k, v in row.items()}  # fmt: skip
        rows.append({"subject": subject, **shown, "fails": fails})
    return rows


def _junit(c1: CheckResult, results: list[CheckResult]) -> str:
    from ipv6.junit import results_junit

    return results_junit("pukara ipv6 dominios", [c1, *results])


def _names(dominios_: list[str], archivo: Path | None) -> list[Any]:
    from ipv6.dominios import read_names
    from pukara.errors import UsageError

    lines: list[str] = []
    if archivo is not None:
        try:
            lines = archivo.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as e:
            from pukara.errors import os_reason

            raise UsageError(f"no se pudo leer {archivo}: {os_reason(e)}") from None
    return read_names(dominios_, lines)


def dominios(
    ctx: typer.Context,
    nombres: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[DOMINIO...]", help="Dominios a revisar (se admiten IDN).", show_default=False
        ),
    ] = None,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo",
            metavar="ARCHIVO",
            help="Archivo con un dominio por línea (# inicia un comentario).",
        ),
    ] = None,
    lista: Annotated[
        Path | None, typer.Option("--lista", metavar="ARCHIVO", hidden=True)
    ] = None,  # the earlier name of --archivo
    resolutor: Annotated[
        str | None,
        typer.Option(
            "--resolutor",
            metavar="IP",
            help="Resolutor validador (DNSSEC) que se consulta; por omisión el del sistema.",
        ),
    ] = None,
    formato: Annotated[
        FormatoDominios,
        typer.Option("--formato", "-f", help="Formato de salida: tabla, json, csv o junit."),
    ] = FormatoDominios.tabla,
    sin_tls: Annotated[
        bool, typer.Option("--sin-tls", help="No compara TLS entre familias (W6c, W6p, M2s).")
    ] = False,
    silencioso: SilenciosoOpt = False,
) -> None:
    """Revisa los servicios públicos de dominios por IPv6, al estilo de internet.nl: N1-N5
    servidores de nombres (AAAA, respuesta por UDP y TCP, diversidad, IPv4 también, DNSSEC
    del dominio y de sus MX), W1-W8 web (AAAA, ruta global, puertos, paridad de contenido,
    redirecciones, TLS, PMTU, latencia) y M1-M5 correo (AAAA de los MX, SMTP y STARTTLS, PTR,
    SPF, puertos de cliente).

    Antes, C1 comprueba que este equipo alcanza al menos tres anclas IPv6 (ajuste
    ipv6_anclas, clave anclas de la sección ipv6 de pukara.toml); si no, todo lo que
    necesita tráfico IPv6 queda «sin probar», nunca «cumple». Un dominio que no resuelve
    no detiene la revisión. Sale con 0 si nada falla y con 3 si alguna prueba falla o
    algún dominio no se pudo revisar, y también con 3 si C1 no se cumple (nada de IPv6 se
    probó); entonces los puntajes DNS, Web, Correo y total de la tabla dicen «sin probar».
    La corrida se guarda después de mostrarla; si no se puede guardar, un aviso lo dice.
    """
    from ipv6 import dominios as dom
    from pukara.console import RichReporter
    from pukara.events import format_timestamp, utc_now
    from pukara.text import count

    settings: Settings = ctx.obj
    if archivo is not None and lista is not None:
        from pukara.errors import UsageError

        raise UsageError("indique --archivo una sola vez (--lista es su nombre anterior)")
    names = _names(nombres or [], archivo or lista)
    started_at = format_timestamp(utc_now())
    reporter = RichReporter(quiet=silencioso)
    reporter.start(len(names), "Revisando dominios")
    done = {"n": 0, "failed": 0}

    def progress(_subject: str, out: list[CheckResult]) -> None:
        done["n"] += 1
        done["failed"] += 1 if dom.failed(out) else 0
        reporter.update(done["n"], len(names), done["failed"])

    try:
        c1, results = dom.run(names, resolver=resolutor, anchors=settings.ipv6_anclas,
                              global_prefixes=settings.ipv6_prefijos_globales,
                              concurrency=settings.concurrency,
                              timeout_s=min(settings.timeout_s, 5.0), tls=not sin_tls,
                              progress=progress)  # fmt: skip
    finally:
        reporter.finish()
    _show(c1, results, formato, silencioso)
    fails = sum(1 for r in results if r.status.value == "fail")
    message(
        f"{count(len(names), 'dominio', 'dominios')}: "
        f"{count(fails, 'prueba falla', 'pruebas fallan')}.",
        quiet=silencioso or formato is not FormatoDominios.tabla,
    )
    _save(settings, c1, results, {"resolver": resolutor, "started_at": started_at})
    if dom.failed(results, c1):
        raise typer.Exit(ExitCode.PARTIAL)


def _show(c1: CheckResult, results: list[CheckResult], formato: FormatoDominios,
          silencioso: bool) -> None:  # fmt: skip
    rows = [r.to_dict() for r in [c1, *results]]
    if formato is FormatoDominios.junit:
        typer.echo(_junit(c1, results), nl=False)
    elif formato is FormatoDominios.tabla:
        message(f"C1 {STATUS_SHOWN[c1.status.value]}: {c1.message}", quiet=silencioso)
        render(_summary(results, c1.status.value == "pass"), Formato.tabla, SUMMARY_COLUMNS,
               title="IPv6 en dominios")  # fmt: skip
        found = [r for r in rows[1:] if r["status"] not in ("pass", "not-applicable")]
        if found:
            render(found, Formato.tabla, DETAIL_COLUMNS, title="Pruebas que no cumplen",
                   shown={"status": lambda s: STATUS_SHOWN.get(s, s)})  # fmt: skip
    else:
        render(rows, Formato(formato.value), RECORD_COLUMNS)


def _save(settings: Settings, c1: CheckResult, results: list[CheckResult],
          meta: dict[str, Any]) -> None:  # fmt: skip
    """Store the run (events ipv6.resultado and ipv6.corrida) for `ipv6 diff` and `ipv6 informe`;
    a store that refuses it is a warning, the results were shown already."""
    from ipv6.almacen import save_run
    from pukara.errors import PukaraError, os_reason
    from pukara.store import opened_store

    try:
        with opened_store(settings) as store:
            save_run(store, "dominios", [c1, *results], meta)
    except (PukaraError, OSError) as e:
        why = os_reason(e) if isinstance(e, OSError) else str(e)
        message(f"Aviso: la corrida no se guardó ({why}); ipv6 diff e ipv6 informe no la verán.",
                style="yellow")  # fmt: skip
