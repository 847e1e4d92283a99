"""Ctrl-C and ``--timeout`` in ``ads demo``: the step under way stops at once, nothing is posted
or pushed after it, and no step that did not succeed is shown as ✓.

Each case runs the real ``ads demo`` as a subprocess (local PagerDuty, ``ads serve``'s worker,
the worker in a memory cgroup) and judges by what is left on disk afterwards: the local
PagerDuty's notes, the PR file, the demo repository's branches.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ads.sources.monitors import MemoryLimiter


def start_demo(workdir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.Popen(
        [sys.executable, "-m", "ads", "demo", "--workdir", str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


class Output:
    """The demo's stdout, read as it comes, so the test can act when a line appears."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.seen = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.seen:
                self.lines.append(line)
                self.seen.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        with self.seen:
            return self.seen.wait_for(lambda: any(text in ln for ln in self.lines), timeout)

    def text(self) -> str:
        self.thread.join(timeout=10)
        return "".join(self.lines)


def notes_posted(workdir: Path) -> list[str]:
    """The notes on every incident of the demo's local PagerDuty (read from its SQLite)."""
    database = workdir / "pagerduty" / "pagerduty.sqlite3"
    with sqlite3.connect(database) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "notes" in tables, tables
        return [json.loads(r[0])["content"] for r in db.execute("SELECT data FROM notes")]


def ads_branches(workdir: Path) -> list[str]:
    repo = workdir / "ads-demo-service"
    out = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", "ads/*"], capture_output=True, text=True
    )
    return out.stdout.split()


def assert_nothing_made_after(workdir: Path, output: str) -> None:
    assert notes_posted(workdir) == []
    assert not list((workdir / "state").glob("pull-requests/*")), "a PR text was written"
    assert ads_branches(workdir) == []
    assert "✓ verification" not in output and "verification done" not in output
    for later in (
        "rollback started",
        "branch started",
        "push started",
        "pull request started",
        "note started",
    ):
        assert later not in output


@pytest.mark.cgroup
def test_ctrl_c_during_verification_stops_it_and_nothing_is_made_after(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    workdir = tmp_path / "demo"
    proc = start_demo(workdir)
    output = Output(proc)
    try:
        assert output.wait_for("verification started", 120), output.text()
        time.sleep(0.3)  # into the build or the run of the current code
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        stopped_after = time.monotonic() - interrupted_at
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    text = output.text()
    assert proc.returncode == 130, stderr + text
    assert "Traceback" not in stderr + text
    assert "interrupted" in stderr
    assert stopped_after < 30, f"took {stopped_after:.1f} s to stop"  # not the whole job
    assert_nothing_made_after(workdir, text)


@pytest.mark.cgroup
def test_timeout_bounds_the_whole_demo(tmp_path: Path, cgroup_limiter: MemoryLimiter) -> None:
    workdir = tmp_path / "demo"
    started = time.monotonic()
    proc = start_demo(workdir, "--timeout", "3")
    output = Output(proc)
    try:
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - started
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    text = output.text()
    assert proc.returncode == 1, stderr + text
    (line,) = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "did not finish within 3 s (--timeout)" in line
    assert "Traceback" not in stderr + text
    assert took < 45, f"ran {took:.1f} s with --timeout 3"  # generous: interpreter start-up
    assert_nothing_made_after(workdir, text)
