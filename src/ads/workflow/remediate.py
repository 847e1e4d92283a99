"""remediate(incident): diagnose → fix → verify → branch/PR → note, with timings per stage.

The fix is verified by reproduction before it is proposed: the current build must be
OOM-killed under the service's limit and the patched build must run flat. The PR (or, without
GitHub, the branch plus a PR file) and the note say exactly what was seen. Re-running for the
same incident updates the same branch and PR and does not post a second note.

Crash-only: every costly or outward stage — diagnose, verification, rollback, branch, push,
pull request, note — records its result in a checkpoint in ADS's store (``STAGES``) as soon as
it is done, and a later run for the incident (the worker's retry after a crash or a
``TemporaryError``, or ``ads remediate``) resumes after the last completed one. A stage that
died after its side effect but before its checkpoint is redone, and each is idempotent: the
branch is reset to the same fix, the push is forced, the open PR for the branch is updated
rather than a second opened, and the incident's notes are read before one is posted. So there
is one branch, one PR and one note however often it is interrupted. When a stage fails after
the diagnosis, the note is written anyway with what is true by then (the diagnosis, the
verification, the local branch when the push failed) and why it stopped. Leftovers of crashed
runs (worktrees, cgroups, their processes) are reclaimed before and after every run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import interrupts
from ..actions.github_pr import (
    DEFAULT_BASE_URL,
    github_repo_from_remote,
    open_or_update_pull_request,
)
from ..actions.mitigation import propose_mitigation
from ..actions.notes import (
    ADS_MARKERS,
    NOTE_MARKER,
    incident_note,
    note_headline,
    update_note,
)
from ..actions.pull_request import (
    PullRequestText,
    branch_name,
    commit_fix_branch,
    pull_request_text,
    push_branch,
    write_pull_request_file,
)
from ..actions.rollback import (
    import_of_service,
    kubectl_undo,
    prepare_rollback,
    verify_rollback,
)
from ..actions.verification import verify_fix
from ..actions.worktrees import git
from ..analysis.languages import front_end_for
from ..analysis.scoring import seen_at_run_time
from ..config import ServiceConfig
from ..errors import AdsError, BuildError, RemediationError, RepositoryError, TemporaryError
from ..models import (
    CauseKind,
    Diagnosis,
    Finding,
    MemorySample,
    Remediation,
    VerificationOutcome,
    VerificationResult,
)
from ..sources.monitors.local_runtime import RunObserver
from ..sources.repository import GitRepository
from .context import Context
from .diagnose import diagnose
from .differential import (
    bisect_for_cause,
    cause_limit,
    cause_remediation,
    rejudge,
    reproduce_causes,
    unsure,
    verify_cause_fix,
)
from .housekeeping import reclaim_leftovers

__all__ = ["STAGES", "Point", "Stage", "remediate", "suggest_remediation", "verify_incident"]

log = logging.getLogger("ads.remediate")

Stage = Callable[[str, str], None]
"""Progress: (stage name, state). States: "start"; then "done" (✓), "skipped" (done by an
earlier attempt: resumed from its checkpoint), "failed" (it raised, or its outcome is a
failure), "interrupted" (Ctrl-C, SIGTERM or a deadline stopped it), or "nothing: <why>" (it ran
and there was nothing to do: no rollback target, no verification possible here). Only "done"
and "skipped" may be shown as a success."""
Point = Callable[[str], None]  # a named point in a remediation: the fault-injection seam
#: Causes that live in the manifest alone: the local runtime's limit comes from ads.yaml, so
#: their revert is verified by the limit runs of the verification stage, not rebuilt again.
MANIFEST_CAUSES = (CauseKind.LIMIT_LOWERED, CauseKind.RUNTIME_HEAP)
STAGES = ("diagnose", "verification", "rollback", "branch", "push", "pull request", "note")


@dataclass
class _Step:
    """What a stage's body says of its own outcome when it did not raise."""

    state: str = "done"


@contextmanager
def _timed(
    timings: dict[str, float],
    stage: str,
    progress: Stage | None,
    started_at: dict[str, datetime] | None = None,
) -> Iterator[_Step]:
    interrupts.check()  # after Ctrl-C nothing starts: nothing is pushed, opened or posted
    if progress:
        progress(stage, "start")
    if started_at is not None:
        started_at[stage] = datetime.now(UTC)  # the report's timeline: when, not only how long
    started = time.perf_counter()
    step = _Step()
    try:
        yield step
    except KeyboardInterrupt:  # ads.interrupts.Interrupted included
        step.state = "interrupted"
        raise
    except BaseException:
        step.state = "failed"
        raise
    finally:
        timings[stage] = round(time.perf_counter() - started, 3)
        if progress:
            progress(stage, step.state)


def _verification_state(result: VerificationResult | None) -> str | None:
    """A verification that did not verify is not shown as a success."""
    if result is None or result.outcome in (
        VerificationOutcome.VERIFIED,
        VerificationOutcome.REPRODUCED,
    ):
        return None
    if result.outcome is VerificationOutcome.FIX_FAILED:
        return "failed"
    return f"nothing: {result.outcome.value}"


def suggest_remediation(ctx: Context, diagnosis: Diagnosis) -> Remediation:
    """Fix diff, rollback and mitigation for a diagnosis, without running or writing anything."""
    cause = diagnosis.non_code_cause
    if cause is not None:  # a manifest, a size or a runtime setting: correct or revert it
        service = ctx.settings.service(diagnosis.service)
        return cause_remediation(diagnosis, cause, service, ctx.repository(service))
    if not diagnosis.findings:
        raise RemediationError(
            f"incident {diagnosis.incident.id}: the diagnosis found no leak to fix"
        )
    top = diagnosis.findings[0]
    service = ctx.settings.service(diagnosis.service)
    repo = ctx.repository(service)
    raw = repo.show(_revision(diagnosis), top.file)
    if raw is None:
        raise RemediationError(f"{top.file} is not in {_revision(diagnosis)[:12]} of {repo.path}")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemediationError(f"{top.file} is not UTF-8 text: no patch can be made") from None
    front_end = front_end_for(top.file)
    if front_end is None:
        raise RemediationError(f"no front end reads {top.file}: no patch can be made")
    # The diff names the file from the top of the repository (a service may be a sub-directory
    # of it): that is what the branch, the PR and `git apply` see.
    fix = front_end.propose_fix(repo.from_root(top.file), source, top)
    return Remediation(
        incident_id=diagnosis.incident.id,
        fix_diff=fix.diff,
        fix_summary=fix.summary if fix.has_patch else (fix.suggestion or fix.summary),
        rollback=_rollback_text(diagnosis, service, repo.path),
        mitigation=_mitigation_text(repo.path, service, top, None),
    )


def _revision(diagnosis: Diagnosis) -> str:
    """The commit the diagnosis analysed: the fix is made, verified and branched from it."""
    return diagnosis.revision or "HEAD"


def _rollback_text(diagnosis: Diagnosis, service: ServiceConfig, repo: Path) -> str:
    top = diagnosis.findings[0]
    if top.introduced_by is None:
        return "pre-existing bug: no rollback target (the leak predates the commit window)"
    change = top.introduced_by
    try:
        imported = import_of_service(repo, change.sha)  # never revert the service's import
    except RepositoryError:
        imported = None  # the commit is not here any more: the text names it, as before
    if imported is not None:
        return imported
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
        ctx.repository(service).path,
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
    at_point: Point | None = None,
) -> Remediation:
    """Diagnose, verify the fix by reproduction, open the PR and write the note.

    Each stage checkpoints its result, so after a crash or a ``TemporaryError`` the next call
    resumes after the last completed stage (see the module docstring). ``at_point`` is called
    with a stage's name right after its work and before its checkpoint, and with
    ``"verify-before"``/``"verify-after"`` once the service runs in its cgroup: the fault
    injection seam of the crash tests (``ads.interfaces.serve_app``).
    """
    reclaim_leftovers(ctx)
    try:
        run = _Run(ctx, incident_id, verify, open_pr, write_note, progress, at_point)
        return run.run()
    finally:
        reclaim_leftovers(ctx)


@dataclass
class _Run:
    """One remediation attempt: the stages in order, each skipped when its checkpoint says so."""

    ctx: Context
    incident_id: str
    verify: bool
    open_pr: bool
    write_note: bool
    progress: Stage | None
    at_point: Point | None
    done: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started_at: dict[str, datetime] = field(default_factory=dict)

    def run(self) -> Remediation:
        saved = self.ctx.store.checkpoint(self.incident_id)
        self.done = list(saved.stages) if saved else []
        diagnosis = self._diagnosis()
        if self.verify and (saved is None or saved.remediation is None):
            diagnosis = self._bisect_when_unsure(diagnosis)
        if saved is not None and saved.remediation is not None:
            remediation = saved.remediation
        else:
            remediation = suggest_remediation(self.ctx, diagnosis)
        previous = self.ctx.store.remediation(diagnosis.incident.id)
        if previous is not None:
            remediation.noted_at = remediation.noted_at or previous.noted_at
            remediation.escalated_to = previous.escalated_to
        try:
            self._stages(diagnosis, remediation, previous)
        except AdsError as exc:
            self._failed(diagnosis, remediation, exc)
            raise
        remediation.timings = {**remediation.timings, **self.timings}
        remediation.timings.update(_verification_timings(remediation))
        remediation.started_at = {**remediation.started_at, **self.started_at}
        self.ctx.store.save_remediation(remediation)
        self.ctx.store.clear_checkpoint(self.incident_id)
        return remediation

    # -- stages -------------------------------------------------------------------------------

    def _bisect_when_unsure(self, diagnosis: Diagnosis) -> Diagnosis:
        """No High suspect, and the service runs here: bisect the window by reproduction. A
        commit found becomes the cause ("found by bisection", its runs as the evidence)."""
        service = self.ctx.settings.service(diagnosis.service)
        if not unsure(diagnosis, service):
            return diagnosis
        found, note = bisect_for_cause(self.ctx.repository(service), service, diagnosis)
        diagnosis.notes.append(note)
        if found is not None:
            diagnosis.hypotheses = [found, *diagnosis.hypotheses]
            diagnosis.confidence = found.confidence
            diagnosis.impact = found.impact
        self.ctx.store.save_diagnosis(diagnosis)
        return diagnosis

    def _diagnosis(self) -> Diagnosis:
        if "diagnose" in self.done:
            stored = self.ctx.store.diagnosis(self.incident_id)
            if stored is not None:
                self._resumed("diagnose")
                return stored
            self.done = []  # the checkpoint outlived its diagnosis: start again
        with _timed(self.timings, "diagnose", self.progress, self.started_at):
            diagnosis = diagnose(self.ctx, self.incident_id)
        self._completed("diagnose", None)
        return diagnosis

    def _stages(
        self, diagnosis: Diagnosis, remediation: Remediation, previous: Remediation | None
    ) -> None:
        service = self.ctx.settings.service(diagnosis.service)
        repo = self.ctx.repository(service)
        cause = diagnosis.non_code_cause
        top = diagnosis.findings[0] if diagnosis.findings and cause is None else None
        if self.verify:
            self._stage("verification", remediation, lambda: self._verify(diagnosis, remediation))
        elif previous is not None and previous.fix_diff == remediation.fix_diff:
            remediation.verification = previous.verification  # same fix: what was seen holds
        incident = diagnosis.incident
        number = incident.number or incident.id

        def rollback() -> str | None:
            if cause is not None:
                introduced = cause.change.sha if cause.change else None
            else:
                introduced = top.introduced_by.sha if top and top.introduced_by else None
            try:
                plan = prepare_rollback(
                    repo.path, service, number, introduced, base=_revision(diagnosis)
                )
                manifest_only = cause is not None and cause.kind in MANIFEST_CAUSES
                if self.verify and not manifest_only:  # "ready to merge" once seen to work
                    seen = remediation.verification.before if remediation.verification else None
                    plan = verify_rollback(
                        repo.path, service, plan, base=_revision(diagnosis), finding=top,
                        before=seen,
                    )  # fmt: skip
                remediation.rollback = plan.text()
            except (RemediationError, RepositoryError) as exc:
                remediation.notes.append(f"rollback branch not made: {exc}")
                return "nothing: no rollback branch"
            return None if plan.branch else "nothing: no rollback target"

        self._stage("rollback", remediation, rollback)
        if (
            top is not None
            and remediation.verification is not None
            and remediation.verification.growth_before
        ):
            remediation.mitigation = _mitigation_text(
                repo.path, service, top, remediation.verification.growth_before
            )
        if self.open_pr and remediation.fix_diff:
            self._pull_request_stages(diagnosis, remediation, number)
        if self.write_note:
            self._stage("note", remediation, lambda: _write_note(self.ctx, diagnosis, remediation))

    def _verify(self, diagnosis: Diagnosis, remediation: Remediation) -> str | None:
        service = self.ctx.settings.service(diagnosis.service)
        if diagnosis.non_code_cause is not None:
            return self._verify_cause(diagnosis, remediation)
        points = _RunPoints(self.at_point) if self.at_point else None
        remediation.verification = verify_fix(
            self.ctx.repository(service).path,
            service,
            remediation.fix_diff,
            finding=diagnosis.findings[0],
            rev=_revision(diagnosis),
            observers=[points] if points else (),
            on_stage=points.on_stage if points else None,
        )
        _with_run_time_site(self.ctx, diagnosis, remediation.verification)
        return _verification_state(remediation.verification)

    def _verify_cause(self, diagnosis: Diagnosis, remediation: Remediation) -> str | None:
        """Reproduction settles a non-code cause: the current build at the lowered and the
        previous limit, the parent of a raised setting; the diagnosis is judged again with the
        runs as evidence and stored. A setting revert is verified like a leak fix."""
        service = self.ctx.settings.service(diagnosis.service)
        repo = self.ctx.repository(service)
        try:
            reproductions, runs = reproduce_causes(repo.path, service, diagnosis)
        except BuildError as exc:
            remediation.verification = VerificationResult(
                outcome=VerificationOutcome.CANNOT_BUILD, detail=str(exc)
            )
            return _verification_state(remediation.verification)
        if reproductions:
            judged = rejudge(diagnosis, service, repo, reproductions)
            diagnosis.hypotheses = judged.hypotheses
            diagnosis.confidence = judged.confidence
            self.ctx.store.save_diagnosis(diagnosis)
        result = verify_cause_fix(repo.path, service, diagnosis, runs)
        if result is None:
            result = verify_fix(
                repo.path,
                service,
                remediation.fix_diff,
                finding=None,
                rev=_revision(diagnosis),
                leak_sanitizer=False,
                memory_limit=cause_limit(diagnosis, service),
            )
        remediation.verification = result
        return _verification_state(result)

    def _pull_request_stages(
        self, diagnosis: Diagnosis, remediation: Remediation, number: int | str
    ) -> None:
        verification = remediation.verification
        if verification is not None and verification.outcome is VerificationOutcome.FIX_FAILED:
            refused = "fix failed verification: no pull request opened"
            if refused not in remediation.notes:
                remediation.notes.append(refused)
            return
        pull = _PullRequest(self.ctx, diagnosis, remediation, number)
        self._stage("branch", remediation, pull.branch)
        self._stage("push", remediation, pull.push)
        self._stage("pull request", remediation, pull.open)

    def _stage(self, name: str, remediation: Remediation, work: Callable[[], str | None]) -> None:
        """Run ``work`` as stage ``name`` unless done before; ``work`` may return the state to
        show instead of "done" (``Stage``)."""
        if name in self.done:
            self._resumed(name)
            return
        with _timed(self.timings, name, self.progress, self.started_at) as step:
            step.state = work() or "done"
        self._completed(name, remediation)

    def _completed(self, name: str, remediation: Remediation | None) -> None:
        if self.at_point is not None:
            self.at_point(name)  # after the work, before its checkpoint: the worst moment to die
        self.done.append(name)
        if remediation is not None:  # a resumed run's timeline keeps the first attempt's times
            remediation.started_at = {**remediation.started_at, **self.started_at}
        self.ctx.store.save_checkpoint(self.incident_id, self.done, remediation)

    def _resumed(self, name: str) -> None:
        log.info(json.dumps({"event": "stage.resumed", "incident": self.incident_id,
                             "stage": name}))  # fmt: skip
        if self.progress:
            self.progress(name, "skipped")

    # -- when a stage fails ---------------------------------------------------------------------

    def _failed(self, diagnosis: Diagnosis, remediation: Remediation, exc: AdsError) -> None:
        """Say what is true on the incident now, and keep or drop the checkpoint.

        A temporary failure keeps the checkpoint (the worker retries from there); a permanent
        one drops it, since repeating the same stages would fail the same way — the next run
        starts afresh (and still writes no second note).
        """
        temporary = isinstance(exc, TemporaryError)
        if self.write_note and "note" not in self.done:
            why = f"{exc}." + (" ADS retries." if temporary else " ADS stopped here.")
            try:
                _write_note(self.ctx, diagnosis, remediation, unfinished=why)
            except AdsError as note_error:
                log.warning(json.dumps({"event": "note.failed", "incident": self.incident_id,
                                        "error": str(note_error)}))  # fmt: skip
        if temporary:
            self.ctx.store.save_checkpoint(self.incident_id, self.done, remediation)
            return
        self.ctx.store.clear_checkpoint(self.incident_id)
        if remediation.note_id is not None:
            self.ctx.store.save_remediation(remediation)


class _RunPoints(RunObserver):
    """Calls the fault-injection point ``verify-before``/``verify-after`` once the service runs
    in its cgroup (the first sample with memory charged to it), telling the two runs apart by
    verification's stage messages."""

    def __init__(self, at_point: Point) -> None:
        self.at_point = at_point
        self.stage = "verify-before"
        self.called: set[str] = set()

    def on_stage(self, message: str) -> None:
        if message.startswith("running the current"):
            self.stage = "verify-before"
        elif message.startswith("running the patched"):
            self.stage = "verify-after"

    def sample(self, sample: MemorySample, limit: int) -> None:
        if sample.bytes > 0 and self.stage not in self.called:
            self.called.add(self.stage)
            self.at_point(self.stage)


def _with_run_time_site(
    ctx: Context, diagnosis: Diagnosis, result: VerificationResult | None
) -> None:
    """A run-time probe that saw the top finding's site grow is evidence for it: the finding
    (and the diagnosis's confidence) are updated and stored, before the PR and note say so."""
    if result is None or not result.site_matches_finding or not result.runtime_leak_site:
        return
    top = seen_at_run_time(diagnosis.findings[0], result.runtime_leak_site)
    diagnosis.findings[0] = top
    diagnosis.confidence = top.confidence
    ctx.store.save_diagnosis(diagnosis)


def _verification_timings(remediation: Remediation) -> dict[str, float]:
    result = remediation.verification
    if result is None:
        return {}
    return {f"verification {stage}": seconds for stage, seconds in result.timings.items()}


@dataclass
class _PullRequest:
    """The branch → push → pull request stages, each a side effect done once per checkpoint."""

    ctx: Context
    diagnosis: Diagnosis
    remediation: Remediation
    number: int | str

    def branch(self) -> None:
        service = self.ctx.settings.service(self.diagnosis.service)
        repo = self.ctx.repository(service)
        cause = self.diagnosis.non_code_cause
        remediation, verification = self.remediation, self.remediation.verification
        branch = branch_name(self.number)
        text = pull_request_text(
            self.diagnosis,
            fix_summary=remediation.fix_summary,
            component=service.kubernetes.container or service.name,
            verification=verification,
            rollback=remediation.rollback,
            mitigation=remediation.mitigation,
        )
        title = self.diagnosis.incident.title
        if cause is not None:
            where = f"{cause.file}:{cause.line}" if cause.line else (cause.file or "")
            headline = f"Fix OOM: {cause.kind.value} ({where})"
        else:
            top = self.diagnosis.findings[0]
            headline = f"Fix memory leak in {top.function}() ({top.file}:{top.line})"
        message = (
            f"{headline}\n\n"
            f"{remediation.fix_summary}. Incident #{self.number}: {title}.\n"
            + (f"Verification: {verification.outcome.value}.\n" if verification else "")
        )
        commit_fix_branch(
            repo.root, branch, remediation.fix_diff or "", message, base=_revision(self.diagnosis)
        )
        remediation.branch = branch
        remediation.pr_title, remediation.pr_body = text.title, text.body

    def push(self) -> None:
        service = self.ctx.settings.service(self.diagnosis.service)
        assert self.remediation.branch is not None
        self.remediation.pushed = push_branch(
            self.ctx.repository(service).root, self.remediation.branch
        )

    def open(self) -> None:
        service = self.ctx.settings.service(self.diagnosis.service)
        repo = self.ctx.repository(service)
        remediation = self.remediation
        assert remediation.branch is not None
        remote = git(repo.root, "remote", "get-url", "origin", check=False).stdout.strip()
        github_repo = github_repo_from_remote(remote) if remote else None
        secrets = self.ctx.settings.secrets
        if github_repo and secrets.github_token and remediation.pushed:
            reviewers = [o.github for o in self.diagnosis.oncall if o.level == 1 and o.github]
            result = open_or_update_pull_request(
                secrets.github_token,
                github_repo,
                head=remediation.branch,
                base=_base_branch(repo),
                title=remediation.pr_title or "",
                body=remediation.pr_body or "",
                reviewers=reviewers,
                base_url=secrets.github_api_url or DEFAULT_BASE_URL,
            )
            remediation.pr_url = result.url
            remediation.notes += [n for n in result.notes if n not in remediation.notes]
        else:
            text = PullRequestText(title=remediation.pr_title or "", body=remediation.pr_body or "")
            path = write_pull_request_file(self.ctx.settings.state_dir, self.number, text)
            remediation.pr_file = str(path)


def _base_branch(repo: GitRepository) -> str:
    """The branch the fix was cut from (HEAD's), so the PR carries only the fix commit."""
    current = git(repo.root, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    return current or repo.default_branch()


def _write_note(
    ctx: Context, diagnosis: Diagnosis, remediation: Remediation, *, unfinished: str | None = None
) -> None:
    """One ``[ADS diagnosis]`` note per incident, whatever crashed or was retried in between.

    The incident's notes are read first: when ADS's note is there (a run that died after posting
    it, or a re-run), it is not posted again. When that note was written before the pull request
    existed (the push had failed, say) and the PR is open now, a short ``[ADS update]`` note adds
    its link. ``unfinished`` says why this run stops short; it is only written as the first note.
    """
    pagerduty = ctx.pagerduty
    incident_id = diagnosis.incident.id
    notes = pagerduty.list_notes(incident_id)
    ours = [n for n in notes if n.content.startswith(NOTE_MARKER)]
    if not ours:
        note = pagerduty.add_note(
            incident_id, incident_note(diagnosis, remediation, unfinished=unfinished)
        )
        remediation.note_id = note.id
        remediation.noted_at = datetime.now(UTC)
        return
    remediation.note_id = remediation.note_id or ours[0].id
    remediation.noted_at = remediation.noted_at or ours[0].created_at
    headline = note_headline(remediation)
    if unfinished is not None or headline is None:
        return
    if not any(headline in n.content for n in notes if n.content.startswith(ADS_MARKERS)):
        pagerduty.add_note(incident_id, update_note(remediation))
