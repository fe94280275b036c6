"""The dynamic inventory as a stand-alone executable for ``ansible-inventory -i``.

``pukara-inventario --list`` / ``--host NAME`` loads only the store and this package, so
Ansible gets its answer without the start-up cost of the whole CLI.
"""

from __future__ import annotations

import json
import os
import sys

from inventario import ansible_inventory
from inventario.model import ASSETS, SITES
from pukara.config import Settings, load_settings
from pukara.errors import PukaraError
from pukara.store import open_store


def answer(settings: Settings, host: str | None) -> str:
    store = open_store(settings)
    try:
        document = ansible_inventory.build(store.entities(SITES), store.entities(ASSETS))
    finally:
        store.close()
    data = ansible_inventory.host(document, host) if host is not None else document
    return json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--list"]:
        host = None
    elif len(args) == 2 and args[0] == "--host":
        host = args[1]
    else:
        sys.stderr.write("uso: pukara-inventario --list | --host EQUIPO\n")
        return 2
    try:
        sys.stdout.write(answer(load_settings({}, dict(os.environ)), host))
    except PukaraError as e:
        sys.stderr.write(f"pukara-inventario: {e}\n")
        return int(e.exit_code)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
