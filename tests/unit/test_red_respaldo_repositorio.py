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
    # a ref lock left behind does not block the next run
    (repo.path / "refs" / "heads" / "main.lock").write_text("stale\n")
    assert repo.commit({"s0/gw-0.cfg": b"otra\n"}, "m", author="a", when=WHEN)
