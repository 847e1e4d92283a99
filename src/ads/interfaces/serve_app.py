"""What ``ads serve`` runs: the webhook service wired to the workflow, with MCP at ``/mcp``.

The receiver + worker respond to each job through ``ads.workflow.respond``; when idle the worker
runs the escalation rules on a timer. With an MCP token, one ASGI app serves both.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from ..workflow import Context, evaluate_escalations, respond
from ..workflow.webhooks import Job
from .http_server import RequestLimits
from .mcp_server.http import streamable_http_app
from .mcp_server.server import build_server
from .webhook import MAX_REQUEST_BYTES, WebhookService

__all__ = ["JsonLines", "WithMcp", "build_service", "mounted_app"]

ESCALATION_CHECK_SECONDS = 30.0


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
) -> WebhookService:
    """The receiver + worker wired to the workflow: respond to jobs, escalate when idle.
    Bound to ``host`` beyond loopback, ``/jobs`` needs ``admin_token`` (ADS_MCP_TOKEN)."""
    names = {s.pagerduty_name for s in ctx.settings.services.values()}

    def handle(job: Job) -> None:
        respond(ctx, job)

    return WebhookService(
        store=ctx.store,
        secrets=secrets,
        handler=handle,
        services=lambda name: name in names,
        on_idle=_EscalationTimer(ctx) if _has_rules(ctx) else None,
        lease_seconds=lease_seconds,
        host=host,
        admin_token=admin_token,
    )


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
    """The webhook app, plus the MCP server at ``/mcp`` behind ``mcp_token`` when one is set."""
    if not mcp_token:
        return service.app()
    server = build_server(
        ctx.settings, enable_write_tools=write_tools, context_factory=lambda settings: ctx
    )
    mcp_app = streamable_http_app(server, token=mcp_token, host=host)
    return RequestLimits(WithMcp(service.app(), mcp_app), max_body_bytes=MAX_REQUEST_BYTES)


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
