"""red.repositorio: a bare git repository written with git's plumbing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from red.repositorio import ConfigRepo, RepoError, blob_id

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def test_blob_id_is_gits() -> None:
    done = subprocess.run(["git", "hash-object", "--stdin"], input=b"hola\n", capture_output=True)
    assert blob_id(b"hola\n") == done.stdout.decode().strip()


def test_no_change_no_commit_and_reading(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "respaldos")
    assert repo.latest() == {} and repo.log() == [] and repo.head() is None
    first = repo.commit({"a/x.cfg": b"uno\n", "b/y.cfg": b"dos\n"}, "R: x, y", author="ana",
                        when=WHEN)  # fmt: skip
    assert first is not None
    for _ in range(10):
        assert repo.commit({"a/x.cfg": b"uno\n", "b/y.cfg": b"dos\n"}, "R", author="a",
                           when=WHEN) is None  # fmt: skip
    second = repo.commit({"a/x.cfg": b"tres\n"}, "R: x", author="luis", when=WHEN)
    assert second and repo.head() == second
    assert _git(repo.path, "rev-list", "--count", "main").stdout.strip() == "2"
    assert repo.latest() == {"a/x.cfg": b"tres\n", "b/y.cfg": b"dos\n"}  # y kept
    assert repo.read("a/x.cfg", first) == b"uno\n" and repo.read("c/z.cfg") is None
    assert [r.commit for r in repo.log("b/y.cfg")] == [first]
    log = repo.log()
    assert [(r.author, r.message) for r in log] == [("luis", "R: x"), ("ana", "R: x, y")]
    assert log[0].when == WHEN
    assert repo.resolve(first[:10]) == first and repo.resolve("nada") is None
    assert _git(repo.path, "log", "--oneline").returncode == 0  # plain git reads it
    assert oct(repo.path.stat().st_mode & 0o777) == "0o700"


def test_bad_paths_refused(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "r")
    for bad in ("../x.cfg", "/x.cfg", "a/.git/x", "a\nb"):
        with pytest.raises(RepoError):
            repo.commit({bad: b"x"}, "m", author="a", when=WHEN)


def test_ref_moves_only_from_the_head_it_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch)\
        -> None:  # fmt: skip
    repo = ConfigRepo(tmp_path / "r")
    first = repo.commit({"a/x.cfg": b"1"}, "m", author="a", when=WHEN)
    assert first
    real = ConfigRepo._write_commit

    def sneaky(self: ConfigRepo, *args: object, **kw: object) -> str:
        new = real(self, *args, **kw)  # type: ignore[arg-type]
        # another writer moved main meanwhile (bypassing the lock): update-ref must refuse
        other = real(self, first, {"a/x.cfg": b"otro"}, "m", author="b", when=WHEN)
        _git(self.path, "update-ref", "refs/heads/main", other)
        return new

    monkeypatch.setattr(ConfigRepo, "_write_commit", sneaky)
    with pytest.raises(RepoError):
        repo.commit({"a/x.cfg": b"2"}, "m", author="a", when=WHEN)
    assert repo.read("a/x.cfg") == b"otro"


KILLER = """
import sys, time
from datetime import UTC, datetime
from red import repositorio
repo = repositorio.ConfigRepo(repositorio.Path(sys.argv[1]))
real = repo._git
def slow(*args, **kw):
    if args[0] == sys.argv[2]:
        print("ready", flush=True)
        time.sleep(30)
    return real(*args, **kw)
repo._git = slow
files = {f"s{i}/gw-{i}.cfg": f"config {i} nueva\\n".encode() for i in range(40)}
repo.commit(files, "m", author="a", when=datetime.now(UTC))
"""


@pytest.mark.parametrize("step", ["hash-object", "update-index", "commit-tree", "update-ref"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_kill_mid_commit_keeps_head_and_fsck_clean(
    tmp_path: Path, step: str, sig: signal.Signals
) -> None:
    repo = ConfigRepo(tmp_path / "r")
    files = {f"s{i}/gw-{i}.cfg": f"config {i}\n".encode() for i in range(40)}
    head = repo.commit(files, "m", author="a", when=WHEN)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(repo.path), step], stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2], env={**os.environ, "PYTHONPATH": "."},
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    time.sleep(0.05)
    child.send_signal(sig)
    assert child.wait(timeout=10) != 0
    child.stdout.close()
    assert repo.head() == head
    fsck = _git(repo.path, "fsck", "--full", "--strict")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert repo.latest() == files
    # a ref lock left behind (older than any live git's) does not block the next run
    stale = repo.path / "refs" / "heads" / "main.lock"
    stale.write_text("stale\n")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert repo.commit({"s0/gw-0.cfg": b"otra\n"}, "m", author="a", when=WHEN)
    assert not stale.exists()


def test_a_live_ref_lock_is_waited_for_never_deleted(tmp_path: Path) -> None:
    import threading

    repo = ConfigRepo(tmp_path / "r")
    head = repo.commit({"a/gw-a.cfg": b"uno\n"}, "m", author="a", when=WHEN)
    theirs = repo.path / "refs" / "heads" / "main.lock"  # a person's git update-ref at work
    theirs.write_text("0" * 40 + "\n")
    with pytest.raises(RepoError, match="update-ref"):
        repo.commit({"a/gw-a.cfg": b"dos\n"}, "m", author="a", when=WHEN)
    assert theirs.exists() and repo.head() == head  # their lock is theirs: kept
    # when they finish within the wait, pukara's commit goes through
    threading.Timer(1.0, theirs.unlink).start()
    assert repo.commit({"a/gw-a.cfg": b"dos\n"}, "m", author="a", when=WHEN)


def test_a_ref_lock_of_a_writer_that_died_in_update_ref_is_removed(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "r")
    repo.commit({"a/gw-a.cfg": b"uno\n"}, "m", author="a", when=WHEN)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (repo.path / "pukara.lock").write_text(f"{dead} update-ref\n")
    left = repo.path / "refs" / "heads" / "main.lock"
    left.write_text("x\n")
    assert repo.commit({"a/gw-a.cfg": b"dos\n"}, "m", author="a", when=WHEN)
    assert not left.exists() and (repo.path / "pukara.lock").read_text() == ""


def test_hooks_never_run(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "r")
    repo.init()
    ran = tmp_path / "corrio"
    for hook in ("reference-transaction", "post-update", "pre-commit"):
        script = repo.path / "hooks" / hook
        script.parent.mkdir(exist_ok=True)
        script.write_text(f"#!/bin/sh\necho {hook} >> {ran}\n")
        script.chmod(0o755)
    assert repo.commit({"a/gw-a.cfg": b"uno\n"}, "m", author="a", when=WHEN)
    assert not ran.exists()
