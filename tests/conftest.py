"""Shared fixtures: settings and store in tmp_path, and the real lab for integration tests."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from lab import manage
from lab.sites import LabSite
from pukara.config import Settings, load_settings
from pukara.store import SQLiteStore
from tests.opensearch_cluster import OpenSearchCluster, runner_version, why_not

# A test run started in the background by a shell without job control inherits SIGINT
# ignored, and so would every pukara it starts (an ignored signal stays ignored across exec):
# the Ctrl-C tests need it delivered. A handled signal is reset to the default at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Sites of the test lab: indexes far from the demo lab's, so both can be up at once.
TEST_SITES = [
    LabSite(index=3001, code="t1", delay_ms=30.0),
    LabSite(index=3002, code="t2", delay_ms=120.0, jitter_ms=4.0),
    LabSite(index=3003, code="t3", delay_ms=40.0, loss_pct=20.0),
    LabSite(index=3004, code="t4", delay_ms=25.0, down=True),
]


@pytest.fixture(autouse=True)
def _signals_kept() -> Iterator[None]:
    """No test leaves Ctrl-C or SIGTERM handled otherwise for the tests after it (every
    process a later test starts would inherit an ignored signal)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's config, credentials or database."""
    for key in list(os.environ):
        if key.startswith("PUKARA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # made as pukara makes it on first use: a --base-datos in a missing folder is refused
    (tmp_path / "data").mkdir(mode=0o700)
    return load_settings({"data_dir": tmp_path / "data"}, environ={})


@pytest.fixture
def store(settings: Settings) -> Iterator[SQLiteStore]:
    s = SQLiteStore(settings.db)
    yield s
    s.close()


def lab_available() -> str | None:
    """Why the real lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "el laboratorio necesita root"
    for tool in ("/usr/sbin/snmpd", "/usr/sbin/sshd", "/usr/sbin/nft", "fping", "snmpget",
                 "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/bin/vtysh"):  # fmt: skip
        if not shutil.which(tool):
            return f"falta {tool}"
    return None


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test that cannot run here; in CI (``CI`` set) that is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(f"CI debe poder ejecutar esta prueba: {reason}")
    pytest.skip(reason)


ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def run_as_nobody(
    python_args: list[str], env: Mapping[str, str], *, setpriv: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``python_args`` as the nobody user, on this checkout.

    The checkout and its venv may sit in a directory only root can enter (a 0700 clone, as
    CI uses). So, in a private mount namespace, both are bind-mounted under a world-readable
    temporary directory and nobody runs the interpreter from there, with ``PYTHONPATH`` and
    the working directory pointing at the visible checkout. Nothing changes outside.
    """
    if os.geteuid() != 0 or not (shutil.which("setpriv") and shutil.which("unshare")):
        skip_or_fail("requiere root, setpriv y unshare")
    view = Path(tempfile.mkdtemp(prefix="pukara-vista-"))
    try:
        view.chmod(0o755)
        mounts = {ROOT: view / "src"}
        prefix = Path(sys.prefix)
        if not prefix.is_relative_to(ROOT):
            mounts[prefix] = view / "venv"
        for target in mounts.values():
            target.mkdir(mode=0o755)
        python = Path(sys.executable)
        for real, seen in mounts.items():
            if python.is_relative_to(real):
                python = seen / python.relative_to(real)
                break
        binds = " && ".join(
            f"mount --bind {shlex.quote(str(r))} {shlex.quote(str(v))}" for r, v in mounts.items()
        )
        script = f'{binds} && cd {shlex.quote(str(view / "src"))} && exec "$@"'
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                *setpriv, str(python), *python_args]  # fmt: skip
        full_env = {**env, "PYTHONPATH": str(view / "src")}
        return subprocess.run(argv, capture_output=True, text=True, env=full_env, check=False)
    finally:  # rmdir, never rmtree: should a bind mount ever be visible here, it stays whole
        for leftover in (*sorted(view.iterdir()), view):
            with contextlib.suppress(OSError):
                leftover.rmdir()


def running_lab(
    factory: pytest.TempPathFactory, sites: list[LabSite], prefix: str
) -> Iterator[manage.Lab]:
    """A real lab of ``sites`` for a fixture; skipped without root, a failure in CI."""
    reason = lab_available()
    if reason:
        skip_or_fail(reason)
    the_lab = manage.Lab(factory.mktemp(prefix) / "estado", prefix=prefix)
    manage.up(the_lab, sites)
    yield the_lab
    manage.down(the_lab)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, TEST_SITES, "pkt")


def site(code: str) -> LabSite:
    return next(s for s in TEST_SITES if s.code == code)


def write_lab_inventory(
    folder: Path, sites: list[LabSite], *, hq: str = "lima", loss_threshold: float = 5.0
) -> tuple[Path, Path]:
    """An inventory (sites and gateways, marked for monitoring) for lab sites, as an operator
    would import it."""
    folder.mkdir(parents=True, exist_ok=True)
    sedes = folder / "sedes.csv"
    rows = [f"{hq},Sede central,sede_central,PE,Lima,America/Lima,,,,no,,,99.9,"]
    for s in sites:
        parent = s.parent or hq
        vpn = f"sí,kbcs0,{s.lan}" if s.tunnel else "no,,"
        rows.append(
            f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,America/Argentina/Buenos_Aires,"
            f"{parent},Proveedor,10,{vpn},99.0,{loss_threshold}"
        )
    sedes.write_text(
        "code,name,kind,country,city,timezone,parent,wan_provider,wan_bandwidth_mbps,vpn_kit,"
        "vpn_interface,vpn_probe,availability_target,loss_threshold_pct\n" + "\n".join(rows) + "\n"
    )
    activos = folder / "activos.csv"
    activos.write_text(
        "name,kind,site,mgmt_ipv4,mgmt_ipv6,credential_profile,tags,status\n"
        + "\n".join(
            f"{s.hostname},router,{s.code},{s.v4},{s.v6},lab,wan|monitoreo,activo" for s in sites
        )
        + "\n"
    )
    return sedes, activos


@pytest.fixture(scope="session")
def opensearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSearchCluster]:
    """A real 3-node OpenSearch cluster on loopback for the whole session; skipped where its
    jars or Java are missing, a failure in CI."""
    reason = why_not(runner_version())
    if reason:
        skip_or_fail(reason)
    cluster = OpenSearchCluster(tmp_path_factory.mktemp("opensearch"))
    cluster.start()
    yield cluster
    cluster.stop()
