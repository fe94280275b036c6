"""`pukara ipv6 informe` and `pukara ipv6 diff`: stored runs as the plan's evidence."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pukara.config import Settings
from pukara.console import Formato, message, output_file, render
from pukara.formats import number

STATUS_SHOWN = {"pass": "cumple", "partial": "parcial", "warn": "advierte", "fail": "falla",
                "not-tested": "sin probar", "not-applicable": "no aplica", None: "—"}  # fmt: skip
TREND_SHOWN = {"mejora": "mejora", "empeora": "empeora", "nuevo": "nueva", "desaparece":
               "ya no se prueba", "cambia": "cambia"}  # fmt: skip
# the summary's words for each trend beyond mejora/empeora, shown only when some row has it
_OTHER_TRENDS = (("nuevo", "nueva", "nuevas"), ("desaparece", "ya no se prueba", "ya no se prueban"),
                 ("cambia", "cambia de otro modo", "cambian de otro modo"))  # fmt: skip


def _diff_summary(trends: list[str]) -> str:
    """«N cambios: x mejoran, y empeoran», and the other kinds of change when there are any,
    so the counts add up to N."""
    from pukara.formats import number

    better, worse = trends.count("mejora"), trends.count("empeora")
    head = (f"{number(len(trends))} cambio{'' if len(trends) == 1 else 's'}: "
            f"{number(better)} mejoran, {number(worse)} empeoran")  # fmt: skip
    rest = [f"{number(n)} {one if n == 1 else many}" for trend, one, many in _OTHER_TRENDS
            if (n := trends.count(trend))]  # fmt: skip
    return head + "".join(f", {part}" for part in rest) + "."


DIFF_COLUMNS = {"subject": "Sujeto", "check": "Prueba", "before": "Antes", "after": "Ahora",
                "trend": "Cambio", "message": "Detalle"}  # fmt: skip


class FormatoInforme(StrEnum):
    html = "html"
    json = "json"
    csv = "csv"
    junit = "junit"


class TipoCorrida(StrEnum):
    dominios = "dominios"
    servidores = "servidores"
    equipos = "equipos"
    plan = "plan"


def register(app: typer.Typer) -> None:
    """Add this module's commands to `pukara ipv6`."""
    app.command("informe", epilog=INFORME_EPILOG)(informe)
    app.command("diff", epilog=DIFF_EPILOG)(diff)


INFORME_EPILOG = """\b
Ejemplos:
  pukara ipv6 informe -o informe.html
  pukara ipv6 informe 01a2 -f json
"""
DIFF_EPILOG = """\b
Ejemplos:
  pukara ipv6 diff --tipo dominios
  pukara ipv6 diff 01a2 01b7
"""


def _write(path: Path | None, text: str) -> None:
    if path is None:
        import sys

        sys.stdout.write(text)
        return
    from pukara.files import write_atomically

    write_atomically(path, text)
    message(f"Informe escrito en {path}")


def informe(
    ctx: typer.Context,
    corrida: Annotated[
        str | None,
        typer.Argument(
            metavar="CORRIDA",
            help="Id (o su comienzo) de una corrida guardada; sin él, la última de dominios.",
            show_default=False,
        ),
    ] = None,
    formato: Annotated[
        FormatoInforme,
        typer.Option("--formato", "-f", help="Formato: html, json, csv o junit."),
    ] = FormatoInforme.html,
    archivo: Annotated[
        Path | None,
        typer.Option(
            "--archivo",
            "-o",
            metavar="ARCHIVO",
            callback=output_file,
            help="Escribe aquí en vez de la salida estándar.",
        ),
    ] = None,
) -> None:
    """Informe de la transición a IPv6 con las secciones del plan del DS 081-2017-PCM:
    diagnóstico (equipos, servidores, plan de direccionamiento y servicios en Internet con
    los conteos asignado, alcanzable y operativo), pruebas (cada prueba y su resultado, con
    la evidencia de lo que no cumple) y el indicador «% de servicios de Internet en doble
    pila» para el informe PEGE. Usa las corridas guardadas por ipv6 dominios, servidores,
    equipos y plan verificar: sin CORRIDA, la última de cada tipo; con ella, esa y, de los
    demás tipos, la última que no sea posterior a ella (el informe tal como estaba).
    """
    from ipv6 import informe as report
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    with opened_store(settings, read_only=True) as store:
        data = report.build(store, corrida)
        if formato in (FormatoInforme.csv, FormatoInforme.junit):
            rows = report.results_of(store, data)
    if formato is FormatoInforme.html:
        text = report.html(data)
    elif formato is FormatoInforme.json:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    elif formato is FormatoInforme.csv:
        text = report.csv_text(rows)
    else:
        text = report.junit_text(rows)
    _write(archivo, text)


def diff(
    ctx: typer.Context,
    corrida_a: Annotated[
        str | None,
        typer.Argument(
            metavar="CORRIDA_A",
            show_default=False,
            help="La corrida anterior (o, sola, la nueva: se compara con la previa).",
        ),
    ] = None,
    corrida_b: Annotated[
        str | None,
        typer.Argument(metavar="CORRIDA_B", show_default=False, help="La corrida nueva."),
    ] = None,
    tipo: Annotated[
        TipoCorrida | None,
        typer.Option("--tipo", help="Sin corridas: compara las dos últimas de este tipo."),
    ] = None,
    formato: Annotated[
        Formato, typer.Option("--formato", "-f", help="Formato de salida: tabla, json o csv.")
    ] = Formato.tabla,
) -> None:
    """Qué cambió entre dos corridas IPv6 del mismo tipo, por sujeto y prueba: lo que mejora,
    empeora, aparece o deja de probarse. Dos corridas se comparan en orden de fecha, sea cual
    sea el orden en que se nombren; los sujetos que solo una de ellas probó se resumen en una
    línea por corrida. Sin corridas, compara las dos últimas del tipo de la más reciente."""
    from ipv6 import diff as changes
    from pukara.store import opened_store

    settings: Settings = ctx.obj
    with opened_store(settings, read_only=True) as store:
        older, newer = changes.pick_runs(store, corrida_a, corrida_b, tipo.value if tipo else None)
    if older.id == newer.id:
        message(f"{older.id} y {newer.id} son la misma corrida: no hay cambios que ver.")
    elif corrida_a and corrida_b and not older.id.startswith(corrida_a):
        message(f"La corrida {corrida_a} es posterior a {corrida_b}: se comparan en orden de "
                f"fecha, de {older.id} (antes) a {newer.id} (ahora).")  # fmt: skip
    for flag in dict.fromkeys(changes.incomplete(r) for r in (older, newer)):
        if flag is not None:
            message(f"Aviso: {flag}.", style="yellow")
    found = changes.compare(older, newer)
    rows = [c.to_dict() for c in found.changes]
    if formato is Formato.tabla:
        render(rows, formato, DIFF_COLUMNS, title=f"Cambios de {older.id} a {newer.id}",
               shown={"before": STATUS_SHOWN.get, "after": STATUS_SHOWN.get,
                      "trend": TREND_SHOWN.get})  # fmt: skip
        message(_diff_summary([r["trend"] for r in rows]))
    else:
        render(rows, formato, DIFF_COLUMNS)
    for subjects, side, run in ((found.only_older, "A", older), (found.only_newer, "B", newer)):
        if subjects:
            message(_only_in(subjects, older.kind, side, run.id))


SUBJECT_NOUNS = {"dominios": ("dominio", "dominios"), "servidores": ("servidor", "servidores"),
                 "equipos": ("equipo", "equipos")}  # fmt: skip


def _only_in(subjects: list[str], kind: str, side: str, run_id: str) -> str:
    """«N dominios solo en la corrida A (id): a.test, b.test, …; no se comparan.»"""
    one, many = SUBJECT_NOUNS.get(kind, ("sujeto", "sujetos"))
    noun = one if len(subjects) == 1 else many
    names = ", ".join(subjects[:3]) + (", …" if len(subjects) > 3 else "")
    when = "antes" if side == "A" else "ahora"
    return (f"{number(len(subjects))} {noun} solo en la corrida {side} ({run_id}, {when}): "
            f"{names}; no se comparan.")  # fmt: skip
