"""``ads serve`` as a real process: PagerDuty's webhook in, remediation out — even across a crash.

The service is killed with SIGKILL in the middle of its job and started again: the job is taken
up again once its lease runs out and completes exactly once (one branch, one note).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ads.config import load_settings
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.interfaces.http_server import BackgroundServer, free_port
from ads.interfaces.pagerduty_server import LocalPagerDuty
from ads.interfaces.serve_app import build_service, mounted_app
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.workflow import Context
from tests.fixtures.pagerduty import demo_kill, page_oom


def start_serve(
    repo: Path, server: LocalPagerDuty, port: int, secret: str
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PAGERDUTY_API_TOKEN": server.token,
        "PAGERDUTY_API_HOST": server.api_url,
        "ADS_PAGERDUTY_CA": str(server.ca_file),
        "ADS_WEBHOOK_SECRETS": secret,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ads", "serve", "--config", str(repo / "ads.yaml"),
         "--port", str(port), "--lease-seconds", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx2.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"ads serve did not start: {proc.communicate()[0]}")


def jobs(port: int) -> list[dict[str, object]]:
    return list(httpx2.get(f"http://127.0.0.1:{port}/jobs").json()["jobs"])


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.cgroup
def test_job_interrupted_by_a_crash_is_resumed_once(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    port = free_port()
    _, secret = local_pagerduty.add_webhook_subscription(
        f"http://127.0.0.1:{port}/webhooks/pagerduty", events=["incident.triggered"]
    )
    serve = start_serve(repo, local_pagerduty, port, secret)
    try:
        page_oom(local_pagerduty, pagerduty_client, demo_kill())
        assert wait_for(lambda: any(j["status"] == "running" for j in jobs(port)), 20)
        serve.send_signal(signal.SIGKILL)  # mid-job: verification takes seconds
        serve.wait()
    finally:
        if serve.poll() is None:
            serve.kill()
    serve = start_serve(repo, local_pagerduty, port, secret)
    try:
        assert wait_for(lambda: jobs(port)[0]["status"] == "done", 60), jobs(port)
        (job,) = jobs(port)
        assert job["attempts"] == 2 and job["error"] is None
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=20)
    (incident,) = pagerduty_client.list_incidents()
    ads_notes = [n for n in pagerduty_client.list_notes(incident.id)
                 if n.content.startswith("[ADS diagnosis]")]  # fmt: skip
    assert len(ads_notes) == 1
    branches = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", "ads/*fix*"], capture_output=True, text=True
    ).stdout.split()
    assert branches == ["ads/incident-1-fix-memory-leak"]


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
