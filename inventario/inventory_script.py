"""The dynamic inventory as a stand-alone executable for ``ansible-inventory -i``.

``pukara-inventario --list`` / ``--host NAME`` loads only the store and this package, so
Ansible gets its answer without the start-up cost of the whole CLI. It keeps the same error
boundary as ``pukara``: a Spanish message and the exit code of the error, ``Interrumpido.``
and 130 on Ctrl-C, and a traceback only with ``--debug`` (or ``PUKARA_DEBUG=1``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from pukara.config import Settings, load_settings
from pukara.errors import ExitCode, PukaraError

USAGE = "uso: pukara-inventario [--debug] --list | --host EQUIPO\n"


def answer(settings: Settings, host: str | None) -> str:
    from inventario import ansible_inventory
    from inventario.model import ASSETS, SITES
    from pukara.store import opened_store

    with opened_store(settings) as store:
        document = ansible_inventory.build(store.entities(SITES), store.entities(ASSETS))
    data = ansible_inventory.host(document, host) if host is not None else document
    return json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n"


def _parse(args: list[str]) -> tuple[bool, str | None] | None:
    """(``--debug``, host or None for ``--list``), or None when the arguments are wrong."""
    debug = "--debug" in args
    rest = [a for a in args if a != "--debug"]
    if rest == ["--list"]:
        return debug, None
    if len(rest) == 2 and rest[0] == "--host":
        return debug, rest[1]
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parsed = _parse(args)
    if parsed is None:
        sys.stderr.write(USAGE)
        return int(ExitCode.USAGE)
    debug = parsed[0] or os.environ.get("PUKARA_DEBUG") == "1"
    try:
        sys.stdout.write(answer(load_settings({}, dict(os.environ)), parsed[1]))
        sys.stdout.flush()
    except KeyboardInterrupt:
        sys.stderr.write("Interrumpido.\n")
        return int(ExitCode.INTERRUPTED)
    except PukaraError as e:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"pukara-inventario: Error: {e.message}\n")
        return int(e.exit_code)
    except Exception as e:
        if debug:
            traceback.print_exc()
        sys.stderr.write(
            f"pukara-inventario: Error inesperado ({type(e).__name__}): {e}. "
            "Repita con --debug para ver la traza.\n"
        )
        return int(ExitCode.ERROR)
    return int(ExitCode.OK)


if __name__ == "__main__":
    raise SystemExit(main())
