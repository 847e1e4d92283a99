"""Stopping the work under way: Ctrl-C, SIGTERM, or a deadline such as ``ads demo --timeout``.

Why one flag for the process: the work that must stop runs in other threads (the demo's and
``ads serve``'s job worker) and in subprocesses (builds, runs of the service), while a signal
reaches only the main thread. The signal handler (``ads.interfaces.cli_common``) or a deadline
calls ``request``; every place that waits on a subprocess or starts an outward step polls
``requested`` or calls ``check``:

* builds and runs (``sources.monitors.local_runtime``) kill their cgroup within one poll and
  raise ``Interrupted`` instead of reporting a failed build or a run that was cut short, so an
  interrupted verification is never judged ("cannot build here");
* the remediation checks before each stage, so nothing is pushed, opened or posted after an
  interrupt.

``Interrupted`` derives from ``KeyboardInterrupt``, not from ``AdsError``: no handler that reports
an error on the incident (or marks a job failed) may catch it; it unwinds through every
``finally``, so worktrees and cgroups are removed on the way out.
"""

from __future__ import annotations

import threading

__all__ = ["Interrupted", "check", "reason", "request", "requested", "reset", "wait"]

_flag = threading.Event()
_reason = "interrupted"


class Interrupted(KeyboardInterrupt):
    """The work was asked to stop (Ctrl-C, SIGTERM, a deadline); ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def request(reason: str = "interrupted") -> None:
    """Ask all work in this process to stop at its next check (thread- and signal-safe)."""
    global _reason
    if not _flag.is_set():
        _reason = reason
    _flag.set()


def requested() -> bool:
    return _flag.is_set()


def reason() -> str:
    return _reason


def check() -> None:
    """Raise ``Interrupted`` if a stop was requested."""
    if _flag.is_set():
        raise Interrupted(_reason)


def wait(seconds: float) -> bool:
    """Sleep up to ``seconds``, waking at once on a stop request; ``True`` if one was made."""
    return _flag.wait(seconds)


def reset() -> None:
    """Forget a stop request: at the start (and end) of a command run in this process."""
    global _reason
    _flag.clear()
    _reason = "interrupted"
