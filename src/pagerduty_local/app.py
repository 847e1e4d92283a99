"""``create_app``: the local PagerDuty-compatible ASGI app (REST v2 + Events v2 + webhooks v3).

The app owns two background tasks for its lifetime: the webhook sender and the escalation clock
(every tick, triggered incidents whose level timed out move to the next level; ``time_scale``
makes the policy's minutes pass faster). No request body over ``MAX_REQUEST_BYTES`` reaches a
route (``limits.RequestLimits``); each route reads with its own, lower limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import (
    routes_directory,
    routes_directory_writes,
    routes_events,
    routes_incident_actions,
    routes_incidents,
    routes_unavailable,
    routes_web,
    routes_webhooks,
)
from .account import Account
from .http import DEFAULT_RATE_LIMIT, ApiError, RateLimiter, Server, error_response
from .incidents import IncidentBook
from .limits import RequestIds, RequestLimits
from .seed import Seed, load_seed
from .store import Store
from .webhooks import WebhookSender

__all__ = ["MAX_REQUEST_BYTES", "create_app"]

MAX_REQUEST_BYTES = 1024 * 1024  # every endpoint; REST and Events bodies have lower limits


def create_app(
    store_path: Path | str,
    *,
    seed: Seed | Path | str | None = None,
    base_url: str = "",
    time_scale: float = 1.0,
    escalation_tick_seconds: float = 0.2,
    webhook_retry_seconds: float = 1.0,
    clock: Callable[[], datetime] | None = None,
    rate_limit: int | None = None,
) -> Starlette:
    """An app serving the account in ``store_path`` (seeded from ``seed``, the demo if None).

    The seed is validated before the store is opened, so a bad seed changes nothing. ``clock``
    is the account's time (on-call rotations, incident times, escalation); the real UTC time if
    None — tests pin it to a date so who is on call does not depend on the week they run in.
    ``rate_limit``: REST requests per minute per token before 429 (PagerDuty's 960 if None).
    """
    loaded = seed if isinstance(seed, Seed) else load_seed(seed)
    store = Store(store_path)
    account = Account(store, base_url=base_url, time_scale=time_scale, clock=clock)
    account.load_seed(loaded)
    sender = WebhookSender(account, first_retry_seconds=webhook_retry_seconds)
    book = IncidentBook(account, on_change=sender.incident_changed)
    server = Server(account, book, RateLimiter(rate_limit or DEFAULT_RATE_LIMIT))

    async def escalation_clock() -> None:
        while True:
            await asyncio.sleep(escalation_tick_seconds)
            book.escalate_due()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(sender.run()), asyncio.create_task(escalation_clock())]
        await asyncio.sleep(0)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            store.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(ApiError.not_found())

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"error": {"message": "Method Not Allowed", "code": 2100}}, status_code=405
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"error": {"message": "Internal Server Error", "code": 5001}}, status_code=500
        )

    app = Starlette(
        routes=[
            *routes_incidents.routes,
            *routes_incident_actions.routes,
            *routes_directory.routes,
            *routes_directory_writes.routes,
            *routes_webhooks.routes,
            *routes_unavailable.routes,
            *routes_events.routes,
            *routes_web.routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIds),
            Middleware(
                RequestLimits,
                max_body_bytes=MAX_REQUEST_BYTES,
                error_body=lambda message: {"error": {"message": message, "code": 2001}},
            ),
        ],
        exception_handlers={404: not_found, 405: not_allowed, 500: crashed},
    )
    app.state.pd = server
    app.state.sender = sender
    return app
