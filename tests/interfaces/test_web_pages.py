"""The web pages of ``ads serve``, over real HTTP on loopback: the incident list with each job's
status, each incident's report, the live status of a job under way, and the admin guard."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2

from ads.interfaces.http_server import BackgroundServer

from ..fixtures.served_reports import RUNNING_ID, pages_app, stocked_context


def test_the_index_lists_incidents_with_their_jobs_and_opens_each_report(tmp_path: Path) -> None:
    ctx, diagnosis = stocked_context(tmp_path)
    with BackgroundServer(pages_app(ctx)) as server:
        index = httpx2.get(f"{server.url}/")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert "script-src" not in index.headers["content-security-policy"]  # no script at all
        page = index.text
        rows = re.findall(r"<tr><td><a href=\"([^\"]+)\">([^<]+)</a>", page)
        assert rows == [
            (f"/incidents/{RUNNING_ID}", "#2"),
            (f"/incidents/{diagnosis.incident.id}", "#1"),
        ]
        assert "status-done" in page and "status-running" in page
        assert "verification under way" in page  # the running job's stage, from its checkpoint
        assert "worker.c:26-27 in controller()" in page
        assert '<meta http-equiv="refresh"' in page  # a job is under way: the list reloads

        report = httpx2.get(f"{server.url}/incidents/{diagnosis.incident.id}")
        assert report.status_code == 200
        assert 'id="summary"' in report.text and 'id="memory-chart"' in report.text
        assert '<a href="/">← all incidents</a>' in report.text
        assert '<meta http-equiv="refresh"' not in report.text  # done: nothing to wait for

        running = httpx2.get(f"{server.url}/incidents/{RUNNING_ID}")
        assert running.status_code == 200 and '<meta http-equiv="refresh"' in running.text
        assert "Stages done: diagnose." in running.text
        status = httpx2.get(f"{server.url}/incidents/{RUNNING_ID}/status").json()
        assert status["status"] == "running" and status["stage"] == "verification under way"
        assert status["report"] is False

        missing = httpx2.get(f"{server.url}/incidents/PNOPE")
        assert missing.status_code == 404 and "PNOPE" in missing.json()["error"]


def test_beyond_loopback_the_pages_need_the_admin_token(tmp_path: Path) -> None:
    ctx, diagnosis = stocked_context(tmp_path)
    token = "pages-admin-token-7"
    paths = ["/", f"/incidents/{diagnosis.incident.id}", f"/incidents/{RUNNING_ID}/status"]
    # Configured for 0.0.0.0 (the guard decides from that), served here on loopback.
    with BackgroundServer(pages_app(ctx, host="0.0.0.0", token=token)) as server:
        for path in paths:
            assert httpx2.get(server.url + path).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert httpx2.get(server.url + path, headers=wrong).status_code == 401
            right = {"Authorization": f"Bearer {token}"}
            assert httpx2.get(server.url + path, headers=right).status_code == 200
    with BackgroundServer(pages_app(ctx, host="0.0.0.0")) as server:  # no token configured
        refused = httpx2.get(server.url + "/")
        assert refused.status_code == 403 and "ADS_MCP_TOKEN" in refused.json()["error"]
