"""Run-time probes: which one names the growing site of a service, by the finding's language.

A probe watches the verification's run of the current build (it is a ``RunObserver``), wraps
the run command so the service is traced without being changed, and afterwards names the site
whose memory grew between its snapshots: LeakSanitizer for native code (``lsan``), tracemalloc
for Python (``tracemalloc_probe``). Verification asks ``runtime_probe`` and never names one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..models import Finding
from ..sources.monitors.local_runtime import RunObserver
from ..sources.monitors.sandbox import Sandbox
from .lsan import LeakSnapshots
from .tracemalloc_probe import TracemallocSnapshots

__all__ = ["GrowingSite", "PatchedRunProbe", "RuntimeProbe", "patched_run_probe", "runtime_probe"]


class GrowingSite(Protocol):
    """Where the growing memory was allocated, as a probe saw it."""

    def __str__(self) -> str: ...

    def matches(self, finding: Finding) -> bool: ...


class RuntimeProbe(RunObserver, Protocol):
    """What verification asks of a probe (``LeakSnapshots``, ``TracemallocSnapshots``)."""

    name: str
    unavailable: str | None
    directory: Path
    signalled: int

    @property
    def available(self) -> bool: ...

    def wrap(self, run_command: str) -> str: ...

    def growing_site(self) -> tuple[GrowingSite, int, int] | None: ...

    def fatal_error(self) -> str | None: ...

    def cleanup(self) -> None: ...


class PatchedRunProbe(RuntimeProbe, Protocol):
    """A probe light enough to watch the patched build too (tracemalloc; not LeakSanitizer,
    whose preload costs the service memory under the limit the flat check measures)."""

    def growth_at(self, finding: Finding) -> tuple[int, int] | None: ...


def _lsan(tree: Path, sandbox: Sandbox | None) -> RuntimeProbe:
    return LeakSnapshots(strip_prefixes=(str(tree), os.path.realpath(tree)), sandbox=sandbox)


def _tracemalloc(tree: Path, sandbox: Sandbox | None) -> RuntimeProbe:
    return TracemallocSnapshots(tree, sandbox=sandbox)


#: file type of the finding → its probe; native code (C and its headers) is the default
PROBES: dict[str, Callable[[Path, Sandbox | None], RuntimeProbe]] = {".py": _tracemalloc}
#: probes that need the address space a real memory cgroup gives (not RLIMIT_AS)
NEEDS_CGROUP = {"LeakSanitizer"}


def runtime_probe(finding: Finding | None, tree: Path, sandbox: Sandbox | None) -> RuntimeProbe:
    """The probe for the finding's language (LeakSanitizer when there is no finding)."""
    suffix = Path(finding.file).suffix if finding is not None else ""
    return PROBES.get(suffix, _lsan)(tree, sandbox)


PATCHED_WARM_UP = 1.0  # seconds: start-up and the first fill of bounded caches, not growth
#: file type of the finding → the probe that also checks the patched build's run
PATCHED_RUN_PROBES: dict[str, Callable[[Path, Sandbox | None], PatchedRunProbe]] = {
    ".py": lambda tree, sandbox: TracemallocSnapshots(
        tree, sandbox=sandbox, interval=0.5, first_after=PATCHED_WARM_UP
    ),
}


def patched_run_probe(
    finding: Finding | None, tree: Path, sandbox: Sandbox | None
) -> PatchedRunProbe | None:
    """The probe that checks the patched run no longer grows at the site, where the finding's
    language has one."""
    if finding is None:
        return None
    make = PATCHED_RUN_PROBES.get(Path(finding.file).suffix)
    return make(tree, sandbox) if make is not None else None
