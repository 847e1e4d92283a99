"""``ads serve``: the hands-free service — webhook receiver, job worker, escalation rules.

PagerDuty (or the local server) posts signed v3 webhooks to ``/webhooks/pagerduty``; the
worker remediates each ``incident.triggered`` for a service in ads.yaml and, between jobs,
applies the escalation rules. Logs are one JSON object per line on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import click
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import load_settings
from ..errors import ConfigError
from ..sources.storage import Job
from ..workflow import Context, evaluate_escalations, respond
from .cli_common import config_option, reports_errors
from .console import console
from .http_server import BackgroundServer
from .mcp_server.http import TOKEN_ENV, streamable_http_app
from .mcp_server.server import build_server
from .webhook import WebhookService

__all__ = ["build_service", "serve"]

ESCALATION_CHECK_SECONDS = 30.0


class _JsonLines(logging.Formatter):
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
    ctx: Context, secrets: list[str], *, lease_seconds: float = 120.0
) -> WebhookService:
    """The receiver + worker wired to the workflow: respond to jobs, escalate when idle."""
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
    return WithMcp(service.app(), streamable_http_app(server, token=mcp_token, host=host))


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


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--lease-seconds",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="A job whose worker died is taken up again after this long.",
)
@click.option("--enable-write-tools", is_flag=True, help="Offer the MCP write tools at /mcp too.")
@reports_errors
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    lease_seconds: float,
    enable_write_tools: bool,
) -> None:
    """Receive PagerDuty webhooks and remediate incidents hands-free (Ctrl-C stops).

    Needs ADS_WEBHOOK_SECRETS (comma-separated signing secrets of the webhook subscription,
    several during a rotation) and the PagerDuty settings of ``ads analyze``. With ADS_MCP_TOKEN
    set, the MCP server is served at /mcp too, for clients sending that bearer token.
    """
    settings = load_settings(config_path)
    secrets = list(settings.secrets.webhook_secrets)
    if not secrets:
        raise ConfigError(
            "ADS_WEBHOOK_SECRETS is not set",
            hint="the signing secret PagerDuty showed when the webhook subscription was made",
        )
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    ctx = Context.from_settings(settings)
    service = build_service(ctx, secrets, lease_seconds=lease_seconds)
    stop = threading.Event()
    mcp_token = os.environ.get(TOKEN_ENV) or None
    app = mounted_app(ctx, service, mcp_token=mcp_token, write_tools=enable_write_tools, host=host)
    with BackgroundServer(app, host=host, port=port) as server:
        service.start_worker()
        console.print(f"ads serve: webhooks at {server.url}/webhooks/pagerduty, jobs at /jobs")
        if mcp_token:
            console.print(f"MCP at {server.url}/mcp (bearer token from {TOKEN_ENV})")
        try:
            stop.wait()
        finally:
            console.print("stopping: finishing the current job first (Ctrl-C again to abandon it)")
            service.stop_worker()
