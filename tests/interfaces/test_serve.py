"""``ads serve``: its start-up errors and the MCP server it mounts at ``/mcp``.

Crashes (``kill -9`` in every stage, then a restart) are in ``test_crash_only.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ads.config import load_settings
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.interfaces.http_server import BackgroundServer
from ads.interfaces.serve_app import build_service, mounted_app
from ads.sources.pagerduty import PagerDuty
from ads.workflow import Context


def test_serve_without_secrets_is_one_clear_error(tmp_path: Path) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    env = {k: v for k, v in os.environ.items() if k != "ADS_WEBHOOK_SECRETS"}
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "serve", "--config", str(repo / "ads.yaml")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "ADS_WEBHOOK_SECRETS is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mcp_is_mounted_at_slash_mcp_behind_the_bearer_token(
    tmp_path: Path, pagerduty_client: PagerDuty
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    ctx = Context(load_settings(repo / "ads.yaml"), pagerduty_factory=lambda: pagerduty_client)
    service = build_service(ctx, ["whsec"])
    token = "serve-mcp-token-42"
    with BackgroundServer(mounted_app(ctx, service, mcp_token=token)) as server:
        assert httpx2.get(f"{server.url}/healthz").json()["status"] == "ok"
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert httpx2.post(f"{server.url}/mcp", json=ping).status_code == 401

        async def tools() -> set[str]:
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as client,
                streamable_http_client(f"{server.url}/mcp", http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return {t.name for t in (await session.list_tools()).tools}

        names = anyio.run(tools)
    assert "analyze_incident" in names and "create_remediation_pr" not in names
