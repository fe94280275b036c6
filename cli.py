"""El comando `pukara`: monta el subcomando de cada área y es la única frontera de errores."""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import auditoria.cli
import csirt.cli
import inventario.cli
import ipv6.cli
import lab.cli
import monitoreo.cli
import red.cli
import registros.cli
from pukara import __version__
from pukara.cli import almacen, cambios
from pukara.config import load_settings
from pukara.console import stderr_console
from pukara.errors import DEBUG_HINT, ExitCode, Interrupted, PukaraError, explain
from pukara.i18n import translate
from pukara.text import clean
from pukara.typer_es import install, usage_error_text

if TYPE_CHECKING:
    from rich.console import Console


class _Root(typer.core.TyperGroup):
    """The root group: Ctrl-C inside any command is an :class:`Interrupted`.

    Typer turns a ``KeyboardInterrupt`` into a silent exit 130 (or, in a prompt, into
    ``Abort``); raising our own error instead lets :func:`main` say so.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _skip_absent(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and not getattr(option, "_pukara_skips_absent", False):
            _skip_absent(option, with_callback=True)  # its callback ignores a missing value
        return option

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted("") from None
        except BrokenPipeError as e:  # Typer would turn any of them into exit 1
            if _stdout_closed():
                raise _OutputClosed from None
            raise _Carried(e) from None  # a socket's, a child's: an error like any other


class _OutputClosed(Exception):
    """Whoever read stdout closed it (``pukara ... | head -1``)."""


class _Carried(Exception):
    """Carries an error past Typer, which would end the process on any EPIPE."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _stdout_closed() -> bool:
    """Whether writing to stdout really fails with EPIPE: its reader went away.

    Flushing what is pending fails so; with nothing pending, the pipe (or socket) says so
    to ``poll`` (POLLERR once no reader is left). A BrokenPipeError of anything else (a
    socket, a child's stdin) is an error to report, not the end of the output.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (AttributeError, OSError, ValueError):
        return False
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


# The exit code when stdout's reader went away before the command wrote everything: what a
# shell reports for a program that SIGPIPE ends (128 + 13, as ``seq 1 100000 | head -1``), so
# that ``set -o pipefail`` sees output that was cut, and never 0 for a run that did not finish
# saying its verdict.
OUTPUT_CLOSED = 128 + signal.SIGPIPE


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail.

    What the Python documentation advises for SIGPIPE (library/signal.html, "Note on
    SIGPIPE"); the command then ends quietly with :data:`OUTPUT_CLOSED`. Only for the
    console command (:func:`run`): a program that calls :func:`main` keeps its stdout.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests): nothing to do
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _skip_absent(param: Any, *, with_callback: bool = False) -> None:
    """An absent global option stays ``None`` without building its validator.

    Typer builds a pydantic validator for every option it processes, given or not; for the
    global options that alone costs ~50 ms of start-up on ``pukara AREA --help``.
    """
    process = param.process_value

    def process_value(ctx: Any, value: Any) -> Any:
        if value is None and not param.required and (with_callback or param.callback is None):
            return None
        return process(ctx, value)

    param.process_value = process_value
    param._pukara_skips_absent = True


install()  # Typer's own texts (help, usage, errors) in Spanish
app = typer.Typer(
    name="pukara",
    cls=_Root,
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
app.add_typer(registros.cli.app, name="registros")
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
        typer.Option("--base-datos", help="Archivo SQLite (por omisión PUKARA_DB o pukara.toml)."),
    ] = None,
    concurrencia: Annotated[
        int | None, typer.Option("--concurrencia", min=1, help="Objetivos en paralelo.")
    ] = None,
    analista: Annotated[
        str | None,
        typer.Option(
            "--analista",
            help="Quién firma los cambios en el registro (por omisión PUKARA_ANALISTA o el "
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


def _interrupted(err: Console, detail: str) -> None:
    if threading.current_thread() is threading.main_thread():  # a second Ctrl-C: still 130
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    err.print("Interrumpido.", style="yellow")
    if detail:
        err.print(clean(detail), soft_wrap=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd's stop, ``kill``) ends a command as Ctrl-C does: work kept, 130."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map every error to a Spanish message and an exit code. The caller's
    Ctrl-C and SIGTERM handlers come back afterwards (a command ignores both while it says it
    was interrupted, and a caller in the same process goes on living)."""
    main_thread = threading.current_thread() is threading.main_thread()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _main(argv)[0]
    finally:
        if main_thread:
            for sig, handler in saved.items():
                if handler is not None:  # None: set outside Python, nothing to put back
                    signal.signal(sig, handler)


def _main(argv: list[str] | None) -> tuple[int, bool]:
    """The exit code, and whether stdout's reader went away (``| head``)."""
    _stop_on_sigterm()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("PUKARA_DEBUG") == "1"
    err = stderr_console()
    closed = False
    handler = _debug_log() if debug else None
    try:
        rv = app(args=args, prog_name="pukara", standalone_mode=False)
        code = int(rv) if isinstance(rv, int) else ExitCode.OK
        if code == ExitCode.INTERRUPTED:  # a command that kept its partial work and said 130
            _interrupted(err, "")
    except _OutputClosed:  # `| head`: the reader has enough, the command stopped half-way
        code, closed = OUTPUT_CLOSED, True
    except _Carried as carried:
        code = _report(carried.error, err, debug=debug)
    except (Exception, KeyboardInterrupt) as e:
        closed = isinstance(e, BrokenPipeError) and _stdout_closed()
        code = OUTPUT_CLOSED if closed else _report(e, err, debug=debug)
    finally:
        if handler is not None:
            logging.getLogger("pukara").removeHandler(handler)
            logging.getLogger("pukara").setLevel(logging.NOTSET)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        closed = True
    except (OSError, ValueError):  # a stdout a caller closed or replaced: theirs
        pass
    # The command ended: a verdict it gave (3, 1…) is kept. A 0 is not, if the reader left
    # before the end: Python can drop the rest of a large write to a pipe without an error.
    if code == ExitCode.OK and (closed or _stdout_closed()):
        code, closed = OUTPUT_CLOSED, True
    return int(code), closed


def _debug_log() -> logging.Handler:
    """With --debug, what the library logs under ``pukara.*`` (an error a command turned into
    a result, with its traceback) goes to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("pukara")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return handler


def _report(exc: BaseException, err: Console, *, debug: bool) -> int:
    """Say what went wrong, in Spanish, on stderr; the exit code it means."""
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.Abort | KeyboardInterrupt):  # Ctrl-C in a prompt or outside
        _interrupted(err, "")
        return ExitCode.INTERRUPTED
    if isinstance(exc, typer.TyperException):
        return _usage_error(exc, err)
    if debug:
        from rich.traceback import Traceback

        err.print(Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=False))
    if isinstance(exc, Interrupted):
        _interrupted(err, exc.message)
        return ExitCode.INTERRUPTED
    known = exc if isinstance(exc, PukaraError) else explain(exc, debug=debug)
    if known is not None:  # a message may quote what a device sent: cleaned
        err.print(f"Error: {clean(known.message)}", style="bold red", soft_wrap=True)
        return known.exit_code
    err.print(
        f"Error inesperado ({type(exc).__name__}): {clean(str(exc))}. {DEBUG_HINT}",
        style="bold red",
    )  # fmt: skip
    return ExitCode.ERROR


def _usage_error(exc: typer.TyperException, err: Console) -> int:
    """A usage error (unknown option, missing or bad value): usage line and message, Spanish."""
    from typer._click.exceptions import ClickException

    if type(exc).__name__ == "NoArgsIsHelpError":  # `pukara` alone: the help, shown already
        exc.show(file=sys.stderr)  # type: ignore[attr-defined]
    elif isinstance(exc, ClickException):
        err.print(clean(usage_error_text(exc)), soft_wrap=True)
    else:
        err.print(f"Error: {clean(translate(str(exc)))}", soft_wrap=True)
    return int(getattr(exc, "exit_code", ExitCode.USAGE))


def run() -> None:
    """The ``pukara`` console command."""
    code, closed = _main(None)
    if closed:
        _discard_stdout()
    sys.exit(code)


if __name__ == "__main__":
    run()
