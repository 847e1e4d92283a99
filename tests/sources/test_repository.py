"""GitRepository against real git repositories built in tmp dirs (no mocked git)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ads.errors import RepositoryError
from ads.sources.repository import GitRepository, head_sha, is_git_url, open_repository
from tests.fixtures.history import AUTHORS, LeakHistory, commit_all, run_git

SERVICE_PATHS = ["worker.c", "infra/kubernetes"]


def window(history: LeakHistory, days: float = 7) -> tuple[datetime, datetime]:
    return history.incident_at - timedelta(days=days), history.incident_at


def test_window_lists_the_commits_touching_code_and_manifests_newest_first(
    leak_history_repo: LeakHistory,
) -> None:
    repo = GitRepository(leak_history_repo.path)
    commits = repo.commits(*window(leak_history_repo), SERVICE_PATHS)
    shas = leak_history_repo.shas
    assert [c.sha for c in commits] == [
        shas["lowers_limit"],
        shas["typo_fix"],
        shas["removes_free"],
    ]


def test_window_without_paths_lists_every_commit_but_not_older_ones(
    leak_history_repo: LeakHistory,
) -> None:
    repo = GitRepository(leak_history_repo.path)
    listed = [c.sha for c in repo.commits(*window(leak_history_repo))]
    shas = leak_history_repo.shas
    order = ["lowers_limit", "typo_fix", "other_file", "readme", "removes_free"]
    assert listed == [shas[key] for key in order]
    assert shas["initial"] not in listed
    everything = [c.sha for c in repo.commits(*window(leak_history_repo, days=30))]
    assert everything[-1] == shas["initial"]


def test_commit_carries_author_time_subject_files_diff_and_texts(
    leak_history_repo: LeakHistory,
) -> None:
    repo = GitRepository(leak_history_repo.path)
    commits = repo.commits(*window(leak_history_repo), SERVICE_PATHS)
    removal = next(c for c in commits if c.sha == leak_history_repo.shas["removes_free"])
    assert (removal.author_name, removal.author_email) == AUTHORS["riley"]
    assert removal.authored_at.tzinfo is not None
    assert removal.authored_at == leak_history_repo.incident_at - timedelta(hours=6)
    assert removal.subject == "worker: reuse payload buffer handling"
    assert removal.parents == [leak_history_repo.shas["initial"]]
    [worker] = removal.files
    assert (worker.path, worker.status, worker.additions, worker.deletions) == (
        "worker.c",
        "M",
        0,
        1,
    )
    assert "\n-        free(buffer);\n" in worker.diff
    assert worker.diff.startswith("diff --git a/worker.c b/worker.c")
    assert worker.old_text is not None and "free(buffer);" in worker.old_text
    assert worker.new_text is not None and "free(buffer);" not in worker.new_text


def test_empty_window_is_an_empty_list(leak_history_repo: LeakHistory) -> None:
    repo = GitRepository(leak_history_repo.path)
    long_ago = leak_history_repo.incident_at - timedelta(days=400)
    assert repo.commits(long_ago, long_ago + timedelta(days=1), SERVICE_PATHS) == []
    after = leak_history_repo.incident_at + timedelta(minutes=1)
    assert repo.commits(after, after + timedelta(days=1)) == []


def test_blame_names_the_commit_that_last_changed_each_line(
    leak_history_repo: LeakHistory,
) -> None:
    repo = GitRepository(leak_history_repo.path)
    shas = leak_history_repo.shas
    assert repo.blame_line("worker.c", 26) == shas["initial"]  # the malloc line is old
    assert repo.blame_line("worker.c", 25) == shas["typo_fix"]
    assert repo.blame_lines("worker.c", 25, 27) == [
        shas["typo_fix"],
        shas["initial"],
        shas["initial"],
    ]
    assert repo.blame_line("worker.c", 26, rev=shas["initial"]) == shas["initial"]
    with pytest.raises(RepositoryError, match="has only 55 lines"):
        repo.blame_line("worker.c", 400)


def test_show_and_log_for_file(leak_history_repo: LeakHistory) -> None:
    repo = GitRepository(leak_history_repo.path)
    shas = leak_history_repo.shas
    initial = repo.show(shas["initial"], "worker.c")
    assert initial is not None and b"free(buffer);" in initial
    assert repo.show("HEAD", "no-such-file.c") is None
    history = repo.log_for_file("worker.c", max_count=10)
    assert [c.sha for c in history] == [shas["typo_fix"], shas["removes_free"], shas["initial"]]
    assert [c.sha for c in repo.log_for_file("worker.c", max_count=1)] == [shas["typo_fix"]]


def test_head_default_branch_and_dirtiness(leak_history_repo: LeakHistory) -> None:
    repo = GitRepository(leak_history_repo.path)
    assert repo.head_sha() == leak_history_repo.shas["lowers_limit"] == head_sha(repo.path)
    assert repo.default_branch() == "main"
    assert not repo.is_dirty()
    (repo.path / "notes.txt").write_text("untracked\n")
    assert not repo.is_dirty() and repo.is_dirty(include_untracked=True)
    worker = repo.path / "worker.c"
    worker.write_text(worker.read_text() + "/* edited */\n")
    assert repo.is_dirty()


def test_missing_path_and_not_git_are_one_line_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(RepositoryError, match=r"nowhere does not exist") as info:
        GitRepository(missing)
    assert "\n" not in str(info.value)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepositoryError, match=r"plain is not a git repository") as info:
        GitRepository(plain)
    assert "\n" not in str(info.value)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(RepositoryError, match="is not a directory"):
        GitRepository(a_file)


def test_repository_without_commits(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    repo = GitRepository(tmp_path)
    now = datetime.now(UTC)
    assert repo.commits(now - timedelta(days=7), now) == []
    with pytest.raises(RepositoryError, match="has no commits yet"):
        repo.head_sha()


def test_service_in_a_subdirectory_reads_paths_relative_to_it(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    service = tmp_path / "services" / "worker"
    service.mkdir(parents=True)
    (service / "main.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "README.md").write_text("monorepo\n")
    sha = commit_all(tmp_path, "monorepo", AUTHORS["dana"], when)
    (tmp_path / "README.md").write_text("monorepo, updated\n")
    commit_all(tmp_path, "readme", AUTHORS["sam"], when + timedelta(hours=1))

    repo = GitRepository(service)
    assert repo.root == tmp_path
    commits = repo.commits(when - timedelta(days=1), when + timedelta(days=1))
    assert [c.sha for c in commits] == [sha]  # the README commit is outside the service
    assert [f.path for f in commits[0].files] == ["main.c"]
    assert repo.show("HEAD", "main.c") == b"int main(void) { return 0; }\n"
    assert repo.blame_line("main.c", 1) == sha


def test_non_utf8_and_binary_content_do_not_break_reading(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    (tmp_path / "legacy.c").write_bytes(b"/* caf\xe9 */\nint x;\n")
    (tmp_path / "logo.bin").write_bytes(b"\x00\x01\x02\xff" * 64)
    commit_all(tmp_path, "latin-1 source and a binary", AUTHORS["dana"], when)
    (tmp_path / "legacy.c").write_bytes(b"/* caf\xe9 cr\xe8me */\nint x;\n")
    commit_all(tmp_path, "edit latin-1 comment", AUTHORS["dana"], when + timedelta(hours=1))

    repo = GitRepository(tmp_path)
    newest, oldest = repo.commits(when - timedelta(days=1), when + timedelta(days=1))
    [legacy] = newest.files
    assert "\ufffd" in legacy.diff and "cr\ufffdme" in (legacy.new_text or "")
    binary = next(f for f in oldest.files if f.path == "logo.bin")
    assert binary.binary and binary.skipped == "binary file" and binary.new_text is None
    assert newest.model_dump_json()  # serialisable as JSON despite the odd bytes


def test_merges_and_odd_file_names_are_read(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    (tmp_path / "base.c").write_text("int base;\n")
    commit_all(tmp_path, "base", AUTHORS["dana"], when)
    run_git(tmp_path, "checkout", "-q", "-b", "feature")
    odd = "caf\udce9 tab\there.c"  # a Latin-1 byte and a TAB in a file name
    (tmp_path / odd).write_text("int odd;\n")
    feature = commit_all(tmp_path, "odd name", AUTHORS["sam"], when + timedelta(hours=1))
    run_git(tmp_path, "checkout", "-q", "main")
    (tmp_path / "base.c").write_text("int base2;\n")
    main = commit_all(tmp_path, "main work", AUTHORS["dana"], when + timedelta(hours=2))
    run_git(
        tmp_path,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "merge",
        "feature",
        author=AUTHORS["dana"],
        when=when + timedelta(hours=3),
    )

    commits = GitRepository(tmp_path).commits(when + timedelta(minutes=1), when + timedelta(days=1))
    assert [c.sha for c in commits] == [main, feature]  # the merge itself adds nothing new
    [odd_file] = commits[1].files
    assert odd_file.path == "caf\ufffd tab\there.c" and odd_file.new_text == "int odd;\n"


def test_files_above_the_size_limit_are_skipped_with_a_reason(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    (tmp_path / "generated.c").write_text("int table[] = {\n" + "0,\n" * 5000 + "};\n")
    (tmp_path / "small.c").write_text("int y;\n")
    commit_all(tmp_path, "generated table", AUTHORS["dana"], when)
    repo = GitRepository(tmp_path, max_file_bytes=1000)
    [commit] = repo.commits(when - timedelta(days=1), when + timedelta(days=1))
    files = {f.path: f for f in commit.files}
    assert files["generated.c"].new_text is None
    assert files["generated.c"].skipped == "larger than 1000 bytes"
    assert files["small.c"].new_text == "int y;\n" and files["small.c"].skipped is None


def test_renames_are_reported_with_their_old_path(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    (tmp_path / "old name.c").write_text("int z;\n" * 20)
    commit_all(tmp_path, "add", AUTHORS["dana"], when)
    run_git(tmp_path, "mv", "old name.c", "new name.c")
    commit_all(tmp_path, "rename", AUTHORS["dana"], when + timedelta(hours=1))
    repo = GitRepository(tmp_path)
    newest = repo.commits(when - timedelta(days=1), when + timedelta(days=1))[0]
    [renamed] = newest.files
    assert (renamed.status, renamed.old_path, renamed.path) == ("R", "old name.c", "new name.c")
    assert "rename from old name.c" in renamed.diff


def test_git_url_is_cloned_into_the_cache_then_fetched(
    leak_history_repo: LeakHistory, tmp_path: Path
) -> None:
    bare = tmp_path / "remote" / "ads-demo-service.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(leak_history_repo.path), str(bare))
    url = bare.as_uri()
    cache = tmp_path / "cache"

    repo = open_repository(url, base_dir=tmp_path, cache_dir=cache)
    assert repo.path.parent == cache and repo.path.name.startswith("ads-demo-service-")
    assert repo.head_sha() == leak_history_repo.shas["lowers_limit"]
    assert repo.default_branch() == "main"
    assert [p.name for p in cache.iterdir()] == [repo.path.name]  # no staging left behind

    source = leak_history_repo.path
    (source / "CHANGES.md").write_text("new upstream work\n")
    new_sha = commit_all(source, "upstream", AUTHORS["sam"], datetime.now(UTC))
    run_git(source, "push", "-q", str(bare), "main")
    again = open_repository(url, base_dir=tmp_path, cache_dir=cache)
    assert again.path == repo.path and again.head_sha() == new_sha

    (again.path / "worker.c").write_text("local edit\n")
    with pytest.raises(RepositoryError, match="has local changes"):
        open_repository(url, base_dir=tmp_path, cache_dir=cache)
    assert (again.path / "worker.c").read_text() == "local edit\n"  # nothing thrown away


def test_clone_failure_is_one_line_and_hides_credentials(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(RepositoryError, match="could not clone"):
        open_repository((tmp_path / "absent.git").as_uri(), base_dir=tmp_path, cache_dir=cache)
    assert list(cache.iterdir()) == []
    with pytest.raises(RepositoryError) as info:
        open_repository("https://bot:s3cret-token@127.0.0.1:9/x.git", tmp_path, cache)
    assert "s3cret-token" not in str(info.value) and "***@127.0.0.1" in str(info.value)


def test_local_paths_are_relative_to_base_dir(leak_history_repo: LeakHistory) -> None:
    base = leak_history_repo.path.parent
    repo = open_repository("ads-demo-service", base_dir=base, cache_dir=base / "cache")
    assert repo.path == leak_history_repo.path
    assert not (base / "cache").exists()
    assert is_git_url("git@github.com:org/repo.git") and is_git_url("https://x/y.git")
    assert not is_git_url("../repo") and not is_git_url("/srv/repo")


def test_head_sha_function_keeps_its_contract(tmp_path: Path) -> None:
    assert head_sha(tmp_path) is None
    assert head_sha(tmp_path / "missing") is None
