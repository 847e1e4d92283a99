"""Rollback branches made by real ``git revert`` in a temporary worktree of a real repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ads.actions.rollback import (
    NO_ROLLBACK_TARGET,
    prepare_rollback,
    rollback_branch,
    verify_rollback,
)
from ads.config import ServiceConfig
from ads.errors import RemediationError
from ads.sources.monitors.cgroups import MemoryLimiter

from ..fixtures.demo import DEMO_DIR, DEMO_FINDING, demo_fix, git
from .conftest import worktrees


def introduce_leak(repo: Path) -> str:
    """A commit that adds a per-iteration leak on top of a clean worker, as in a real incident."""
    worker = repo / "worker.c"
    worker.write_text(
        worker.read_text().replace(
            "        fflush(stdout);\n",
            '        fflush(stdout);\n        char *trace = strdup("iteration");\n'
            "        (void)trace;\n",
            1,
        )
    )
    git(repo, "commit", "-q", "-am", "trace every iteration")
    return git(repo, "rev-parse", "HEAD")


def status(repo: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def test_revert_branch_undoes_exactly_the_introducing_commit(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    clean = (demo_repo / "worker.c").read_text()
    sha = introduce_leak(demo_repo)
    git(demo_repo, "commit", "-q", "--allow-empty", "-m", "later, unrelated change")
    head = git(demo_repo, "rev-parse", "HEAD")
    (demo_repo / "worker.c").write_text("/* user's uncommitted work */\n")
    dirty = status(demo_repo)

    plan = prepare_rollback(demo_repo, demo_service, 42, sha, to_revision=3)

    assert plan.branch == "ads/incident-42-rollback" == rollback_branch(42)
    assert plan.introducing_commit == sha
    assert plan.revert_commit == git(demo_repo, "rev-parse", plan.branch)
    assert git(demo_repo, "rev-parse", f"{plan.branch}^") == head
    assert git(demo_repo, "show", f"{plan.branch}:worker.c") + "\n" == clean
    subject = git(demo_repo, "log", "-1", "--format=%s", plan.branch)
    assert subject == 'Revert "trace every iteration"'
    assert plan.kubectl == (
        "kubectl rollout undo deployment/ads-demo-service -n default --to-revision=3"
    )
    assert sha[:12] in plan.summary and "ready to merge" in plan.summary
    assert "kubectl rollout undo" in plan.text()
    # the user's checkout: same branch, same dirty file, no extra worktree
    assert git(demo_repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert status(demo_repo) == dirty
    assert (demo_repo / "worker.c").read_text() == "/* user's uncommitted work */\n"
    assert len(worktrees(demo_repo)) == 1


def test_running_it_twice_updates_the_same_branch(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    sha = introduce_leak(demo_repo)
    first = prepare_rollback(demo_repo, demo_service, 7, sha)
    second = prepare_rollback(demo_repo, demo_service, 7, sha)
    assert first.branch == second.branch
    branches = git(demo_repo, "branch", "--list", "ads/*").split("\n")
    assert [b.strip() for b in branches] == ["ads/incident-7-rollback"]
    count = git(demo_repo, "rev-list", "--count", f"main..{second.branch}")
    assert count == "1"
    assert second.kubectl == "kubectl rollout undo deployment/ads-demo-service -n default"


def test_pre_existing_bug_has_no_rollback_target(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    plan = prepare_rollback(demo_repo, demo_service, 42, None)
    assert plan.summary.startswith(NO_ROLLBACK_TARGET)
    assert plan.branch is None and plan.kubectl is None
    assert git(demo_repo, "branch", "--list", "ads/*") == ""


def test_conflicting_revert_is_a_clear_error_and_leaves_no_branch(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    sha = introduce_leak(demo_repo)
    worker = demo_repo / "worker.c"
    worker.write_text(worker.read_text().replace('strdup("iteration")', 'strdup("iter")'))
    git(demo_repo, "commit", "-q", "-am", "shorter trace")
    with pytest.raises(RemediationError, match=r"conflicts with later changes \(worker\.c\)"):
        prepare_rollback(demo_repo, demo_service, 9, sha)
    assert git(demo_repo, "branch", "--list", "ads/*") == ""
    assert len(worktrees(demo_repo)) == 1
    assert status(demo_repo) == ""


def test_unknown_or_foreign_commit_is_a_clear_error(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    with pytest.raises(RemediationError, match="no commit 'deadbeef'"):
        prepare_rollback(demo_repo, demo_service, 1, "deadbeef")
    git(demo_repo, "checkout", "-q", "-b", "experiment")
    side = introduce_leak(demo_repo)
    git(demo_repo, "checkout", "-q", "main")
    with pytest.raises(RemediationError, match="is not in the history of HEAD"):
        prepare_rollback(demo_repo, demo_service, 1, side)


def test_the_import_of_the_service_is_never_a_rollback_target(tmp_path: Path) -> None:
    """A service imported into a larger repository with its leak: reverting the import would
    delete the service (issue 13: 'a branch removing 9 files'), so there is no target."""
    mono = tmp_path / "mono"
    mono.mkdir()
    (mono / "README.md").write_text("platform monorepo\n")
    git(mono, "init", "-q", "-b", "main")
    git(mono, "add", "-A")
    git(mono, "commit", "-q", "-m", "platform")
    service_dir = mono / "services" / "worker"
    shutil.copytree(DEMO_DIR, service_dir, ignore=shutil.ignore_patterns("build", ".ads"))
    git(mono, "add", "-A")
    git(mono, "commit", "-q", "-m", "import demo service")
    imported = git(mono, "rev-parse", "HEAD")
    files = len(git(mono, "ls-files", "services/worker").split("\n"))

    plan = prepare_rollback(service_dir, ServiceConfig(name="worker"), 5, imported)

    assert plan.branch is None and plan.revert_commit is None and plan.kubectl is None
    assert plan.summary.startswith("no rollback target")
    assert f"{imported[:12]} ('import demo service') imported the service" in plan.summary
    assert f"adding {files} of its {files} files" in plan.summary
    assert "ready to merge" not in plan.text()
    assert git(mono, "branch", "--list", "ads/*") == ""
    assert git(mono, "rev-parse", "HEAD") == imported  # nothing reverted anywhere


def test_the_first_commit_is_no_target_but_adding_one_file_later_is(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    first = git(demo_repo, "rev-parse", "HEAD")
    plan = prepare_rollback(demo_repo, demo_service, 6, first)
    assert "is the repository's first commit" in plan.summary and plan.branch is None
    (demo_repo / "trace.c").write_text("#include <stdlib.h>\nvoid *trace(void) { return 0; }\n")
    git(demo_repo, "add", "trace.c")
    git(demo_repo, "commit", "-q", "-m", "add tracing")
    added = git(demo_repo, "rev-parse", "HEAD")
    plan = prepare_rollback(demo_repo, demo_service, 6, added)
    assert plan.branch == "ads/incident-6-rollback" and "ready to merge" in plan.summary
    assert git(demo_repo, "ls-tree", "--name-only", plan.branch, "--", "trace.c") == ""


def test_a_rollback_that_stops_the_leak_is_verified_before_it_is_ready_to_merge(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    # history: the worker without the leak, then the commit that brought it
    leaky = (demo_repo / "worker.c").read_text()
    subprocess.run(["git", "apply"], input=demo_fix(demo_repo), text=True, cwd=demo_repo,
                   check=True)  # fmt: skip
    git(demo_repo, "commit", "-q", "-am", "free the payload")
    (demo_repo / "worker.c").write_text(leaky)
    git(demo_repo, "commit", "-q", "-am", "Reuse payload buffer across iterations")
    sha = git(demo_repo, "rev-parse", "HEAD")

    plan = prepare_rollback(demo_repo, demo_service, 5, sha)
    checked = verify_rollback(
        demo_repo, demo_service, plan, finding=DEMO_FINDING, limiter=cgroup_limiter
    )

    assert "verified like the fix" in checked.summary and "ready to merge" in checked.summary
    assert "OOM-killed after" in checked.summary  # what was seen, not just a word
    assert checked.branch == plan.branch and len(worktrees(demo_repo)) == 1


def test_a_rollback_of_the_wrong_commit_is_not_called_ready_to_merge(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    # the demo worker already leaks; reverting a later, unrelated leak does not stop the OOM
    sha = introduce_leak(demo_repo)
    plan = prepare_rollback(demo_repo, demo_service, 6, sha)
    checked = verify_rollback(
        demo_repo, demo_service, plan, finding=DEMO_FINDING, limiter=cgroup_limiter
    )
    assert "ready to merge" not in checked.summary
    assert "NOT verified (fix failed" in checked.summary, checked.summary
