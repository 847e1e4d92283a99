"""Temporary git worktrees: where ADS builds, patches and reverts without touching the user's.

The user's checkout may be dirty, on another branch, or mid-rebase; ADS never writes to it. Every
build, patch and revert happens in a ``git worktree`` made in a temporary directory at an exact
revision and removed afterwards on every exit path (errors and Ctrl-C included), so
``git worktree list`` shows nothing left behind. Only ``kill -9`` (or a power cut) skips that:
the temporary directory is named with the owner tag of the ADS process
(``ads-worktree-o<pid>x<start>-…``) and names its repository in a file, so the next ADS to start
reclaims it (``ads.actions.leftovers``); a branch still checked out in such a worktree is
reclaimed on the spot when ADS needs the branch again.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import RemediationError, RepositoryError
from ..sources.owner import current_owner

__all__ = ["ADS_IDENTITY", "apply_patch", "git", "identity_args", "temporary_worktree"]

GIT_TIMEOUT = 120
WORKTREE_PREFIX = "ads-worktree-"  # then the owner tag: ads-worktree-o<pid>x<start>-<random>
OWNER_FILE = "ads-repository"  # in the temporary directory: which repository it belongs to
_CHECKED_OUT = re.compile(r"is already (?:checked out|used by worktree) at '(?P<path>[^']+)'")
ADS_IDENTITY = ("ADS (Automated Diagnostic System)", "ads@localhost")


def identity_args() -> list[str]:
    """``git -c`` options that make ADS the author and committer of what it commits."""
    name, email = ADS_IDENTITY
    return ["-c", f"user.name={name}", "-c", f"user.email={email}"]


def git(
    repo: Path, *args: str, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``git -C repo args`` and capture its output; ``RepositoryError`` if git cannot run."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=input,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise RepositoryError("git is not installed", hint="install git") from None
    except subprocess.TimeoutExpired:
        raise RepositoryError(f"git {args[0]} in {repo} took longer than {GIT_TIMEOUT} s") from None
    if check and proc.returncode != 0:
        raise RepositoryError(f"git {args[0]} failed in {repo}: {_first_line(proc)}")
    return proc


def _first_line(proc: subprocess.CompletedProcess[str]) -> str:
    for line in (proc.stderr or proc.stdout or "").splitlines():
        if line.strip():
            return line.strip()
    return f"exit {proc.returncode}"


def _reclaim_checkout(top: Path, added: subprocess.CompletedProcess[str]) -> bool:
    """When the branch is checked out in a worktree a crashed ADS left, reclaim it; whether so."""
    match = _CHECKED_OUT.search(added.stderr or "")
    if match is None:
        return False
    from .leftovers import reclaim_worktree  # leftovers uses git() from here

    return reclaim_worktree(top, Path(match.group("path")))


def _check_repo(repo: Path) -> Path:
    if not repo.is_dir():
        raise RepositoryError(f"repository {repo} does not exist")
    proc = git(repo, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise RepositoryError(f"{repo} is not a git repository", hint="point ads.yaml repo at one")
    return Path(proc.stdout.strip())


def apply_patch(worktree: Path, patch: str) -> None:
    """Apply a unified diff at the worktree's root; ``RemediationError`` when it does not apply."""
    if not patch.endswith("\n"):
        patch += "\n"
    check = git(worktree, "apply", "--check", "-", input=patch, check=False)
    if check.returncode != 0:
        raise RemediationError(
            f"the patch does not apply: {_first_line(check)}",
            hint="the code changed since the diagnosis; re-run it on the current revision",
        )
    git(worktree, "apply", "-", input=patch)


@contextlib.contextmanager
def temporary_worktree(
    repo: Path,
    rev: str = "HEAD",
    *,
    patch: str | None = None,
    branch: str | None = None,
) -> Iterator[Path]:
    """A fresh worktree of ``repo`` at ``rev`` (with ``patch`` applied), removed on exit.

    When ``repo`` is a subdirectory of its git repository (a service in a monorepo), the path
    yielded is the same subdirectory inside the worktree; ``patch`` paths are relative to the
    top of the repository either way, as ``git diff`` writes them.

    With ``branch`` the worktree checks out that branch, created (or reset) at ``rev``; the
    branch stays after the worktree is gone — that is how rollback branches are made.
    """
    top = _check_repo(Path(repo))
    relative = Path(repo).resolve().relative_to(top.resolve())
    resolved = git(top, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if resolved.returncode != 0:
        raise RepositoryError(f"no commit {rev!r} in {top}")
    sha = resolved.stdout.strip()
    parent = Path(tempfile.mkdtemp(prefix=f"{WORKTREE_PREFIX}{current_owner().tag}-"))
    (parent / OWNER_FILE).write_text(str(top.resolve()) + "\n")  # the repo, for reclaiming
    path = parent / top.name
    target = ["-B", branch, str(path), sha] if branch else ["--detach", str(path), sha]
    added = git(top, "worktree", "add", "-q", *target, check=False)
    if added.returncode != 0 and branch and _reclaim_checkout(top, added):
        added = git(top, "worktree", "add", "-q", *target, check=False)
    if added.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
        git(top, "worktree", "prune", check=False)
        raise RepositoryError(f"cannot make a worktree of {top} at {rev}: {_first_line(added)}")
    try:
        inside = path / relative  # a service in a subdirectory of a bigger repository
        if patch is not None:
            apply_patch(path, patch)
        yield inside
    finally:
        git(top, "worktree", "remove", "--force", "--force", str(path), check=False)
        shutil.rmtree(parent, ignore_errors=True)
        git(top, "worktree", "prune", check=False)
