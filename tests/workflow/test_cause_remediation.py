"""A limit lowered below what the service holds, remediated for real: the local runtime runs the
current build at the lowered and at the previous limit, the proposed fix restores the limit,
and the PR text says what was the cause and what was rejected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ads.config import load_settings
from ads.models import CauseKind, VerificationOutcome
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.workflow import Context
from ads.workflow.remediate import remediate
from pagerduty_local import LocalPagerDuty
from tests.fixtures.causes import ADS_YAML, MANIFEST, cache_service, deployment, history_until
from tests.fixtures.pagerduty import demo_kill, page_oom
from tests.fixtures.tiny import Step

MiB = 1024 * 1024


@pytest.mark.cgroup
def test_limit_lowered_is_verified_at_the_old_and_new_limits(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    repo = tmp_path / "cache-service"
    now = datetime.now(UTC)
    shas = history_until(
        repo,
        [
            Step("Add the cache service", {"worker.c": cache_service(48),
                                           MANIFEST: deployment("128Mi"),
                                           "ads.yaml": ADS_YAML.format(limit="32Mi")}, 72),
            Step("infra: right-size the worker to 32Mi", {MANIFEST: deployment("32Mi")}, 3),
        ],
        now,
    )  # fmt: skip
    settings = load_settings(repo / "ads.yaml")
    kill = demo_kill(memory_limit=32 * MiB, peak_usage=32 * MiB, workload="cache-service")
    incident = page_oom(local_pagerduty, pagerduty_client, kill)
    ctx = Context(settings=settings, pagerduty_factory=lambda: pagerduty_client)

    remediation = remediate(ctx, incident.id)

    diagnosis = ctx.store.diagnosis(incident.id)
    assert diagnosis is not None and diagnosis.cause is not None
    assert diagnosis.cause.kind is CauseKind.LIMIT_LOWERED
    assert diagnosis.cause.change is not None and diagnosis.cause.change.sha == shas[1]
    assert any("under the previous 128Mi with no OOM kill" in r for r in diagnosis.cause.reasons)
    verification = remediation.verification
    assert verification is not None and verification.outcome is VerificationOutcome.VERIFIED
    assert verification.before is not None and verification.before.events  # killed at 32Mi
    assert verification.after is not None and not verification.after.events  # not at 128Mi
    assert "-              memory: 32Mi" in (remediation.fix_diff or "")
    assert "+              memory: 128Mi" in (remediation.fix_diff or "")
    assert remediation.fix_summary.startswith("memory limit of worker back to 128Mi")
    body = remediation.pr_body or ""
    assert f"- Root Cause: Memory limit lowered 128Mi → 32Mi by {shas[1][:7]}" in body
    assert "- Rejected: code leak" in body
    assert remediation.rollback and shas[1][:12] in remediation.rollback
    (note,) = pagerduty_client.list_notes(incident.id)
    assert "Root cause: memory limit lowered 128Mi → 32Mi" in note.content
