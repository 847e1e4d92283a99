"""The web pages of ``ads serve``: ``/`` lists the incidents with their jobs, each incident's
page is its report (or, while its job runs, the job's live status, reloading itself), and
``/incidents/<id>/status`` is that status as JSON for polling.

They show what ``/jobs`` shows and more (root causes, code, notes), so they are behind the same
guard: bound beyond loopback, only requests bearing ``Authorization: Bearer $ADS_MCP_TOKEN``
or a session cookie from ``/login`` get them (``WebhookService.admin_refusal``). A browser
without either is sent to the sign-in form, and back to the page once signed in
(``web_session``).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..workflow import Context
from ..workflow.incident_pages import incident_page, incident_row, index_page, login_page
from .web_session import login_redirect, login_routes

__all__ = ["page_routes"]

SECURITY_HEADERS = {
    # The pages are ADS's own HTML: no script, no frame, no outside resource is needed.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def page_routes(
    ctx: Context,
    refusal: Callable[[Request], Response | None],
    token: Callable[[], str | None] = lambda: None,
) -> list[Route]:
    """The routes, each answering ``refusal(request)`` instead when it is not None (a page
    refused for want of the token sends the browser to ``/login``); ``token()`` is the admin
    token the sign-in form takes."""

    def page_refusal(request: Request) -> Response | None:
        refused = refusal(request)
        if refused is not None and refused.status_code == 401:
            return login_redirect(request)
        return refused

    async def index(request: Request) -> Response:
        refused = page_refusal(request)
        if refused is not None:
            return refused
        return HTMLResponse(await run_in_threadpool(index_page, ctx), headers=SECURITY_HEADERS)

    async def incident(request: Request) -> Response:
        refused = page_refusal(request)
        if refused is not None:
            return refused
        incident_id = request.path_params["incident_id"]
        page = await run_in_threadpool(incident_page, ctx, incident_id)
        if page is None:
            return JSONResponse({"error": f"no incident {incident_id} in ADS's store"}, 404)
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    async def status(request: Request) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        incident_id = request.path_params["incident_id"]
        row = await run_in_threadpool(incident_row, ctx, incident_id)
        if row is None:
            return JSONResponse({"error": f"no job for incident {incident_id}"}, 404)
        return JSONResponse({
            "incident": row.incident_id, "status": row.status, "stage": row.stage,
            "done_stages": row.done_stages, "attempts": row.attempts, "error": row.error,
            "root_cause": row.root_cause, "verdict": row.verdict, "report": row.has_report,
        })  # fmt: skip

    path = "/incidents/{incident_id:str}"
    return [
        Route("/", index, methods=["GET"]),
        Route(path, incident, methods=["GET"]),
        Route(path + "/status", status, methods=["GET"]),
        *login_routes(token, login_page, SECURITY_HEADERS),
    ]
