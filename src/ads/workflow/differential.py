"""Reproduction for the differential diagnosis, and the fix of a cause that is not a leak.

Where the service can be built and run here, runs settle between the hypotheses:

* the current build at the previous limit (no kill ⇒ the limit change is the cause) and at
  the current one (a kill ⇒ reproduced);
* the parent of a commit that raised a size or setting, at the current limit (no kill ⇒
  that commit is the cause).

Each becomes an ``analysis.hypotheses.Reproduction`` and the diagnosis is judged again with
it (``rejudge``). ``cause_remediation`` is the ``Remediation`` for a non-code cause (the
manifest or constant corrected, the introducing commit to revert, a measured mitigation) and
``verify_cause_fix`` verifies it the way a leak fix is verified: seen to work here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..actions.cause_fix import propose_cause_fix
from ..actions.reproduction import BuiltRevision, killed
from ..actions.rollback import kubectl_undo
from ..actions.verification import DEFAULT_DURATION, DEFAULT_REPRODUCE_TIMEOUT
from ..actions.worktrees import git, temporary_worktree
from ..analysis.hypotheses import Reproduction
from ..config import ServiceConfig
from ..errors import BuildError, ConfigError, RemediationError
from ..models import (
    CauseKind,
    Change,
    Confidence,
    Diagnosis,
    Hypothesis,
    Remediation,
    RunResult,
    Verdict,
    VerificationOutcome,
    VerificationResult,
)
from ..sources.monitors.cgroups import MemoryLimiter
from ..sources.repository import GitRepository
from ..units import format_quantity, parse_quantity
from .bisect import BisectError, bisect
from .diagnose import analyse

__all__ = [
    "BISECT_SECONDS",
    "bisect_for_cause",
    "cause_limit",
    "cause_remediation",
    "rejudge",
    "reproduce_causes",
    "unsure",
    "verify_cause_fix",
]

#: Bound on each run of the bisection ``ads remediate`` makes (a good build lives this long).
BISECT_SECONDS = 5.0


def _bytes(value: str | None) -> int | None:
    try:
        return parse_quantity(value) if value is not None else None
    except ConfigError:
        return None


def cause_limit(diagnosis: Diagnosis, service: ServiceConfig) -> int:
    """The limit the service ran under when killed: the lowered limit for that cause, else the
    incident's, else ads.yaml's."""
    cause = diagnosis.non_code_cause
    if cause is not None and cause.kind is CauseKind.LIMIT_LOWERED and cause.setting:
        lowered = _bytes(cause.setting.to)
        if lowered:
            return lowered
    for alert in diagnosis.incident.alerts:
        raw = alert.custom_details.get("memory_limit_bytes")
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            return raw
        text = alert.custom_details.get("memory_limit")
        if isinstance(text, str) and (found := _bytes(text)):
            return found
    return service.memory_limit_bytes


def cause_remediation(
    diagnosis: Diagnosis, cause: Hypothesis, service: ServiceConfig, repo: GitRepository
) -> Remediation:
    """Fix, rollback and mitigation for a non-code cause, without running anything."""
    revision = diagnosis.revision or "HEAD"
    text: str | None = None
    path = cause.file or ""
    if cause.file:
        raw = repo.show(revision, cause.file)
        text = raw.decode("utf-8", "replace") if raw is not None else None
        path = repo.from_root(cause.file)
    if cause.kind is CauseKind.BISECTED and cause.change is not None:
        return _revert_remediation(diagnosis, cause, service, repo)
    fix = propose_cause_fix(cause, path, text, limit=cause_limit(diagnosis, service))
    if cause.change is not None:
        rollback = (
            f"revert {cause.change.sha[:12]} ({cause.change.subject!r}): {cause.kind.value}; "
            f"cluster: `{kubectl_undo(service)}`"
        )
    else:
        rollback = "no rollback target: no commit in the window made this change"
    return Remediation(
        incident_id=diagnosis.incident.id,
        fix_diff=fix.diff,
        fix_summary=fix.summary,
        rollback=rollback,
        mitigation=fix.mitigation,
    )


def _revert_remediation(
    diagnosis: Diagnosis, cause: Hypothesis, service: ServiceConfig, repo: GitRepository
) -> Remediation:
    """The fix for a commit found by bisection: its revert, as a patch on the analysed revision
    (none when later commits changed the same lines: then the rollback branch is the fix)."""
    assert cause.change is not None
    sha = cause.change.sha
    diff = git(repo.root, "diff", "--binary", sha, f"{sha}^").stdout
    applies = bool(diff.strip())
    if applies:
        try:
            with temporary_worktree(repo.path, diagnosis.revision or "HEAD", patch=diff):
                pass
        except RemediationError:
            applies = False
    summary = f"revert {sha[:12]} ({cause.change.subject!r}), found by bisection"
    return Remediation(
        incident_id=diagnosis.incident.id,
        fix_diff=diff if applies else None,
        fix_summary=summary if applies else summary + " (it does not apply at HEAD: see rollback)",
        rollback=(
            f"revert {sha[:12]} ({cause.change.subject!r}); cluster: `{kubectl_undo(service)}`"
        ),
        mitigation=None,
    )


def unsure(diagnosis: Diagnosis, service: ServiceConfig) -> bool:
    """Whether static analysis leaves the cause open (no High leak, no other cause supported)
    and the service can be reproduced here: then ``ads remediate`` bisects."""
    if not service.build or not service.run or diagnosis.non_code_cause is not None:
        return False
    top = diagnosis.findings[0] if diagnosis.findings else None
    return top is None or top.confidence is not Confidence.HIGH


def bisect_for_cause(
    repo: GitRepository,
    service: ServiceConfig,
    diagnosis: Diagnosis,
    *,
    seconds: float = BISECT_SECONDS,
    limiter: MemoryLimiter | None = None,
) -> tuple[Hypothesis | None, str]:
    """Bisect the window before the incident: from the last commit before it (good) to the
    analysed revision (bad). The cause found, or None, and a note saying what happened."""
    revision = diagnosis.revision or "HEAD"
    since = diagnosis.incident.created_at - timedelta(days=service.lookback_days)
    before = git(repo.root, "rev-list", "-1", f"--before={int(since.timestamp())}", revision,
                 check=False).stdout.strip()  # fmt: skip
    if not before:
        return None, "bisection not run: no commit before the window to start from"
    limit = cause_limit(diagnosis, service)
    try:
        result = bisect(repo.path, service, before, revision, memory_limit=limit,
                        seconds=seconds, limiter=limiter)  # fmt: skip
    except BisectError as exc:
        return None, f"bisection: {exc}"
    assert result.first_bad is not None
    change = next((c for c in diagnosis.changes if c.sha == result.first_bad), None)
    if change is None:
        change = _change_of(repo, result.first_bad, diagnosis)
    runs = [f"{r.sha[:7]} {r.subject}: {r.verdict} ({r.detail})" for r in result.runs]
    bad_run = next((r for r in result.runs if r.sha == result.first_bad), None)
    summary = (
        f"found by bisection: {result.first_bad[:7]} ({result.first_bad_subject}) is the first "
        f"commit whose build is OOM-killed under {format_quantity(limit)}"
    )
    hypothesis = Hypothesis(
        kind=CauseKind.BISECTED,
        verdict=Verdict.SUPPORTED,
        summary=summary,
        reasons=[
            f"{len(result.runs)} sandboxed run(s) over {result.candidates} commit(s), each at "
            f"most {seconds:g} s under {format_quantity(limit)}",
            *runs,
        ],
        score=3.6,
        confidence=Confidence.HIGH,
        change=change,
        issue="the first commit whose build is OOM-killed under the limit (static analysis "
        "could not see why: found by reproduction)",
        impact=f"its build is {bad_run.detail}" if bad_run else None,
        bisection=result,
    )
    note = f"found by bisection in {len(result.runs)} run(s): {result.first_bad[:12]}"
    return hypothesis, note


def _change_of(repo: GitRepository, sha: str, diagnosis: Diagnosis) -> Change:
    out = git(repo.root, "log", "-1", "--format=%an <%ae>%x09%at%x09%s", sha).stdout.strip()
    author, stamp, subject = [*out.split("\t", 2), "", "", ""][:3]
    when = datetime.fromtimestamp(int(stamp or 0), UTC)
    return Change(
        sha=sha,
        author=author,
        authored_at=when,
        subject=subject,
        before_incident_seconds=(diagnosis.incident.created_at - when).total_seconds(),
    )


def _run(built: BuiltRevision, limit: int, seconds: float) -> RunResult:
    return built.run(limit, seconds)


def reproduce_causes(
    repo: Path,
    service: ServiceConfig,
    diagnosis: Diagnosis,
    *,
    limiter: MemoryLimiter | None = None,
    seconds: float = DEFAULT_DURATION,
) -> tuple[list[Reproduction], dict[str, RunResult]]:
    """Runs that tell the hypotheses apart, as evidence, and the raw runs by what they were."""
    revision = diagnosis.revision or "HEAD"
    current = cause_limit(diagnosis, service)
    found: list[Reproduction] = []
    runs: dict[str, RunResult] = {}
    by_kind = {h.kind: h for h in diagnosis.hypotheses}
    lowered = by_kind.get(CauseKind.LIMIT_LOWERED)
    previous = _bytes(lowered.safe_limit) if lowered and lowered.setting else None
    lowered_to = _bytes(lowered.setting.to) if lowered and lowered.setting else None
    if lowered is not None and previous and lowered_to:
        current = lowered_to
        with BuiltRevision(repo, service, revision, limiter=limiter) as built:
            for what, limit, bound in (
                ("current build at the current limit", current, DEFAULT_REPRODUCE_TIMEOUT),
                ("current build at the previous limit", previous, seconds),
            ):
                run = _run(built, limit, bound)
                runs[what] = run
                found.append(_reproduction(what, revision, limit, run))
    raised = by_kind.get(CauseKind.SIZE_RAISED)
    if raised is not None and raised.change is not None and raised.setting is not None:
        parent = f"{raised.change.sha}^"
        what = f"parent of {raised.change.sha[:7]} at the current limit"
        try:
            with BuiltRevision(repo, service, parent, limiter=limiter) as built:
                run = _run(built, current, seconds)
        except BuildError:
            pass  # a parent that does not build is no evidence either way
        else:
            runs[what] = run
            found.append(_reproduction(what, parent, current, run))
    return found, runs


def _reproduction(what: str, rev: str, limit: int, run: RunResult) -> Reproduction:
    peak = max((s.bytes for s in run.samples), default=0)
    return Reproduction(what, rev, limit, bool(run.events), peak=peak, seconds=run.duration)


def rejudge(
    diagnosis: Diagnosis,
    service: ServiceConfig,
    repo: GitRepository,
    reproductions: list[Reproduction],
) -> Diagnosis:
    """The diagnosis judged again with the reproductions as evidence (on-call kept)."""
    again = analyse(
        diagnosis.incident,
        service,
        repo,
        oncall=diagnosis.oncall,
        corroborate=False,
        reproductions=reproductions,
    )
    return again.model_copy(update={"notes": diagnosis.notes, "findings": diagnosis.findings})


def verify_cause_fix(
    repo: Path,
    service: ServiceConfig,
    diagnosis: Diagnosis,
    runs: dict[str, RunResult],
) -> VerificationResult | None:
    """A limit fix is verified when the current build is OOM-killed at the lowered limit and
    runs with no kill at the restored one; None when the cause is not a limit change."""
    before = runs.get("current build at the current limit")
    after = runs.get("current build at the previous limit")
    if before is None or after is None:
        return None
    was, now = killed(before), killed(after)
    limits = f"{format_quantity(before.memory_limit)} → {format_quantity(after.memory_limit)}"
    if not was.bad:
        outcome = VerificationOutcome.NOT_REPRODUCED
        detail = (
            f"the current build was not OOM-killed under {format_quantity(before.memory_limit)} "
            f"({was.detail}), so the limit fix could not be verified."
        )
    elif now.bad:
        outcome = VerificationOutcome.FIX_FAILED
        detail = (
            f"the current build is OOM-killed under {format_quantity(before.memory_limit)} "
            f"and still under the restored {format_quantity(after.memory_limit)} ({now.detail})."
        )
    else:
        outcome = VerificationOutcome.VERIFIED
        detail = (
            f"limit {limits}: the current build was {was.detail} under "
            f"{format_quantity(before.memory_limit)}, and {now.detail} under the restored "
            f"{format_quantity(after.memory_limit)}."
        )
    return VerificationResult(outcome=outcome, before=before, after=after, detail=detail)
