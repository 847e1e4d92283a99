"""``ads serve``: the hands-free service — webhook receiver, job worker, escalation rules.

PagerDuty (or the local server) posts signed v3 webhooks to ``/webhooks/pagerduty``; the
worker remediates each ``incident.triggered`` for a service in ads.yaml and, between jobs,
applies the escalation rules. Logs are one JSON object per line on stderr.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError
from .cli_common import abandoning, config_option, drain_on_interrupt, reports_errors

__all__ = ["serve"]


@click.command()
@config_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (beyond loopback, the pages, /jobs and /mcp need ADS_MCP_TOKEN).",
)
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port; the URL is printed).",
)  # fmt: skip
@click.option(
    "--lease-seconds",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="A job whose worker died is taken up again after this long.",
)
@click.option(
    "--retry-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="First wait before retrying a job that met a temporary error (doubled per attempt; "
    "longer when GitHub or PagerDuty asks for longer).",
)
@click.option("--enable-write-tools", is_flag=True, help="Offer the MCP write tools at /mcp too.")
@reports_errors
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    lease_seconds: float,
    retry_seconds: float,
    enable_write_tools: bool,
) -> None:
    """Receive PagerDuty webhooks and remediate incidents hands-free (Ctrl-C stops).

    Needs ADS_WEBHOOK_SECRETS (comma-separated signing secrets of the webhook subscription,
    several during a rotation) and the PagerDuty settings of ``ads analyze``. With ADS_MCP_TOKEN
    set, the MCP server is served at /mcp too, for clients sending that bearer token. At / it
    serves web pages: the incidents with their jobs' status (live while one runs) and each
    incident's report. Bound beyond loopback, the pages and /jobs answer only requests bearing
    that token.

    \b
    Examples:
      ads serve --port 8080
      ADS_MCP_TOKEN=secret ads serve --host 0.0.0.0 --enable-write-tools
    """
    import logging
    import os
    import threading

    from ..config import load_settings
    from ..workflow import Context
    from .console import console
    from .http_server import BackgroundServer
    from .serve_app import JsonLines, build_service, mounted_app
    from .web_session import ADMIN_TOKEN_ENV as TOKEN_ENV

    drain_on_interrupt()  # Ctrl-C: finish the current job first, as said below
    settings = load_settings(config_path)
    secrets = list(settings.secrets.webhook_secrets)
    if not secrets:
        raise ConfigError(
            "ADS_WEBHOOK_SECRETS is not set",
            hint="the signing secret PagerDuty showed when the webhook subscription was made",
        )
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "pagerduty", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # one INFO line per HTTP request
    ctx = Context.from_settings(settings)
    mcp_token = os.environ.get(TOKEN_ENV) or None
    service = build_service(
        ctx,
        secrets,
        lease_seconds=lease_seconds,
        retry_seconds=retry_seconds,
        host=host,
        admin_token=mcp_token,
    )
    stop = threading.Event()
    app = mounted_app(ctx, service, mcp_token=mcp_token, write_tools=enable_write_tools, host=host)
    with BackgroundServer(app, host=host, port=port) as server:
        service.start_worker()
        console.print(f"ads serve: webhooks at {server.url}/webhooks/pagerduty, jobs at /jobs")
        console.print(f"incidents and their reports at {server.url}/")
        if mcp_token:
            console.print(f"MCP at {server.url}/mcp (bearer token from {TOKEN_ENV})")
        try:
            stop.wait()
        finally:
            console.print("stopping: finishing the current job first (Ctrl-C again to abandon it)")
            abandoning("the job under way")  # what a second Ctrl-C/SIGTERM now means
            service.stop_worker()
