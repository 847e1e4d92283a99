"""``ads bisect`` as a user runs it, on real builds OOM-killed in real memory cgroups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ads.sources.monitors import MemoryLimiter
from tests.fixtures.bisect import pointer_history
from tests.fixtures.cli import Ran, run_ads


def ads_bisect(repo: Path, *args: str) -> Ran:
    """``ads bisect pointer-service *args``, in-process (``tests.fixtures.cli``)."""
    return run_ads("bisect", "pointer-service", *args, "--config", str(repo / "ads.yaml"),
                   cwd=Path.cwd())  # fmt: skip


@pytest.mark.cgroup
def test_bisect_names_the_commit_that_routed_the_release_to_a_no_op(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    repo = tmp_path / "pointer-service"
    shas = pointer_history(repo, commits=8, bad_at=5)

    proc = ads_bisect(repo, "--good", shas[0], "--bad", shas[-1], "--seconds", "1.5")

    assert proc.returncode == 0, proc.stderr
    assert f"first bad commit: {shas[4]} worker: hand buffers back through the releaser" in (
        proc.stdout
    )
    runs = [line for line in proc.stdout.splitlines() if line.startswith("run ")]
    assert 1 <= len(runs) <= 4, proc.stdout
    assert any("bad (OOM-killed" in line for line in runs)


@pytest.mark.cgroup
def test_a_bad_end_that_is_not_bad_is_one_line_and_non_zero(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    repo = tmp_path / "pointer-service"
    shas = pointer_history(repo, commits=4, bad_at=99)  # nothing leaks

    proc = ads_bisect(repo, "--good", shas[0], "--bad", shas[-1], "--seconds", "1",
                      "--format", "json")  # fmt: skip

    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert f"--bad {shas[-1]} is not bad under 32Mi" in errors[0]
    result = json.loads(proc.stdout)
    assert result["error"] == errors[0].removeprefix("error: ")
    assert all(run["samples"] for run in result["runs"])  # every run keeps its memory curve


def test_unknown_revisions_are_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "pointer-service"
    shas = pointer_history(repo, commits=2)
    proc = ads_bisect(repo, "--good", "no-such-tag", "--bad", shas[-1])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "--good no-such-tag: no such commit" in proc.stderr
    backwards = ads_bisect(repo, "--good", shas[-1], "--bad", shas[0])
    assert backwards.returncode == 1 and "is not an ancestor of --bad" in backwards.stderr
