"""The bisection engine: builds that do not compile are skipped like ``git bisect skip``;
``ads remediate`` bisects when static analysis has no High suspect."""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.config import load_settings
from ads.models import CauseKind, Confidence, VerificationOutcome
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.workflow import Context
from ads.workflow.bisect import bisect
from ads.workflow.remediate import remediate
from ads.workflow.report import analysis_block, report_model, report_page
from pagerduty_local import LocalPagerDuty
from tests.fixtures.bisect import library_history, pointer_history
from tests.fixtures.pagerduty import demo_kill, page_oom


@pytest.mark.cgroup
def test_commits_that_do_not_build_are_skipped_and_named(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    repo = tmp_path / "pointer-service"
    shas = pointer_history(repo, commits=8, bad_at=5, unbuildable=(3, 4))
    service = load_settings(repo / "ads.yaml").service("pointer-service")
    seen: list[tuple[str, str]] = []

    result = bisect(
        repo, service, shas[0], shas[-1], seconds=1.0, limiter=cgroup_limiter,
        progress=lambda run, left: seen.append((run.sha, run.verdict)),
    )  # fmt: skip

    assert result.first_bad == shas[4]
    assert set(result.skipped) == {shas[2], shas[3]}
    assert result.ambiguous == [shas[2], shas[3]]  # the first bad one could hide behind them
    assert (shas[4], "bad") in seen and (shas[1], "good") in seen
    bad_run = next(run for run in result.runs if run.sha == shas[4])
    assert bad_run.samples and bad_run.detail.startswith("OOM-killed")


@pytest.mark.slow
@pytest.mark.cgroup
def test_remediate_bisects_when_static_analysis_is_unsure(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    repo = tmp_path / "pointer-service"
    shas = library_history(repo, commits=6, bad_at=4)  # the leak is in a library ADS does not read
    settings = load_settings(repo / "ads.yaml")
    kill = demo_kill(memory_limit=32 * 1024 * 1024, workload="pointer-service")
    incident = page_oom(local_pagerduty, pagerduty_client, kill)
    ctx = Context(settings=settings, pagerduty_factory=lambda: pagerduty_client)

    remediation = remediate(ctx, incident.id)

    diagnosis = ctx.store.diagnosis(incident.id)
    assert diagnosis is not None and diagnosis.findings[0].confidence is not Confidence.HIGH
    cause = diagnosis.cause
    assert cause is not None and cause.kind is CauseKind.BISECTED
    assert cause.change is not None and cause.change.sha == shas[3]
    assert cause.summary.startswith(f"found by bisection: {shas[3][:7]} (pool: keep buffers")
    assert cause.bisection is not None and all(r.samples for r in cause.bisection.runs)
    assert "**Root cause**: Found by bisection" in "\n".join(analysis_block(diagnosis))
    assert remediation.fix_summary.startswith(f"revert {shas[3][:12]}")
    assert "-    (void)p;" in (remediation.fix_diff or "")
    verification = remediation.verification
    assert verification is not None and verification.outcome is VerificationOutcome.VERIFIED

    # The report draws every bisection run beside the verification's: the bad commit's run
    # ends at its kill marker.
    model = report_model(ctx, diagnosis)
    labels = [run.label for run in model.runs]
    assert labels[:2] == ["current build", "patched build"]
    assert f"bisection {shas[3][:7]} (bad)" in labels
    assert len(labels) == 2 + len(cause.bisection.runs)
    bad = next(run for run in model.runs if run.label == f"bisection {shas[3][:7]} (bad)")
    assert bad.kills and bad.points[-1] == bad.kills[0]
    svg = report_page(ctx, diagnosis).split("<svg", 1)[1].split("</svg>", 1)[0]
    assert f"bisection {shas[3][:7]} (bad)" in svg
