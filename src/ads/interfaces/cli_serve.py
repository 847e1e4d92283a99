"""``ads serve``: the hands-free service — webhook receiver, job worker, escalation rules.

PagerDuty (or the local server) posts signed v3 webhooks to ``/webhooks/pagerduty``; the
worker remediates each ``incident.triggered`` for a service in ads.yaml and, between jobs,
applies the escalation rules. Logs are one JSON object per line on stderr.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import click

from ..config import load_settings
from ..errors import ConfigError
from ..sources.storage import Job
from ..workflow import Context, evaluate_escalations, respond
from .cli_common import config_option, reports_errors
from .console import console
from .http_server import BackgroundServer
from .webhook import WebhookService

__all__ = ["build_service", "serve"]


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
        on_idle=(lambda: _escalate(ctx)) if _has_rules(ctx) else None,
        lease_seconds=lease_seconds,
    )


def _has_rules(ctx: Context) -> bool:
    return any(s.escalation for s in ctx.settings.services.values())


def _escalate(ctx: Context) -> None:
    for line in evaluate_escalations(ctx):
        logging.getLogger("ads.escalation").info(json.dumps({"event": "escalated", "why": line}))


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
@reports_errors
def serve(config_path: Path | None, host: str, port: int, lease_seconds: float) -> None:
    """Receive PagerDuty webhooks and remediate incidents hands-free (Ctrl-C stops).

    Needs ADS_WEBHOOK_SECRETS (comma-separated signing secrets of the webhook subscription,
    several during a rotation) and the PagerDuty settings of ``ads analyze``.
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
    with BackgroundServer(service.app(), host=host, port=port) as server:
        service.start_worker()
        console.print(f"ads serve: webhooks at {server.url}/webhooks/pagerduty, jobs at /jobs")
        try:
            stop.wait()
        finally:
            service.stop_worker()
