"""What every ``ads`` command shares: the --config option and the one-line error handling.

Every command turns an ``AdsError`` into one line on stderr and a non-zero exit (2 for
configuration problems, 1 otherwise); a traceback means a bug in ADS, never bad input.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import AdsError, ConfigError

__all__ = ["config_option", "reports_errors"]

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="ads.yaml to use (default: $ADS_CONFIG, then ./ads.yaml).",
)


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
        raise KeyboardInterrupt


def reports_errors(func: F) -> F:
    """Print ``AdsError``s as one line and exit non-zero; Ctrl-C exits 130 after cleanup."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .console import err_console  # rich: loaded when a command runs, not for --help

        interrupts = _Interrupts()
        interrupts.install()
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
            if interrupts.count > 1:
                err_console.print(
                    "interrupted again: abandoned without finishing the cleanup (temporary "
                    "worktrees or cgroups may be left behind)"
                )
            else:
                err_console.print("interrupted; cleaned up")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
