"""The one wrapper around ansible-runner.

- Playbooks come from the installed ``playbooks`` package, inventories are passed as data.
- Secrets never touch the private_data_dir: SSH keys go through a per-run ``ssh-agent`` (only
  its socket path is in the environment) or are named per host by their path
  (``ansible_ssh_private_key_file``, never copied); without ``ssh_keys`` the caller's own agent
  is not passed on, so no host is offered a key it was not given. ``env/`` files are
  suppressed, and an inventory that carries a password-like variable is refused. Other
  secrets may be given as ``secret_env``; ansible-runner records the child environment in
  ``artifacts/<id>/command``, so pukara redacts that file as soon as the first event arrives
  and again when the run ends.
- Every runner event is stored as an ECS event (``ansible.evento``) with the job id, and the
  artifacts are kept under the data directory, rotated to ``ansible_artifacts_keep``.
- Nothing outlives the run: on Ctrl-C, SIGTERM or the run's timeout every process of the run
  gets SIGTERM, then SIGKILL after a grace period, and the SSH masters kept open between tasks
  (ControlPersist) are ended when the run ends, however it ends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pukara import processes
from pukara.config import Settings
from pukara.errors import AnsibleError, ConfigError, Interrupted, SecretsError
from pukara.events import make_event
from pukara.files import make_private_dirs
from pukara.secrets import Secret, child_environment
from pukara.store import Store

DATASET = "ansible.evento"
_SECRET_VAR = re.compile(r"pass|secret|token|community|priv|auth_key|vault", re.IGNORECASE)
_SECRET_ENV = re.compile(r"^PUKARA_CRED_|PASS|SECRET|TOKEN|COMMUNITY|VAULT", re.IGNORECASE)
_PLAYBOOK = re.compile(r"^[a-z0-9_-]+/[a-z0-9_-]+\.ya?ml$")
_EVENT_BATCH = 100
_GRACE_S = 5.0  # from SIGTERM to SIGKILL for the run's processes
_POLL_S = 0.25  # how often ansible-runner's loop asks whether to stop


@dataclass(frozen=True, slots=True)
class PlaybookRun:
    ident: str
    playbook: str
    status: str  # successful, failed, timeout, canceled
    rc: int
    stats: Mapping[str, Any] = field(default_factory=dict)
    artifact_dir: Path | None = None
    events: int = 0

    @property
    def failed_hosts(self) -> list[str]:
        bad: set[str] = set()
        for key in ("failures", "dark"):
            bad.update(self.stats.get(key, {}) or {})
        return sorted(bad)


def playbook_file(playbook: str) -> Path:
    """Absolute path of a shipped playbook, named ``area/name.yml``."""
    if not _PLAYBOOK.match(playbook):
        raise AnsibleError(f"nombre de playbook inválido: {playbook!r} (se espera area/nombre.yml)")
    path = Path(str(resources.files("playbooks"))) / playbook
    if not path.is_file():
        raise AnsibleError(f"no existe el playbook {playbook} en el paquete")
    return path


def _check_inventory(inventory: Mapping[str, Any], where: str = "") -> None:
    """Refuse any inventory variable that looks like a secret, at any depth."""
    for key, value in inventory.items():
        path = f"{where}.{key}" if where else str(key)
        if isinstance(value, Mapping):
            _check_inventory(value, path)
        elif _SECRET_VAR.search(str(key)) and key not in {"ansible_ssh_private_key_file"}:
            raise SecretsError(
                f"el inventario lleva una variable con aspecto de secreto ({path}); "
                "los secretos van por ssh-agent o por el entorno, nunca en el inventario"
            )


class _Agent:
    """A private ssh-agent holding the run's keys; gone when the run ends."""

    def __init__(self, keys: Sequence[Path], workdir: Path) -> None:
        self.sock = workdir / "agent.sock"
        self._proc = subprocess.Popen(
            ["ssh-agent", "-D", "-a", str(self.sock)], env=child_environment(),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C is pukara's to handle, not the agent's
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while not self.sock.exists():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise AnsibleError("no se pudo iniciar ssh-agent")
            time.sleep(0.01)
        env = child_environment({"SSH_AUTH_SOCK": str(self.sock)})
        for key in keys:
            done = subprocess.run(
                ["ssh-add", "-q", str(key)], env=env, capture_output=True, check=False,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            if done.returncode != 0:
                self.close()
                raise AnsibleError(f"ssh-add no aceptó la llave {key}")

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=5)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in _SIGNALS}


def _restore_signal_handlers(saved: Mapping[int, Any]) -> None:
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class _Stopper:
    """Ends a run's processes itself, where ansible-runner would SIGKILL one process group.

    ansible-playbook runs each fork in a session of its own, with its ssh children there, so
    a signal to ansible-playbook's group alone leaves the forks and their ssh running. Here
    Ctrl-C and SIGTERM only set a flag; ansible-runner's loop polls :meth:`poll` every
    ``_POLL_S``, which sends SIGTERM to every process of the run (ansible-playbook passes it
    on to its forks) and SIGKILL to those still there ``_GRACE_S`` later.
    """

    def __init__(self, marker: str, timeout_s: int | None) -> None:
        self.marker = marker  # in ansible-playbook's command line: the run's own folder
        self.deadline = time.monotonic() + timeout_s if timeout_s else None
        self.interrupted = False
        self.timed_out = False
        self.abandoned = False  # ansible-runner's loop ended by an exception
        self.kill_at: float | None = None
        self.seen: dict[tuple[int, int], processes.Proc] = {}

    def request(self, signum: int, frame: object) -> None:
        self.interrupted = True

    def _tree(self) -> list[processes.Proc]:
        procs = processes.snapshot()
        roots = [p for p in procs.values() if p.ppid == os.getpid() and self.marker in p.cmdline]
        return [x for r in roots for x in (r, *processes.descendants(r.pid, procs))]

    def poll(self) -> bool:
        """ansible-runner's cancel callback; always False, the stopping is done here."""
        if not self.interrupted and self.deadline and time.monotonic() > self.deadline:
            self.timed_out = True
        if not (self.interrupted or self.timed_out or self.abandoned):
            return False
        if self.kill_at is None:
            self.kill_at = time.monotonic() + _GRACE_S
        new = [p for p in self._tree() if (p.pid, p.started) not in self.seen]
        self.seen.update({(p.pid, p.started): p for p in new})
        processes.terminate(new)
        if time.monotonic() >= self.kill_at:
            processes.end(self.seen.values(), grace_s=0)
        return False

    def finish(self, *, abandoned: bool) -> None:
        """After the run: whatever of it was told to stop and still runs gets its grace, then
        SIGKILL (forks whose parent is gone are no longer below pukara, but were seen).

        ``abandoned``: ansible-runner's loop ended by an exception; its processes are stopped.
        """
        self.abandoned = self.abandoned or abandoned
        self.poll()
        if self.kill_at is not None:
            processes.end(self.seen.values(), grace_s=max(0.0, self.kill_at - time.monotonic()))


class _Events:
    """ansible-runner's event handler: each event to ``on_event`` and, in batches, the store.

    An error here (the store gone, a caller's callback failing) must not unwind through
    ansible-runner, which would leave its files open and the playbook's processes running:
    it is kept, the run is stopped, and it is raised once the run has ended.
    """

    def __init__(
        self, ident: str, playbook: str, store: Store | None,
        on_event: Callable[[Mapping[str, Any]], None] | None, stopper: _Stopper,
        redact: Callable[[], None],
    ) -> None:  # fmt: skip
        self.ident, self.playbook, self.store, self.on_event = ident, playbook, store, on_event
        self.stopper, self.redact = stopper, redact
        self.batch: list[dict[str, Any]] = []
        self.count = 0
        self.error: Exception | None = None

    def __call__(self, raw: Mapping[str, Any]) -> bool:
        if self.error is None:
            try:
                self._take(raw)
            except Exception as e:  # kept, raised after the run; see the class
                self.error = e
                self.stopper.abandoned = True
        return True  # keep ansible-runner's own job_events files as evidence

    def _take(self, raw: Mapping[str, Any]) -> None:
        if self.count == 0:
            self.redact()
        if self.on_event is not None:
            self.on_event(raw)
        self.batch.append(_ecs(self.ident, self.playbook, raw))
        self.count += 1
        if self.store is not None and len(self.batch) >= _EVENT_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.store is not None and self.batch:
            self.store.write_events(self.batch)
            self.batch.clear()


def _end_ssh_masters(control_dir: Path) -> None:
    """ssh's ControlPersist masters of this run detach from it (setsid): end them by name."""
    prefix = f"ssh: {control_dir}/"
    masters = [p for p in processes.snapshot().values() if p.cmdline.startswith(prefix)]
    processes.end(masters, grace_s=2.0)


def _redact_command_file(artifact_dir: Path, secret_names: set[str]) -> None:
    path = artifact_dir / "command"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    env = data.get("env") or {}
    for name in list(env):
        if name in secret_names or _SECRET_ENV.search(name):
            env[name] = "********"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def _ecs(ident: str, playbook: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    data = raw.get("event_data") or {}
    name = str(raw.get("event", ""))
    outcome = None
    if name.endswith(("_ok", "_skipped")):
        outcome = "success"
    elif name.endswith(("_failed", "_unreachable")):
        outcome = "failure"
    return make_event(
        DATASET,
        outcome=outcome,
        fields={
            "event.action": name,
            "event.sequence": raw.get("counter"),
            "host.name": data.get("host"),
            "ansible.job_id": ident,
            "ansible.playbook": playbook,
            "ansible.play": data.get("play"),
            "ansible.task": data.get("task"),
            "ansible.changed": (data.get("res") or {}).get("changed")
            if isinstance(data.get("res"), dict)
            else None,
        },
    )


MAX_EVENT_RES = 64 * 1024 * 1024


def _envvars(
    secrets: Mapping[str, Secret], agent: _Agent | None, control_dir: Path
) -> dict[str, str]:
    envvars = {k: v.reveal() for k, v in secrets.items()}
    envvars["ANSIBLE_HOST_KEY_CHECKING"] = "True"
    # ansible-runner's callback drops a task result larger than MAX_EVENT_RES (700,000 chars
    # by default) and reports it as {}: a triage command's output (last -F -w over a busy
    # wtmp) would vanish; results are evidence, so the bound is raised to 64 MiB
    envvars["MAX_EVENT_RES"] = str(MAX_EVENT_RES)
    envvars["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)
    # ansible-playbook lives beside the running interpreter (the venv), maybe not on PATH
    envvars["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )
    if agent:
        envvars["SSH_AUTH_SOCK"] = str(agent.sock)
    return envvars


def run_playbook(
    playbook: str,
    inventory: Mapping[str, Any],
    *,
    settings: Settings,
    store: Store | None = None,
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    ssh_keys: Sequence[Path] = (),
    secret_env: Mapping[str, Secret] | None = None,
    forks: int | None = None,
    timeout_s: int | None = None,
    on_event: Callable[[Mapping[str, Any]], None] | None = None,
    check: bool = False,
) -> PlaybookRun:
    """Run a shipped playbook over an inventory given as data (Ansible's JSON inventory).

    Returns the run's status, rc and per-host stats; a playbook that ran and failed is a
    result, not an exception. ``AnsibleError`` means it could not be started. ``check``:
    Ansible's check mode (``--check``), which reports what would change and changes nothing.
    """
    if settings.ansible_artifacts_keep < 1:
        # ansible-runner reads 0 as "never rotate": the artifacts would grow without bound
        raise ConfigError(
            "la clave «ansible_artifacts_keep» debe ser al menos 1 (ejecuciones de Ansible "
            f"cuyos artefactos se conservan), se recibió {settings.ansible_artifacts_keep}"
        )
    path = playbook_file(playbook)
    _check_inventory(inventory)
    if extravars:
        _check_inventory(extravars)
    ident = uuid.uuid4().hex
    base = settings.data_dir / "ansible"
    artifacts = base / "artifacts"
    make_private_dirs(artifacts)
    secrets = dict(secret_env or {})
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    (workdir / "private").mkdir(mode=0o700)
    # the run's own SSH masters, in a short path (a socket path has at most 107 bytes)
    control_dir = Path(tempfile.mkdtemp(prefix="pukara-ssh-"))
    agent = _Agent(ssh_keys, workdir) if ssh_keys else None
    envvars = _envvars(secrets, agent, control_dir)
    # Ctrl-C and SIGTERM during the run go to the stopper (ansible-runner installs no handler
    # of its own when given a cancel callback); pukara's come back afterwards.
    stopper = _Stopper(str(workdir), timeout_s)
    events = _Events(ident, playbook, store, on_event, stopper,
                     lambda: _redact_command_file(artifacts / ident, set(secrets)))  # fmt: skip
    finished = False
    saved = _signal_handlers()
    try:
        from ansible_runner.interface import init_runner

        runner = init_runner(
            private_data_dir=str(workdir / "private"),
            artifact_dir=str(artifacts),
            ident=ident,
            project_dir=str(path.parent),
            playbook=path.name,
            inventory=dict(inventory),
            extravars=dict(extravars or {}),
            limit=limit,
            envvars=envvars,
            forks=forks or settings.concurrency,
            cmdline="--check" if check else None,
            event_handler=events,
            cancel_callback=stopper.poll,
            rotate_artifacts=settings.ansible_artifacts_keep,
            suppress_env_files=True,
            quiet=True,
        )
        # ansible-runner seeds the child's environment with this process's whole environment;
        # the child (and the artifacts' `command` file) get it without pukara's secrets
        runner.config.env = child_environment(envvars, environ=runner.config.env)
        if agent is None:  # the user's own agent would offer its keys to every host
            runner.config.env.pop("SSH_AUTH_SOCK", None)
        runner.config.pexpect_timeout = _POLL_S
        for sig in saved:
            signal.signal(sig, stopper.request)
        runner.run()
        finished = True
    except Exception as e:
        raise AnsibleError(f"ansible-runner no pudo ejecutar {playbook}: {e}") from e
    finally:
        stopper.finish(abandoned=not finished)
        _end_ssh_masters(control_dir)
        _restore_signal_handlers(saved)
        shutil.rmtree(control_dir, ignore_errors=True)
        if agent:
            agent.close()
        _redact_command_file(artifacts / ident, set(secrets))
        events.flush()
        shutil.rmtree(workdir, ignore_errors=True)
    if events.error is not None:
        raise AnsibleError(
            f"la ejecución de {playbook} se detuvo: {events.error}"
        ) from events.error
    if stopper.interrupted or runner.status == "canceled":
        raise Interrupted(f"playbook {playbook} interrumpido; {events.count} eventos guardados")
    return PlaybookRun(
        ident=ident,
        playbook=playbook,
        status="timeout" if stopper.timed_out else str(runner.status),
        rc=int(runner.rc if runner.rc is not None else -1),
        stats=dict(runner.stats or {}),
        artifact_dir=artifacts / ident,
        events=events.count,
    )
