"""Reproduction as evidence: one revision built here, then run under chosen memory limits.

Verification asks "does the fix stop it?"; the differential diagnosis and ``ads bisect`` ask
"is *this* build OOM-killed under *that* limit?": the current build at the previous limit (no
kill ⇒ the limit change is the cause), the parent of a suspect change at the current limit (no
kill ⇒ that change is the cause), each candidate commit of a bisection. ``BuiltRevision`` makes
a temporary worktree at the revision, hands it to a ``Sandbox`` (no network, no ADS secrets, an
unprivileged user, a memory cgroup per step, nothing left running), builds it once, and runs it
as many times as asked, each run bounded in time and ended at the first OOM kill.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from ..config import ServiceConfig
from ..errors import BuildError
from ..models import RunResult
from ..sources.monitors.cgroups import MemoryLimiter, detect_limiter
from ..sources.monitors.local_runtime import (
    LocalRuntime,
    RunObserver,
    build_memory_limit,
    run_build,
)
from ..sources.monitors.sandbox import Sandbox
from ..sources.repository import head_sha
from .verification import BUILD_CFLAGS, BUILD_TIMEOUT, exec_form
from .worktrees import temporary_worktree

__all__ = ["BuiltRevision", "RunVerdict", "killed", "run_at"]


class BuiltRevision:
    """``rev`` of ``repo`` checked out and built in a sandbox; ``run`` it under any limit.

    A build failure is ``BuildError`` from ``__enter__`` (a bisection skips that commit)."""

    def __init__(
        self,
        repo: Path,
        service: ServiceConfig,
        rev: str,
        *,
        limiter: MemoryLimiter | None = None,
        sandbox: Sandbox | None = None,
        build_timeout: float = BUILD_TIMEOUT,
    ) -> None:
        self.repo = Path(repo)
        self.service = service
        self.rev = rev
        self.limiter = limiter or detect_limiter()
        self._given_sandbox = sandbox
        self.build_timeout = build_timeout
        self._stack = contextlib.ExitStack()
        self.tree: Path | None = None
        self.sandbox: Sandbox | None = None
        self.sha: str | None = None

    def __enter__(self) -> Self:
        try:
            if not self.service.build or not self.service.run:
                name = self.service.name
                raise BuildError(
                    f"service {name!r} has no build or run command, so ADS cannot run it here",
                    hint=f"set services.{name}.build and services.{name}.run in ads.yaml",
                )
            self.sandbox = self._given_sandbox or self._stack.enter_context(Sandbox(self.service))
            tree = self._stack.enter_context(temporary_worktree(self.repo, self.rev))
            self.sha = head_sha(tree)
            self.sandbox.adopt(tree)
            self.tree = tree
            run_build(
                self.service.build,
                tree,
                what=f"`{self.service.build}` at {self.rev[:12]}",
                sandbox=self.sandbox,
                limiter=self.limiter,
                name=self.service.name,
                memory_limit=build_memory_limit(self.service.memory_limit_bytes),
                env={"CFLAGS": BUILD_CFLAGS},
                timeout=self.build_timeout,
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def run(self, limit: int, seconds: float, observers: tuple[RunObserver, ...] = ()) -> RunResult:
        """Run the build under ``limit`` until the first OOM kill or ``seconds``."""
        assert self.tree is not None and self.sandbox is not None, "use BuiltRevision in `with`"
        runtime = LocalRuntime(
            self.service,
            self.tree,
            limiter=self.limiter,
            observers=observers,
            memory_limit=limit,
            run_command=exec_form(self.service.run or ""),
            sandbox=self.sandbox,
            adopted=True,
            git_sha=self.sha,
        )
        return runtime.run(max_kills=1, duration=seconds, build=False)


@dataclass(frozen=True)
class RunVerdict:
    """Whether one run counts as bad (OOM-killed, or grown past ``threshold`` bytes)."""

    bad: bool
    detail: str


def killed(run: RunResult, threshold: int | None = None) -> RunVerdict:
    """A run is bad when the kernel OOM-killed it, or its memory passed ``threshold``."""
    peak = max((s.bytes for s in run.samples), default=0)
    if run.events:
        after = run.events[0].seconds_to_kill
        when = f" after {after:.1f} s" if after is not None else ""
        return RunVerdict(True, f"OOM-killed{when}")
    if threshold is not None and peak >= threshold:
        return RunVerdict(True, f"grew to {peak // 1024**2} MiB, past the threshold")
    ran = f"ran {run.duration:.1f} s with no OOM kill (peak {peak / 1024**2:.1f} MiB)"
    if run.exited_normally or run.last_exit_code not in (None, 0):
        ran += f", exited with {run.last_exit_code}"
    return RunVerdict(False, ran)


def run_at(
    repo: Path,
    service: ServiceConfig,
    rev: str,
    limits: list[int],
    seconds: float,
    *,
    limiter: MemoryLimiter | None = None,
) -> list[RunResult]:
    """Build ``rev`` once and run it under each of ``limits`` in turn."""
    with BuiltRevision(repo, service, rev, limiter=limiter) as built:
        return [built.run(limit, seconds) for limit in limits]
