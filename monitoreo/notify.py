"""Notification hooks: a webhook (JSON POST) and/or a command fed the event on stdin.

The command line is split with shlex and run without a shell; the event's values never reach
its argv. A failing hook is reported, never fatal: monitoring goes on.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pukara.errors import ConfigError

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Hooks:
    webhook: str | None = None
    command: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, webhook: str | None, command: str | None) -> Hooks:
        if webhook and urlsplit(webhook).scheme not in {"http", "https"}:
            raise ConfigError(f"alert_webhook: se espera una URL http(s), no {webhook!r}")
        argv: tuple[str, ...] = ()
        if command:
            try:
                argv = tuple(shlex.split(command))
            except ValueError as e:
                raise ConfigError(f"alert_command: orden mal formada: {e}") from None
        return cls(webhook or None, argv)

    def __bool__(self) -> bool:
        return bool(self.webhook or self.command)

    def send(self, event: Mapping[str, Any]) -> list[str]:
        """Deliver one event to every hook; return the failures, in Spanish."""
        body = json.dumps(event, ensure_ascii=False).encode()
        errors: list[str] = []
        if self.webhook:
            request = urllib.request.Request(  # noqa: S310 - scheme checked above
                self.webhook, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                    response.read()
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"webhook {self.webhook}: {getattr(e, 'reason', e)}")
        if self.command:
            try:
                done = subprocess.run(
                    list(self.command), input=body, capture_output=True, timeout=TIMEOUT_S,
                    check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    tail = done.stderr.decode(errors="replace").strip()[-200:]
                    errors.append(f"orden {self.command[0]}: salió con {done.returncode} {tail}")
            except (OSError, subprocess.TimeoutExpired) as e:
                errors.append(f"orden {self.command[0]}: {e}")
        return errors
