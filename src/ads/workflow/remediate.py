"""remediate(incident): diagnose → fix → verify → branch/PR → note, with timings per stage.

The fix is verified by reproduction before it is proposed: the current build must be
OOM-killed under the service's limit and the patched build must run flat. The PR (or, without
GitHub, the branch plus a PR file) and the note say exactly what was seen. Re-running for the
same incident updates the same branch and PR and does not post a second note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..actions.github_pr import github_repo_from_remote, open_or_update_pull_request
from ..actions.mitigation import propose_mitigation
from ..actions.notes import incident_note, is_ads_note
from ..actions.pull_request import (
    branch_name,
    commit_fix_branch,
    pull_request_text,
    push_branch,
    write_pull_request_file,
)
from ..actions.rollback import kubectl_undo, prepare_rollback
from ..actions.verification import verify_fix
from ..actions.worktrees import git
from ..analysis.languages import front_end_for
from ..config import ServiceConfig
from ..errors import AdsError, RemediationError, RepositoryError
from ..models import Diagnosis, Finding, Remediation, VerificationOutcome, VerificationResult
from ..sources.repository import GitRepository
from .context import Context
from .diagnose import diagnose

__all__ = ["Stage", "remediate", "suggest_remediation", "verify_incident"]

Stage = Callable[[str, str], None]  # (stage name, "start" | "done" | "skipped") for progress


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Stage | None) -> Iterator[None]:
    if progress:
        progress(stage, "start")
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(time.perf_counter() - started, 3)
        if progress:
            progress(stage, "done")


def suggest_remediation(ctx: Context, diagnosis: Diagnosis) -> Remediation:
    """Fix diff, rollback and mitigation for a diagnosis, without running or writing anything."""
    if not diagnosis.findings:
        raise RemediationError(
            f"incident {diagnosis.incident.id}: the diagnosis found no leak to fix"
        )
    top = diagnosis.findings[0]
    service = ctx.settings.service(diagnosis.service)
    repo = ctx.repository(service)
    raw = repo.show(_revision(diagnosis), top.file)
    if raw is None:
        raise RemediationError(f"{top.file} is not in {_revision(diagnosis)[:12]} of {repo.root}")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemediationError(f"{top.file} is not UTF-8 text: no patch can be made") from None
    front_end = front_end_for(top.file)
    if front_end is None:
        raise RemediationError(f"no front end reads {top.file}: no patch can be made")
    fix = front_end.propose_fix(top.file, source, top)
    return Remediation(
        incident_id=diagnosis.incident.id,
        fix_diff=fix.diff,
        fix_summary=fix.summary if fix.has_patch else (fix.suggestion or fix.summary),
        rollback=_rollback_text(diagnosis, service),
        mitigation=_mitigation_text(repo.root, service, top, None),
    )


def _revision(diagnosis: Diagnosis) -> str:
    """The commit the diagnosis analysed: the fix is made, verified and branched from it."""
    return diagnosis.revision or "HEAD"


def _rollback_text(diagnosis: Diagnosis, service: ServiceConfig) -> str:
    top = diagnosis.findings[0]
    if top.introduced_by is None:
        return "pre-existing bug: no rollback target (the leak predates the commit window)"
    change = top.introduced_by
    return (
        f"revert {change.sha[:12]} ({change.subject!r}), which introduced the leak; "
        f"cluster: `{kubectl_undo(service)}`"
    )


def _mitigation_text(
    repo: Path, service: ServiceConfig, top: Finding, measured_growth: float | None
) -> str | None:
    growth = measured_growth
    if not growth and top.bytes_per_iteration and top.iterations_per_second:
        growth = top.bytes_per_iteration * top.iterations_per_second
    if not growth:
        return None
    try:
        return propose_mitigation(repo, service, growth_bytes_per_second=growth).text()
    except AdsError as exc:
        return f"no limit-raise mitigation: {exc}"


def verify_incident(ctx: Context, diagnosis: Diagnosis) -> tuple[Remediation, VerificationResult]:
    """Only the verification by reproduction of the proposed fix: no branch, PR or note, and the
    stored remediation (whose note time the escalation rules read) is left as it is."""
    suggestion = suggest_remediation(ctx, diagnosis)
    service = ctx.settings.service(diagnosis.service)
    result = verify_fix(
        ctx.repository(service).root,
        service,
        suggestion.fix_diff,
        finding=diagnosis.findings[0],
        rev=_revision(diagnosis),
    )
    return suggestion, result


def remediate(
    ctx: Context,
    incident_id: str,
    *,
    verify: bool = True,
    open_pr: bool = True,
    write_note: bool = True,
    progress: Stage | None = None,
) -> Remediation:
    """Diagnose, verify the fix by reproduction, open the PR and write the note."""
    timings: dict[str, float] = {}
    with _timed(timings, "diagnose", progress):
        diagnosis = diagnose(ctx, incident_id)
    remediation = suggest_remediation(ctx, diagnosis)
    service = ctx.settings.service(diagnosis.service)
    repo = ctx.repository(service)
    top = diagnosis.findings[0]
    previous = ctx.store.remediation(diagnosis.incident.id)
    if verify:
        with _timed(timings, "verify", progress):
            remediation.verification = verify_fix(
                repo.root, service, remediation.fix_diff, finding=top, rev=_revision(diagnosis)
            )
    elif previous is not None and previous.fix_diff == remediation.fix_diff:
        remediation.verification = previous.verification  # same fix: what was seen still holds
    if previous is not None:
        remediation.noted_at, remediation.escalated_to = previous.noted_at, previous.escalated_to
    incident = diagnosis.incident
    number = incident.number or incident.id
    with _timed(timings, "rollback", progress):
        introduced = top.introduced_by.sha if top.introduced_by else None
        try:
            plan = prepare_rollback(
                repo.root, service, number, introduced, base=_revision(diagnosis)
            )
            remediation.rollback = plan.text()
        except (RemediationError, RepositoryError) as exc:
            remediation.notes.append(f"rollback branch not made: {exc}")
    if remediation.verification is not None and remediation.verification.growth_before:
        remediation.mitigation = _mitigation_text(
            repo.root, service, top, remediation.verification.growth_before
        )
    if open_pr and remediation.fix_diff:
        with _timed(timings, "pull request", progress):
            _open_pull_request(ctx, diagnosis, remediation, number)
    if write_note:
        with _timed(timings, "note", progress):
            _write_note(ctx, diagnosis, remediation)
    remediation.timings = {**timings, **_verification_timings(remediation)}
    ctx.store.save_remediation(remediation)
    return remediation


def _verification_timings(remediation: Remediation) -> dict[str, float]:
    result = remediation.verification
    if result is None:
        return {}
    return {f"verification {stage}": seconds for stage, seconds in result.timings.items()}


def _open_pull_request(
    ctx: Context, diagnosis: Diagnosis, remediation: Remediation, number: int | str
) -> None:
    service = ctx.settings.service(diagnosis.service)
    repo = ctx.repository(service)
    verification = remediation.verification
    if verification is not None and verification.outcome is VerificationOutcome.FIX_FAILED:
        remediation.notes.append("fix failed verification: no pull request opened")
        return
    top = diagnosis.findings[0]
    branch = branch_name(number)
    text = pull_request_text(
        diagnosis,
        fix_summary=remediation.fix_summary,
        component=service.kubernetes.container or service.name,
        verification=verification,
        rollback=remediation.rollback,
        mitigation=remediation.mitigation,
    )
    message = (
        f"Fix memory leak in {top.function}() ({top.file}:{top.line})\n\n"
        f"{remediation.fix_summary}. Incident #{number}: {diagnosis.incident.title}.\n"
        + (f"Verification: {verification.outcome.value}.\n" if verification else "")
    )
    commit_fix_branch(
        repo.root, branch, remediation.fix_diff or "", message, base=_revision(diagnosis)
    )
    remediation.branch = branch
    remediation.pr_title, remediation.pr_body = text.title, text.body
    remediation.pushed = push_branch(repo.root, branch)
    remote = git(repo.root, "remote", "get-url", "origin", check=False).stdout.strip()
    github_repo = github_repo_from_remote(remote) if remote else None
    token = ctx.settings.secrets.github_token
    if github_repo and token and remediation.pushed:
        reviewers = [o.github for o in diagnosis.oncall if o.level == 1 and o.github]
        result = open_or_update_pull_request(
            token,
            github_repo,
            head=branch,
            base=_base_branch(repo),
            title=text.title,
            body=text.body,
            reviewers=reviewers,
        )
        remediation.pr_url = result.url
        remediation.notes += result.notes
    else:
        path = write_pull_request_file(ctx.settings.state_dir, number, text)
        remediation.pr_file = str(path)


def _base_branch(repo: GitRepository) -> str:
    """The branch the fix was cut from (HEAD's), so the PR carries only the fix commit."""
    current = git(repo.root, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    return current or repo.default_branch()


def _write_note(ctx: Context, diagnosis: Diagnosis, remediation: Remediation) -> None:
    pagerduty = ctx.pagerduty
    incident_id = diagnosis.incident.id
    for note in pagerduty.list_notes(incident_id):
        if is_ads_note(note.content, remediation.branch):
            remediation.note_id = note.id
            remediation.noted_at = remediation.noted_at or note.created_at
            return
    note = pagerduty.add_note(incident_id, incident_note(diagnosis, remediation))
    remediation.note_id = note.id
    remediation.noted_at = datetime.now(UTC)
