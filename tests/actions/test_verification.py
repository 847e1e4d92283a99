"""verify_fix on the demo: real git worktrees, real gcc, real memory cgroups, real OOM kills.

Each outcome is asserted the way an SRE would check it: the current build was killed by the
kernel at the limit, the patched one ran the whole time flat, and nothing was left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ads.actions.lsan import find_liblsan
from ads.actions.verification import (
    exec_form,
    flat_threshold,
    memory_slope,
    verify_fix,
)
from ads.config import ServiceConfig
from ads.errors import RemediationError
from ads.models import (
    MemorySample,
    ReproductionMode,
    VerificationOutcome,
)
from ads.sources.monitors import MemoryLimiter, RunObserver
from ads.sources.monitors.sandbox import UNSHARE_AS_ROOT, Isolation, Sandbox, probe_isolation

from ..fixtures.demo import DEMO_FINDING, demo_fix, git
from .conftest import leftover_cgroups, worktrees

MiB = 1024 * 1024


def status(repo: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def commit_change(repo: Path, old: str, new: str, message: str) -> None:
    path = repo / "worker.c"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    git(repo, "commit", "-q", "-am", message)


# -- with a real cgroup ---------------------------------------------------------------------------


@pytest.mark.cgroup
def test_demo_fix_is_verified_and_the_dirty_checkout_is_untouched(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    fix = demo_fix(demo_repo)
    worker = demo_repo / "worker.c"
    dirty = worker.read_text().replace("PAYLOAD_MB 8", "PAYLOAD_MB 1")  # the user's own edit
    worker.write_text(dirty)
    (demo_repo / "notes.txt").write_text("mine\n")
    before_status = status(demo_repo)

    result = verify_fix(demo_repo, demo_service, fix, finding=DEMO_FINDING, limiter=cgroup_limiter)

    assert result.outcome is VerificationOutcome.VERIFIED, result.detail
    assert result.before is not None and result.after is not None
    killed = result.before.events[0]
    assert killed.exit_code == 137 and killed.reason == "OOMKilled"
    assert result.before.memory_limit == 64 * MiB
    assert killed.peak_usage is not None and killed.peak_usage >= 56 * MiB
    assert result.after.events == []
    assert result.after.duration >= 2.9
    assert max(s.bytes for s in result.after.samples) < 16 * MiB
    assert result.growth_after is not None and result.flat_threshold is not None
    assert result.growth_after < result.flat_threshold
    assert result.growth_before is not None and result.growth_before > 10 * MiB
    assert "OOM-killed after" in result.detail and "flat memory" in result.detail
    assert set(result.timings) >= {"build-before", "build-after", "verify-before", "verify-after"}
    if find_liblsan() is not None:
        assert result.runtime_leak_site == "worker.c:26 in controller", result.detail
        assert result.site_matches_finding is True
    else:
        assert "LeakSanitizer not available" in result.detail

    assert worker.read_text() == dirty
    assert status(demo_repo) == before_status
    assert len(worktrees(demo_repo)) == 1
    assert leftover_cgroups(cgroup_limiter) == []

    # A second fix of the same revision (the rollback, verified next) stands on this kill of
    # the current build instead of reproducing it again; a kill under another limit does not.
    again = verify_fix(
        demo_repo, demo_service, fix, limiter=cgroup_limiter, before=result.before,
        leak_sanitizer=False,
    )  # fmt: skip
    assert again.outcome is VerificationOutcome.VERIFIED, again.detail
    assert again.before == result.before and "verify-before" not in again.timings
    assert "the one the fix's verification saw" in again.detail
    assert again.after is not None and again.after.events == []


@pytest.mark.cgroup
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_without_bubblewrap_the_kernel_kill_is_still_seen_and_the_fix_verified(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    """The unshare fallback: the service ``exec``s, and its OOM kill is still an OOM kill.

    util-linux 2.38's unshare exits 1 when its first child dies of SIGKILL; with the service as
    that child the current build's kill read as a crash and nothing was ever verified."""
    fallback = Isolation(bwrap=None, unshare=UNSHARE_AS_ROOT, drop_user=True)
    with Sandbox(demo_service, isolation=fallback) as sandbox:
        result = verify_fix(
            demo_repo, demo_service, demo_fix(demo_repo), finding=DEMO_FINDING,
            limiter=cgroup_limiter, sandbox=sandbox, duration=2.0,
        )  # fmt: skip
    assert result.outcome is VerificationOutcome.VERIFIED, result.detail
    assert result.before is not None and result.before.events[0].exit_code == 137
    assert "disturbed" not in result.detail  # LeakSanitizer's run was judged as it was
    assert "no private mount namespace" in result.detail  # and the weaker sandbox said so
    assert leftover_cgroups(cgroup_limiter) == []


@pytest.mark.cgroup
def test_fix_that_leaves_a_second_leak_is_fix_failed(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    fix = demo_fix(demo_repo)
    commit_change(
        demo_repo,
        "        fflush(stdout);\n",
        "        fflush(stdout);\n"
        "        char *audit = malloc(4 * 1024 * 1024);\n"
        "        memset(audit, 'a', 4 * 1024 * 1024);\n",
        "keep an audit copy of each payload",
    )

    result = verify_fix(demo_repo, demo_service, fix, finding=DEMO_FINDING, limiter=cgroup_limiter)

    assert result.outcome is VerificationOutcome.FIX_FAILED, result.detail
    assert result.before is not None and result.before.events
    assert result.after is not None
    grew = result.after.events or (
        result.growth_after is not None
        and result.flat_threshold is not None
        and result.growth_after > result.flat_threshold
    )
    assert grew
    assert "still grows" in result.detail or "OOM-killed too" in result.detail
    assert len(worktrees(demo_repo)) == 1


@pytest.mark.cgroup
def test_service_that_stays_under_its_limit_is_not_reproduced(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    result = verify_fix(
        demo_repo,
        demo_service,
        demo_fix(demo_repo),
        finding=DEMO_FINDING,
        limiter=cgroup_limiter,
        memory_limit=1024 * MiB,
        reproduce_timeout=1.5,
    )
    assert result.outcome is VerificationOutcome.NOT_REPRODUCED, result.detail
    assert result.before is not None and result.before.events == []
    assert result.after is None  # never claimed without having run
    assert "not OOM-killed in 1.5 s under 1Gi" in result.detail
    assert len(worktrees(demo_repo)) == 1


class Output(RunObserver):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def output(self, line: str) -> None:
        self.lines.append(line)


@pytest.mark.cgroup
def test_without_a_fix_the_oom_is_reproduced_without_network(
    demo_repo: Path, demo_service: ServiceConfig, cgroup_limiter: MemoryLimiter
) -> None:
    # the service first lists the network interfaces it can see, then runs the worker
    service = demo_service.model_copy(
        update={"run": "echo net: $(tail -n +3 /proc/net/dev | cut -d: -f1); exec ./build/worker"}
    )
    output = Output()
    result = verify_fix(
        demo_repo, service, None, finding=DEMO_FINDING, limiter=cgroup_limiter, observers=[output]
    )
    assert result.outcome is VerificationOutcome.REPRODUCED, result.detail
    assert result.before is not None and result.before.events[0].exit_code == 137
    assert result.after is None
    assert "No fix was given" in result.detail
    seen = [line for line in output.lines if line.startswith("net:")]
    if probe_isolation().missing:
        assert "sandbox weaker here" in result.detail.lower()
    if probe_isolation().bwrap or probe_isolation().unshare:
        assert [" ".join(line.split()) for line in seen] == ["net: lo"]


def test_rlimit_fallback_is_labelled_and_still_judges_the_worker_itself(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    """No cgroup needed: RLIMIT_AS makes malloc fail at the limit (weaker, and labelled)."""
    limiter = MemoryLimiter(ReproductionMode.RLIMIT_AS, None)
    result = verify_fix(
        demo_repo, demo_service, demo_fix(demo_repo), finding=DEMO_FINDING, limiter=limiter
    )
    assert result.outcome is VerificationOutcome.VERIFIED, result.detail
    assert result.before is not None and result.before.mode is ReproductionMode.RLIMIT_AS
    assert result.before.events and result.before.events[0].exit_code == 1  # malloc failed
    assert "rlimit-as" in result.detail and "LeakSanitizer not used" in result.detail
    assert result.after is not None
    # the worker's own memory was sampled (its 8 MiB payload), not a shell's
    assert max(s.bytes for s in result.after.samples) >= 8 * MiB
    assert len(worktrees(demo_repo)) == 1


def test_exec_form_keeps_the_service_as_the_started_process() -> None:
    assert exec_form("./build/worker") == "exec ./build/worker"
    assert exec_form("./build/worker --threads 2") == "exec ./build/worker --threads 2"
    assert exec_form("make run && echo done") == "make run && echo done"
    assert exec_form("PORT=1 ./w") == "PORT=1 ./w"
    assert exec_form("exec ./w") == "exec ./w"


# -- no cgroup needed: these stop before anything runs ---------------------------------------------


def test_service_without_a_build_command_cannot_be_built_here(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    service = demo_service.model_copy(update={"build": None})
    result = verify_fix(demo_repo, service, demo_fix(demo_repo), finding=DEMO_FINDING)
    assert result.outcome is VerificationOutcome.CANNOT_BUILD
    assert result.outcome.value == "cannot build here"
    assert "has no build command" in result.detail
    assert "services.ads-demo-service.build" in result.detail
    assert result.before is None and result.after is None


def test_build_that_fails_cannot_be_built_here_with_the_reason(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    fix = demo_fix(demo_repo)
    commit_change(demo_repo, "iteration++;", "iteration++", "tidy the loop")
    result = verify_fix(demo_repo, demo_service, fix, finding=DEMO_FINDING)
    assert result.outcome is VerificationOutcome.CANNOT_BUILD
    assert result.detail.startswith("current code: `make build` failed (exit 2): ")
    assert "worker.c:" in result.detail and "error" in result.detail
    assert result.before is None
    assert len(worktrees(demo_repo)) == 1


def test_patched_code_that_does_not_compile_is_fix_failed(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    broken = demo_fix(demo_repo).replace("+        free(buffer);", "+        free(buffer)")
    result = verify_fix(demo_repo, demo_service, broken, finding=DEMO_FINDING)
    assert result.outcome is VerificationOutcome.FIX_FAILED
    assert "the patched code does not build" in result.detail
    assert result.before is None and result.after is None


def test_patch_that_does_not_apply_is_a_clear_error_and_leaves_nothing(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    stale = demo_fix(demo_repo).replace(" process_work(buffer);", " handle(buffer);")
    with pytest.raises(RemediationError, match="the patch does not apply"):
        verify_fix(demo_repo, demo_service, stale, finding=DEMO_FINDING)
    assert len(worktrees(demo_repo)) == 1
    assert status(demo_repo) == ""


# -- the flatness rule ---------------------------------------------------------------------------


def samples(points: list[tuple[float, int]]) -> list[MemorySample]:
    return [MemorySample(t=t, bytes=b) for t, b in points]


def test_slope_ignores_the_start_up_ramp_but_sees_steady_growth() -> None:
    start_then_flat = samples([(i * 0.1, min(i, 3) * 3 * MiB) for i in range(31)])
    assert memory_slope(start_then_flat) == pytest.approx(0.0, abs=1)
    leaking = samples([(i * 0.1, 2 * MiB + i * MiB) for i in range(31)])
    assert memory_slope(leaking) == pytest.approx(10 * MiB, rel=1e-6)
    assert memory_slope(samples([(0.0, 5)])) == 0.0


def test_flat_threshold_is_the_stricter_of_limit_and_reproduced_growth() -> None:
    limit = 64 * MiB
    assert flat_threshold(limit, None) == pytest.approx(0.01 * limit)
    assert flat_threshold(limit, 32 * MiB) == pytest.approx(0.01 * limit)  # fast leak
    assert flat_threshold(limit, 1 * MiB) == pytest.approx(0.1 * MiB)  # slow leak
