"""What a client needs to talk to a running local PagerDuty, as shell lines for ``eval "$(…)"``.

Each client looks in its own place: ADS reads ``PAGERDUTY_API_TOKEN`` and ``ADS_PAGERDUTY_CA``;
PagerDuty's MCP server (``pagerduty-mcp``) reads ``PAGERDUTY_USER_API_KEY`` and
``PAGERDUTY_API_HOST`` and trusts CAs through ``requests`` (``REQUESTS_CA_BUNDLE``); OpenSSL,
httpx and curl read ``SSL_CERT_FILE``. Paths are absolute (the lines are pasted into other
shells, in other directories) and every value is shell-quoted. ``PAGERDUTY_ROUTING_KEY`` is the
first service's Events API v2 key; the others are listed as comments.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CA_VARIABLES", "Integration", "environment", "shell_lines"]

# Where clients look for a CA to trust: ADS itself, OpenSSL/httpx, requests.
CA_VARIABLES = ("ADS_PAGERDUTY_CA", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class Integration:
    """An Events API v2 integration: its service's name and the routing key to send to it."""

    service: str
    routing_key: str


def environment(
    api_url: str, token: str, ca_file: Path | None, integrations: list[Integration]
) -> dict[str, str]:
    """The variables, by name: what a client's environment should hold."""
    variables = {
        "PAGERDUTY_API_HOST": api_url,
        "PAGERDUTY_API_TOKEN": token,
        "PAGERDUTY_USER_API_KEY": token,
    }
    if ca_file is not None:
        for name in CA_VARIABLES:
            variables[name] = str(ca_file.resolve())
    if integrations:
        variables["PAGERDUTY_ROUTING_KEY"] = integrations[0].routing_key
    return variables


def shell_lines(
    api_url: str, token: str, ca_file: Path | None, integrations: list[Integration]
) -> list[str]:
    """``export NAME=value`` lines (and ``#`` comments): valid input for ``eval``."""
    lines = [
        f"export {name}={shlex.quote(value)}"
        for name, value in environment(api_url, token, ca_file, integrations).items()
    ]
    if integrations:
        lines[-1] += f"  # {integrations[0].service}"
    for other in integrations[1:]:
        lines.append(f"# PAGERDUTY_ROUTING_KEY={shlex.quote(other.routing_key)}  # {other.service}")
    return lines
