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
RECORD_COLUMNS = {"run_id": "Corrida", "subject": "Dominio", "check": "Prueba",
                  "category": "Categoría", "status": "Resultado", "message": "Detalle",
                  "evidence": "Evidencia", "duration_ms": "Duración (ms)",
                  "score.dns": "Puntaje DNS", "score.dnssec": "Puntaje DNSSEC",
                  "score.web": "Puntaje web", "score.correo": "Puntaje correo",
                  "score.total": "Puntaje"}  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this module's command to `pukara ipv6`."""
    app.command("dominios", epilog=EPILOG)(dominios)


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

    return read_names(dominios_, _text_lines(archivo) if archivo is not None else [])


def _text_lines(archivo: Path) -> list[str]:
    """The lines of a list file; one that is not UTF-8 text is a UsageError naming the line."""
    from pukara.errors import UsageError, os_reason

    try:
        data = archivo.read_bytes()
    except OSError as e:
        raise UsageError(f"no se pudo leer {archivo}: {os_reason(e)}") from None
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise UsageError(f"{archivo} no es un archivo de texto (byte nulo en la línea {line})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UsageError(f"{archivo} no está en UTF-8 (línea {line})") from None
    return text.splitlines()


def _roots(option: Path | None, settings: Settings) -> str | None:
    """W6c's trust store: --raices-tls, else the setting ipv6_raices_tls, else the system's."""
    from ipv6.dominios import tls_roots
    from pukara.errors import ConfigError

    if option is not None:
        return tls_roots(option, "--raices-tls")
    if settings.ipv6_raices_tls is not None:
        return tls_roots(settings.ipv6_raices_tls, "el ajuste ipv6_raices_tls ([ipv6] raices_tls)",
                         ConfigError)  # fmt: skip
    return None


EPILOG = """\b
Ejemplos:
  pukara ipv6 dominios rree.test embperu-bo.test --resolutor 198.19.16.6
  pukara ipv6 dominios --archivo lista.txt -f json --resolutor 198.19.16.6:53
"""


def dominios(
    ctx: typer.Context,
    nombres: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DOMINIOS", help="Dominios a revisar (se admiten IDN).", show_default=False
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
            metavar="IP[:PUERTO]",
            help="Resolutor validador (DNSSEC) que se consulta: IP, IPv4:PUERTO o "
            "[IPv6]:PUERTO; por omisión el del sistema.",
        ),
    ] = None,
    raices_tls: Annotated[
        Path | None,
        typer.Option(
            "--raices-tls",
            metavar="ARCHIVO",
            help="Archivo PEM con las únicas raíces en que confía W6c (en el laboratorio, su "
            "raíz); por omisión el ajuste ipv6_raices_tls o el almacén del sistema.",
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
    Un dominio que no existe (NXDOMAIN) lo dice y sus pruebas quedan «sin probar»; un
    SERVFAIL se pregunta otra vez sin validar (CD=1): solo si así responde es una firma
    DNSSEC inválida (N5 falla). Si el resolutor no responde, un error lo dice.
    La corrida se guarda y luego se muestra (JSON y CSV llevan su id y los puntajes); si no
    se puede guardar, un aviso lo dice. Con Ctrl-C durante la revisión no se guarda nada;
    después, el mensaje dice el id de la corrida guardada.
    """
    from ipv6 import dominios as dom
    from pukara.console import RichReporter
    from pukara.errors import Interrupted
    from pukara.events import format_timestamp, new_event_id, utc_now

    settings: Settings = ctx.obj
    if archivo is not None and lista is not None:
        from pukara.errors import UsageError

        raise UsageError("indique --archivo una sola vez (--lista es su nombre anterior)")
    if resolutor is not None:
        dom.resolver_address(resolutor)  # a bad value stops here, before C1
    roots = _roots(raices_tls, settings)
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
                              progress=progress, tls_roots=roots)  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted("revisión de dominios interrumpida: no se guardó nada") from None
    finally:
        reporter.finish()
    if dom.unanswered(results):
        where = f"el resolutor {resolutor}" if resolutor else "el resolutor del sistema"
        # an error, not progress: shown even with --silencioso
        message(f"Error: {where} no responde; no se pudo consultar ningún dominio.", style="red")
    run_id = new_event_id()
    meta = {"run_id": run_id, "resolver": resolutor, "started_at": started_at}
    try:
        stored = _save(settings, c1, results, meta)
    except KeyboardInterrupt:
        raise Interrupted(_kept(settings, run_id)) from None
    try:
        _show(c1, results, formato, silencioso, run_id if stored else None)
        message(
            _summary_line(names, c1, results),
            quiet=silencioso or formato is not FormatoDominios.tabla,
        )
    except KeyboardInterrupt:
        raise Interrupted(_kept(settings, run_id) if stored else "") from None
    if dom.failed(results, c1):
        raise typer.Exit(ExitCode.PARTIAL)


def _summary_line(names: list[Any], c1: CheckResult, results: list[CheckResult]) -> str:
    """«2 dominios: 0 pruebas fallan, 40 sin probar; 2 dominios no se pudieron revisar
    (código de salida 3).» — it agrees with the exit code."""
    from ipv6 import dominios as dom
    from pukara.text import count

    fails = sum(1 for r in results if r.status.value == "fail")
    untested = sum(1 for r in results if r.status.value == "not-tested")
    line = (f"{count(len(names), 'dominio', 'dominios')}: "
            f"{count(fails, 'prueba falla', 'pruebas fallan')}, "
            f"{count(untested, 'sin probar', 'sin probar')}")  # fmt: skip
    why = []
    unchecked = dom.unchecked_domains(results)
    if unchecked:
        why.append(
            f"{count(unchecked, 'dominio no se pudo revisar', 'dominios no se pudieron revisar')}"
        )
    if c1.status.value != "pass":
        why.append("C1 no se cumple: nada de IPv6 se probó")
    if why:
        return f"{line}; {'; '.join(why)} (código de salida 3)."
    return f"{line}{' (código de salida 3)' if fails else ''}."


def _kept(settings: Settings, run_id: str) -> str:
    """After Ctrl-C during or after the save: whether the run is in the store."""
    from ipv6.almacen import load_run
    from pukara.errors import PukaraError
    from pukara.store import opened_store

    try:
        with opened_store(settings) as store:
            load_run(store, run_id)
    except (PukaraError, OSError):
        return "la corrida no se guardó"
    return f"la corrida {run_id} ya quedó guardada (ipv6 informe e ipv6 diff la ven)"


# the name a person reads: the Unicode form of an IDN, a very long name cut in the middle
SHOWN_MAX = 60


def shown_name(subject: str) -> str:
    import idna

    text = subject
    if "xn--" in subject:
        try:
            text = idna.decode(subject)
        except (idna.IDNAError, UnicodeError):
            text = subject
    if len(text) > SHOWN_MAX:
        half = (SHOWN_MAX - 1) // 2
        text = f"{text[:half]}…{text[-half:]}"
    return text


def _detail_rows(results: list[CheckResult]) -> list[dict[str, Any]]:
    """The table's «Pruebas que no cumplen»: a domain that did not resolve is one row (its
    fails, then the rest as «todas» or «las demás»), not twenty; what --sin-tls left out is
    not listed (JSON and CSV keep it)."""
    from ipv6.dominios import NAME_CHECK

    rows: list[dict[str, Any]] = []
    by_subject: dict[str, list[CheckResult]] = {}
    for r in results:
        by_subject.setdefault(r.subject, []).append(r)
    for rs in by_subject.values():
        unresolved = any(r.check == "N1" and "error" in r.evidence for r in rs) and len(
            {r.message for r in rs if r.status.value == "not-tested"}) == 1  # fmt: skip
        shown = [r.to_dict() for r in rs if r.status.value not in ("pass", "not-applicable")
                 and r.evidence.get("reason") != "--sin-tls"]  # fmt: skip
        if unresolved and rs[0].check != NAME_CHECK:
            fails = [row for row in shown if row["status"] != "not-tested"]
            rest = next(row for row in shown if row["status"] == "not-tested")
            shown = [*fails, {**rest, "check": "las demás" if fails else "todas"}]
        rows.extend(shown)
    return rows


def _show(c1: CheckResult, results: list[CheckResult], formato: FormatoDominios,
          silencioso: bool, run_id: str | None = None) -> None:  # fmt: skip
    if formato is FormatoDominios.junit:
        typer.echo(_junit(c1, results), nl=False)
    elif formato is FormatoDominios.tabla:
        message(f"C1 {STATUS_SHOWN[c1.status.value]}: {c1.message}", quiet=silencioso)
        named = {"subject": shown_name}
        render(_summary(results, c1.status.value == "pass"), Formato.tabla, SUMMARY_COLUMNS,
               title="IPv6 en dominios", shown=named)  # fmt: skip
        found = _detail_rows(results)
        if found:
            render(found, Formato.tabla, DETAIL_COLUMNS, title="Pruebas que no cumplen",
                   shown={**named, "status": lambda s: STATUS_SHOWN.get(s, s)})  # fmt: skip
    else:
        render(_records(c1, results, run_id, c1.status.value == "pass"), Formato(formato.value),
               RECORD_COLUMNS)  # fmt: skip


def _records(c1: CheckResult, results: list[CheckResult], run_id: str | None,
             v6_ok: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Every result as a record with the run's id (None when not stored) and its domain's
    scores (``score.<categoría>``, ``score.total``; None where not measured, for C1, and,
    as in the table, for the scores that need IPv6 when C1 did not pass)."""
    from ipv6.puntaje import scores

    by_subject = scores(results)
    keys = [k.removeprefix("score.") for k in RECORD_COLUMNS if k.startswith("score.")]
    shown = [k for k in keys if v6_ok or k not in NEEDS_V6]
    out = []
    for r in [c1, *results]:
        row = by_subject.get(r.subject, {}) if r is not c1 else {}
        out.append({"run_id": run_id, **r.to_dict(),
                    **{f"score.{k}": row.get(k) if k in shown else None for k in keys}})  # fmt: skip
    return out


def _save(settings: Settings, c1: CheckResult, results: list[CheckResult],
          meta: dict[str, Any]) -> bool:  # fmt: skip
    """Store the run (events ipv6.resultado and ipv6.corrida) for `ipv6 diff` and `ipv6 informe`;
    a store that refuses it is a warning (False), the results are shown all the same."""
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
        return False
    return True
