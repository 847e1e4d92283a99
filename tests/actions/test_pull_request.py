"""The fix branch: never the default branch, pushed when there is a remote, a rejected push is
one clear error. Real git repositories and a real bare remote with a hook that refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ads.actions.pull_request import branch_name, commit_fix_branch, push_branch
from ads.errors import RemediationError
from tests.fixtures.demo import demo_fix, git


def with_remote(demo_repo: Path, tmp_path: Path, *, refuse: bool) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    if refuse:
        hook = remote / "hooks" / "pre-receive"
        hook.write_text("#!/bin/sh\necho 'protected: pushes need review' >&2\nexit 1\n")
        hook.chmod(0o755)
    git(demo_repo, "remote", "add", "origin", str(remote))
    return remote


def test_fix_is_pushed_to_its_own_branch(demo_repo: Path, tmp_path: Path) -> None:
    remote = with_remote(demo_repo, tmp_path, refuse=False)
    branch = branch_name(7)
    sha = commit_fix_branch(
        demo_repo, branch, demo_fix(demo_repo), "Fix memory leak in controller()"
    )
    assert push_branch(demo_repo, branch)
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == sha
    assert git(remote, "branch", "--list", "main") == ""  # main was never pushed by ADS
    again = commit_fix_branch(
        demo_repo, branch, demo_fix(demo_repo), "Fix memory leak in controller()"
    )
    assert push_branch(demo_repo, branch)  # a re-run updates the same branch
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == again


def test_rejected_push_is_one_clear_error(demo_repo: Path, tmp_path: Path) -> None:
    with_remote(demo_repo, tmp_path, refuse=True)
    branch = branch_name(8)
    commit_fix_branch(demo_repo, branch, demo_fix(demo_repo), "Fix memory leak in controller()")
    with pytest.raises(RemediationError, match="push of ads/incident-8-fix-memory-leak"):
        push_branch(demo_repo, branch)


def test_never_the_default_branch(demo_repo: Path) -> None:
    for branch in ("main", "master", "release"):
        with pytest.raises(RemediationError, match="only writes ads/"):
            commit_fix_branch(demo_repo, branch, demo_fix(demo_repo), "x")
    assert git(demo_repo, "rev-list", "--count", "main") == "1"


def test_without_a_remote_nothing_is_pushed(demo_repo: Path) -> None:
    branch = branch_name(9)
    commit_fix_branch(demo_repo, branch, demo_fix(demo_repo), "Fix")
    assert push_branch(demo_repo, branch) is False
