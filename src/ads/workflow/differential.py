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

from pathlib import Path

from ..actions.cause_fix import propose_cause_fix
from ..actions.reproduction import BuiltRevision, killed
from ..actions.rollback import kubectl_undo
from ..actions.verification import DEFAULT_DURATION, DEFAULT_REPRODUCE_TIMEOUT
from ..analysis.hypotheses import Reproduction
from ..config import ServiceConfig
from ..errors import BuildError, ConfigError
from ..models import (
    CauseKind,
    Diagnosis,
    Hypothesis,
    Remediation,
    RunResult,
    VerificationOutcome,
    VerificationResult,
)
from ..sources.monitors.cgroups import MemoryLimiter
from ..sources.repository import GitRepository
from ..units import format_quantity, parse_quantity
from .diagnose import analyse

__all__ = ["cause_limit", "cause_remediation", "rejudge", "reproduce_causes", "verify_cause_fix"]


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
