"""`pukara auditoria controles`: listar, mapear, importar-titulos."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pukara.config import Settings
from pukara.console import Formato, FormatoOpt, SilenciosoOpt, message, render

app = typer.Typer(
    help=(
        "Catálogo del Anexo A en las ediciones 2013 (NTP-ISO/IEC 27001:2014) y 2022, y la "
        "correspondencia completa entre ambas."
    ),
    no_args_is_help=True,
)

RELATION_TEXT = {
    "equal": "igual",
    "subset-of": "parte de",
    "superset-of": "abarca a",
    "intersects-with": "se cruza con",
}
TYPE_TEXT = {"preventive": "preventivo", "detective": "detectivo", "corrective": "correctivo"}
PROPERTY_TEXT = {
    "confidentiality": "confidencialidad",
    "integrity": "integridad",
    "availability": "disponibilidad",
}


class Edicion(StrEnum):
    e2013 = "2013"
    e2022 = "2022"


def _words(values: Any, text: dict[str, str]) -> str:
    return ", ".join(text.get(v, v) for v in values)


@app.command("listar")
def listar(
    ctx: typer.Context,
    edicion: Annotated[
        Edicion, typer.Option("--edicion", help="Edición del Anexo A: 2013 o 2022.")
    ] = Edicion.e2022,
    tema: Annotated[
        str | None,
        typer.Option(
            "--tema",
            help="Solo un tema 2022 (organizacional, personas, físico, tecnológico) o una "
            "cláusula 2013 (A.12).",
        ),
    ] = None,
    titulos_locales: Annotated[
        bool,
        typer.Option(
            "--titulos-locales",
            help="Añade los títulos con licencia importados en esta máquina (nunca se exportan).",
        ),
    ] = False,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Lista los controles de una edición con la etiqueta propia de pukara."""
    from auditoria import catalogo
    from auditoria import titulos_locales as titulos
    from pukara.errors import UsageError

    settings: Settings = ctx.obj
    catalogue = catalogo.load(edicion.value)
    controls = list(catalogue.controls.values())
    if tema is not None:
        wanted = catalogo.fold(catalogo.normalize(tema) if catalogue.edition == "2013" else tema)
        if wanted not in {catalogo.fold(g) for g in catalogue.groups}:
            raise UsageError(
                f"--tema {tema!r}: no es un tema de la edición {catalogue.edition} "
                f"({', '.join(catalogue.groups)})"
            )
        controls = [c for c in controls if catalogo.fold(c.group) == wanted]
    titles = titulos.load(settings.data_dir, catalogue.edition) if titulos_locales else {}
    rows: list[dict[str, Any]] = []
    for c in controls:
        row: dict[str, Any] = {"control": c.id, "label": c.label, "group": c.group}
        if catalogue.edition == "2022":
            row["control_type"] = list(c.control_type)
            row["properties"] = list(c.properties)
        if titulos_locales:
            row["local_title"] = titles.get(c.id, {}).get("title", "")
        rows.append(row)
    columns = {"control": "Control", "label": "Etiqueta"}
    columns["group"] = "Tema" if catalogue.edition == "2022" else "Cláusula"
    if catalogue.edition == "2022":
        columns |= {"control_type": "Tipo de control", "properties": "Propiedades"}
    if titulos_locales:
        columns["local_title"] = "Título (licencia local)"
    shown = {
        "control_type": lambda v: _words(v, TYPE_TEXT),
        "properties": lambda v: _words(v, PROPERTY_TEXT),
    }
    render(rows, formato, columns, shown=shown, title=f"Anexo A {catalogue.edition}")


@app.command("mapear")
def mapear(
    control: Annotated[
        str, typer.Argument(metavar="CONTROL", help="A.12.4.1 (2013) o A.8.15 (2022).")
    ],
    edicion: Annotated[
        Edicion | None,
        typer.Option(
            "--edicion",
            help="Edición del control; por omisión, la que indica su forma (A.12.4.1: 2013; A.8.15: 2022).",
        ),
    ] = None,
    formato: FormatoOpt = Formato.tabla,
) -> None:
    """Muestra la correspondencia de un control con la otra edición, en las dos direcciones.

    Primero a dónde va el control; luego, desde cada destino, qué controles de la edición de
    origen le corresponden (sus hermanos incluidos), con el tipo de relación NIST OLIR.
    """
    from auditoria import catalogo

    edition = edicion.value if edicion else catalogo.infer_edition(control)
    source = catalogo.require(edition, control)
    forward = catalogo.crosswalk(source.id, edition)
    back = [m for f in forward for m in catalogo.crosswalk(f.target, catalogo.other(edition))]
    rows = [
        {
            "direction": f"{m.source_edition}→{m.target_edition}",
            "source": m.source,
            "source_label": catalogo.require(m.source_edition, m.source).label,
            "relation": m.relation,
            "target": m.target,
            "target_label": catalogo.require(m.target_edition, m.target).label,
            "rationale": m.rationale,
        }
        for m in [*forward, *back]
    ]
    columns = {
        "direction": "Dirección",
        "source": "Origen",
        "source_label": "Etiqueta de origen",
        "relation": "Relación",
        "target": "Destino",
        "target_label": "Etiqueta de destino",
        "rationale": "Fundamento",
    }
    render(
        rows,
        formato,
        columns,
        shown={"relation": lambda v: RELATION_TEXT.get(v, v)},
        title=f"{source.id} ({edition}): {source.label}",
    )


@app.command("importar-titulos")
def importar_titulos(
    ctx: typer.Context,
    archivo: Annotated[
        Path,
        typer.Argument(
            metavar="ARCHIVO.csv",
            help="CSV con columnas edition,id,title y opcionalmente text, de la copia con licencia.",
        ),
    ],
    silencioso: SilenciosoOpt = False,
) -> None:
    """Importa los títulos con licencia de la cancillería a un catálogo local (0600).

    Reemplaza los importados antes. Solo los muestra `controles listar --titulos-locales`:
    ninguna exportación (SoA, informe, paquete de evidencias) los lee.
    """
    from auditoria import titulos_locales

    settings: Settings = ctx.obj
    count = titulos_locales.import_csv(archivo, settings.data_dir)
    message(
        f"{count} títulos importados en {titulos_locales.path(settings.data_dir)} (solo local)",
        quiet=silencioso,
    )
