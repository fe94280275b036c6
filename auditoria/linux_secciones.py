"""Reading the raw output of playbooks/auditoria/linux.yml: sections and verdicts.

Each task of the playbook prints sections ``@@ <name> rc=<code>`` followed by what the command
wrote (output and errors together); a file's section is named by its path. rc 127 is a command
the host does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditoria.modelo import Status
from pukara.errors import PukaraError
from pukara.text import clean_line

_HEADER = re.compile(r"^@@ (\S+) rc=(-?\d+)$")
MISSING = 127  # the shell's "command not found"


class RepeatedSection(PukaraError):
    """A section name appears twice in one task's output."""


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    rc: int
    text: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def missing(self) -> bool:
        return self.rc == MISSING


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    message: str  # Spanish, one line


def passed(message: str) -> Verdict:
    return Verdict(Status.PASS, message)


def failed(message: str) -> Verdict:
    return Verdict(Status.FAIL, message)


def not_applicable(message: str) -> Verdict:
    return Verdict(Status.NOT_APPLICABLE, message)


def error(message: str) -> Verdict:
    return Verdict(Status.ERROR, message)


def sections(raw: str) -> dict[str, Section]:
    """The sections of one task's output, by name. A name that repeats is forged or broken
    output: :class:`~pukara.errors.PukaraError`, so every check that reads it is ERROR."""
    found: dict[str, Section] = {}
    name: str | None = None
    rc = 0
    body: list[str] = []
    for line in raw.splitlines():
        header = _HEADER.match(line)
        if header:
            if name is not None:
                found[name] = Section(name, rc, "\n".join(body))
            name, rc, body = header.group(1), int(header.group(2)), []
            if name in found:
                raise RepeatedSection(f"la sección «{clean_line(name)[:80]}» aparece dos veces "
                                      "en la salida del equipo: salida alterada")  # fmt: skip
        elif name is not None:
            body.append(line)
    if name is not None:
        found[name] = Section(name, rc, "\n".join(body))
    return found


def file_sections(found: Mapping[str, Section], *prefixes: str) -> list[Section]:
    """The sections of files (named by their path) under any of ``prefixes``, in order."""
    return [s for n, s in found.items() if n.startswith("/") and n.startswith(prefixes)]


def active_lines(text: str, comment: str = "#") -> list[str]:
    """Lines without comments (from ``comment`` to the end) nor blanks, stripped."""
    out: list[str] = []
    for line in text.splitlines():
        cut = line.split(comment, 1)[0].strip() if comment else line.strip()
        if cut:
            out.append(cut)
    return out


def lines_of(found: Iterable[Section], comment: str = "#") -> list[tuple[str, str]]:
    """(file, line) for each active line of the given sections."""
    return [(s.name, line) for s in found for line in active_lines(s.text, comment)]


def listing(items: Iterable[str], limit: int = 5) -> str:
    """A short Spanish list for a message: the first ``limit`` items and how many more."""
    values = list(items)
    shown = ", ".join(values[:limit])
    rest = len(values) - limit
    return f"{shown} y {rest} más" if rest > 0 else shown
