"""Rollback: revert the commit that introduced the leak, as a ready branch, and undo the rollout.

When the diagnosis names an introducing commit, ADS makes branch
``ads/incident-<number>-rollback`` holding ``git revert`` of it on top of the current head —
made in a temporary worktree, so the user's checkout (dirty or not) is never touched — and gives
the ``kubectl rollout undo`` command for the deployment (``--to-revision`` when the manifest
history says which revision). When the bug is pre-existing there is nothing to roll back to,
and the plan says so instead of inventing a target.

A rollback goes back to the last known-good state, so the commit that brought the service in
(its import: the repository's first commit, or any commit that added most of the service's
files) is never a target, even when it is the one that "introduced" the leak: reverting it
deletes the service. The plan then says there is no rollback target, and why.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ..config import ServiceConfig
from ..errors import RemediationError
from ..models import Finding, RunResult, VerificationOutcome
from ..sources.monitors.cgroups import MemoryLimiter
from .verification import verify_fix
from .worktrees import git, identity_args, temporary_worktree

__all__ = [
    "NO_ROLLBACK_TARGET",
    "RollbackPlan",
    "import_of_service",
    "prepare_rollback",
    "rollback_branch",
    "verify_rollback",
]

NO_ROLLBACK_TARGET = "pre-existing bug: no rollback target"
READY = ", ready to merge."


class RollbackPlan(BaseModel):
    """What rolling back means for one incident, ready to use or to paste."""

    introducing_commit: str | None = None
    branch: str | None = None
    revert_commit: str | None = None
    kubectl: str | None = None
    summary: str

    def text(self) -> str:
        """One paragraph for ``Remediation.rollback``, the PR body and the incident note."""
        parts = [self.summary]
        if self.kubectl:
            parts.append(f"Cluster: `{self.kubectl}`.")
        return " ".join(parts)


def rollback_branch(incident_number: int | str) -> str:
    return f"ads/incident-{incident_number}-rollback"


def kubectl_undo(service: ServiceConfig, to_revision: int | None = None) -> str:
    deployment = service.kubernetes.deployment or service.name
    command = f"kubectl rollout undo deployment/{deployment} -n {service.kubernetes.namespace}"
    return f"{command} --to-revision={to_revision}" if to_revision is not None else command


def prepare_rollback(
    repo: Path,
    service: ServiceConfig,
    incident_number: int | str,
    introducing_commit: str | None,
    *,
    to_revision: int | None = None,
    base: str = "HEAD",
) -> RollbackPlan:
    """Make the revert branch for ``introducing_commit`` (or say there is no target).

    Running it again for the same incident resets the same branch to a fresh revert on ``base``,
    never a second branch. ``RemediationError`` when the commit is unknown, not in ``base``'s
    history, or cannot be reverted cleanly (later commits changed the same lines); nothing is
    left behind then.
    """
    if not introducing_commit:
        return RollbackPlan(summary=f"{NO_ROLLBACK_TARGET} (the leak predates the commit window)")
    repo = Path(repo)
    sha = _resolve(repo, introducing_commit)
    if git(repo, "merge-base", "--is-ancestor", sha, base, check=False).returncode != 0:
        raise RemediationError(
            f"commit {sha[:12]} is not in the history of {base}: nothing to revert there",
            hint="is the deployed branch checked out?",
        )
    imported = import_of_service(repo, sha)
    if imported is not None:
        return RollbackPlan(introducing_commit=sha, summary=imported)
    branch = rollback_branch(incident_number)
    existed = git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False)
    try:
        with temporary_worktree(repo, base, branch=branch) as tree:
            revert = _revert(tree, sha)
    except RemediationError:
        if existed.returncode != 0:
            git(repo, "branch", "-D", branch, check=False)
        else:  # put the branch back where it was before this attempt
            git(repo, "branch", "-f", branch, existed.stdout.strip(), check=False)
        raise
    subject = git(repo, "log", "-1", "--format=%s", sha).stdout.strip()
    return RollbackPlan(
        introducing_commit=sha,
        branch=branch,
        revert_commit=revert,
        kubectl=kubectl_undo(service, to_revision),
        summary=(
            f"Revert {sha[:12]} ({subject!r}), which introduced the leak: branch {branch} holds "
            f"the revert ({revert[:12]}){READY}"
        ),
    )


def verify_rollback(
    repo: Path,
    service: ServiceConfig,
    plan: RollbackPlan,
    *,
    base: str = "HEAD",
    finding: Finding | None = None,
    limiter: MemoryLimiter | None = None,
    before: RunResult | None = None,
) -> RollbackPlan:
    """The rollback, verified like the fix before it is called "ready to merge": the tree of
    its branch is built and run under the same limit after the current build is OOM-killed.
    A revert that undoes the wrong commit (the leak is older) is then seen still to grow, and
    the summary says so instead of promising a merge that changes nothing. ``before``: the
    fix's verification's run of the current build, reused rather than repeated."""
    if plan.branch is None or READY not in plan.summary:
        return plan
    diff = git(repo, "diff", "--binary", base, plan.branch).stdout
    if not diff.strip():
        said = "; it changes nothing at the deployed revision, so there is nothing to verify."
        return plan.model_copy(update={"summary": plan.summary.replace(READY, said)})
    result = verify_fix(
        repo,
        service,
        diff,
        finding=finding,
        rev=base,
        leak_sanitizer=False,
        limiter=limiter,
        before=before,
    )
    if result.outcome is VerificationOutcome.VERIFIED:
        said = f"; verified like the fix ({result.detail}), ready to merge."
    else:
        said = (
            f"; NOT verified ({result.outcome.value}: {result.detail}): review it before merging."
        )
    return plan.model_copy(update={"summary": plan.summary.replace(READY, said)})


def import_of_service(repo: Path, sha: str) -> str | None:
    """Why reverting ``sha`` is no rollback, when it imported the service in ``repo`` (the
    directory ads.yaml points at): the root commit, or one that added at least half of the
    service's files as they stood after it. ``None`` when it is an ordinary change."""
    parents = git(repo, "rev-list", "--parents", "-n", "1", sha).stdout.split()[1:]
    listed = git(repo, "ls-tree", "-r", "--name-only", "-z", sha, "--", ".").stdout
    total = len([name for name in listed.split("\0") if name])
    shown = ["show", "--no-renames", "--diff-filter=A", "--name-only", "-z", "--format="]
    added_out = git(repo, *shown, "--relative", sha, "--", ".").stdout if parents else listed
    added = len([name for name in added_out.split("\0") if name.strip()])
    if parents and (total == 0 or added * 2 < total):
        return None
    subject = git(repo, "log", "-1", "--format=%s", sha).stdout.strip()
    what = "is the repository's first commit" if not parents else "imported the service"
    return (
        f"no rollback target: {sha[:12]} ({subject!r}) {what}, adding {added} of its "
        f"{total} files; reverting it would delete the service, and there is no earlier "
        "known-good state to go back to. Ship the fix instead."
    )


def _resolve(repo: Path, rev: str) -> str:
    proc = git(repo, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if proc.returncode != 0:
        raise RemediationError(f"no commit {rev!r} in {repo}: nothing to revert")
    return proc.stdout.strip()


def _identity(tree: Path) -> list[str]:
    """Commit as the user's configured identity, else as ADS (never fail for lack of one)."""
    if git(tree, "config", "user.email", check=False).stdout.strip():
        return []
    return identity_args()


def _revert(tree: Path, sha: str) -> str:
    parents = git(tree, "rev-list", "--parents", "-n", "1", sha).stdout.split()[1:]
    mainline = ["-m", "1"] if len(parents) > 1 else []
    proc = git(tree, *_identity(tree), "revert", "--no-edit", *mainline, sha, check=False)
    if proc.returncode != 0:
        conflicted = git(tree, "diff", "--name-only", "--diff-filter=U", check=False).stdout
        git(tree, "revert", "--abort", check=False)
        if conflicted.split():
            raise RemediationError(
                f"reverting {sha[:12]} conflicts with later changes "
                f"({', '.join(conflicted.split())})",
                hint="revert it by hand, or ship the fix instead",
            )
        said = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        raise RemediationError(f"git revert of {sha[:12]} failed: {(said or ['no output'])[0]}")
    return git(tree, "rev-parse", "HEAD").stdout.strip()
