"""A loopback HTTP server that answers with recorded responses ("grabado"), for the engine
adapters' tests where no live engine of that kind runs here."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Replay:
    """Answers each (method, path) with its recorded response, in order for a sequence; keeps
    every request it got, and what it had no answer for."""

    def __init__(self, exchanges: Sequence[Mapping[str, Any]]) -> None:
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        for x in exchanges:
            # a "sequence" is answered in order (the last one repeats); an item of it may
            # carry its own {"status": ..., "body": ...}
            items = x.get("sequence") or [x["body"]]
            self.answers[(x["method"], x["path"])] = [
                (i["status"], i["body"]) if isinstance(i, dict) and set(i) == {"status", "body"}
                else (x["status"], i)
                for i in items
            ]  # fmt: skip
        self.requests: list[dict[str, Any]] = []
        self.unknown: list[str] = []

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        queue = self.answers.get((method, path))
        if not queue:
            self.unknown.append(f"{method} {path}")
            return 500, {"error": f"sin respuesta grabada para {method} {path}"}
        return queue.pop(0) if len(queue) > 1 else queue[0]


def serve(state: Replay, headers: Mapping[str, str]) -> Iterator[tuple[Replay, str]]:
    """Run a server for ``state`` until the generator is closed; yields it and its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(split.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            state.requests.append({
                "method": self.command, "path": path,
                "query": urllib.parse.parse_qs(split.query),
                "accept": self.headers.get("Accept"),
                "content_type": self.headers.get("Content-Type"),
                "auth": self.headers.get("Authorization"), "body": raw,
            })  # fmt: skip
            status, body = state.answer(self.command, path)
            out = json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
