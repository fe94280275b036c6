"""JUnit XML for a CI system: one test case per subject and check.

A case is named ``"<subject> <check>"`` (its identity never changes with its result); its
status and message go in the body. ``fail`` and ``partial`` are failures, ``not-tested`` and
``not-applicable`` are ``<skipped>``, ``pass`` and ``warn`` pass (a warning is in
``<system-out>``). ``errors=`` counts the subjects that could not be asked at all.

Written by hand (no XML library parses anything here): text and attributes are escaped and
stripped of the control characters XML 1.0 cannot carry.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ipv6.modelo import CheckResult
from pukara.text import clean

FAILED = ("fail", "partial")
SKIPPED = ("not-tested", "not-applicable")


@dataclass(frozen=True, slots=True)
class Case:
    """One test case: ``name`` is "<subject> <check>"; ``status`` a result status value."""

    name: str
    status: str
    message: str
    title: str = ""
    detail: tuple[str, ...] = ()  # more lines for the body (findings, evidence)


def _x(text: str) -> str:
    return html.escape(clean(text), quote=True)


def _body(case: Case) -> list[str]:
    head = [case.title] if case.title else []
    text = "\n".join([*head, f"{case.status}: {case.message}", *case.detail])
    if case.status in FAILED:
        return [f'      <failure type="{_x(case.status)}" message="{_x(case.message)}">'
                f"{_x(text)}</failure>"]  # fmt: skip
    if case.status in SKIPPED:
        return [f'      <skipped message="{_x(case.status + ": " + case.message)}"/>']
    return [f"      <system-out>{_x(text)}</system-out>"]


def cases_junit(suite: str, cases: Sequence[Case], errors: int = 0) -> str:
    """A ``<testsuites>`` document of ``cases``; ``errors`` counts subjects not asked at all."""
    failed = sum(1 for c in cases if c.status in FAILED)
    skipped = sum(1 for c in cases if c.status in SKIPPED)
    counts = f'tests="{len(cases)}" failures="{failed}" errors="{errors}" skipped="{skipped}"'
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="{_x(suite)}" {counts}>',
        f'  <testsuite name="{_x(suite)}" {counts}>',
    ]
    for case in cases:
        out.append(f'    <testcase classname="{_x(suite)}" name="{_x(case.name)}">')
        out += _body(case)
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(out)


def results_junit(suite: str, results: Sequence[CheckResult], errors: int = 0,
                  prefix: str = "") -> str:  # fmt: skip
    """JUnit of check results (``prefix`` goes before each case name, e.g. the run kind)."""
    cases = [Case(f"{prefix}{r.subject} {r.check}", r.status.value, r.message) for r in results]
    return cases_junit(suite, cases, errors)


def records_junit(suite: str, rows: Sequence[Mapping[str, str]], errors: int = 0) -> str:
    """JUnit of per-host check records (``host.name``, ``check``, ``title``, ``status``,
    ``message``): one case per host and check; ``errors`` counts hosts not asked at all."""
    cases = [Case(f"{r['host.name']} {r['check']}", str(r["status"]), str(r["message"]),
                  str(r.get("title") or "")) for r in rows]  # fmt: skip
    return cases_junit(suite, cases, errors)
