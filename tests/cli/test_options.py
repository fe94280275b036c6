"""One option letter means one thing in every command, and a long option keeps its letter."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

import cli


def _commands(group: typer.core.TyperGroup, path: list[str]) -> Iterator[tuple[str, Any]]:
    yield " ".join(path) or "pukara", group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, typer.core.TyperGroup):
            yield from _commands(command, [*path, name])
        else:
            yield " ".join([*path, name]), command


def _options() -> Iterator[tuple[str, list[str], list[str]]]:
    """(command, long names, short names) for every option of every command."""
    root = typer.main.get_command(cli.app)
    assert isinstance(root, typer.core.TyperGroup)
    for where, command in _commands(root, []):
        for param in command.params:
            if param.param_type_name != "option":
                continue
            names = [*param.opts, *param.secondary_opts]
            yield (where, sorted(n for n in names if n.startswith("--")),
                   sorted(n for n in names if not n.startswith("--")))  # fmt: skip


def test_a_short_option_means_the_same_long_option_everywhere() -> None:
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for where, longs, shorts in _options():
        for short in shorts:
            meanings[short][" ".join(longs)].append(where)
    assert len(meanings) >= 8
    clashes = {short: dict(seen) for short, seen in meanings.items() if len(seen) > 1}
    assert clashes == {}


# a file that is read, not written: the issue names it --archivo, and -o means output
READ_NOT_WRITTEN = {("ipv6 dominios", "--archivo")}


def test_a_long_option_has_the_same_short_letter_everywhere() -> None:
    letters: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for where, longs, shorts in _options():
        for long in longs:
            if (where, long) in READ_NOT_WRITTEN and not shorts:
                continue
            letters[long][" ".join(shorts) or "(ninguna)"].append(where)
    differ = {long: dict(seen) for long, seen in letters.items() if len(seen) > 1}
    assert differ == {}


def test_the_readme_lists_every_letter() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("Cada letra de opción significa lo mismo")
    listed = set(re.findall(r"`(-\w)` ", readme[start : readme.index(".\n", start)]))
    used = {"-h"} | {short for _, _, shorts in _options() for short in shorts}  # -h: help
    assert listed == used
