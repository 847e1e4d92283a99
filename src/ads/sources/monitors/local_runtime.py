"""The local runtime: run a service under its memory limit and behave like a kubelet.

``ads run SERVICE`` builds the service, starts it in a fresh memory cgroup whose limit is the
service's ``memory_limit``, and watches. When the kernel OOM-kills it (SIGKILL, exit 137, and the
cgroup's ``oom_kill`` count rises) it records an ``OomEvent`` and restarts it after a
CrashLoopBackOff delay. Memory is sampled the whole time for the report's chart. Cgroups are
removed on every exit path, Ctrl-C included.

Observers get every step (build, start, sample, kill); the CLI draws a live status from them and
the detection layer sends PagerDuty events from them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ...config import ServiceConfig
from ...errors import BuildError
from ...models import MemorySample, OomEvent, ReproductionMode, RunResult
from ..repository import head_sha
from .cgroups import MemoryCgroup, MemoryLimiter, detect_limiter

__all__ = ["LocalRuntime", "RunObserver", "run_build"]

SIGKILL_EXIT = 137


def run_build(
    command: str,
    cwd: Path,
    *,
    what: str,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> None:
    """Run a build command in ``cwd``; ``BuildError`` naming ``what`` and the first error line."""
    try:
        proc = subprocess.run(
            command,
            shell=True,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        reason = (errors or lines or ["no output"])[0]
        raise BuildError(f"{what} failed (exit {proc.returncode}): {reason}")


class RunObserver(Protocol):
    """Hooks called by ``LocalRuntime.run``.

    Subclass it and override the hooks you need (the others do nothing), or write any class
    with all eight: the terminal's live status does, so the interfaces need not import this.
    """

    def notice(self, message: str) -> None:
        """Something the operator must know once (e.g. the weaker RLIMIT_AS fallback)."""
        return None

    def built(self, git_sha: str | None) -> None:
        return None

    def started(self, restart: int, pid: int) -> None:
        return None

    def sample(self, sample: MemorySample, limit: int) -> None:
        return None

    def output(self, line: str) -> None:
        return None

    def oom_killed(self, event: OomEvent) -> None:
        return None

    def exited(self, restart: int, exit_code: int) -> None:
        return None

    def backing_off(self, restart: int, delay: float) -> None:
        return None


def _now() -> datetime:
    return datetime.now(UTC)


class LocalRuntime:
    """Runs one service under its memory limit, restarting it like a kubelet."""

    def __init__(
        self,
        service: ServiceConfig,
        repo: Path,
        *,
        limiter: MemoryLimiter | None = None,
        observers: Sequence[RunObserver] = (),
        sample_interval: float = 0.05,
        memory_limit: int | None = None,
        run_command: str | None = None,
    ) -> None:
        self.service = service
        self.repo = repo
        self.limiter = limiter or detect_limiter()
        self.observers = list(observers)
        self.sample_interval = sample_interval
        self.memory_limit = memory_limit or service.memory_limit_bytes
        self.run_command = run_command or service.run
        self._stop = threading.Event()

    # -- public ---------------------------------------------------------------------------------

    def build(self) -> str | None:
        """Run the service's build command in its repo; the git sha of what was built."""
        if not self.service.build:
            raise BuildError(
                f"service {self.service.name!r} has no build command",
                hint="set services.<name>.build in ads.yaml",
            )
        run_build(self.service.build, self.repo, what=f"build of {self.service.name!r}")
        sha = head_sha(self.repo)
        self._emit("built", sha)
        return sha

    def stop(self) -> None:
        """Ask a running ``run`` to stop at the next chance (thread-safe)."""
        self._stop.set()

    def run(
        self,
        *,
        max_kills: int | None = None,
        duration: float | None = None,
        build: bool = True,
    ) -> RunResult:
        """Run until ``max_kills`` OOM kills, ``duration`` seconds, or ``stop()``."""
        if not self.run_command:
            raise BuildError(
                f"service {self.service.name!r} has no run command",
                hint="set services.<name>.run in ads.yaml",
            )
        if self.limiter.is_weaker:
            self._emit(
                "notice",
                "no writable memory cgroup here: falling back to RLIMIT_AS, a weaker "
                "reproduction (allocations fail instead of the kernel OOM-killing)",
            )
        sha = self.build() if build else head_sha(self.repo)
        result = RunResult(
            service=self.service.name,
            mode=self.limiter.mode,
            memory_limit=self.memory_limit,
            git_sha=sha,
        )
        started = time.monotonic()
        deadline = started + duration if duration is not None else None
        restart = 0
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            exit_code, event = self._run_once(restart, started, deadline, result)
            result.last_exit_code = exit_code
            if event is not None:
                result.events.append(event)
                self._emit("oom_killed", event)
                if max_kills is not None and len(result.events) >= max_kills:
                    break
            elif exit_code is None:  # stopped by deadline or stop()
                break
            else:
                self._emit("exited", restart, exit_code)
                result.exited_normally = exit_code == 0
            restart += 1
            delay = self.service.backoff.delay(restart)
            if deadline is not None:
                delay = min(delay, max(0.0, deadline - time.monotonic()))
            self._emit("backing_off", restart, delay)
            if self._stop.wait(delay):
                break
        result.duration = time.monotonic() - started
        return result

    # -- one container start ----------------------------------------------------------------------

    def _run_once(
        self, restart: int, run_started: float, deadline: float | None, result: RunResult
    ) -> tuple[int | None, OomEvent | None]:
        cgroup = self.limiter.create(self.service.name, self.memory_limit)
        try:
            return self._watch(cgroup, restart, run_started, deadline, result)
        finally:
            cgroup.remove()

    def _watch(
        self,
        cgroup: MemoryCgroup,
        restart: int,
        run_started: float,
        deadline: float | None,
        result: RunResult,
    ) -> tuple[int | None, OomEvent | None]:
        kills_before = cgroup.oom_kills()
        started_at = _now()
        proc = subprocess.Popen(
            cgroup.wrap(self.run_command or ""),
            cwd=self.repo,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if cgroup.mode is ReproductionMode.RLIMIT_AS:
            cgroup.pid = proc.pid  # type: ignore[attr-defined]
        reader = threading.Thread(target=self._pump_output, args=(proc,), daemon=True)
        reader.start()
        self._emit("started", restart, proc.pid)
        peak_seen = 0
        try:
            while True:
                code = proc.poll()
                usage = cgroup.usage()
                peak_seen = max(peak_seen, usage)
                if code is not None:
                    break
                sample = MemorySample(
                    t=round(time.monotonic() - run_started, 4), bytes=usage, restart=restart
                )
                result.samples.append(sample)
                self._emit("sample", sample, self.memory_limit)
                if self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                    return None, None
                time.sleep(self.sample_interval)
        finally:
            if proc.poll() is None:
                cgroup.kill_all()
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
            reader.join(timeout=1)
        killed_at = _now()
        exit_code = 128 - code if code < 0 else code
        kills = cgroup.oom_kills() - kills_before
        oom = exit_code == SIGKILL_EXIT and kills > 0
        if cgroup.mode is ReproductionMode.RLIMIT_AS:
            oom = exit_code != 0  # allocation failure at the limit: the best RLIMIT_AS can tell
        if not oom:
            return exit_code, None
        event = OomEvent(
            service=self.service.name,
            exit_code=exit_code,
            pid=proc.pid,
            memory_limit=self.memory_limit,
            peak_usage=cgroup.peak() or peak_seen,
            killed_at=killed_at,
            started_at=started_at,
            restart_count=restart,
            git_sha=result.git_sha,
            mode=cgroup.mode,
            oom_kill_count=kills if cgroup.mode is not ReproductionMode.RLIMIT_AS else None,
            namespace=self.service.kubernetes.namespace,
            workload=self.service.kubernetes.deployment or self.service.name,
            container=self.service.kubernetes.container or self.service.name,
            node=socket.gethostname(),
        )
        return exit_code, event

    def _pump_output(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self._emit("output", raw.decode("utf-8", "replace").rstrip("\n"))

    def _emit(self, hook: str, *args: object) -> None:
        for observer in self.observers:
            method: Callable[..., None] = getattr(observer, hook)
            method(*args)
