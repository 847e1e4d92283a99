"""The remediation pull request: a branch with the fix, and a title and body in the brief's format.

The branch is ``ads/incident-<number>-fix-memory-leak``, made in a temporary worktree from the
default branch with one commit holding the fix; the default branch itself is never written to.
Running it again for the same incident resets the same branch to a fresh fix commit, so there is
one branch (and one PR) per incident. Without GitHub, the title and body are written to
``<state_dir>/pull-requests/<number>.md`` next to the branch and printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import RemediationError, RemoteUnavailableError, RepositoryError
from ..models import Diagnosis, OnCall, VerificationResult
from ..units import format_bytes
from .report import line_span
from .worktrees import git, identity_args, temporary_worktree

__all__ = [
    "PullRequestText",
    "branch_name",
    "commit_fix_branch",
    "pull_request_text",
    "push_branch",
    "severity_label",
    "write_pull_request_file",
]

SEVERITY_LEVELS = {"critical": "SEV-1", "error": "SEV-2", "warning": "SEV-3", "info": "SEV-4"}


@dataclass(frozen=True)
class PullRequestText:
    title: str
    body: str


def branch_name(incident_number: int | str) -> str:
    return f"ads/incident-{incident_number}-fix-memory-leak"


def severity_label(severity: str | None) -> str:
    """ "SEV-1 (critical)" from PagerDuty's alert severity; the raw value when unknown."""
    if not severity:
        return "unknown"
    level = SEVERITY_LEVELS.get(severity.lower())
    return f"{level} ({severity})" if level else severity


def _oncall_handle(oncall: list[OnCall]) -> str:
    first = min(oncall, key=lambda o: o.level) if oncall else None
    if first is None:
        return "@unassigned"
    return f"@{first.github}" if first.github else f"@{first.name.replace(' ', '')}"


def _verification_lines(result: VerificationResult | None) -> list[str]:
    if result is None:
        return ["- Verification: not run"]
    lines = [f"- Verification: **{result.outcome.value}** — {result.detail}".rstrip(" —")]
    for label, run in (("current build", result.before), ("patched build", result.after)):
        if run is None:
            continue
        peak = max((s.bytes for s in run.samples), default=0)
        lines.append(
            f"  - {label}: {len(run.events)} OOM kill(s), peak {format_bytes(peak)} "
            f"in {run.duration:.1f} s under {format_bytes(run.memory_limit)}"
        )
    if result.runtime_leak_site:
        match = "matches" if result.site_matches_finding else "does not match"
        lines.append(f"  - leak site at run time: {result.runtime_leak_site} ({match} the finding)")
    return lines


def pull_request_text(
    diagnosis: Diagnosis,
    *,
    fix_summary: str,
    component: str,
    verification: VerificationResult | None,
    rollback: str | None,
    mitigation: str | None,
) -> PullRequestText:
    """Title and body: the brief's six fields first, then the evidence."""
    incident = diagnosis.incident
    number = incident.number if incident.number is not None else incident.id
    cause = diagnosis.non_code_cause
    top = diagnosis.findings[0] if diagnosis.findings and cause is None else None
    root_cause = f"Memory leak in {top.function}() function" if top else "unknown"
    if cause is not None:
        root_cause = cause.summary[:1].upper() + cause.summary[1:]
    body = [
        "Description:",
        f"- Incident: {incident.html_url or incident.id}",
        f"- Severity: {severity_label(diagnosis.severity)}",
        f"- Root Cause: {root_cause}",
        f"- Fix: {fix_summary}",
        f"- Affected Service: {diagnosis.service}",
        f"- On-Call: {_oncall_handle(diagnosis.oncall)}",
        "",
        "## Evidence",
        "",
    ]
    if top is not None:
        body += [
            f"- Finding: `{top.file}:{line_span(top)}` in `{top.function}()` — {top.issue} "
            f"({top.kind.value}, confidence {top.confidence.value})",
            *[f"  - {reason}" for reason in top.reasons],
        ]
        if top.introduced_by is not None:
            change = top.introduced_by
            body.append(f'- Introduced by: {change.sha[:12]} "{change.subject}" ({change.author})')
        else:
            body.append("- Introduced by: pre-existing (no commit in the window introduced it)")
    if cause is not None:
        where = f"`{cause.file}:{cause.line}`" if cause.line else f"`{cause.file}`"
        body += [
            f"- Cause: {cause.kind.value} — {where}"
            + (f" (`{cause.text}`)" if cause.text else "")
            + f", confidence {cause.confidence.value}",
            *[f"  - {reason}" for reason in cause.reasons],
        ]
        rejected = [h for h in diagnosis.hypotheses if h.verdict.value == "rejected"]
        body += [f"- Rejected: {h.kind.value} — {'; '.join(h.reasons[:1])}" for h in rejected]
    if diagnosis.impact:
        body.append(f"- Impact: {diagnosis.impact}")
    body += _verification_lines(verification)
    body += ["", "## Other options", ""]
    body.append(f"- Rollback: {rollback or 'no rollback target'}")
    body.append(f"- Mitigation: {mitigation or 'none proposed'}")
    body += ["", "_Opened by ADS, the Automated Diagnostic System._"]
    title = f"[Incident #{number}] Fix memory leak in {component} service"
    if cause is not None:
        title = f"[Incident #{number}] Fix OOM in {component} service: {cause.kind.value}"
    return PullRequestText(title=title, body="\n".join(body) + "\n")


def commit_fix_branch(
    repo: Path, branch: str, fix_diff: str, message: str, *, base: str = "HEAD"
) -> str:
    """Make (or reset) ``branch`` at ``base`` with one commit applying ``fix_diff``; its sha."""
    default = git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    if not branch.startswith("ads/") or branch in (default, "main", "master"):
        raise RemediationError(f"refusing to write to branch {branch!r}: ADS only writes ads/*")
    with temporary_worktree(repo, base, patch=fix_diff, branch=branch) as tree:
        git(tree, *identity_args(), "commit", "-q", "-a", "-m", message)
        return git(tree, "rev-parse", "HEAD").stdout.strip()


def push_branch(repo: Path, branch: str, remote: str = "origin") -> bool:
    """Push the branch (forced: it is ADS's own) when the remote exists; ``False`` if none.

    A remote that cannot be reached (no route, refused, DNS, timeout, a 5xx from the git host)
    is ``RemoteUnavailableError``, worth retrying; a refusal (authentication, permissions, no
    such repository, a hook) is ``RemediationError``: retrying would be refused the same way.
    """
    remotes = git(repo, "remote").stdout.split()
    if remote not in remotes:
        return False
    try:
        proc = git(repo, "push", "-q", "--force", remote, f"refs/heads/{branch}", check=False)
    except RepositoryError as exc:  # the push hung until git's time bound
        raise RemoteUnavailableError(f"push of {branch} to {remote}: {exc.message}") from None
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        lines = [line.strip() for line in output.splitlines() if line.strip()] or ["no output"]
        if _PUSH_UNREACHABLE.search(output) and not _PUSH_REFUSED.search(output):
            raise RemoteUnavailableError(
                f"push of {branch} to {remote} failed: {lines[0]}", delay=0.0
            )
        raise RemediationError(f"push of {branch} to {remote} was rejected: {lines[-1]}")
    return True


# What git prints when the remote is out of reach (curl's and ssh's words), and when it refused.
_PUSH_UNREACHABLE = re.compile(
    r"could not resolve (host|hostname)|failed to connect|connection (refused|timed out|reset)"
    r"|operation timed out|network is unreachable|no route to host|name or service not known"
    r"|temporary failure in name resolution|the remote end hung up unexpectedly|early eof"
    r"|returned error: 5[0-9][0-9]|ssl_error_syscall|gnutls_handshake",
    re.IGNORECASE,
)
_PUSH_REFUSED = re.compile(
    r"permission denied|authentication failed|returned error: 40[0-9]|repository not found"
    r"|does not appear to be a git repository|pre-receive hook declined|protected branch",
    re.IGNORECASE,
)


def write_pull_request_file(state_dir: Path, number: int | str, text: PullRequestText) -> Path:
    """``<state_dir>/pull-requests/<number>.md`` with the title and body (overwritten on rerun)."""
    path = state_dir / "pull-requests" / f"{number}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"Title: {text.title}\n{text.body}")
    return path
