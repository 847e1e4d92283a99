"""Time from incident to verified PR + note on the demo, stage by stage.

Each run starts from scratch: a fresh demo workspace (a private git copy of
examples/ads-demo-service with its history), a fresh local PagerDuty server, and an OOM incident
opened on it through the Events API v2 exactly as the runtime's alerter opens one. Then the
clock starts and ``remediate(ctx, incident_id)`` runs the whole way: gather (incident, alerts,
on-call from PagerDuty), analyse (code, history, gcc corroboration), verification (build the
current and the patched code, reproduce the OOM kill under 64Mi, run the patched build for a
fixed time and see it stay flat), rollback branch, PR branch + PR text, note on the incident.

Prints, per stage, the median over --runs runs (from ``Remediation.timings`` and
``VerificationResult.timings``; "gather" is the diagnose stage minus ``analyse``, timed with a
wrapper around it), the median total, and the verification outcome. Goal: ≤ 15 s in all.

Usage: .venv/bin/python bench/remediation.py [--runs 3]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import SERVICE, local_pagerduty, median, verdict

from ads.analysis.alert_rules import build_alert_event
from ads.config import load_settings
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.models import OomEvent, Remediation
from ads.sources.monitors import detect_limiter
from ads.workflow import Context, remediate

MiB = 1024 * 1024
# the module, not the function ads.workflow re-exports under the same name
diagnose_module: Any = importlib.import_module("ads.workflow.diagnose")

# (label, how to read it from a run's figures); verification stages are ``verification <x>``.
STAGES = [
    ("gather (PagerDuty reads)", "gather"),
    ("analyse (code + history + gcc)", "analyse"),
    ("verify: build before", "verification build-before"),
    ("verify: build after", "verification build-after"),
    ("verify-before (reproduce OOM)", "verification verify-before"),
    ("verify-after (patched, flat)", "verification verify-after"),
    ("verify: worktrees, LSan, judge", "verification other"),
    ("rollback branch", "rollback"),
    ("PR (branch + text)", "pull request"),
    ("note on the incident", "note"),
    ("other (fix, store)", "other"),
]


class AnalyseTimer:
    """Wraps ``ads.workflow.diagnose.analyse`` to time the analysis inside ``diagnose``."""

    def __init__(self) -> None:
        self.original = diagnose_module.analyse
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.original(*args, **kwargs)
        finally:
            self.seconds = time.perf_counter() - started

    def __enter__(self) -> AnalyseTimer:
        diagnose_module.analyse = self
        return self

    def __exit__(self, *exc: object) -> None:
        diagnose_module.analyse = self.original


def one_run(tmp: Path) -> tuple[float, dict[str, float], Remediation]:
    repo = create_demo_workspace(tmp / SERVICE)
    settings = load_settings(repo / "ads.yaml")
    settings.state_dir = tmp / "state"
    service = settings.service(SERVICE)
    with local_pagerduty(tmp / "pagerduty") as (server, client):
        now = datetime.now(UTC)
        kill = OomEvent(
            service=SERVICE,
            memory_limit=64 * MiB,
            peak_usage=64 * MiB,
            killed_at=now,
            started_at=now - timedelta(seconds=1.8),
            restart_count=1,
            namespace=service.kubernetes.namespace,
            workload=service.kubernetes.deployment,
            container=service.kubernetes.container,
        )
        alert = build_alert_event(kill, service.alert_rules)
        client.trigger(
            server.routing_key(SERVICE),
            alert.summary,
            alert.source,
            severity=alert.severity,
            dedup_key=alert.dedup_key,
            custom_details=alert.custom_details,
            component=alert.component,
            group=alert.group,
            class_=alert.class_,
        )
        (incident,) = client.list_incidents()
        ctx = Context(settings=settings, pagerduty_factory=lambda: client)
        with AnalyseTimer() as timer:
            started = time.perf_counter()
            remediation = remediate(ctx, incident.id)
            total = time.perf_counter() - started
    timings = dict(remediation.timings)
    timings["analyse"] = timer.seconds
    timings["gather"] = timings.get("diagnose", 0.0) - timer.seconds
    inner = ("build-before", "build-after", "verify-before", "verify-after")
    verification = remediation.verification.timings if remediation.verification else {}
    timings["verification other"] = verification.get("total", 0.0) - sum(
        verification.get(stage, 0.0) for stage in inner
    )
    named = ("diagnose", "verify", "rollback", "pull request", "note")
    timings["other"] = total - sum(timings.get(stage, 0.0) for stage in named)
    return total, timings, remediation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    try:
        detect_limiter(allow_fallback=False)
    except Exception as exc:  # any reason means no real OOM kill here
        print(f"SKIPPED: no writable memory cgroup, so no real reproduction ({exc})")
        return 0
    totals: list[float] = []
    runs: list[dict[str, float]] = []
    outcomes: list[str] = []
    last: Remediation | None = None
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ads-bench-remediation-") as tmp:
            total, timings, last = one_run(Path(tmp))
        totals.append(total)
        runs.append(timings)
        verification = last.verification
        outcomes.append(verification.outcome.value if verification else "not verified")
        print(f"run {n + 1}: {total:.2f} s, verification {outcomes[-1]}, note {last.note_id}")
    print(f"\nincident → verified PR + note on the demo, median of {args.runs} run(s):")
    for label, key in STAGES:
        values = [r.get(key, 0.0) for r in runs]
        spread = f"  (min {min(values):.2f}, max {max(values):.2f})" if len(values) > 1 else ""
        print(f"  {label:34s} {median(values):6.2f} s{spread}")
    total = median(totals)
    print(f"  {'total':34s} {total:6.2f} s  ({verdict(total, 15)} ≤ 15 s)")
    if len(totals) > 1:
        print(f"  (totals: {', '.join(f'{t:.2f}' for t in totals)}; "
              f"stdev {statistics.stdev(totals):.2f} s)")  # fmt: skip
    assert last is not None
    written = "written" if last.pr_file else "not written"
    print(f"verification: {', '.join(outcomes)}; branch {last.branch}; PR file {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
