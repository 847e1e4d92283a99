"""The local runtime reproduces real OOM kills in a memory cgroup and cleans up after itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ads.config import ServiceConfig
from ads.errors import BuildError
from ads.interfaces.demo_workspace import worker_with_free
from ads.models import ReproductionMode
from ads.sources.monitors import LocalRuntime, MemoryLimiter, detect_limiter

MiB = 1024 * 1024


def _cgroup_limiter() -> MemoryLimiter:
    limiter = detect_limiter(allow_fallback=False) if _can_cgroup() else None
    if limiter is None:
        pytest.skip("no writable memory cgroup here (needs root); RLIMIT_AS is tested separately")
    return limiter


def _can_cgroup() -> bool:
    try:
        detect_limiter(allow_fallback=False)
    except Exception:
        return False
    return True


def _leftover_cgroups(limiter: MemoryLimiter, service: str) -> list[Path]:
    """Cgroups of ``service`` under the limiter's own parent (each test gets a fresh one)."""
    assert limiter.parent is not None
    return [p for p in limiter.parent.glob(f"{service}-*") if p.is_dir()]


@pytest.fixture
def own_parent(request: pytest.FixtureRequest) -> Iterator[MemoryLimiter]:
    """A limiter whose cgroups go under a parent of this test's own, so other runs on the
    machine (benchmarks, a second test session) cannot be mistaken for leftovers."""
    shared = _cgroup_limiter()
    assert shared.parent is not None
    parent = shared.parent / f"test-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    if shared.mode is ReproductionMode.CGROUP_V2:
        (parent / "cgroup.subtree_control").write_text("+memory")
    try:
        yield MemoryLimiter(shared.mode, parent)
    finally:
        for child in parent.iterdir():
            if child.is_dir():
                child.rmdir()
        parent.rmdir()


def demo_service(**overrides: object) -> ServiceConfig:
    body: dict[str, object] = {
        "name": "ads-demo-service",
        "build": "make build",
        "run": "./build/worker",
        "memory_limit": "64Mi",
        "backoff": {"initial_seconds": 0.2},
    }
    body.update(overrides)
    return ServiceConfig.model_validate(body)


@pytest.mark.cgroup
def test_demo_worker_is_oom_killed_by_the_kernel(
    demo_repo: Path, own_parent: MemoryLimiter
) -> None:
    limiter = own_parent
    runtime = LocalRuntime(demo_service(), demo_repo, limiter=limiter)
    result = runtime.run(max_kills=2, duration=30)

    assert len(result.events) == 2
    first, second = result.events
    assert first.exit_code == 137
    assert first.oom_kill_count is not None and first.oom_kill_count > 0
    assert first.peak_usage is not None and abs(first.peak_usage - 64 * MiB) <= 4 * MiB
    assert first.memory_limit == 64 * MiB
    assert first.mode in (ReproductionMode.CGROUP_V1, ReproductionMode.CGROUP_V2)
    assert first.git_sha and len(first.git_sha) == 40
    assert (second.restart_count, first.restart_count) == (1, 0)
    assert max(s.bytes for s in result.samples) > 48 * MiB  # the curve climbed towards the limit
    assert _leftover_cgroups(limiter, "ads-demo-service") == []


@pytest.mark.cgroup
def test_worker_that_frees_is_not_killed(demo_repo: Path, own_parent: MemoryLimiter) -> None:
    worker = demo_repo / "worker.c"
    worker.write_text(worker_with_free(worker.read_text()))
    limiter = own_parent
    result = LocalRuntime(demo_service(), demo_repo, limiter=limiter).run(duration=3)

    assert result.events == []
    assert max(s.bytes for s in result.samples) < 32 * MiB
    assert _leftover_cgroups(limiter, "ads-demo-service") == []


@pytest.mark.cgroup
def test_stop_from_another_thread_kills_and_removes_the_cgroup(
    demo_repo: Path, own_parent: MemoryLimiter
) -> None:
    limiter = own_parent
    runtime = LocalRuntime(demo_service(memory_limit="1Gi"), demo_repo, limiter=limiter)
    threading.Timer(1.0, runtime.stop).start()
    result = runtime.run(duration=30)

    assert result.duration < 10
    assert result.events == []
    assert _leftover_cgroups(limiter, "ads-demo-service") == []


def test_rlimit_fallback_is_labelled_weaker(demo_repo: Path) -> None:
    notices: list[str] = []

    class Collect:
        def __getattr__(self, name: str) -> object:
            return (lambda message: notices.append(message)) if name == "notice" else _ignore

    limiter = MemoryLimiter(ReproductionMode.RLIMIT_AS, None)
    runtime = LocalRuntime(
        demo_service(),
        demo_repo,
        limiter=limiter,
        observers=[Collect()],  # type: ignore[list-item]
    )
    result = runtime.run(max_kills=1, duration=20)

    # said once; a machine without bubblewrap adds its own sandbox notice beside it
    rlimit = [n for n in notices if "RLIMIT_AS" in n]
    assert len(rlimit) == 1 and "weaker reproduction" in rlimit[0], notices
    assert len(result.events) == 1
    assert result.events[0].mode is ReproductionMode.RLIMIT_AS
    assert "weaker" in result.events[0].mode.value


def _ignore(*args: object) -> None:
    return None


def test_failing_build_is_one_clear_error(demo_repo: Path) -> None:
    (demo_repo / "worker.c").write_text("int main( { return 0; }\n")
    runtime = LocalRuntime(
        demo_service(), demo_repo, limiter=MemoryLimiter(ReproductionMode.RLIMIT_AS, None)
    )
    with pytest.raises(BuildError, match="build of 'ads-demo-service' failed"):
        runtime.run(duration=1)


def test_missing_build_command(demo_repo: Path) -> None:
    runtime = LocalRuntime(
        demo_service(build=None), demo_repo, limiter=MemoryLimiter(ReproductionMode.RLIMIT_AS, None)
    )
    with pytest.raises(BuildError, match="no build command"):
        runtime.run(duration=1)


@pytest.mark.cgroup
def test_ctrl_c_on_ads_run_removes_its_cgroups(demo_repo: Path, own_parent: MemoryLimiter) -> None:
    assert own_parent.parent is not None
    env = {**os.environ, "ADS_CGROUP_ROOT": str(own_parent.parent)}
    env.pop("PAGERDUTY_ROUTING_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ads", "run", "ads-demo-service"],
        cwd=demo_repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not _leftover_cgroups(own_parent, "ads-demo-service"):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert _leftover_cgroups(own_parent, "ads-demo-service") == []
