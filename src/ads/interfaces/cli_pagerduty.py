"""``ads pagerduty``: the local PagerDuty-compatible server on its own.

``ads pagerduty serve`` loads the seed (the demo account unless ``--seed``), keeps state in
``--state-dir`` across restarts, and serves HTTPS with a CA it generated there on first run; it
prints what a client needs (API URL, CA file, token, where the routing key comes from) as
environment variables ready to export, with absolute paths (they are pasted into other shells,
in other directories): the CA under ``ADS_PAGERDUTY_CA`` (ADS), ``SSL_CERT_FILE`` (OpenSSL,
httpx) and ``REQUESTS_CA_BUNDLE`` (requests, which PagerDuty's own MCP server uses). Plain
HTTP only with ``--insecure-http`` (PagerDuty's own client refuses it).
"""

from __future__ import annotations

import threading
from pathlib import Path

import click

from .cli_common import reports_errors

__all__ = ["CA_VARIABLES", "pagerduty"]

# Where clients look for a CA to trust: ADS itself, OpenSSL/httpx, requests.
CA_VARIABLES = ("ADS_PAGERDUTY_CA", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@click.group()
def pagerduty() -> None:
    """The local PagerDuty-compatible API (REST v2, Events v2, webhooks v3).

    \b
    Examples:
      ads pagerduty serve --webhook-url http://127.0.0.1:8080/webhooks/pagerduty
    """


@pagerduty.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8443, show_default=True, type=click.IntRange(0, 65535),
    help="Port (0: any free).",
)  # fmt: skip
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ads") / "pagerduty",
    show_default=True,
    help="Where the SQLite state and the generated CA live.",
)
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Account seed file (default: the demo account, demo_seed.yaml).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="How much faster escalation timeouts run (60: policy minutes pass as seconds).",
)
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Serve plain HTTP instead of HTTPS (PagerDuty's client will refuse it).",
)
@click.option(
    "--webhook-url",
    default=None,
    metavar="URL",
    help="Subscribe URL (ads serve's /webhooks/pagerduty) to incident.triggered webhooks and "
    "print the ADS_WEBHOOK_SECRETS to export for it (kept across restarts).",
)
@reports_errors
def serve(
    host: str,
    port: int,
    state_dir: Path,
    seed: Path | None,
    time_scale: float,
    insecure_http: bool,
    webhook_url: str | None,
) -> None:
    """Serve the local PagerDuty API until Ctrl-C, printing the variables clients need.

    \b
    Examples:
      ads pagerduty serve
      ads pagerduty serve --webhook-url http://127.0.0.1:8080/webhooks/pagerduty
    """
    from ..errors import ConfigError

    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--webhook-url {webhook_url!r} is not an http(s) URL",
            hint="e.g. http://127.0.0.1:8080/webhooks/pagerduty, where `ads serve` listens",
        )
    from .console import console
    from .pagerduty_server import DEMO_SEED, LocalPagerDuty

    server = LocalPagerDuty(
        state_dir.expanduser().resolve(),
        seed=seed,
        time_scale=time_scale,
        host=host,
        port=port,
        insecure_http=insecure_http,
    )
    with server:
        seed_name = str(seed) if seed else f"demo account ({DEMO_SEED})"
        console.print(f"local PagerDuty serving {seed_name}", highlight=False)
        console.print(f"state: {server.store_path}", highlight=False)
        if server.ca_file is not None:
            console.print(f"CA certificate: {server.ca_file}", highlight=False)
        lines = [
            f"export PAGERDUTY_API_HOST={server.api_url}",
            f"export PAGERDUTY_API_TOKEN={server.token}",
        ]
        if server.ca_file is not None:
            for variable in CA_VARIABLES:
                lines.append(f"export {variable}={server.ca_file}")
        for service in server.seed.services:
            for integration in service.integrations:
                lines.append(
                    f"export PAGERDUTY_ROUTING_KEY={integration.integration_key}"
                    f"  # {service.name}, from the seed's integration {integration.id}"
                )
        if webhook_url is not None:
            sub_id, secret, created = server.ensure_webhook_subscription(
                webhook_url, ["incident.triggered"]
            )
            made = "created" if created else "kept"
            console.print(
                f"webhook subscription {sub_id} {made}: incident.triggered → {webhook_url}",
                highlight=False,
                soft_wrap=True,
            )
            lines.append(f"export ADS_WEBHOOK_SECRETS={secret}  # for `ads serve`")
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True)
        console.print("Ctrl-C to stop", highlight=False)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped; state kept", highlight=False)
