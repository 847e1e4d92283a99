"""Verification by reproduction: a fix is *verified* only when ADS has seen it work.

The current code and the patched code are each built in a temporary git worktree (the user's
checkout is never touched) and run under the deployment's memory limit in a real memory cgroup
by the local runtime:

* **before**: the current build must be OOM-killed by the kernel within ``reproduce_timeout``
  (reproduced). Meanwhile the run-time probe of the finding's language (``ads.actions.probes``:
  LeakSanitizer snapshots for C, tracemalloc snapshots for Python) names the allocation site
  whose bytes grow, before the SIGKILL that leaves no report;
* **after**: the patched build must run the whole ``duration`` with no kill, no exit, and memory
  flat — the least-squares slope of its usage below ``flat_threshold`` (see there for why) —
  and, where the language's probe is light enough to watch it (tracemalloc), its snapshots
  must no longer grow at the finding's site.

Builds use ``CFLAGS=-O0 -g`` from the environment (a Makefile's ``CFLAGS ?=`` lets it win): at
``-O2`` gcc deletes a ``malloc`` whose buffer is never read, and the leak would vanish from the
binary, not from the code. Every build and run is the untrusted code of the repository, so
each happens in one ``Sandbox`` (``ads.sources.monitors.sandbox``: scrubbed environment, no
network, an unprivileged user, its own memory cgroup, no process left at the end of the step);
the worktrees are handed to the sandbox user once made, and ADS runs no git in them after that.
Runaway processes are killed at the time bound; worktrees, cgroups and snapshot files are removed
on every path.

Outcomes: VERIFIED, FIX_FAILED (the patched build was killed, exited, grew, or does not build),
NOT_REPRODUCED (the current build was not OOM-killed in time), CANNOT_BUILD (no build or run
command, or the current code does not build — with the reason), REPRODUCED (no fix was given).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ServiceConfig
from ..errors import BuildError
from ..models import (
    Finding,
    MemorySample,
    RunResult,
    VerificationOutcome,
    VerificationResult,
)
from ..sources.monitors.cgroups import MemoryLimiter, detect_limiter
from ..sources.monitors.local_runtime import (
    LocalRuntime,
    RunObserver,
    build_memory_limit,
    run_build,
)
from ..sources.monitors.sandbox import Sandbox
from ..sources.repository import head_sha
from ..units import format_bytes, format_quantity
from .probes import (
    NEEDS_CGROUP,
    PatchedRunProbe,
    RuntimeProbe,
    patched_run_probe,
    runtime_probe,
)
from .run_figures import memory_slope, run_figures
from .worktrees import temporary_worktree

__all__ = [
    "BUILD_CFLAGS",
    "exec_form",
    "flat_threshold",
    "memory_slope",
    "verify_fix",
]

BUILD_CFLAGS = "-O0 -g"
DEFAULT_DURATION = 3.0
DEFAULT_REPRODUCE_TIMEOUT = 30.0
#: the patched build under the probe runs until the probe holds this many snapshots (warm-up,
#: then one a second), or for at most PROBE_AFTER_MAX_SECONDS: a fixed window got fewer
#: snapshots, and no verdict on the site, when the machine was slow to start the interpreter
PROBE_AFTER_SNAPSHOTS = 3
PROBE_AFTER_MAX_SECONDS = 30.0
BUILD_TIMEOUT = 600.0
LIMIT_FRACTION_PER_SECOND = 0.01
BEFORE_SLOPE_FRACTION = 0.10

Stage = Callable[[str], None]


def _growth_to_kill(before: RunResult) -> float:
    """The current build's growth: its whole run up to the kill is growth, so no warm-up cut."""
    return memory_slope(before.samples, warm_up=0.0)


def flat_threshold(limit: int, before_slope: float | None) -> float:
    """Bytes per second below which the patched run counts as flat.

    Two bounds, the stricter wins:

    * 1 % of the limit per second. That is the resolution a run of a few seconds can honestly
      claim (over 3 s it is 3 % of the limit, far above the page-sized noise of a steady
      process), yet 50 times below the demo's reproduced growth (about half the limit per
      second). At this slope the service would need 100 s to grow by a whole limit.
    * 10 % of the growth reproduced before the fix: the fix must remove at least 90 % of the
      growth that was seen, so a slow leak is never judged against a threshold above itself.
    """
    threshold = LIMIT_FRACTION_PER_SECOND * limit
    if before_slope is not None and before_slope > 0:
        threshold = min(threshold, BEFORE_SLOPE_FRACTION * before_slope)
    return threshold


_SHELL_SYNTAX = set(";&|<>()`$*?[]{}!~#\n\\'\"=")


def exec_form(run_command: str) -> str:
    """``exec <command>`` for a plain command line, so the service keeps the shell's pid.

    The runtime samples and signals the process it started; a shell that forks the service
    instead would be what it measured (under ``RLIMIT_AS``, whose usage is per process). A
    command with any shell syntax is left as it is, run by the shell.
    """
    words = run_command.split()
    if not words or any(ch in _SHELL_SYNTAX for ch in run_command) or words[0] == "exec":
        return run_command
    return f"exec {run_command}"


class _Exits(RunObserver):
    """Remembers exits that were not OOM kills (a crash, or a service that just stopped)."""

    def __init__(self) -> None:
        self.codes: list[int] = []

    def exited(self, restart: int, exit_code: int) -> None:
        self.codes.append(exit_code)


class _EnoughSnapshots(RunObserver):
    """Stops the patched build's probe run once the probe holds ``wanted`` snapshots."""

    def __init__(self, probe: PatchedRunProbe, finding: Finding | None, wanted: int) -> None:
        self.probe, self.finding, self.wanted = probe, finding, wanted
        self.runtime: LocalRuntime | None = None
        self._checked = 0.0

    def sample(self, sample: MemorySample, limit: int) -> None:
        now = time.monotonic()
        if self.runtime is None or self.finding is None or now - self._checked < 0.25:
            return
        self._checked = now
        grown = self.probe.growth_at(self.finding)
        if grown is not None and grown[1] >= self.wanted:
            self.runtime.stop()


@dataclass
class _Verification:
    """The state of one ``verify_fix`` call, so each stage reads as one short method."""

    repo: Path
    service: ServiceConfig
    fix_diff: str | None
    finding: Finding | None
    duration: float
    limit: int
    limiter: MemoryLimiter
    reproduce_timeout: float
    rev: str
    observers: Sequence[RunObserver]
    stage: Stage
    use_lsan: bool
    sandbox: Sandbox | None = None
    known_before: RunResult | None = None  # the current build's kill, already seen
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    git_sha: str | None = None
    after_growth: tuple[str, int, int] | None = None  # (probe, bytes at the site, snapshots)

    def run(self) -> VerificationResult:
        missing = self._missing_commands()
        if missing:
            return self._result(VerificationOutcome.CANNOT_BUILD, missing)
        with contextlib.ExitStack() as stack:
            if self.sandbox is None:
                self.sandbox = stack.enter_context(Sandbox(self.service))
            if self.fix_diff is None:
                before_tree = stack.enter_context(temporary_worktree(self.repo, self.rev))
                self._adopt(before_tree)
                return self._reproduce_only(before_tree)
            after_tree = stack.enter_context(
                temporary_worktree(self.repo, self.rev, patch=self.fix_diff)
            )
            if self.known_before is not None:
                self._adopt(after_tree)
                if self.known_before.git_sha in (None, self.git_sha):
                    return self._after_only(self.known_before, after_tree)
                self.known_before = None  # another revision's run proves nothing here
            before_tree = stack.enter_context(temporary_worktree(self.repo, self.rev))
            self._adopt(before_tree, after_tree)
            return self._before_and_after(before_tree, after_tree)
        raise AssertionError("unreachable")  # ExitStack swallows no exception

    def _adopt(self, *trees: Path) -> None:
        """Read the revision while git may still run in the tree, then hand it to the sandbox."""
        assert self.sandbox is not None
        self.git_sha = head_sha(trees[0])
        for tree in trees:
            self.sandbox.adopt(tree)

    # -- stages ---------------------------------------------------------------------------------

    def _missing_commands(self) -> str | None:
        name = self.service.name
        if not self.service.build:
            return (
                f"service {name!r} has no build command, so ADS cannot build it here "
                f"(set services.{name}.build in ads.yaml)"
            )
        if not self.service.run:
            return (
                f"service {name!r} has no run command, so ADS cannot run it here "
                f"(set services.{name}.run in ads.yaml)"
            )
        return None

    def _reproduce_only(self, before_tree: Path) -> VerificationResult:
        try:
            self._build(before_tree, "build-before")
        except BuildError as exc:
            return self._result(VerificationOutcome.CANNOT_BUILD, f"current code: {exc}")
        before, site = self._run_before(before_tree)
        if not before.events:
            return self._not_reproduced(before, site)
        text = f"{self._describe_before(before)} No fix was given, so none was verified."
        return self._result(VerificationOutcome.REPRODUCED, text, before=before, site=site)

    def _before_and_after(self, before_tree: Path, after_tree: Path) -> VerificationResult:
        try:
            self._build(before_tree, "build-before")
        except BuildError as exc:
            return self._result(VerificationOutcome.CANNOT_BUILD, f"current code: {exc}")
        unbuilt = self._build_patched(after_tree)
        if unbuilt is not None:
            return unbuilt
        before, site = self._run_before(before_tree)
        if not before.events:
            return self._not_reproduced(before, site)
        return self._patched_against(before, site, after_tree)

    def _after_only(self, before: RunResult, after_tree: Path) -> VerificationResult:
        """The patched build judged against a kill of the current build already seen (the
        fix's own verification, when a rollback is verified next): the same revision under
        the same limit, so running it again would only repeat it."""
        self.notes.append("The current build's OOM kill is the one the fix's verification saw.")
        return self._build_patched(after_tree) or self._patched_against(before, None, after_tree)

    def _build_patched(self, after_tree: Path) -> VerificationResult | None:
        """None once the patched code is built; the FIX_FAILED result when it does not build."""
        try:
            self._build(after_tree, "build-after")
        except BuildError as exc:
            text = f"the patched code does not build: {exc}"
            return self._result(VerificationOutcome.FIX_FAILED, text)
        return None

    def _patched_against(
        self, before: RunResult, site: RuntimeProbe | None, after_tree: Path
    ) -> VerificationResult:
        """Run the patched build (probing it when it stays up) and judge it against ``before``."""
        after, exits = self._run_after(after_tree)
        if not after.events and not exits:
            self._probe_after(after_tree)
        return self._judge(before, after, exits, site)

    def _build(self, tree: Path, stage: str) -> None:
        self.stage(f"building {stage.removeprefix('build-')} ({BUILD_CFLAGS})")
        started = time.monotonic()
        try:
            assert self.sandbox is not None
            run_build(
                self.service.build or "",
                tree,
                what=f"`{self.service.build}`",
                sandbox=self.sandbox,
                limiter=self.limiter,
                name=self.service.name,
                memory_limit=build_memory_limit(self.limit),
                env={"CFLAGS": BUILD_CFLAGS},
                timeout=BUILD_TIMEOUT,
            )
        finally:
            self.timings[stage] = round(time.monotonic() - started, 3)

    def _run_before(self, tree: Path) -> tuple[RunResult, RuntimeProbe | None]:
        self.stage(f"running the current build under {format_quantity(self.limit)}")
        started = time.monotonic()
        snapshots = self._snapshots(tree)
        try:
            run_command = exec_form(self.service.run or "")
            if snapshots is not None and snapshots.available:
                run_command = snapshots.wrap(run_command)
            observers = [*self.observers, *([snapshots] if snapshots else [])]
            writable = [snapshots.directory] if snapshots is not None else []
            result = self._runtime(tree, run_command, observers, writable).run(
                max_kills=1, duration=self.reproduce_timeout, build=False
            )
            if snapshots is not None and snapshots.available and not result.events:
                fatal = snapshots.fatal_error()
                if fatal or result.last_exit_code not in (None, 0):
                    # The probe itself may have stopped the service: reproduce without it.
                    self.notes.append(f"{snapshots.name} disturbed the run ({fatal or 'exit'}).")
                    snapshots.cleanup()
                    snapshots = None
                    plain = exec_form(self.service.run or "")
                    result = self._runtime(tree, plain, self.observers).run(
                        max_kills=1, duration=self.reproduce_timeout, build=False
                    )
            if snapshots is not None:
                snapshots.growing_site()  # symbolize now, while the built binary still exists
            return result, snapshots
        except BaseException:
            if snapshots is not None:
                snapshots.cleanup()
            raise
        finally:
            self.timings["verify-before"] = round(time.monotonic() - started, 3)

    def _snapshots(self, tree: Path) -> RuntimeProbe | None:
        if not self.use_lsan:
            return None
        snapshots = runtime_probe(self.finding, tree, self.sandbox)
        if self.limiter.is_weaker and snapshots.name in NEEDS_CGROUP:
            self.notes.append(
                f"{snapshots.name} not used: under RLIMIT_AS its address-space reservations fail."
            )
            snapshots.cleanup()
            return None
        if not snapshots.available:
            self.notes.append(f"{snapshots.unavailable}; the leak site was not named at run time.")
            snapshots.cleanup()
            return None
        return snapshots

    def _run_after(self, tree: Path) -> tuple[RunResult, list[int]]:
        self.stage(f"running the patched build for {self.duration:g} s")
        started = time.monotonic()
        exits = _Exits()
        try:
            run_command = exec_form(self.service.run or "")
            runtime = self._runtime(tree, run_command, [*self.observers, exits])
            return runtime.run(max_kills=1, duration=self.duration, build=False), exits.codes
        finally:
            self.timings["verify-after"] = round(time.monotonic() - started, 3)

    def _probe_after(self, tree: Path) -> None:
        """A short run of the patched build under the probe, when the language has one light
        enough: does the finding's site still grow? Its own run, so the probe's memory never
        counts against the flat check."""
        probe = patched_run_probe(self.finding, tree, self.sandbox) if self.use_lsan else None
        if probe is None:
            return
        self.stage(
            f"running the patched build under {probe.name} for {PROBE_AFTER_SNAPSHOTS} "
            f"snapshots (at most {PROBE_AFTER_MAX_SECONDS:g} s)"
        )
        started = time.monotonic()
        try:
            run_command = probe.wrap(exec_form(self.service.run or ""))
            enough = _EnoughSnapshots(probe, self.finding, PROBE_AFTER_SNAPSHOTS)
            runtime = self._runtime(tree, run_command, [probe, enough], [probe.directory])
            enough.runtime = runtime
            runtime.run(max_kills=1, duration=PROBE_AFTER_MAX_SECONDS, build=False)
            self.after_growth = self._site_growth_after(probe)
        finally:
            probe.cleanup()
            self.timings["probe-after"] = round(time.monotonic() - started, 3)

    def _site_growth_after(self, probe: PatchedRunProbe | None) -> tuple[str, int, int] | None:
        """(probe name, bytes grown at the finding's site, snapshots) in the patched run."""
        if probe is None or self.finding is None:
            return None
        grown = probe.growth_at(self.finding)
        if grown is None:
            self.notes.append(f"{probe.name} took too few snapshots of the patched build.")
            return None
        return probe.name, grown[0], grown[1]

    def _runtime(
        self,
        tree: Path,
        run_command: str,
        observers: Sequence[RunObserver],
        writable: Sequence[Path] = (),
    ) -> LocalRuntime:
        return LocalRuntime(
            self.service,
            tree,
            limiter=self.limiter,
            observers=observers,
            memory_limit=self.limit,
            run_command=run_command,
            sandbox=self.sandbox,
            adopted=True,
            git_sha=self.git_sha,
            writable=writable,
        )

    # -- judgement ------------------------------------------------------------------------------

    def _judge(
        self,
        before: RunResult,
        after: RunResult,
        exits: list[int],
        snapshots: RuntimeProbe | None,
    ) -> VerificationResult:
        before_slope = _growth_to_kill(before)
        after_slope = memory_slope(after.samples)
        threshold = flat_threshold(self.limit, before_slope)
        peak = run_figures(after).peak
        lines = [self._describe_before(before)]
        if after.events:
            when = after.events[0].seconds_to_kill or after.duration
            lines.append(f"The patched build was OOM-killed too, after {when:.1f} s.")
            outcome = VerificationOutcome.FIX_FAILED
        elif exits:
            lines.append(f"The patched build exited with code {exits[0]} during the run.")
            outcome = VerificationOutcome.FIX_FAILED
        elif after_slope > threshold:
            lines.append(
                f"The patched build still grows: {format_bytes(after_slope)}/s over "
                f"{after.duration:.1f} s (flat means below {format_bytes(threshold)}/s)."
            )
            outcome = VerificationOutcome.FIX_FAILED
        elif self._still_grows_at_site(before_slope, lines):
            outcome = VerificationOutcome.FIX_FAILED
        else:
            lines.append(
                f"The patched build ran {after.duration:.1f} s with no kill and flat memory: "
                f"{format_bytes(after_slope)}/s (threshold {format_bytes(threshold)}/s), "
                f"peak {format_bytes(peak)}."
            )
            outcome = VerificationOutcome.VERIFIED
        return self._result(
            outcome,
            " ".join(lines),
            before=before,
            after=after,
            site=snapshots,
            slopes=(before_slope, after_slope, threshold),
        )

    def _still_grows_at_site(self, before_slope: float, lines: list[str]) -> bool:
        """Whether the patched run's probe saw the finding's site grow (it says so either way)."""
        if self.after_growth is None or self.finding is None:
            return False
        name, grown, snapshots = self.after_growth
        site = f"{self.finding.function}() ({self.finding.file}:{self.finding.line})"
        # 10 % of what the current build grew by in a second, and at least 1 MiB
        allowed = max(2**20, 0.1 * before_slope)
        if grown > allowed:
            lines.append(
                f"{name} on the patched build: {site} still grows "
                f"(+{format_bytes(grown)} over {snapshots} snapshots)."
            )
            return True
        self.notes.append(
            f"{name} on the patched build: no growth at {site} "
            f"(+{format_bytes(grown)} over {snapshots} snapshots)."
        )
        return False

    def _describe_before(self, before: RunResult) -> str:
        figures = run_figures(before)  # the report shows these same numbers
        return (
            f"The current build was OOM-killed after {figures.seconds_to_kill or 0:.1f} s under "
            f"{format_quantity(self.limit)} (peak {format_bytes(figures.peak)}, "
            f"growth {format_bytes(figures.growth)}/s, {before.mode})."
        )

    def _not_reproduced(
        self, before: RunResult, snapshots: RuntimeProbe | None
    ) -> VerificationResult:
        peak = run_figures(before).peak
        text = (
            f"The current build was not OOM-killed in {self.reproduce_timeout:g} s under "
            f"{format_quantity(self.limit)} (ran {before.duration:.1f} s, peak {format_bytes(peak)}"
            + (f", last exit code {before.last_exit_code}" if before.last_exit_code else "")
            + "), so the fix could not be verified."
        )
        return self._result(VerificationOutcome.NOT_REPRODUCED, text, before=before, site=snapshots)

    def _result(
        self,
        outcome: VerificationOutcome,
        detail: str,
        *,
        before: RunResult | None = None,
        after: RunResult | None = None,
        site: RuntimeProbe | None = None,
        slopes: tuple[float, float, float] | None = None,
    ) -> VerificationResult:
        result = VerificationResult(outcome=outcome, before=before, after=after, detail=detail)
        notes = list(self.notes)
        if site is not None:
            grown = site.growing_site()
            if grown is None:
                notes.append(
                    f"{site.name}: no allocation site grew between snapshots "
                    f"({site.signalled} requested)."
                )
            else:
                leak, size, count = grown
                result.runtime_leak_site = str(leak)
                verdict = ""
                if self.finding is not None:
                    result.site_matches_finding = leak.matches(self.finding)
                    verdict = (
                        ", the same site as the finding"
                        if result.site_matches_finding
                        else f", not the finding's {self.finding.file}:{self.finding.line}"
                    )
                notes.append(
                    f"{site.name}: the growing leak is at {leak} (+{format_bytes(size)} over "
                    f"{count} snapshots){verdict}."
                )
            site.cleanup()
        weaker = self.sandbox.notice() if self.sandbox is not None else None
        if before is not None and weaker:
            notes.append(f"{weaker[0].upper()}{weaker[1:]}.")
        if slopes is not None:
            result.growth_before, result.growth_after, result.flat_threshold = slopes
        elif before is not None:
            result.growth_before = _growth_to_kill(before)
        result.detail = " ".join([detail, *notes])
        result.timings = dict(self.timings)
        return result


def verify_fix(
    repo: Path,
    service: ServiceConfig,
    fix_diff: str | None,
    *,
    finding: Finding | None = None,
    duration: float = DEFAULT_DURATION,
    memory_limit: int | None = None,
    limiter: MemoryLimiter | None = None,
    reproduce_timeout: float = DEFAULT_REPRODUCE_TIMEOUT,
    rev: str = "HEAD",
    observers: Sequence[RunObserver] = (),
    on_stage: Stage | None = None,
    leak_sanitizer: bool = True,
    sandbox: Sandbox | None = None,
    before: RunResult | None = None,
) -> VerificationResult:
    """Reproduce the OOM with the code at ``rev``, then show ``fix_diff`` stops it.

    ``repo`` is the service's git repository (never modified; a dirty tree is fine),
    ``memory_limit`` defaults to the service's (pass the deployment's when it differs),
    ``duration`` bounds the patched run and ``reproduce_timeout`` the current one. Raises
    ``RemediationError`` when ``fix_diff`` does not apply and ``RepositoryError`` when ``repo``
    is not a git repository; every other failure is an outcome with the reason in ``detail``.
    Builds and runs happen in ``sandbox`` (a fresh one for the service unless given).
    ``before``: a run of the current build at ``rev`` already OOM-killed under this limit
    (a rollback verified after the fix): it stands for the current build instead of a rerun.
    """
    verification = _Verification(
        repo=Path(repo),
        service=service,
        fix_diff=fix_diff,
        finding=finding,
        duration=duration,
        limit=memory_limit or service.memory_limit_bytes,
        limiter=limiter or detect_limiter(),
        reproduce_timeout=reproduce_timeout,
        rev=rev,
        observers=observers,
        stage=on_stage or (lambda _message: None),
        use_lsan=leak_sanitizer,
        sandbox=sandbox,
    )
    limit = memory_limit or service.memory_limit_bytes
    if before is not None and before.events and before.memory_limit == limit:
        verification.known_before = before
    started = time.monotonic()
    result = verification.run()
    result.timings["total"] = round(time.monotonic() - started, 3)
    return result
