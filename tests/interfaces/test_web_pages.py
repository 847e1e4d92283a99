"""The web pages of ``ads serve``, over real HTTP on loopback: the incident list with each job's
status, each incident's report, the live status of a job under way, and the admin guard with
its browser sign-in."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote

import httpx2

from ads.interfaces.http_server import BackgroundServer
from ads.interfaces.web_session import SESSION_COOKIE, SESSION_SECONDS, session_cookie

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
    pages = ["/", f"/incidents/{diagnosis.incident.id}"]
    api = [f"/incidents/{RUNNING_ID}/status", "/jobs"]
    # Configured for 0.0.0.0 (the guard decides from that), served here on loopback.
    with BackgroundServer(pages_app(ctx, host="0.0.0.0", token=token)) as server:
        right = {"Authorization": f"Bearer {token}"}
        for path in pages + api:
            assert httpx2.get(server.url + path, headers=right).status_code == 200
        for path in api:  # scripts get the 401 that says what is needed
            for headers in ({}, {"Authorization": "Bearer nope"}):
                refused = httpx2.get(server.url + path, headers=headers)
                assert refused.status_code == 401 and "/login" in refused.json()["error"]
        for path in pages:  # a browser is sent to the sign-in form, and back here after it
            refused = httpx2.get(server.url + path, headers={"Authorization": "Bearer nope"})
            assert refused.status_code == 303
            assert refused.headers["location"] == f"/login?next={quote(path, safe='')}"
    with BackgroundServer(pages_app(ctx, host="0.0.0.0")) as server:  # no token configured
        refused = httpx2.get(server.url + "/")
        assert refused.status_code == 403 and "ADS_MCP_TOKEN" in refused.json()["error"]
        form = httpx2.get(server.url + "/login")
        assert "nobody can sign in" in form.text
        nobody = httpx2.post(server.url + "/login", data={"token": ""})
        assert nobody.status_code == 403 and SESSION_COOKIE not in nobody.headers.get(
            "set-cookie", ""
        )


def test_signing_in_gives_a_session_cookie_that_is_not_the_token(tmp_path: Path) -> None:
    ctx, diagnosis = stocked_context(tmp_path)
    token = "pages-admin-token-8"
    report = f"/incidents/{diagnosis.incident.id}"
    with BackgroundServer(pages_app(ctx, host="0.0.0.0", token=token)) as server:
        wrong = httpx2.post(server.url + "/login", data={"token": "guess", "next": report})
        assert wrong.status_code == 401 and "wrong token" in wrong.text
        assert "set-cookie" not in wrong.headers

        signed = httpx2.post(server.url + "/login", data={"token": token, "next": report})
        assert signed.status_code == 303 and signed.headers["location"] == report
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and token not in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
        session = signed.cookies[SESSION_COOKIE]
        for path in ["/", report, f"/incidents/{RUNNING_ID}/status", "/jobs"]:
            opened = httpx2.get(server.url + path, cookies={SESSION_COOKIE: session})
            assert opened.status_code == 200, path

        # Forged, stretched, expired or signed with another token: sent back to the form.
        expires, mac = session.split(".")
        stale = session_cookie(token, now=time.time() - SESSION_SECONDS - 1)
        for bad in [f"{int(expires) + 3600}.{mac}", stale, session_cookie("other-token"), "x"]:
            refused = httpx2.get(server.url + "/", cookies={SESSION_COOKIE: bad})
            assert refused.status_code == 303, bad

        # After signing in, only a path on this server: never another site.
        for target in ["//evil.example/", "https://evil.example/", "/\\evil.example"]:
            away = httpx2.post(server.url + "/login", data={"token": token, "next": target})
            assert away.headers["location"] == "/", target

        out = httpx2.post(server.url + "/logout", cookies={SESSION_COOKIE: session})
        assert out.status_code == 303 and f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
