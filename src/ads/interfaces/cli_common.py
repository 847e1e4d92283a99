"""What every ``ads`` command shares: the --config option and the one-line error handling.

Every command turns an ``AdsError`` into one line on stderr and a non-zero exit (2 for
configuration problems, 1 otherwise); a traceback means a bug in ADS, never bad input.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import interrupts
from ..errors import AdsError, ConfigError

__all__ = ["abandoning", "config_option", "drain_on_interrupt", "reports_errors"]

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="ads.yaml to use (default: $ADS_CONFIG, then ./ads.yaml).",
)


_abandoning: str | None = None  # work a second interrupt abandons in another thread


def abandoning(what: str | None) -> None:
    """Say that a second Ctrl-C from now on abandons ``what`` (work in another thread, which
    may go on creating things until the process exits) rather than cutting cleanup short."""
    global _abandoning
    _abandoning = what


class _Interrupts:
    """SIGTERM and Ctrl-C unwind like ``KeyboardInterrupt``, so cgroups and worktrees are
    removed on the way out; a second one cuts that cleanup (or ``ads serve``'s current job)
    short, so it is counted: only an unwinding nobody interrupted may say it cleaned up."""

    def __init__(self) -> None:
        self.count = 0

    def install(self) -> None:
        try:
            signal.signal(signal.SIGTERM, self._handler)
            signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread (an embedding caller): leave theirs alone
            pass

    def _handler(self, signum: int, frame: object) -> None:
        self.count += 1
        if not _draining:  # the job worker and builds stop too, not only the main thread
            interrupts.request("interrupted")
        raise KeyboardInterrupt


def _interrupted(count: int) -> str:
    """What to say on the way out after Ctrl-C/SIGTERM, and only what is true.

    After one, every ``finally`` ran while unwinding: worktrees, cgroups and services are gone.
    A second one interrupted that unwinding (or, in ``ads serve``, abandoned the job under way),
    so this process's own leftovers are reclaimed now, with further signals ignored meanwhile,
    and the message says what was removed — or what could not be.
    """
    if count <= 1:
        return "interrupted; cleaned up"
    from ..workflow import reclaim_own_leftovers

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    result = reclaim_own_leftovers()
    if _abandoning:
        _exit_abandoning(result.summary())
    if result.problems:
        return (
            "interrupted again: the cleanup was abandoned half-way and is incomplete "
            f"({'; '.join(result.problems)}); the next ads run reclaims the rest"
        )
    return (
        "interrupted again: the cleanup was abandoned half-way; removed what this process had "
        f"left instead ({result.summary()})"
    )


def _exit_abandoning(removed: str) -> None:
    """Say what was abandoned and removed, reclaim once more, and leave at once.

    The abandoned work runs in another thread and may have made something new while the first
    reclaim ran; ``os._exit`` right after the second one leaves it no time to make more (a
    normal exit would first run the interpreter's shutdown, with that thread still going).
    """
    from ..workflow import reclaim_own_leftovers
    from .console import err_console

    err_console.print(
        f"interrupted again: abandoned {_abandoning}; removed what it had left ({removed}); "
        "anything else is reclaimed when ADS next starts",
        highlight=False,
        soft_wrap=True,
    )
    reclaim_own_leftovers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


_draining = False


def drain_on_interrupt() -> None:
    """The first Ctrl-C/SIGTERM lets the job under way finish (``ads serve``'s drain) instead
    of stopping it at its next step (``ads.interrupts``), which every other command does."""
    global _draining
    _draining = True


def reports_errors(func: F) -> F:
    """Print ``AdsError``s as one line and exit non-zero; Ctrl-C exits 130 after cleanup."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .console import err_console  # rich: loaded when a command runs, not for --help

        signals = _Interrupts()
        signals.install()
        interrupts.reset()
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except AdsError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except OSError as exc:  # a file or port the user named: say which, no traceback
            where = f" ({exc.filename})" if exc.filename else ""
            err_console.print(
                f"[bold red]error:[/] {exc.strerror or exc}{where}", highlight=False, soft_wrap=True
            )
            sys.exit(1)
        except KeyboardInterrupt:
            err_console.print(_interrupted(signals.count), highlight=False, soft_wrap=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
