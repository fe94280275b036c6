"""El comando `pukara`: monta el subcomando de cada área y es la única frontera de errores."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import auditoria.cli
import csirt.cli
import inventario.cli
import ipv6.cli
import lab.cli
import monitoreo.cli
import red.cli
from pukara import __version__
from pukara.cli import almacen, cambios
from pukara.config import load_settings
from pukara.console import stderr_console
from pukara.errors import ExitCode, PukaraError

app = typer.Typer(
    name="pukara",
    help="pukara: red, monitoreo WAN/VPN, CSIRT y auditoría ISO/IEC 27001 de la Cancillería.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(inventario.cli.app, name="inventario")
app.add_typer(red.cli.app, name="red")
app.add_typer(monitoreo.cli.app, name="monitoreo")
app.add_typer(ipv6.cli.app, name="ipv6")
app.add_typer(auditoria.cli.app, name="auditoria")
app.add_typer(csirt.cli.app, name="csirt")
app.add_typer(lab.cli.app, name="lab")
app.add_typer(cambios, name="cambios")
app.add_typer(almacen, name="almacen")


def _version(value: bool) -> None:
    if value:
        print(f"pukara {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    base_datos: Annotated[
        Path | None,
        typer.Option("--base-datos", help="Archivo SQLite (por defecto PUKARA_DB o pukara.toml)."),
    ] = None,
    concurrencia: Annotated[
        int | None, typer.Option("--concurrencia", min=1, help="Objetivos en paralelo.")
    ] = None,
    analista: Annotated[
        str | None,
        typer.Option(
            "--analista",
            help="Quién firma los cambios en el registro (por defecto PUKARA_ANALISTA o el "
            "usuario del sistema).",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Muestra la traza completa de los errores.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Muestra la versión."),
    ] = False,
) -> None:
    """pukara: red, monitoreo WAN/VPN, CSIRT y auditoría ISO/IEC 27001 de la Cancillería."""
    ctx.obj = load_settings({"db": base_datos, "concurrency": concurrencia, "analyst": analista})


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map every error to a Spanish message and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("PUKARA_DEBUG") == "1"
    err = stderr_console()
    try:
        rv = app(args=args, prog_name="pukara", standalone_mode=False)
        code = int(rv) if isinstance(rv, int) else ExitCode.OK
    except PukaraError as e:
        if debug:
            err.print_exception(show_locals=False)
        err.print(
            f"Error: {e.message}", style="bold red", markup=False, highlight=False, soft_wrap=True
        )
        code = e.exit_code
    except typer.Exit as e:
        code = e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("Interrumpido.", style="yellow")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as e:
        show = getattr(e, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            err.print(f"Error: {e.format_message()}", markup=False, highlight=False, soft_wrap=True)
        code = e.exit_code
    except Exception as e:
        if debug:
            err.print_exception(show_locals=False)
        err.print(
            f"Error inesperado ({type(e).__name__}): {e}. Repita con --debug para ver la traza.",
            style="bold red", markup=False, highlight=False,
        )  # fmt: skip
        code = ExitCode.ERROR
    sys.stdout.flush()
    return int(code)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
