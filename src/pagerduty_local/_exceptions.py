"""The exception tree of the local PagerDuty server, drawn in one place (as httpx does).

It is a separate product from ADS and imports nothing from ``ads``; a program that starts it
(``ads pagerduty serve``, ``ads demo``, ``pagerduty-local``) shows ``str(error)`` as one line and
exits non-zero. The API itself never raises these at a client: it answers with PagerDuty's
error body instead.

    LocalPagerDutyError
    ├── ConfigError          the seed file, an option or a request made at start-up is wrong
    └── ServerStartError     the address is in use, or the server did not come up
"""

from __future__ import annotations

__all__ = ["ConfigError", "LocalPagerDutyError", "ServerStartError"]


class LocalPagerDutyError(Exception):
    """Base of every error the local PagerDuty raises to the program that runs it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(LocalPagerDutyError):
    """Bad seed file or start-up option: one line naming the file or option and what is wrong."""


class ServerStartError(LocalPagerDutyError):
    """The server could not listen on its address, or did not come up; names ``host:port``."""
