"""JUnit XML for a CI system: one test case per check, failed when it has findings.

Written by hand (no XML library parses anything here): text and attributes are escaped and
stripped of the control characters XML 1.0 cannot carry.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from pukara.text import clean


def _x(text: str) -> str:
    return html.escape(clean(text), quote=True)


def junit(suite: str, cases: Mapping[str, str], failures: Mapping[str, Sequence[str]]) -> str:
    """A ``<testsuites>`` document: ``cases`` maps a case id to its title; ``failures`` maps
    a case id to the lines that make it fail (a case with none passes)."""
    failed = sum(1 for case in cases if failures.get(case))
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="{_x(suite)}" tests="{len(cases)}" failures="{failed}">',
        f'  <testsuite name="{_x(suite)}" tests="{len(cases)}" failures="{failed}" errors="0">',
    ]
    for case, title in cases.items():
        lines = list(failures.get(case) or ())
        head = f'    <testcase classname="{_x(suite)}" name="{_x(case + " " + title)}"'
        if not lines:
            out.append(head + "/>")
            continue
        out.append(head + ">")
        out.append(f'      <failure message="{_x(lines[0])}">{_x(chr(10).join(lines))}</failure>')
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(out)


def records_junit(suite: str, rows: Sequence[Mapping[str, str]]) -> str:
    """JUnit of per-host check records (``host.name``, ``check``, ``title``, ``status``,
    ``message``): one case per host and check, failed when its status is ``fail``."""
    cases = {f"{r['host.name']} {r['check']}": r["title"] for r in rows}
    failures = {f"{r['host.name']} {r['check']}": [r["message"]] for r in rows
                if r["status"] == "fail"}  # fmt: skip
    return junit(suite, cases, failures)
