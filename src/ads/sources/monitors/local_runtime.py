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
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ... import interrupts
from ...config import ServiceConfig
from ...errors import BuildError
from ...models import MemorySample, OomEvent, ReproductionMode, RunResult
from ..repository import head_sha
from .cgroups import MemoryCgroup, MemoryLimiter, detect_limiter
from .sandbox import Sandbox

__all__ = ["LocalRuntime", "RunObserver", "build_memory_limit", "run_build"]

SIGKILL_EXIT = 137
POLL_SECONDS = 0.1  # how soon a build or run notices a stop request


BUILD_MEMORY_LIMIT = 2 * 1024**3


def build_memory_limit(service_limit: int) -> int:
    """The build's memory cgroup limit: 2 GiB, or the service's limit when that is higher.

    Not the service's own limit: that is what the *running* service gets in production, and a
    compiler is not the service (gcc alone can need hundreds of MiB for one big file, far above
    the demo's 64Mi). But a build is still bounded: a hostile or runaway one must not take the
    machine's memory, and 2 GiB is generous for compiling a service's C.
    """
    return max(BUILD_MEMORY_LIMIT, service_limit)


def run_build(
    command: str,
    cwd: Path,
    *,
    what: str,
    sandbox: Sandbox,
    limiter: MemoryLimiter,
    name: str,
    memory_limit: int = BUILD_MEMORY_LIMIT,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> None:
    """Run a build command in ``cwd`` in ``sandbox`` and a memory cgroup of its own.

    ``BuildError`` names ``what`` and the first error line. Whatever the build leaves running
    (a daemon, a background job) and everything still running at the timeout is killed with the
    cgroup, whose removal proves it empty.
    """
    cgroup = limiter.create(f"{name}-build", memory_limit)
    try:
        proc = subprocess.Popen(
            cgroup.wrap(sandbox.command(command, cwd=cwd, env=env)),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        if cgroup.mode is ReproductionMode.RLIMIT_AS:
            cgroup.pid = proc.pid  # type: ignore[attr-defined]
        try:
            stdout, stderr = _communicate(proc, timeout)
        except (subprocess.TimeoutExpired, interrupts.Interrupted) as stopped:
            cgroup.kill_all()
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=10)
            if isinstance(stopped, interrupts.Interrupted):
                raise  # never reported as a failed build: nobody judged the code
            raise BuildError(f"{what} took longer than {timeout:.0f} s") from None
        oom_killed = cgroup.oom_kills() > 0
    finally:
        cgroup.remove()
    if proc.returncode != 0:
        if oom_killed:
            raise BuildError(
                f"{what} ran out of memory under its build limit ({memory_limit // 1024**2} MiB)"
            )
        lines = [ln.strip() for ln in (stderr + stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        reason = (errors or lines or ["no output"])[0]
        raise BuildError(f"{what} failed (exit {proc.returncode}): {reason}")


def _communicate(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """``proc.communicate(timeout=...)`` that also gives up within ``POLL_SECONDS`` of a stop
    request (``ads.interrupts``): a build is cut at once on Ctrl-C, not after it ends."""
    deadline = time.monotonic() + timeout
    while True:
        interrupts.check()
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        try:
            return proc.communicate(timeout=min(POLL_SECONDS, left))
        except subprocess.TimeoutExpired:
            continue


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
    """Runs one service under its memory limit, restarting it like a kubelet.

    Every build and start happens in a ``Sandbox`` (its own, unless one is given). ``repo`` is
    the user's checkout, run from a private copy; ``adopted=True`` says it is instead a
    throwaway tree ADS made and already gave to the sandbox (``Sandbox.adopt``), run in place.
    ``writable`` are further paths the service may write (LeakSanitizer's report directory).
    """

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
        sandbox: Sandbox | None = None,
        adopted: bool = False,
        git_sha: str | None = None,
        writable: Sequence[Path] = (),
    ) -> None:
        self.service = service
        self.repo = repo
        self.limiter = limiter or detect_limiter()
        self.observers = list(observers)
        self.sample_interval = sample_interval
        self.memory_limit = memory_limit or service.memory_limit_bytes
        self.run_command = run_command or service.run
        self.sandbox = sandbox
        self.adopted = adopted
        self.git_sha = git_sha
        self.writable = list(writable)
        self._stop = threading.Event()

    # -- public ---------------------------------------------------------------------------------

    def build(self, tree: Path, sandbox: Sandbox) -> None:
        """Run the service's build command in ``tree``, in ``sandbox`` and a build cgroup."""
        if not self.service.build:
            raise BuildError(
                f"service {self.service.name!r} has no build command",
                hint="set services.<name>.build in ads.yaml",
            )
        run_build(
            self.service.build,
            tree,
            what=f"build of {self.service.name!r}",
            sandbox=sandbox,
            limiter=self.limiter,
            name=self.service.name,
            memory_limit=build_memory_limit(self.memory_limit),
        )

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
        if build and not self.service.build:
            raise BuildError(
                f"service {self.service.name!r} has no build command",
                hint="set services.<name>.build in ads.yaml",
            )
        if self.limiter.is_weaker:
            self._emit(
                "notice",
                "no writable memory cgroup here: falling back to RLIMIT_AS, a weaker "
                "reproduction (allocations fail instead of the kernel OOM-killing)",
            )
        # git runs here, as ADS, only in a tree the sandbox has not written to
        sha = self.git_sha or (None if self.adopted else head_sha(self.repo))
        with contextlib.ExitStack() as stack:
            sandbox = self.sandbox or stack.enter_context(Sandbox(self.service))
            weaker = sandbox.announce()
            if weaker:
                self._emit("notice", weaker)
            tree = (
                self.repo if self.adopted else stack.enter_context(sandbox.private_copy(self.repo))
            )
            if build:
                self.build(tree, sandbox)
                self._emit("built", sha)
            return self._run(tree, sandbox, sha, max_kills, duration)

    def _run(
        self,
        tree: Path,
        sandbox: Sandbox,
        sha: str | None,
        max_kills: int | None,
        duration: float | None,
    ) -> RunResult:
        result = RunResult(
            service=self.service.name,
            mode=self.limiter.mode,
            memory_limit=self.memory_limit,
            git_sha=sha,
        )
        command = sandbox.command(self.run_command or "", cwd=tree, writable=self.writable)
        started = time.monotonic()
        deadline = started + duration if duration is not None else None
        restart = 0
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            exit_code, event = self._run_once(tree, command, restart, started, deadline, result)
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
            if self._wait(delay):
                break
        result.duration = time.monotonic() - started
        return result

    def _wait(self, seconds: float) -> bool:
        """Sleep through a back-off; ``True`` on ``stop()``, ``Interrupted`` on Ctrl-C."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._stop.wait(min(POLL_SECONDS, left)):
                return True
            interrupts.check()
        return self._stop.is_set()

    # -- one container start ----------------------------------------------------------------------

    def _run_once(
        self,
        tree: Path,
        command: str,
        restart: int,
        run_started: float,
        deadline: float | None,
        result: RunResult,
    ) -> tuple[int | None, OomEvent | None]:
        cgroup = self.limiter.create(self.service.name, self.memory_limit)
        try:
            return self._watch(cgroup, tree, command, restart, run_started, deadline, result)
        finally:
            cgroup.remove()  # every process of this start, whatever it did, dies here

    def _watch(
        self,
        cgroup: MemoryCgroup,
        tree: Path,
        command: str,
        restart: int,
        run_started: float,
        deadline: float | None,
        result: RunResult,
    ) -> tuple[int | None, OomEvent | None]:
        kills_before = cgroup.oom_kills()
        started_at = _now()
        proc = subprocess.Popen(
            cgroup.wrap(command),
            cwd=tree,
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
                interrupts.check()  # Ctrl-C/SIGTERM: killed below, never judged as a run
                interrupts.wait(self.sample_interval)
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
