"""What every tool shares: ADS errors as ``ToolError``s, argument checks, confined paths.

An assistant can only act on what a failed call tells it, so an expected failure (unknown
incident, service not in ads.yaml, a path outside the repositories) becomes a ``ToolError``
whose one line says what to do next, and a secret configured in the environment never appears
in it. What a message echoes of an argument is cut to ``ECHO_CHARS`` (``excerpt``), and a
message as a whole to ``MAX_MESSAGE_CHARS``: a 1 MB argument never comes back whole.

Anything else is a bug: the SDK logs its traceback on stderr and tells the client only that the
tool failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from ...config import ServiceConfig
from ...errors import AdsError, PagerDutyNotFoundError, excerpt
from .state import ServerState

__all__ = [
    "ECHO_CHARS",
    "MAX_MESSAGE_CHARS",
    "add_tool",
    "check_incident_id",
    "confine_path",
    "echo",
    "parse_time",
    "redact",
    "service_config",
]

F = TypeVar("F", bound=Callable[..., Any])

# PagerDuty incident ids are upper-case alphanumerics (Q1ABCDEF...), numbers are digits.
INCIDENT_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
ECHO_CHARS = 80  # of one argument, in a message
MAX_MESSAGE_CHARS = 600  # of a whole tool error


def echo(value: object) -> str:
    """An argument as a message quotes it: its repr, cut to ``ECHO_CHARS``."""
    return excerpt(value, ECHO_CHARS)


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _message(exc: AdsError) -> str:
    text = str(exc)
    if isinstance(exc, PagerDutyNotFoundError):
        text += " — call list_incidents to see the incident ids PagerDuty knows"
    return text


def tool_errors(state: ServerState) -> Callable[[F], F]:
    """Turn ``AdsError``s raised by a tool into ``ToolError``s, scrubbed of secrets."""

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except ToolError as exc:
                raise ToolError(_bounded(redact(str(exc), state.secrets()))) from None
            except AdsError as exc:
                raise ToolError(_bounded(redact(_message(exc), state.secrets()))) from None

        return wrapper  # type: ignore[return-value]

    return decorate


def add_tool(
    server: MCPServer[Any],
    state: ServerState,
    fn: Callable[..., Any],
    *,
    title: str,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool = True,
    open_world: bool = True,
    name: str | None = None,
) -> None:
    """Register ``fn`` as a tool with its hints; its docstring is the tool's description."""
    annotations = ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=None if read_only else destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )
    server.add_tool(tool_errors(state)(fn), name=name, title=title, annotations=annotations)


def check_incident_id(incident_id: str) -> str:
    """The id, stripped; a ``ToolError`` for anything that cannot be a PagerDuty incident id."""
    value = incident_id.strip()
    if not INCIDENT_ID.match(value):
        raise ToolError(
            f"{echo(incident_id)} is not a PagerDuty incident id (letters and digits, e.g. "
            "Q1ABCDEF or an incident number); call list_incidents to see the ids"
        )
    return value


def service_config(state: ServerState, name: str) -> ServiceConfig:
    """The ads.yaml service called ``name`` (or mapped to PagerDuty service ``name``)."""
    try:
        return state.settings.service(name)
    except AdsError:
        return state.settings.service_for_pagerduty(name)


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (``2026-11-25T04:00:00Z`` or a date) as aware UTC; naive means UTC."""
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"{field}={echo(value)} is not an ISO 8601 time; use e.g. 2026-11-25T04:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def confine_path(raw: str, roots: list[Path], *, base: Path) -> Path:
    """``raw`` resolved (relative to ``base``) and required to lie inside one of ``roots``.

    Symlinks and ``..`` are resolved before the check, so neither can lead outside.
    """
    if not raw.strip() or "\0" in raw:
        raise ToolError("the path is empty or contains a NUL byte")
    candidate = Path(raw.strip()).expanduser()
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    listed = ", ".join(str(r) for r in roots) or "none"
    raise ToolError(
        f"path {echo(raw)} is outside the configured repositories ({listed}); "
        "give a path inside the service's repository, e.g. worker.c"
    )
