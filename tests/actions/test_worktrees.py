"""Temporary worktrees: the patch lands there, never in the user's checkout, and nothing stays."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ads.actions.worktrees import temporary_worktree
from ads.errors import RemediationError, RepositoryError

from ..fixtures.demo import git
from .conftest import worktrees

FIX = """\
--- a/worker.c
+++ b/worker.c
@@ -25,6 +25,7 @@
         /* Receive the next payload into a fresh buffer. */
         char *buffer = malloc(PAYLOAD_MB * 1024 * 1024 * sizeof(char));
         process_work(buffer);
+        free(buffer);
         printf("worker: iteration %lu processed %d MiB payload (%lu MiB held)\\n",
                iteration, PAYLOAD_MB, iteration * PAYLOAD_MB);
         fflush(stdout);
"""


def status(repo: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def test_patch_is_applied_in_the_worktree_only_and_the_worktree_is_removed(
    demo_repo: Path,
) -> None:
    original = (demo_repo / "worker.c").read_text()
    (demo_repo / "worker.c").write_text(original + "/* the user's own edit */\n")
    (demo_repo / "scratch.txt").write_text("untracked notes\n")
    before = status(demo_repo)

    with temporary_worktree(demo_repo, patch=FIX) as tree:
        assert tree != demo_repo
        patched = (tree / "worker.c").read_text()
        assert "        process_work(buffer);\n        free(buffer);\n" in patched
        assert "the user's own edit" not in patched  # built from HEAD, not the dirty tree
        assert len(worktrees(demo_repo)) == 2

    assert not tree.exists()
    assert len(worktrees(demo_repo)) == 1
    assert status(demo_repo) == before
    assert (demo_repo / "worker.c").read_text() == original + "/* the user's own edit */\n"
    assert (demo_repo / "scratch.txt").read_text() == "untracked notes\n"


def test_worktree_is_removed_when_the_body_fails(demo_repo: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), temporary_worktree(demo_repo) as tree:
        (tree / "build").mkdir()
        (tree / "build" / "worker").write_bytes(b"\x7fELF")  # untracked build output
        raise RuntimeError("boom")
    assert not tree.exists()
    assert len(worktrees(demo_repo)) == 1


def test_patch_that_does_not_apply_is_a_remediation_error_and_leaves_nothing(
    demo_repo: Path,
) -> None:
    stale = FIX.replace("process_work(buffer);", "handle(buffer);")
    with (
        pytest.raises(RemediationError, match=r"the patch does not apply: .*worker\.c"),
        temporary_worktree(demo_repo, patch=stale),
    ):
        pytest.fail("the body must not run with a patch that does not apply")
    assert len(worktrees(demo_repo)) == 1
    assert status(demo_repo) == ""


def test_unknown_revision_and_non_repository_are_clear_errors(
    demo_repo: Path, tmp_path: Path
) -> None:
    with pytest.raises(RepositoryError, match="no commit 'no-such-rev'"):  # noqa: SIM117
        with temporary_worktree(demo_repo, "no-such-rev"):
            pass
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepositoryError, match="is not a git repository"):  # noqa: SIM117
        with temporary_worktree(plain):
            pass


def test_branch_worktree_keeps_the_branch_after_removal(demo_repo: Path) -> None:
    with temporary_worktree(demo_repo, branch="ads/test-branch") as tree:
        (tree / "NOTE").write_text("x\n")
        subprocess.run(["git", "add", "NOTE"], cwd=tree, check=True)
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "note"],
            cwd=tree,
            check=True,
        )
    log = subprocess.run(
        ["git", "log", "--format=%s", "ads/test-branch"],
        cwd=demo_repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert log[0] == "note"
    assert len(worktrees(demo_repo)) == 1


def test_service_in_a_subdirectory_gets_its_own_subdirectory(tmp_path: Path) -> None:
    mono = tmp_path / "mono"
    service = mono / "services" / "worker"
    service.mkdir(parents=True)
    demo = Path(__file__).resolve().parents[2] / "examples" / "ads-demo-service" / "worker.c"
    (service / "worker.c").write_text(demo.read_text())
    (mono / "README").write_text("monorepo\n")
    git(mono, "init", "-q", "-b", "main")
    git(mono, "add", "-A")
    git(mono, "commit", "-q", "-m", "monorepo")

    # Patch paths are from the top of the repository, as `git diff` and the PR show them.
    from_top = FIX.replace(" a/worker.c", " a/services/worker/worker.c").replace(
        " b/worker.c", " b/services/worker/worker.c"
    )
    with temporary_worktree(service, patch=from_top) as tree:
        assert tree.parts[-2:] == ("services", "worker")
        assert "        free(buffer);\n" in (tree / "worker.c").read_text()
        assert (tree.parents[1] / "README").read_text() == "monorepo\n"
    assert len(worktrees(mono)) == 1
