"""Reclaiming what a ``kill -9``-ed ADS left, and nothing of a live one's.

Each leftover is made by a real child process that uses ADS's own code (``temporary_worktree``,
``MemoryLimiter.create``) and then SIGKILLs itself mid-way, exactly as a crash would leave it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ads.actions.leftovers import reclaim
from ads.actions.pull_request import commit_fix_branch
from ads.actions.worktrees import temporary_worktree
from ads.sources.monitors import MemoryLimiter, detect_limiter
from ads.sources.monitors.cgroups import ROOT_ENV
from tests.fixtures.demo import demo_fix

BRANCH = "ads/incident-7-fix-memory-leak"


def die_inside(code: str, **env_vars: str) -> None:
    """Run ``code`` in a child Python that then SIGKILLs itself (``HERE`` marks where)."""
    script = textwrap.dedent(code).replace(
        "HERE", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env_vars}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert proc.returncode == -signal.SIGKILL


def worktrees(repo: Path) -> list[str]:
    listing = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list", "--porcelain"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


def test_a_branch_left_checked_out_by_a_killed_ads_is_reclaimed_and_the_fix_committed(
    demo_repo: Path, tmp_path: Path
) -> None:
    # the crash's scratch directory in a temp dir of its own: another test's ADS, reclaiming
    # dead processes' leftovers in the system's, would otherwise clean it up before we look
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    die_inside(
        f"""
        from pathlib import Path
        from ads.actions.worktrees import temporary_worktree
        with temporary_worktree(Path({str(demo_repo)!r}), branch={BRANCH!r}):
            HERE
    """,
        TMPDIR=str(private_tmp),
    )
    (stale,) = worktrees(demo_repo)[1:]
    assert Path(stale).is_dir()

    sha = commit_fix_branch(demo_repo, BRANCH, demo_fix(demo_repo), "Fix the leak")

    assert worktrees(demo_repo) == [str(demo_repo)]
    assert not Path(stale).parent.exists()
    log = subprocess.run(["git", "-C", str(demo_repo), "log", "-1", "--format=%H", BRANCH],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert log == sha


def test_a_live_ads_worktree_is_never_reclaimed(demo_repo: Path) -> None:
    with temporary_worktree(demo_repo) as mine:
        result = reclaim([demo_repo])
        assert mine.is_dir() and str(mine) in worktrees(demo_repo)
        assert str(mine) not in result.worktrees


def test_a_worktree_without_the_owner_tag_is_never_touched(demo_repo: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "ads-worktree-someone-else" / "checkout"
    theirs.parent.mkdir()
    subprocess.run(["git", "-C", str(demo_repo), "worktree", "add", "-q", "--detach",
                    str(theirs)], check=True)  # fmt: skip
    reclaim([demo_repo])
    assert theirs.is_dir() and str(theirs) in worktrees(demo_repo)


@pytest.fixture
def private_cgroups(
    cgroup_limiter: MemoryLimiter, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MemoryLimiter]:
    """A limiter under a cgroup of this test's own: another test's ADS, reclaiming dead
    processes' cgroups under the shared root, would otherwise take the crash's first."""
    assert cgroup_limiter.parent is not None
    root = cgroup_limiter.parent / f"leftovers-test-o{os.getpid()}x{time.monotonic_ns()}"
    root.mkdir()
    monkeypatch.setenv(ROOT_ENV, str(root))
    try:
        yield detect_limiter(allow_fallback=False)
    finally:
        for child in root.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


@pytest.mark.cgroup
def test_a_killed_ads_cgroup_and_the_process_in_it_are_reclaimed(
    private_cgroups: MemoryLimiter, tmp_path: Path
) -> None:
    cgroup_limiter = private_cgroups
    pid_file = tmp_path / "service.pid"
    assert cgroup_limiter.parent is not None
    die_inside(
        f"""
        import subprocess, time
        from pathlib import Path
        from ads.sources.monitors import detect_limiter
        cgroup = detect_limiter(allow_fallback=False).create("leftover-svc", 64 * 1024 * 1024)
        service = subprocess.Popen(cgroup.wrap("sleep 300"), start_new_session=True)
        while not cgroup.pids():
            time.sleep(0.01)
        Path({str(pid_file)!r}).write_text(str(service.pid))
        HERE
    """,
        ADS_CGROUP_ROOT=str(cgroup_limiter.parent),
    )
    service = int(pid_file.read_text())
    (left,) = [p for p in cgroup_limiter.parent.iterdir() if p.name.startswith("leftover-svc-")]
    assert service in [int(p) for p in (left / "cgroup.procs").read_text().split()]
    mine = cgroup_limiter.create("live-svc", 64 * 1024 * 1024)
    try:
        result = reclaim(limiter=cgroup_limiter)
        assert not left.exists() and str(left) in result.cgroups
        assert service in result.processes
        assert mine.path is not None and mine.path.exists()  # this live process's: kept
    finally:
        mine.remove()
    deadline = time.monotonic() + 10
    while is_running(service) and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered at once; reaping is up to whoever inherited it
    assert not is_running(service)


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
