"""The numbers of one memory run, computed in one place: peak, time to kill, growth.

The verification's text, the report's bullets, its summary and its chart all read a run through
``run_figures``, so they cannot disagree (the issue this module exists for: a bullet that said
"peak 61.7 MiB" beside a text that said "peak 64.0 MiB" for the same run). The peak is the
larger of what was sampled and what the kernel recorded at the kill (its ``max_usage``): samples
are polled and miss the last climb; the kernel does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import MemorySample, RunResult

__all__ = ["WARM_UP_FRACTION", "RunFigures", "memory_slope", "run_figures"]

WARM_UP_FRACTION = 0.25


def memory_slope(samples: Sequence[MemorySample], *, warm_up: float = WARM_UP_FRACTION) -> float:
    """Growth in bytes per second: the least-squares slope of usage over the run.

    The first ``warm_up`` fraction of the run is left out: loading libraries, the allocator's
    first arena and the first buffers are one-off costs at start-up, not growth; a leak keeps
    growing over the rest of the run.
    """
    if len(samples) < 2:
        return 0.0
    start, end = samples[0].t, samples[-1].t
    cut = start + (end - start) * warm_up
    kept = [s for s in samples if s.t >= cut]
    if len(kept) < 2:
        kept = list(samples)
    n = len(kept)
    mean_t = sum(s.t for s in kept) / n
    mean_b = sum(s.bytes for s in kept) / n
    var_t = sum((s.t - mean_t) ** 2 for s in kept)
    if var_t == 0:
        return 0.0
    return sum((s.t - mean_t) * (s.bytes - mean_b) for s in kept) / var_t


@dataclass(frozen=True)
class RunFigures:
    """What a person reads off one run."""

    peak: int  # bytes: the larger of the samples' maximum and the kernel's peak at a kill
    kills: int
    seconds_to_kill: float | None  # the first kill, seconds after its start; None: not killed
    growth: float  # bytes/s; a killed run's whole curve is growth (no warm-up cut)
    duration: float  # seconds the run lasted
    limit: int


def run_figures(run: RunResult) -> RunFigures:
    """The figures of ``run``, the same wherever they are shown."""
    sampled = max((s.bytes for s in run.samples), default=0)
    at_kill = max((e.peak_usage or 0 for e in run.events), default=0)
    first = run.events[0] if run.events else None
    seconds = None
    if first is not None:
        seconds = first.seconds_to_kill if first.seconds_to_kill is not None else run.duration
    growth = memory_slope(run.samples, warm_up=0.0 if run.events else WARM_UP_FRACTION)
    return RunFigures(
        peak=max(sampled, at_kill),
        kills=len(run.events),
        seconds_to_kill=seconds,
        growth=growth,
        duration=run.duration,
        limit=run.memory_limit,
    )
