"""What ``ads serve`` runs: the webhook service wired to the workflow, with MCP at ``/mcp``.

The receiver + worker respond to each job through ``ads.workflow.respond``; when idle the worker
runs the escalation rules on a timer; when it starts and after every job it runs
``ads.workflow.housekeeping`` (what crashed runs left is reclaimed). With an MCP token, one ASGI
app serves both.

Fault injection (for the crash tests only): with ``ADS_TEST_CRASH_AT=<point>`` in its
environment, the worker SIGKILLs its own process at that point of a job: right after a stage's
work and before its checkpoint (``diagnose``, ``verification``, ``rollback``, ``branch``,
``push``, ``pull request``, ``note``), or while the service runs in its cgroup during
verification (``verify-before``, ``verify-after``). Why a seam rather than a test polling the
checkpoints and sending SIGKILL: branch, push, PR and note follow each other within
milliseconds, so a poller cannot stop between them reliably, and the moment that matters most
(the side effect done, the checkpoint not yet written) has no outward sign at all. The variable
is read here, by the worker only, once at start; nothing else in ADS looks at it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from ..workflow import Context, evaluate_escalations, housekeeping, respond
from ..workflow.webhooks import Job
from .http_server import RequestLimits
from .web_pages import page_routes
from .webhook import MAX_REQUEST_BYTES, WebhookService

__all__ = ["JsonLines", "WithMcp", "build_service", "mounted_app"]

ESCALATION_CHECK_SECONDS = 30.0
CRASH_ENV = "ADS_TEST_CRASH_AT"


class JsonLines(logging.Formatter):
    """Log records as one JSON object per line (a JSON message is merged in, not quoted)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        try:
            body = json.loads(message)
        except ValueError:
            body = {"message": message}
        if not isinstance(body, dict):
            body = {"message": message}
        return json.dumps({"time": self.formatTime(record), "level": record.levelname, **body})


def build_service(
    ctx: Context,
    secrets: list[str],
    *,
    lease_seconds: float = 120.0,
    host: str = "127.0.0.1",
    admin_token: str | None = None,
    retry_seconds: float = 30.0,
) -> WebhookService:
    """The receiver + worker wired to the workflow: respond to jobs, escalate when idle.
    Bound to ``host`` beyond loopback, ``/jobs`` needs ``admin_token`` (ADS_MCP_TOKEN)."""
    names = {s.pagerduty_name for s in ctx.settings.services.values()}
    at_point = _crash_point(os.environ.get(CRASH_ENV))

    def handle(job: Job) -> None:
        respond(ctx, job, at_point=at_point)

    return WebhookService(
        store=ctx.store,
        secrets=secrets,
        handler=handle,
        services=lambda name: name in names,
        on_idle=_EscalationTimer(ctx) if _has_rules(ctx) else None,
        housekeeping=lambda: housekeeping(ctx),
        lease_seconds=lease_seconds,
        host=host,
        admin_token=admin_token,
        retry_seconds=retry_seconds,
    )


def _crash_point(wanted: str | None) -> Callable[[str], None] | None:
    """The fault-injection seam (module docstring): SIGKILL this process at point ``wanted``."""
    if not wanted:
        return None

    def at_point(name: str) -> None:
        if name == wanted:
            logging.getLogger("ads.webhook").warning(
                json.dumps({"event": "crash.injected", "point": name, "pid": os.getpid()})
            )
            os.kill(os.getpid(), signal.SIGKILL)

    return at_point


class WithMcp:
    """One ASGI app: ``/mcp`` goes to the MCP server (whose lifespan runs its session manager),
    everything else to the webhook service."""

    def __init__(self, webhooks: ASGIApp, mcp_app: ASGIApp, path: str = "/mcp") -> None:
        self.webhooks = webhooks
        self.mcp_app = mcp_app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or scope.get("path", "").startswith(self.path):
            await self.mcp_app(scope, receive, send)
        else:
            await self.webhooks(scope, receive, send)


def mounted_app(
    ctx: Context,
    service: WebhookService,
    *,
    mcp_token: str | None,
    write_tools: bool = False,
    host: str = "127.0.0.1",
) -> ASGIApp:
    """The webhook app and the web pages (``web_pages``), plus the MCP server at ``/mcp``
    behind ``mcp_token`` when one is set."""
    pages = page_routes(ctx, service.admin_refusal, lambda: service.admin_token)
    if not mcp_token:
        return service.app(pages)
    # Only now: the MCP SDK is a second of start-up that a serve without a token never uses.
    from .mcp_server.http import streamable_http_app
    from .mcp_server.server import build_server

    server = build_server(
        ctx.settings, enable_write_tools=write_tools, context_factory=lambda settings: ctx
    )
    mcp_app = streamable_http_app(server, token=mcp_token, host=host)
    return RequestLimits(WithMcp(service.app(pages), mcp_app), max_body_bytes=MAX_REQUEST_BYTES)


def _has_rules(ctx: Context) -> bool:
    return any(s.escalation for s in ctx.settings.services.values())


class _EscalationTimer:
    """Runs the escalation rules at most every ``ESCALATION_CHECK_SECONDS`` (scaled by
    ``time_scale``), not on every idle poll of the worker: each check reads PagerDuty."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.every = ESCALATION_CHECK_SECONDS / ctx.settings.time_scale
        self.next_at = 0.0

    def __call__(self) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.every
        for line in evaluate_escalations(self.ctx):
            logging.getLogger("ads.escalation").info(
                json.dumps({"event": "escalated", "why": line})
            )
