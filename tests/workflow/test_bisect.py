"""The bisection engine: builds that do not compile are skipped like ``git bisect skip``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.config import load_settings
from ads.sources.monitors import MemoryLimiter
from ads.workflow.bisect import bisect
from tests.fixtures.bisect import pointer_history


@pytest.mark.cgroup
def test_commits_that_do_not_build_are_skipped_and_named(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    repo = tmp_path / "pointer-service"
    shas = pointer_history(repo, commits=8, bad_at=5, unbuildable=(3, 4))
    service = load_settings(repo / "ads.yaml").service("pointer-service")
    seen: list[tuple[str, str]] = []

    result = bisect(
        repo, service, shas[0], shas[-1], seconds=1.0, limiter=cgroup_limiter,
        progress=lambda run, left: seen.append((run.sha, run.verdict)),
    )  # fmt: skip

    assert result.first_bad == shas[4]
    assert set(result.skipped) == {shas[2], shas[3]}
    assert result.ambiguous == [shas[2], shas[3]]  # the first bad one could hide behind them
    assert (shas[4], "bad") in seen and (shas[1], "good") in seen
    bad_run = next(run for run in result.runs if run.sha == shas[4])
    assert bad_run.samples and bad_run.detail.startswith("OOM-killed")
