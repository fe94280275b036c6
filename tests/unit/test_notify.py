"""Alert hooks against a real local HTTP server and real child processes."""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from monitoreo.notify import Hooks, Notifier
from pukara.errors import ConfigError, SecretsError

TOKEN = "T0KEN-s3cr3t"


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    status: ClassVar[int] = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((self.path, json.loads(body)))
        self.send_response(_Receiver.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.received, _Receiver.status = [], 204
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def _hooks(url: str, command: str | None = None, **kw: Any) -> Hooks:
    return Hooks.from_settings("perfil:avisos", command, environ={"PUKARA_CRED_AVISOS_URL": url},
                               **kw)  # fmt: skip


def test_the_webhook_url_comes_from_a_credential_profile(receiver: int) -> None:
    hooks = _hooks(f"http://127.0.0.1:{receiver}/hooks/{TOKEN}?k={TOKEN}")
    assert TOKEN not in repr(hooks) and hooks.webhook_label == f"http://127.0.0.1:{receiver}"
    assert hooks.send({"message": "m1 caída"}) == []
    assert _Receiver.received == [(f"/hooks/{TOKEN}?k={TOKEN}", {"message": "m1 caída"})]


def test_a_plain_url_in_the_settings_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as e:
        Hooks.from_settings(f"https://hooks.example.test/services/{TOKEN}", None)
    assert TOKEN not in e.value.message and "perfil:NOMBRE" in e.value.message
    with pytest.raises(SecretsError) as missing:
        Hooks.from_settings("perfil:avisos", None, environ={})
    assert "PUKARA_CRED_AVISOS_URL" in missing.value.message
    with pytest.raises(ConfigError) as bad:
        Hooks.from_settings("perfil:x", None, environ={"PUKARA_CRED_X_URL": f"ftp://h/{TOKEN}"})
    assert TOKEN not in bad.value.message


def test_a_failing_webhook_error_shows_only_scheme_and_host(receiver: int) -> None:
    refused = _hooks(f"http://127.0.0.1:9/hooks/{TOKEN}?k={TOKEN}")  # discard port: refused
    errors = refused.send({"message": "x"})
    assert len(errors) == 1 and errors[0].startswith("webhook http://127.0.0.1:9:")
    # in Spanish, with the system's own words after it
    assert "conexión rechazada (nada escucha en ese puerto) (Connection refused)" in errors[0]
    assert TOKEN not in errors[0] and "/hooks" not in errors[0]
    _Receiver.status = 500
    failing = _hooks(f"http://127.0.0.1:{receiver}/hooks/{TOKEN}")
    errors = failing.send({"message": "x"})
    assert errors == [f"webhook http://127.0.0.1:{receiver}: respondió 500"]


@pytest.mark.parametrize("odd", [" ", "\x01", "\x7f", "\x00"])
def test_a_webhook_url_with_odd_characters_never_shows_its_path(receiver: int, odd: str) -> None:
    # http.client refuses it quoting repr(path + query): the escaped token must not come out
    url = f"http://127.0.0.1:{receiver}/hooks/{TOKEN}{odd}x?k={TOKEN}{odd}"
    errors = _hooks(url).send({"message": "x"})
    assert len(errors) == 1 and errors[0].startswith(f"webhook http://127.0.0.1:{receiver}: ")
    assert "T0KEN" not in errors[0] and "hooks" not in errors[0] and "k=" not in errors[0]
    assert "la URL no es válida" in errors[0] and _Receiver.received == []


def test_a_webhook_url_whose_port_is_not_a_number_is_an_error_not_a_crash() -> None:
    hooks = _hooks(f"http://127.0.0.1:x{TOKEN}/hooks/{TOKEN}")
    assert hooks.webhook_label == "http://127.0.0.1"
    errors = hooks.send({"message": "x"})
    assert errors == ["webhook http://127.0.0.1: la URL no es válida (InvalidURL)"]


def test_the_alert_command_gets_no_secret_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUKARA_CRED_LAB_PASSWORD", "clave-snmp")
    monkeypatch.setenv("PUKARA_CRED_AVISOS_URL", f"http://127.0.0.1:9/{TOKEN}")
    monkeypatch.setenv("PUKARA_ALERT_WEBHOOK", "perfil:avisos")
    monkeypatch.setenv("PUKARA_CREDENTIALS", str(tmp_path / "cred.toml"))
    monkeypatch.setenv("PUKARA_VISIBLE", "sí")
    out = tmp_path / "env.json"
    script = tmp_path / "aviso.py"
    script.write_text(
        "import json, os, sys, pathlib\n"
        f"pathlib.Path({str(out)!r}).write_text(json.dumps("
        "{'env': dict(os.environ), 'stdin': json.load(sys.stdin)}))\n"
    )
    hooks = Hooks.from_settings(None, f"{sys.executable} {script}")
    event = {"message": "m1: arriba → caída; $(rm -rf /)"}
    assert hooks.send(event) == []
    got = json.loads(out.read_text())
    assert got["stdin"] == event
    assert not [k for k in got["env"] if k.startswith("PUKARA_CRED_")]
    assert "PUKARA_ALERT_WEBHOOK" not in got["env"] and "PUKARA_CREDENTIALS" not in got["env"]
    assert TOKEN not in json.dumps(got["env"]) and got["env"]["PUKARA_VISIBLE"] == "sí"


def test_a_failing_or_slow_command_is_reported(tmp_path: Path) -> None:
    assert Hooks.from_settings(None, f"{sys.executable} -c 'exit(4)'").send({}) == [
        f"orden {sys.executable}: salió con 4"
    ]
    slow = Hooks.from_settings(None, f"{sys.executable} -c 'import time; time.sleep(30)'",
                               timeout_s=0.3)  # fmt: skip
    started = time.monotonic()
    assert slow.send({}) == [f"orden {sys.executable}: no terminó en 0.3 s; se detuvo"]
    assert time.monotonic() - started < 5
    missing = Hooks.from_settings(None, str(tmp_path / "no-existe"))
    assert missing.send({}) == [
        f"orden {tmp_path / 'no-existe'}: no existe (No such file or directory)"]  # fmt: skip


def test_the_alert_command_gets_exactly_one_json_document_per_line(tmp_path: Path) -> None:
    log = tmp_path / "lineas.jsonl"
    script = tmp_path / "lineas.py"
    script.write_text(  # what a receiver reading line by line sees of each invocation
        "import json, pathlib, sys\n"
        "raw = sys.stdin.buffer.read()\n"
        "text = raw.decode()\n"
        "lines = text.splitlines()\n"
        "docs = [json.loads(x) for x in lines]\n"
        f"with pathlib.Path({str(log)!r}).open('a') as fh:\n"
        "    fh.write(json.dumps({'newlines': raw.count(b'\\n'), 'lines': len(lines),\n"
        "                         'ends': raw.endswith(b'\\n'), 'docs': docs}) + '\\n')\n"
    )
    events = [
        {"message": "m1: arriba → caída", "n": 1},
        {"message": "dos\nlíneas\r\ny\u2028separador\u2029párrafo\x85fin\x0b\x0c\x1c", "n": 2},
        {"message": "anidado", "monitoreo": {"state": {"current": "down"}}, "lista": [1, {"a": 2}]},
    ]
    notifier = Notifier(Hooks.from_settings(None, f"{sys.executable} {script}"))
    for e in events:
        assert notifier.submit(e)
    report = notifier.close()
    assert report.delivered == 3 and report.failed == 0
    got = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(g["newlines"], g["lines"], g["ends"]) for g in got] == [(1, 1, True)] * 3
    assert [g["docs"] for g in got] == [[e] for e in events]  # each value arrives as sent


def _gate_script(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A command that records each event, and waits for ``gate`` before the first returns."""
    log, gate, started = tmp_path / "log.jsonl", tmp_path / "gate", tmp_path / "started"
    script = tmp_path / "gated.py"
    script.write_text(
        "import json, pathlib, sys, time\n"
        f"log, gate, started = pathlib.Path({str(log)!r}), pathlib.Path({str(gate)!r}), "
        f"pathlib.Path({str(started)!r})\n"
        "started.touch()\n"
        "while not gate.exists():\n    time.sleep(0.02)\n"
        "with log.open('a') as fh:\n    fh.write(sys.stdin.read())\n"
    )
    return script, gate, started


def test_hooks_run_off_the_caller_from_a_bounded_queue(tmp_path: Path) -> None:
    script, gate, started = _gate_script(tmp_path)
    errors: list[str] = []
    notifier = Notifier(Hooks.from_settings(None, f"{sys.executable} {script}"), max_pending=2,
                        on_error=errors.append)  # fmt: skip
    t0 = time.monotonic()
    assert notifier.submit({"message": "a1"})
    deadline = time.monotonic() + 10
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists()  # the worker is inside the first hook, blocked
    assert notifier.submit({"message": "a2"}) and notifier.submit({"message": "a3"})
    assert not notifier.submit({"message": "a4"})  # the queue holds 2: dropped, and said
    assert time.monotonic() - t0 < 5  # submitting never waited on the hook
    assert notifier.dropped == 1 and len(errors) == 1 and "«a4»" in errors[0]
    assert notifier.pending() == 3
    gate.touch()
    report = notifier.close()
    assert report.delivered == 3 and report.dropped == 1 and report.undelivered == 0
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["message"] for x in lines] == ["a1", "a2", "a3"]


def test_close_reports_what_it_could_not_deliver(tmp_path: Path) -> None:
    script, _gate, started = _gate_script(tmp_path)  # the gate never opens
    notifier = Notifier(Hooks.from_settings(None, f"{sys.executable} {script}", timeout_s=30))
    for i in range(3):
        notifier.submit({"message": f"a{i}"})
    deadline = time.monotonic() + 10
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    report = notifier.close(timeout_s=0.3)
    assert report.undelivered == 3 and report.delivered == 0


def test_vigilar_refuses_a_plain_webhook_url_without_printing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    monkeypatch.setenv("PUKARA_ALERT_WEBHOOK", f"https://hooks.example.test/services/{TOKEN}")
    code = main(["--base-datos", str(tmp_path / "p.db"), "monitoreo", "vigilar", "--rondas", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "perfil:NOMBRE" in err and TOKEN not in err


def test_a_url_pasted_after_perfil_is_refused_without_echoing_it() -> None:
    from monitoreo.notify import Hooks
    from pukara.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        Hooks.from_settings("perfil:x?token=SECRETO", None, environ={})
    assert "SECRETO" not in str(info.value) and "token" not in str(info.value)
