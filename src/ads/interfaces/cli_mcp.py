"""``ads mcp``: serve ADS to AI assistants over the Model Context Protocol.

stdio is the default, which is what Claude Desktop, Cursor and VS Code start as a subprocess.
``--transport streamable-http`` serves ``http://HOST:PORT/mcp`` instead; beyond loopback it
needs ``ADS_MCP_TOKEN`` (clients then send ``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from ..errors import ConfigError
from .cli_common import config_option, reports_errors

__all__ = ["mcp"]

QUIET_LOGGERS = ("httpx2", "httpcore2", "pagerduty")


@click.command("mcp")
@config_option
@click.option(
    "--enable-write-tools",
    is_flag=True,
    help="Also offer verify_fix, create_remediation_pr, add_incident_note, "
    "acknowledge_incident, escalate_incident and resolve_incident.",
)
@click.option(
    "--transport",
    type=click.Choice(["stdio", "streamable-http"]),
    default="stdio",
    show_default=True,
    help="stdio: for an assistant that starts ads as a subprocess; streamable-http: serve "
    "http://HOST:PORT/mcp (beyond loopback only with ADS_MCP_TOKEN).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="streamable-http only.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
    help="streamable-http only.",
)  # fmt: skip
@reports_errors
def mcp(
    config_path: Path | None, enable_write_tools: bool, transport: str, host: str, port: int
) -> None:
    """Run the ADS MCP server (read tools; write tools with --enable-write-tools).

    Tools: list_incidents, get_incident, get_oncall, list_recent_changes, analyze_incident,
    get_root_cause, suggest_remediation, get_report; with --enable-write-tools also
    verify_fix, create_remediation_pr, add_incident_note, acknowledge_incident,
    escalate_incident, resolve_incident. Prompt: investigate_incident. Resources:
    ads://services, ads://services/{name}/runbook, ads://diagnoses/latest.

    \b
    Examples:
      ads mcp --config ~/src/worker/ads.yaml
      ADS_MCP_TOKEN=secret ads mcp --transport streamable-http --port 8765
    """
    import uvicorn

    from asgi_thread import ServerStartError, listen

    from ..config import load_settings
    from .mcp_server import build_server
    from .mcp_server.http import LOOPBACK_HOSTS, TOKEN_ENV, streamable_http_app

    settings = load_settings(config_path)
    server = build_server(settings, enable_write_tools=enable_write_tools)
    for noisy in QUIET_LOGGERS:  # one INFO line per HTTP request would bury the tool failures
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if transport == "stdio":
        server.run("stdio")  # the SDK logs to stderr; stdout is the protocol
        return
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"refusing to serve MCP on {host} without a token",
            hint=f"set {TOKEN_ENV}, or use --host 127.0.0.1",
        )
    app = streamable_http_app(server, token=token, host=host)
    try:  # bound first, so a port in use is one line, not uvicorn's start-up errors
        sock = listen(host, port)
    except ServerStartError as exc:
        raise ConfigError(str(exc), hint="choose another --port, or stop what uses it") from None
    bound = sock.getsockname()[1]
    click.echo(f"ADS MCP server on http://{host}:{bound}/mcp", err=True)
    config = uvicorn.Config(app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":  # pragma: no cover - `python -m ads.interfaces.cli_mcp`
    mcp()
