"""Fixtures for the actions tests: a private memory cgroup parent per test, checked empty after."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ads.config import ServiceConfig, load_settings
from ads.errors import AdsError
from ads.models import ReproductionMode
from ads.sources.monitors import MemoryLimiter, detect_limiter


def leftover_cgroups(limiter: MemoryLimiter) -> list[Path]:
    assert limiter.parent is not None
    return [p for p in limiter.parent.iterdir() if p.is_dir()]


def worktrees(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=repo, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line.startswith("worktree ")]


@pytest.fixture
def cgroup_limiter() -> Iterator[MemoryLimiter]:
    """A limiter whose cgroups live under a parent of this test's own.

    Other tests (and other people's runs) make cgroups under the shared ``ads`` parent at the
    same time, so "nothing left behind" is checked on a parent no one else uses.
    """
    try:
        shared = detect_limiter(allow_fallback=False)
    except AdsError as exc:
        pytest.skip(f"no writable memory cgroup here (needs root): {exc}")
    assert shared.parent is not None
    parent = shared.parent / f"test-actions-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    if shared.mode is ReproductionMode.CGROUP_V2:
        (parent / "cgroup.subtree_control").write_text("+memory")
    limiter = MemoryLimiter(shared.mode, parent)
    try:
        yield limiter
        assert leftover_cgroups(limiter) == [], "verification left cgroups behind"
    finally:
        for child in leftover_cgroups(limiter):
            child.rmdir()
        parent.rmdir()


@pytest.fixture
def demo_service(demo_repo: Path) -> ServiceConfig:
    """The demo service exactly as its ads.yaml describes it (build, run, 64Mi)."""
    return load_settings(demo_repo / "ads.yaml").service("ads-demo-service")
