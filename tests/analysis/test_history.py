"""Code-change analysis on commits read from real git repositories built in tmp dirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from ads.analysis.c.edits import c_file_edits
from ads.analysis.c.vocabulary import NamedVocabulary
from ads.analysis.history import (
    describe_commit,
    find_introducing_commit,
    lowered_memory_limit,
    rank_changes,
)
from ads.models import Change, ChangeKind, ChangeRole, CodeEditKind, Commit
from ads.sources.repository import GitRepository
from tests.fixtures.history import AUTHORS, LeakHistory, commit_all, run_git

SOURCES = ["worker.c"]
MANIFESTS = "infra/kubernetes"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INCIDENT = T0 + timedelta(days=1)


def window_changes(history: LeakHistory, *, days: float = 7, paths: bool = True) -> list[Change]:
    repo = GitRepository(history.path)
    since = history.incident_at - timedelta(days=days)
    commits = repo.commits(since, history.incident_at, [*SOURCES, MANIFESTS] if paths else [])
    return [
        describe_commit(c, history.incident_at, source_paths=SOURCES, manifest_dir=MANIFESTS)
        for c in commits
    ]


def by_sha(changes: list[Change], sha: str) -> Change:
    return next(change for change in changes if change.sha == sha)


def two_versions(repo_dir: Path, path: str, old: str | bytes, new: str | bytes) -> Commit:
    """Commit ``old`` then ``new`` at ``path`` in a fresh repo; the second commit as read by git."""
    repo_dir.mkdir(parents=True, exist_ok=True)
    run_git(repo_dir, "init", "-q", "-b", "main")
    target = repo_dir / path
    target.parent.mkdir(parents=True, exist_ok=True)
    for i, content in enumerate((old, new)):
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        commit_all(repo_dir, f"version {i}", AUTHORS["riley"], T0 + timedelta(hours=i))
    return GitRepository(repo_dir).commits(T0 + timedelta(minutes=30), INCIDENT)[0]


# --- the acceptance history -----------------------------------------------------------


def test_describe_commit_says_what_mattered_in_each_commit(leak_history_repo: LeakHistory) -> None:
    shas = leak_history_repo.shas
    changes = window_changes(leak_history_repo)
    removal = by_sha(changes, shas["removes_free"])
    assert removal.notes == ["removed free(buffer) in controller() (worker.c)"]
    assert removal.author == "Riley Refactor <riley@example.com>"
    assert removal.before_incident_seconds == 6 * 3600
    assert removal.kind is ChangeKind.COMMIT and removal.files == ["worker.c"]
    [edit] = removal.edits
    assert (edit.kind, edit.function, edit.variable, edit.line) == (
        CodeEditKind.REMOVED_FREE,
        "controller",
        "buffer",
        28,  # the line free(buffer); had in the old file
    )

    typo = by_sha(changes, shas["typo_fix"])
    # a comment-only edit is not read at the C level at all (a long history of them is free)
    assert typo.notes == [] and typo.edits == [] and typo.functions == []

    limit = by_sha(changes, shas["lowers_limit"])
    assert limit.kind is ChangeKind.MANIFEST
    assert (limit.memory_limit_from, limit.memory_limit_to) == ("128Mi", "64Mi")
    assert limit.notes == [
        "memory limit of worker 128Mi → 64Mi "
        "(Deployment/ads-demo-service, infra/kubernetes/deployment.yaml)"
    ]
    assert limit.before_incident_seconds == 2 * 3600


def test_introducing_commit_is_the_one_that_removed_the_free(
    leak_history_repo: LeakHistory,
) -> None:
    shas = leak_history_repo.shas
    changes = window_changes(leak_history_repo, paths=False)
    blame = GitRepository(leak_history_repo.path).blame_line("worker.c", 26)
    assert blame == shas["initial"]  # blame alone would name the wrong commit

    culprit = find_introducing_commit(changes, "worker.c", "controller()", "buffer", blame)
    assert culprit is not None
    assert culprit.sha == shas["removes_free"]
    assert culprit.author == "Riley Refactor <riley@example.com>"
    assert culprit.before_incident_seconds == 6 * 3600


def test_ranking_puts_the_culprit_first_and_the_lowered_limit_as_contributing(
    leak_history_repo: LeakHistory,
) -> None:
    shas = leak_history_repo.shas
    changes = window_changes(leak_history_repo, paths=False)
    ranked = rank_changes(
        changes,
        finding_file="worker.c",
        finding_function="controller",
        introducing_sha=shas["removes_free"],
    )
    order = [(change.sha, change.role) for change in ranked]
    assert order == [
        (shas["removes_free"], ChangeRole.INTRODUCED),
        (shas["typo_fix"], ChangeRole.TOUCHES_FINDING),
        (shas["lowers_limit"], ChangeRole.CONTRIBUTING),
        (shas["other_file"], ChangeRole.OTHER),
        (shas["readme"], ChangeRole.OTHER),
    ]
    assert all(change.role is None for change in changes)  # the inputs are not modified


def test_leak_older_than_the_window_is_pre_existing(leak_history_repo: LeakHistory) -> None:
    changes = window_changes(leak_history_repo, days=5.5 / 24)  # starts after the removal
    assert leak_history_repo.shas["removes_free"] not in {c.sha for c in changes}
    blame = GitRepository(leak_history_repo.path).blame_line("worker.c", 26)
    assert find_introducing_commit(changes, "worker.c", "controller", "buffer", blame) is None
    ranked = rank_changes(changes, finding_file="worker.c", finding_function="controller")
    assert ChangeRole.INTRODUCED not in {c.role for c in ranked}
    assert find_introducing_commit([], "worker.c", "controller", "buffer", None) is None


def test_paths_relative_to_repo_root_still_match_the_finding(
    leak_history_repo: LeakHistory,
) -> None:
    changes = window_changes(leak_history_repo)
    culprit = find_introducing_commit(
        changes, "services/ads-demo-service/worker.c", "controller", "buffer", None
    )
    assert culprit is not None and culprit.sha == leak_history_repo.shas["removes_free"]
    assert find_introducing_commit(changes, "other.c", "controller", "buffer", None) is None
    assert find_introducing_commit(changes, "worker.c", "main", "buffer", None) is None
    assert find_introducing_commit(changes, "worker.c", "controller", "other", None) is None


# --- single edits --------------------------------------------------------------------------------

BEFORE = """\
#include <stdlib.h>
void work(char *p);
void serve(void) {
    for (int i = 0; i < 10; i++) {
        char *p = malloc(64);
        work(p);
        free(p);
    }
}
"""


def test_added_allocation_in_a_new_loop_and_attribution_by_blame(tmp_path: Path) -> None:
    after = BEFORE.replace(
        "    for (int i = 0; i < 10; i++) {\n",
        '    while (1) {\n        char *extra = strdup("job");\n        work(extra);\n',
    )
    commit = two_versions(tmp_path, "src/serve.c", BEFORE, after)
    change = describe_commit(commit, INCIDENT, source_paths=["src"], manifest_dir="k8s")
    assert change.notes == [
        'added allocation strdup("job") in serve() (src/serve.c)',
        "changed a loop in serve() (src/serve.c)",
    ]
    assert change.before_incident_seconds == 23 * 3600
    culprit = find_introducing_commit([change], "src/serve.c", "serve", "extra", commit.sha[:7])
    assert culprit is change
    # blame naming another commit: this one did not add the line, so it is not the culprit
    assert find_introducing_commit([change], "src/serve.c", "serve", "extra", "0" * 40) is None


def test_moving_a_free_is_not_removing_it(tmp_path: Path) -> None:
    after = BEFORE.replace(
        "        work(p);\n        free(p);\n", "        free(p);\n        work(p);\n"
    )
    change = describe_commit(two_versions(tmp_path, "a.c", BEFORE, after), INCIDENT)
    assert change.edits == [] and change.notes == []
    assert change.functions == ["a.c:serve"]


def test_free_added_back_later_clears_the_earlier_removal(tmp_path: Path) -> None:
    no_free = BEFORE.replace("        free(p);\n", "")
    removal = describe_commit(two_versions(tmp_path / "one", "a.c", BEFORE, no_free), INCIDENT)
    fix = describe_commit(two_versions(tmp_path / "two", "a.c", no_free, BEFORE), INCIDENT)
    assert removal.notes == ["removed free(p) in serve() (a.c)"]
    assert fix.notes == ["added free(p) in serve() (a.c)"]
    fix = fix.model_copy(update={"authored_at": removal.authored_at + timedelta(hours=1)})
    assert find_introducing_commit([removal], "a.c", "serve", "p", None) is removal
    assert find_introducing_commit([fix, removal], "a.c", "serve", "p", None) is None


def test_changed_allocation_size_and_custom_allocator_wrappers(tmp_path: Path) -> None:
    old = BEFORE.replace("malloc(64)", "xmalloc(64)").replace("free(p)", "xfree(p)")
    new = old.replace("xmalloc(64)", "xmalloc(4096)").replace("        xfree(p);\n", "")
    commit = two_versions(tmp_path, "a.c", old, new)
    plain = describe_commit(commit, INCIDENT)
    assert plain.notes == []  # without knowing the wrappers nothing here is an allocation
    known = NamedVocabulary(frozenset({"xmalloc"}), frozenset({"xfree"}))
    read = partial(c_file_edits, vocabulary=known)
    wrapped = describe_commit(commit, INCIDENT, readers={"C": read})
    assert wrapped.notes == [
        "removed xfree(p) in serve() (a.c)",
        "changed allocation xmalloc(4096) in serve() (a.c)",
    ]


def test_c_that_does_not_parse_is_noted_not_fatal(tmp_path: Path) -> None:
    broken = BEFORE.replace("        free(p);\n", "").replace(
        "void serve(void) {", "void serve(void {"
    )
    change = describe_commit(two_versions(tmp_path, "a.c", BEFORE, broken), INCIDENT)
    assert "a.c does not fully parse; edits read from what parsed" in change.notes


def test_non_utf8_c_source_is_described(tmp_path: Path) -> None:
    old = BEFORE.encode() + b"/* caf\xe9 */\n"
    new = old.replace(b"        free(p);\n", b"")
    change = describe_commit(two_versions(tmp_path, "a.c", old, new), INCIDENT)
    assert change.notes == ["removed free(p) in serve() (a.c)"]


def test_bad_manifest_in_a_commit_becomes_a_note(tmp_path: Path) -> None:
    good = "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n"
    commit = two_versions(tmp_path, "infra/kubernetes/pod.yaml", good, "kind: [Pod\n")
    change = describe_commit(commit, INCIDENT)
    assert change.kind is ChangeKind.MANIFEST and change.memory_limit_to is None
    [note] = change.notes
    assert note.startswith("infra/kubernetes/pod.yaml (after): not valid YAML at line")


def test_files_outside_sources_and_manifests_are_listed_not_described(tmp_path: Path) -> None:
    commit = two_versions(tmp_path, "tools/gen.c", BEFORE, BEFORE.replace("        free(p);\n", ""))
    change = describe_commit(commit, INCIDENT, source_paths=["src"], manifest_dir="k8s")
    assert change.files == ["tools/gen.c"] and change.notes == [] and change.edits == []


def test_huge_generated_c_file_is_skipped_with_a_note(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "table.c").write_text("int table[] = {\n" + "0,\n" * 5000 + "};\n")
    (tmp_path / "README").write_text("binary-free docs\n")
    commit_all(tmp_path, "generated table", AUTHORS["dana"], T0)
    [commit] = GitRepository(tmp_path, max_file_bytes=1000).commits(T0, INCIDENT)
    change = describe_commit(commit, INCIDENT)
    assert change.notes == ["table.c skipped: larger than 1000 bytes"]
    assert change.files == ["README", "table.c"] and change.kind is ChangeKind.COMMIT


@pytest.mark.parametrize(
    ("before", "after", "lowered"),
    [("128Mi", "64Mi", True), ("64Mi", "128Mi", False), (None, "64Mi", True), ("1Gi", None, False)],
)
def test_lowered_memory_limit(before: str | None, after: str | None, lowered: bool) -> None:
    change = Change(
        kind=ChangeKind.MANIFEST,
        sha="f" * 40,
        author="Olivia Ops <olivia@example.com>",
        authored_at=T0,
        subject="limits",
        memory_limit_from=before,
        memory_limit_to=after,
    )
    assert lowered_memory_limit(change) is lowered
