"""Notification hooks: a webhook (JSON POST) and/or a command fed the event on stdin.

Both get the event as one line of JSON (newline-delimited JSON: compact, ending in ``\n``,
with every line break inside a value escaped, also those that only some readers split on),
so that a command may read it with ``read``, ``for line in sys.stdin`` or ``jq -c``.

The webhook URL is a credential (it often carries a token in its path or query): it lives in
the ``url`` field of a credential profile, named in the settings as
``alert_webhook = "perfil:NOMBRE"``, and only its ``scheme://host`` is ever shown. The command
line is split with shlex and run without a shell, with pukara's secrets removed from its
environment; the event's values never reach its argv.

Hooks run from :class:`Notifier`'s worker thread, through a bounded queue, each call with its
timeout: a slow or dead receiver never holds up the probing loop. A failing hook is reported,
never fatal; a full queue drops the newest notice and says so.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import shlex
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pukara import secrets
from pukara.errors import ConfigError, os_reason
from pukara.secrets import Secret

TIMEOUT_S = 10.0
MAX_PENDING = 100
PROFILE_PREFIX = "perfil:"
URL_FIELD = "url"


# characters that str.splitlines() and some readers take as line breaks, which JSON leaves raw
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def json_line(event: Mapping[str, Any]) -> bytes:
    """The event as one line of JSON ending in a newline; a value JSON lacks becomes text."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
    for raw, escaped in _LINE_BREAKS.items():
        text = text.replace(raw, escaped)
    return (text + "\n").encode()


def _check_url(url: str, profile: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"alert_webhook: el campo «{URL_FIELD}» del perfil de credenciales «{profile}» "
            "debe ser una URL http(s)"
        )


def url_label(url: str) -> str:
    """``scheme://host[:port]``: what may be shown of a webhook URL."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: shown as no port rather than failing
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _redact(text: str, url: str) -> str:
    parts = urlsplit(url)
    for part in (url, parts.path, parts.query, parts.fragment):
        if part and part != "/":
            text = text.replace(part, "…")
    return text


@dataclass(frozen=True, slots=True)
class Hooks:
    webhook: Secret | None = None
    command: tuple[str, ...] = ()
    timeout_s: float = TIMEOUT_S

    @classmethod
    def from_settings(
        cls,
        webhook: str | None,
        command: str | None,
        *,
        environ: Mapping[str, str] | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> Hooks:
        """``webhook`` is ``perfil:NOMBRE``; the URL is that profile's ``url`` field."""
        url: Secret | None = None
        if webhook:
            if not webhook.startswith(PROFILE_PREFIX):
                raise ConfigError(
                    "alert_webhook: la URL del webhook es una credencial (puede llevar un token); "
                    f"guárdela en el campo «{URL_FIELD}» de un perfil de credenciales y ponga "
                    'alert_webhook = "perfil:NOMBRE"'
                )
            name = webhook[len(PROFILE_PREFIX) :].strip()
            if not secrets.valid_profile_name(name):  # never echoed: it may be a pasted URL
                raise ConfigError(
                    "alert_webhook: tras «perfil:» va el nombre de un perfil de credenciales "
                    "(letras, dígitos, - y _), no una URL"
                )
            url = secrets.load_profile(name, required=(URL_FIELD,), environ=environ).require(
                URL_FIELD
            )
            _check_url(url.reveal(), name)
        argv: tuple[str, ...] = ()
        if command:
            try:
                argv = tuple(shlex.split(command))
            except ValueError as e:
                raise ConfigError(f"alert_command: orden mal formada: {e}") from None
        return cls(url, argv, timeout_s)

    def __bool__(self) -> bool:
        return bool(self.webhook or self.command)

    @property
    def webhook_label(self) -> str | None:
        return url_label(self.webhook.reveal()) if self.webhook else None

    def send(self, event: Mapping[str, Any]) -> list[str]:
        """Deliver one event to every hook; return the failures, in Spanish."""
        body = json_line(event)
        errors: list[str] = []
        if self.webhook:
            error = self._post(self.webhook.reveal(), body)
            if error:
                errors.append(error)
        if self.command:
            errors += self._run(body)
        return errors

    def _post(self, url: str, body: bytes) -> str | None:
        label = url_label(url)
        request = urllib.request.Request(  # noqa: S310 - scheme checked when loaded
            url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as e:
            return f"webhook {label}: respondió {e.code}"
        except (urllib.error.URLError, OSError) as e:
            cause = e.reason if isinstance(e, urllib.error.URLError) else e
            if not isinstance(cause, OSError):  # a text of urllib's, which may quote the URL
                return f"webhook {label}: no se pudo enviar ({type(e).__name__})"
            return f"webhook {label}: {_redact(os_reason(cause), url)}"
        except (ValueError, http.client.InvalidURL) as e:
            # their text quotes the path and query (a repr, so no replace() could find them)
            return f"webhook {label}: la URL no es válida ({type(e).__name__})"
        except http.client.HTTPException as e:
            return f"webhook {label}: respuesta HTTP mal formada ({type(e).__name__})"
        return None

    def _run(self, body: bytes) -> list[str]:
        name = self.command[0]
        try:
            done = subprocess.run(
                list(self.command), input=body, capture_output=True, timeout=self.timeout_s,
                check=False, env=secrets.child_environment(),
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return [f"orden {name}: no terminó en {self.timeout_s:g} s; se detuvo"]
        except OSError as e:
            return [f"orden {name}: {os_reason(e)}"]
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-200:]
            return [f"orden {name}: salió con {done.returncode} {tail}".rstrip()]
        return []


@dataclass(frozen=True, slots=True)
class NotifierReport:
    delivered: int
    failed: int
    dropped: int
    undelivered: int  # still queued when the notifier was closed


class Notifier:
    """Runs the hooks for each submitted event on a worker thread, through a bounded queue."""

    def __init__(
        self,
        hooks: Hooks,
        *,
        max_pending: int = MAX_PENDING,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.hooks = hooks
        self.max_pending = max_pending
        self.on_error = on_error
        self.delivered = self.failed = self.dropped = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_pending)
        self._busy = 0
        self._thread = threading.Thread(target=self._work, name="pukara-avisos", daemon=True)
        self._thread.start()

    def submit(self, event: Mapping[str, Any]) -> bool:
        """Queue one event for the hooks without waiting; False when the queue was full."""
        try:
            self._queue.put_nowait(dict(event))
        except queue.Full:
            self.dropped += 1
            self._report(
                f"cola de avisos llena ({self.max_pending} pendientes): se descartó el aviso "
                f"«{event.get('message', '')}» ({self.dropped} descartados en total)"
            )
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize() + self._busy

    def close(self, timeout_s: float | None = None) -> NotifierReport:
        """Deliver what is queued, for at most ``timeout_s``, then stop."""
        wait = timeout_s if timeout_s is not None else 2 * self.hooks.timeout_s
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=wait)
        self._thread.join(wait)
        undelivered = sum(1 for e in list(self._queue.queue) if e is not None) + self._busy
        return NotifierReport(self.delivered, self.failed, self.dropped, undelivered)

    def _report(self, text: str) -> None:
        if self.on_error:
            self.on_error(text)

    def _work(self) -> None:
        while (event := self._queue.get()) is not None:
            self._busy = 1
            try:
                errors = self.hooks.send(event)
            except Exception as e:  # a hook must never stop the worker
                errors = [f"aviso: error inesperado ({type(e).__name__})"]
            self._busy = 0
            if errors:
                self.failed += 1
            else:
                self.delivered += 1
            for error in errors:
                self._report(error)
