"""The backup repository: a bare git repository written with git's plumbing commands.

Why the ``git`` command and not dulwich or pygit2: git is already a system package of the
project (Debian's, the one people inspect the repository with), so its on-disk format, its
locking and ``git fsck`` are git's own; dulwich or pygit2 would be a new dependency that writes
the same format by re-implementation. Porcelain (``git add``/``git commit``) is avoided: it
needs a work tree, runs hooks and reads the user's configuration. A commit is:

1. under an exclusive lock (``fcntl``) on ``<repo>/pukara.lock``, one writer at a time;
2. the blob id of each file is computed here (``sha1("blob <len>\\0" + data)``, git's object
   format) and compared with HEAD's tree (``git ls-tree -r``): nothing differs -> no commit;
3. the changed files are written as objects (``git hash-object -w --stdin-paths`` over files
   in a private 0700 temporary folder inside the repository), a private index
   (``GIT_INDEX_FILE``) is filled from HEAD (``read-tree``) and the changes
   (``update-index --index-info``), ``write-tree`` and ``commit-tree`` make tree and commit;
4. last, ``git update-ref refs/heads/main NEW OLD``: git moves the ref with a lock file and a
   rename, and only if it still points at OLD.

Interrupted anywhere before step 4 (Ctrl-C, SIGKILL), the repository holds at most some
unreferenced objects (``git fsck`` reports them as dangling, not as errors) and HEAD is the
previous commit. Before ``update-ref`` the writer notes its PID in ``pukara.lock``; a
``main.lock`` is removed by the next writer only when it is stale: that note names a process
that no longer runs (a writer killed inside ``update-ref``), or the lock is older than
:data:`STALE_LOCK_S`. Any other ``main.lock`` is a person's git at work (``update-ref``,
``gc``): ``update-ref`` waits for it (``core.filesRefLockTimeout``) and never deletes it. Hooks
never run (``core.hooksPath=/dev/null``). Git runs with :func:`pukara.secrets.child_environment`, without
the user's or the system's git configuration, and receives content only on stdin or in files,
never on its command line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from pukara.errors import PukaraError, os_reason
from pukara.files import make_private_dirs
from pukara.secrets import child_environment

BRANCH = "refs/heads/main"
ZERO = "0" * 40
FILE_MODE = "100644"
LOCK_NAME = "pukara.lock"
GIT_TIMEOUT_S = 120.0
STALE_LOCK_S = 600.0  # git holds a ref lock for milliseconds: one this old is abandoned
REF_LOCK_WAIT_MS = 5000  # how long update-ref waits for someone else's ref lock
_UPDATING = "update-ref"


class RepoError(PukaraError):
    """The backup repository cannot be read or written."""


@dataclass(frozen=True, slots=True)
class Revision:
    commit: str
    author: str
    when: datetime
    message: str


def blob_id(data: bytes) -> str:
    """The id git gives a blob with this content (SHA-1 object format)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _check_path(path: str) -> None:
    parts = PurePosixPath(path).parts
    if (
        not path
        or path.startswith("/")
        or any(p in ("", ".", "..", ".git") for p in parts)
        or any(c in path for c in "\n\t\0\\")
    ):
        raise RepoError(f"ruta inválida en el repositorio de respaldos: {path!r}")


class ConfigRepo:
    """Configurations by path (``site/device.cfg``) in a bare git repository."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- running git -------------------------------------------------------------------------
    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = child_environment(
            {
                "GIT_DIR": str(self.path),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_TERMINAL_PROMPT": "0",
                "LC_ALL": "C",
                # no hook ever runs (reference-transaction included); wait for others' ref locks
                "GIT_CONFIG_COUNT": "2",
                "GIT_CONFIG_KEY_0": "core.hooksPath",
                "GIT_CONFIG_VALUE_0": os.devnull,
                "GIT_CONFIG_KEY_1": "core.filesRefLockTimeout",
                "GIT_CONFIG_VALUE_1": str(REF_LOCK_WAIT_MS),
            }
        )
        for key in ("GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE"):
            env.pop(key, None)
        env.update(extra or {})
        return env

    def _git(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok: Sequence[int] = (0,),
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(
                ["git", *args], input=stdin, capture_output=True, env=self._env(env),
                timeout=GIT_TIMEOUT_S, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise RepoError("no se encuentra el programa git (instale el paquete git)") from None
        except subprocess.TimeoutExpired:
            raise RepoError(f"git {args[0]} no terminó en {GIT_TIMEOUT_S:g} s") from None
        if done.returncode not in ok:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RepoError(
                f"git {args[0]} falló en {self.path}: {reason[-1] if reason else done.returncode}"
            )
        return done

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def init(self) -> None:
        """Create the repository (0700) if it does not exist yet."""
        if self.exists():
            return
        try:
            make_private_dirs(self.path)
        except OSError as e:
            raise RepoError(f"no se puede crear {self.path}: {os_reason(e)}") from None
        self._git("init", "--bare", "--quiet", "--initial-branch=main", str(self.path))
        self._git("config", "core.logAllRefUpdates", "true")
        self._git("config", "gc.auto", "0")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        try:
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise RepoError(f"no se puede abrir {self.path / LOCK_NAME}: {os_reason(e)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._drop_stale_ref_locks(fd)
            yield fd
        finally:
            os.close(fd)

    def _drop_stale_ref_locks(self, fd: int) -> None:
        """Remove ref locks a dead writer left; leave a live git's alone (see the module)."""
        note = os.pread(fd, 64, 0).decode("ascii", "replace").split()
        dead = (
            len(note) == 2
            and note[1] == _UPDATING
            and (note[0] == str(os.getpid()) or not _alive(note[0]))
        )
        for lock in (self.path / f"{BRANCH}.lock", self.path / "HEAD.lock"):
            try:
                age = datetime.now(UTC).timestamp() - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if dead or age > STALE_LOCK_S:
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
        if dead:
            os.ftruncate(fd, 0)

    @contextlib.contextmanager
    def _noted(self, fd: int) -> Iterator[None]:
        """While ``update-ref`` runs, ``pukara.lock`` names this process."""
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_UPDATING}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)

    # -- reading -----------------------------------------------------------------------------
    def head(self) -> str | None:
        if not self.exists():
            return None
        done = self._git("rev-parse", "--verify", "--quiet", f"{BRANCH}^{{commit}}", ok=(0, 1))
        return done.stdout.decode().strip() or None

    def _tree(self, rev: str) -> dict[str, str]:
        """path -> blob id of every file at ``rev``."""
        out = self._git("ls-tree", "-r", "-z", "--full-tree", rev).stdout
        entries: dict[str, str] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            kind_sha = meta.split()
            if len(kind_sha) == 3 and kind_sha[1] == b"blob":
                entries[name.decode("utf-8", "surrogateescape")] = kind_sha[2].decode()
        return entries

    def _blobs(self, ids: Sequence[str]) -> list[bytes]:
        if not ids:
            return []
        out = self._git("cat-file", "--batch", stdin="".join(f"{i}\n" for i in ids).encode())
        data, blobs, pos = out.stdout, [], 0
        for _ in ids:
            end = data.index(b"\n", pos)
            size = int(data[pos:end].split()[2])
            blobs.append(data[end + 1 : end + 1 + size])
            pos = end + 2 + size
        return blobs

    def latest(self) -> dict[str, bytes]:
        """path -> content of every file at HEAD (empty before the first commit)."""
        head = self.head()
        if head is None:
            return {}
        tree = self._tree(head)
        paths = sorted(tree)
        return dict(zip(paths, self._blobs([tree[p] for p in paths]), strict=True))

    def read(self, path: str, rev: str | None = None) -> bytes | None:
        """A file's content at ``rev`` (HEAD by default), None if it is not there."""
        base = rev or self.head()
        if base is None:
            return None
        done = self._git("cat-file", "blob", f"{base}:{path}", ok=(0, 128))
        return done.stdout if done.returncode == 0 else None

    def resolve(self, rev: str) -> str | None:
        """The commit id a revision names (an id prefix, ``HEAD~2``...), None if none."""
        if not self.exists() or rev.startswith("-"):
            return None
        done = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok=(0, 1, 128))
        return done.stdout.decode().strip() or None

    def log(self, path: str | None = None, *, before: datetime | None = None) -> list[Revision]:
        """Commits (newest first), only those touching ``path`` when given."""
        if self.head() is None:
            return []
        args = ["log", "-z", "--format=%H%x1f%an%x1f%aI%x1f%B", BRANCH]
        if before is not None:
            args.append(f"--before={int(before.timestamp())}")
        if path is not None:
            args += ["--", path]
        out = self._git(*args).stdout.decode("utf-8", "replace")
        revisions = []
        for record in out.split("\0"):
            if not record.strip():
                continue
            commit, author, when, message = record.strip("\n").split("\x1f", 3)
            revisions.append(
                Revision(commit, author, datetime.fromisoformat(when), message.strip())
            )
        return revisions

    def changed_paths(self, files: Mapping[str, bytes]) -> list[str]:
        """The paths of ``files`` whose content differs from HEAD's (new ones included)."""
        head = self.head()
        current = self._tree(head) if head else {}
        return sorted(p for p, d in files.items() if current.get(p) != blob_id(d))

    # -- writing -----------------------------------------------------------------------------
    def commit(
        self, files: Mapping[str, bytes], message: str, *, author: str, when: datetime
    ) -> str | None:
        """Store ``files`` (others stay as they are) as one commit; None if nothing changed."""
        for path in files:
            _check_path(path)
        self.init()
        with self._locked() as fd:
            old = self.head()
            current = self._tree(old) if old else {}
            changed = {p: d for p, d in sorted(files.items()) if current.get(p) != blob_id(d)}
            if not changed:
                return None
            new = self._write_commit(old, changed, message, author=author, when=when)
            with self._noted(fd):
                self._git("update-ref", "-m", "pukara: respaldo", BRANCH, new, old or ZERO)
            return new

    def _write_commit(
        self,
        old: str | None,
        changed: Mapping[str, bytes],
        message: str,
        *,
        author: str,
        when: datetime,
    ) -> str:
        scratch = Path(tempfile.mkdtemp(prefix="pukara-", dir=self.path))
        try:
            names = []
            for i, data in enumerate(changed.values()):
                name = scratch / f"{i}.cfg"
                name.write_bytes(data)
                names.append(str(name))
            ids = self._git(
                "hash-object", "-w", "--no-filters", "--stdin-paths",
                stdin="".join(f"{n}\n" for n in names).encode(),
            ).stdout.decode().split()  # fmt: skip
            index = {"GIT_INDEX_FILE": str(scratch / "index")}
            if old:
                self._git("read-tree", old, env=index)
            entries = "".join(
                f"{FILE_MODE} {blob} 0\t{path}\n" for path, blob in zip(changed, ids, strict=True)
            )
            self._git("update-index", "--add", "--index-info", stdin=entries.encode(), env=index)
            tree = self._git("write-tree", env=index).stdout.decode().strip()
            stamp = f"{int(when.timestamp())} +0000"
            ident = {
                "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "", "GIT_AUTHOR_DATE": stamp,
                "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "",
                "GIT_COMMITTER_DATE": stamp,
            }  # fmt: skip
            parents = ["-p", old] if old else []
            text = message if message.endswith("\n") else message + "\n"
            return (
                self._git("commit-tree", "--no-gpg-sign", tree, *parents, stdin=text.encode(),
                          env=ident).stdout.decode().strip()
            )  # fmt: skip
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: str) -> bool:
    if not pid.isdecimal():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def default_path(data_dir: Path) -> Path:
    return Path(data_dir) / "red" / "respaldos"


def now() -> datetime:
    return datetime.now(UTC)
