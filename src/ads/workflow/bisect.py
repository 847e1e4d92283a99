"""Bisection by reproduction: the first commit whose build is OOM-killed under the limit.

Static analysis cannot see every leak: a release routed through a function pointer to a no-op,
a leak in a library, code in a language without a front end. As long as the service builds and
runs here, ``bisect`` finds the commit anyway, like ``git bisect run``: each candidate between
``good`` (exclusive) and ``bad`` (inclusive, first-parent ancestry) is built in a sandbox and
run under the service's limit for at most ``seconds``; a run is *bad* when the kernel OOM-kills
it (or its memory passes ``threshold``). That takes about log2(n) runs.

The ends are trusted until the search needs them: ``bad`` is run only when every candidate
tested was good (then, if it is not bad either, the range holds no bad commit: an error), and
``good`` only when every candidate tested was bad (if it is bad too, it was not good: an error).
A commit that does not build is skipped, like ``git bisect skip``: the next untested commit
nearest the middle is tried instead. Every run's memory curve is kept in the result, for the
report and for ``ads remediate``'s "found by bisection".

The CLI (``ads bisect``) and the MCP ``bisect`` tool both call ``bisect`` here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .. import interrupts
from ..actions.reproduction import BuiltRevision, killed
from ..actions.worktrees import git
from ..config import ServiceConfig
from ..errors import BuildError, PermanentError
from ..models import BisectResult, BisectRun
from ..sources.monitors.cgroups import MemoryLimiter
from ..units import format_quantity

__all__ = ["DEFAULT_SECONDS", "BisectError", "Progress", "bisect", "candidates"]

DEFAULT_SECONDS = 10.0

#: Called with each finished run and how many candidates are still in the range.
Progress = Callable[[BisectRun, int], None]


class BisectError(PermanentError):
    """The range cannot be bisected: good is not good, bad is not bad, or no such revision.
    ``result`` holds the runs made before that was seen."""

    result: BisectResult | None = None


def _git(repo: Path, *args: str) -> str:
    proc = git(repo, *args, check=False)
    if proc.returncode != 0:
        line = (proc.stderr.strip().splitlines() or ["git failed"])[0]
        raise BisectError(f"git {' '.join(args[:2])}: {line}")
    return proc.stdout


def _resolve(repo: Path, rev: str, which: str) -> str:
    proc = git(repo, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if proc.returncode != 0:
        raise BisectError(f"--{which} {rev}: no such commit in {repo}")
    return proc.stdout.strip()


def candidates(repo: Path, good: str, bad: str) -> list[tuple[str, str]]:
    """(sha, subject) of the commits after ``good`` up to ``bad``, oldest first."""
    good_sha, bad_sha = _resolve(repo, good, "good"), _resolve(repo, bad, "bad")
    if good_sha == bad_sha:
        raise BisectError(f"--good and --bad are the same commit ({good_sha[:12]})")
    ancestor = git(repo, "merge-base", "--is-ancestor", good_sha, bad_sha, check=False)
    if ancestor.returncode != 0:
        raise BisectError(f"--good {good} is not an ancestor of --bad {bad}")
    out = _git(repo, "log", "--first-parent", "--reverse", "--format=%H%x09%s",
               f"{good_sha}..{bad_sha}")  # fmt: skip
    found = [tuple(line.split("\t", 1)) for line in out.splitlines() if line.strip()]
    return [(sha, rest[0] if rest else "") for sha, *rest in found]


def _run_one(
    repo: Path,
    service: ServiceConfig,
    sha: str,
    subject: str,
    limit: int,
    seconds: float,
    threshold: int | None,
    limiter: MemoryLimiter | None,
) -> BisectRun:
    interrupts.check()
    started = time.monotonic()
    try:
        with BuiltRevision(repo, service, sha, limiter=limiter) as built:
            run = built.run(limit, seconds)
    except BuildError as exc:
        return BisectRun(sha=sha, subject=subject, verdict="skip", detail=f"does not build: {exc}",
                         seconds=round(time.monotonic() - started, 3))  # fmt: skip
    verdict = killed(run, threshold)
    peak = max((s.bytes for s in run.samples), default=0)
    return BisectRun(
        sha=sha,
        subject=subject,
        verdict="bad" if verdict.bad else "good",
        detail=verdict.detail,
        seconds=round(time.monotonic() - started, 3),
        samples=run.samples,
        peak_bytes=peak,
        events=run.events,
        mode=run.mode,
        duration=run.duration,
    )


def _next(lo: int, hi: int, tried: set[int]) -> int | None:
    """The untested index nearest the middle of (lo, hi), or None when all were skipped."""
    middle = (lo + hi) // 2
    order = sorted(range(lo + 1, hi), key=lambda i: (abs(i - middle), i))
    return next((i for i in order if i not in tried), None)


def bisect(
    repo: Path,
    service: ServiceConfig,
    good: str,
    bad: str,
    *,
    memory_limit: int | None = None,
    seconds: float = DEFAULT_SECONDS,
    threshold: int | None = None,
    limiter: MemoryLimiter | None = None,
    progress: Progress | None = None,
) -> BisectResult:
    """The first commit in (``good``, ``bad``] whose build is OOM-killed under the limit.

    ``BisectError`` (one line) when a revision does not exist or is not an ancestor, when
    ``good`` turns out bad or ``bad`` good, or when ``bad`` does not build; the runs made so
    far are on the exception's ``result``."""
    repo = Path(repo)
    started = time.monotonic()
    limit = memory_limit or service.memory_limit_bytes
    commits = candidates(repo, good, bad)
    result = BisectResult(
        service=service.name,
        good=_resolve(repo, good, "good"),
        bad=commits[-1][0],
        memory_limit=limit,
        candidates=len(commits),
    )

    def run(index: int | None) -> BisectRun:
        sha, subject = (result.good, _git(repo, "log", "-1", "--format=%s", result.good).strip()) \
            if index is None else commits[index]  # fmt: skip
        done = _run_one(repo, service, sha, subject, limit, seconds, threshold, limiter)
        result.runs.append(done)
        if done.verdict == "skip":
            result.skipped.append(sha)
        return done

    def report(done: BisectRun) -> None:
        if progress is not None:
            untested = [i for i in range(lo + 1, hi) if i not in tried]
            progress(done, len(untested))

    lo, hi = -1, len(commits) - 1  # good end, bad end (assumed until the search needs them)
    tried: set[int] = set()
    bad_checked = good_checked = False
    while True:
        if hi - lo <= 1 or (index := _next(lo, hi, tried)) is None:
            if hi == len(commits) - 1 and not bad_checked:
                bad_checked = True
                checked = run(hi)
                report(checked)
                if checked.verdict != "bad":
                    result.seconds = round(time.monotonic() - started, 3)
                    why = result.runs[-1].detail
                    raise _failed(result, f"--bad {bad} is not bad under {_limit(limit)}: {why}")
                continue
            if lo == -1 and not good_checked:
                good_checked = True
                checked = run(None)
                report(checked)
                if checked.verdict == "bad":
                    result.seconds = round(time.monotonic() - started, 3)
                    why = result.runs[-1].detail
                    raise _failed(result, f"--good {good} is not good under {_limit(limit)}: {why}")
                continue
            break
        tried.add(index)
        done = run(index)
        if done.verdict == "bad":
            hi = index
        elif done.verdict == "good":
            lo = index
        report(done)
    result.first_bad, result.first_bad_subject = commits[hi]
    result.ambiguous = [commits[i][0] for i in range(lo + 1, hi)]  # all skipped: could be any
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _limit(limit: int) -> str:
    return format_quantity(limit)


def _failed(result: BisectResult, message: str) -> BisectError:
    result.error = message
    error = BisectError(message)
    error.result = result
    return error
