"""What every REST v2 route shares: token check, PagerDuty's error bodies, pagination, queries.

Errors are ``{"error": {"message", "code", "errors"}}`` with PagerDuty's codes (2001 invalid
input, 2006 authentication failed, 2100 not found, 2020 rate limit). A request is authenticated
with ``Authorization: Token token=…`` (an API key) or ``Bearer …`` (an OAuth token), and counted
against the token's rate limit (``RateLimiter``: PagerDuty's ``ratelimit-*`` headers on every
answer, 429 past the limit). Pagination is PagerDuty's classic
offset/limit: ``limit`` defaults to 25 and is capped at 100, ``offset + limit`` may not pass
10000, and the page says whether there is ``more``.

A REST body is read with ``read_json``: at most ``MAX_REST_BODY_BYTES`` (refused before reading
when the declared length is larger) and nested at most ``MAX_JSON_DEPTH`` deep, or it is a 400
(413 for the size) in PagerDuty's shape, before any route looks at it.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._json import JsonInputError, parse_json
from .account import Account
from .incidents import IncidentBook
from .limits import BodyTooLarge, read_body
from .oncall import parse_time

__all__ = [
    "MAX_REST_BODY_BYTES",
    "ApiError",
    "Page",
    "Server",
    "api_route",
    "error_response",
    "list_param",
    "page_params",
    "read_json",
    "time_param",
]

Doc = dict[str, Any]
ITERATION_LIMIT = 10000
MAX_REST_BODY_BYTES = 256 * 1024  # a note is at most 25,000 characters; nothing else is larger


class ApiError(Exception):
    """An error answered in PagerDuty's REST shape."""

    def __init__(self, status: int, message: str, code: int, errors: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors or []

    @classmethod
    def invalid(cls, *errors: str) -> ApiError:
        return cls(400, "Invalid Input Provided", 2001, list(errors))

    @classmethod
    def not_found(cls) -> ApiError:
        return cls(404, "Not Found", 2100)


def error_response(error: ApiError) -> JSONResponse:
    body: Doc = {"message": error.message, "code": error.code}
    if error.errors:
        body["errors"] = error.errors
    return JSONResponse({"error": body}, status_code=error.status)


DEFAULT_RATE_LIMIT = 960  # PagerDuty's REST limit per minute for one user's API key


class RateLimiter:
    """At most ``per_minute`` requests per token in any 60 seconds, as PagerDuty limits REST
    calls; ``take`` says whether one more may go, how many are left and when one frees up."""

    def __init__(
        self, per_minute: int = DEFAULT_RATE_LIMIT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.window = 60.0
        self.calls: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def take(self, token: str) -> tuple[bool, int, int]:
        """``(allowed, remaining, reset_seconds)`` for one more request with ``token``."""
        now = self.clock()
        with self.lock:
            calls = self.calls.setdefault(token, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            allowed = len(calls) < self.per_minute
            if allowed:
                calls.append(now)
            reset = int(calls[0] + self.window - now) + 1 if calls else int(self.window)
            return allowed, self.per_minute - len(calls), reset


class Server:
    """What the routes work on: the account and its incidents (kept in ``app.state.pd``)."""

    def __init__(
        self, account: Account, book: IncidentBook, limiter: RateLimiter | None = None
    ) -> None:
        self.account = account
        self.book = book
        self.limiter = limiter or RateLimiter()

    def me(self) -> Doc:
        """The user the local API token belongs to (the seed's first user)."""
        users = self.account.store.list_objects("user")
        if not users:
            raise ApiError(404, "Not Found", 2100, ["the seed defines no users"])
        return users[0]

    def agent(self, request: Request) -> Doc:
        """The acting user: the ``From`` header's user, else the token's user."""
        email = request.headers.get("from")
        users = self.account.store.list_objects("user")
        if email:
            for user in users:
                if user["email"].lower() == email.strip().lower():
                    return _user_ref(user)
            raise ApiError.invalid(f"The user with email {email!r} given in From was not found")
        return _user_ref(self.me())


def _user_ref(user: Doc) -> Doc:
    return {k: user[k] for k in ("id", "summary", "self", "html_url")} | {"type": "user_reference"}


Handler = Callable[[Request, Server], Awaitable[Response]]


def bearer_or_token(header: str) -> str:
    """The credential in ``Authorization``: ``Token token=KEY`` or ``Bearer TOKEN``."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "token":
        return value.strip().removeprefix("token=")
    if scheme.lower() == "bearer":
        return value.strip()
    return ""


def api_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the ``Authorization`` header and the token's rate limit, then run the handler;
    any ``ApiError`` (or a lookup of an unknown id) becomes PagerDuty's error body."""

    async def endpoint(request: Request) -> Response:
        server: Server = request.app.state.pd
        token = bearer_or_token(request.headers.get("authorization", ""))
        expected = server.account.token
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            return error_response(ApiError(401, "Authentication failed", 2006))
        allowed, remaining, reset = server.limiter.take(token)
        if not allowed:
            response: Response = error_response(ApiError(429, "Rate Limit Exceeded", 2020))
        else:
            try:
                response = await handler(request, server)
            except ApiError as error:
                response = error_response(error)
            except KeyError:
                response = error_response(ApiError.not_found())
        response.headers["ratelimit-limit"] = str(server.limiter.per_minute)
        response.headers["ratelimit-remaining"] = str(max(remaining, 0))
        response.headers["ratelimit-reset"] = str(reset)
        return response

    endpoint.__name__ = handler.__name__
    return endpoint


def ok(body: Doc | list[Doc], server: Server, status: int = 200) -> JSONResponse:
    """A success body. Fields that are ``null`` are left out: PagerDuty's OpenAPI description
    declares most of them non-nullable, and clients read absent and null alike."""
    return JSONResponse(_without_nulls(server.account.render(body)), status_code=status)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class Page:
    """The requested page (``offset``, ``limit``) and whether ``total`` was asked for."""

    def __init__(self, offset: int, limit: int, total: bool) -> None:
        self.offset = offset
        self.limit = limit
        self.want_total = total

    def body(self, key: str, items: list[Doc], total: int) -> Doc:
        return {
            key: items,
            "offset": self.offset,
            "limit": self.limit,
            "more": self.offset + len(items) < total,
            "total": total if self.want_total else None,
        }

    def slice(self, key: str, items: list[Doc]) -> Doc:
        return self.body(key, items[self.offset : self.offset + self.limit], len(items))


def page_params(request: Request, default_limit: int = 25) -> Page:
    query = request.query_params
    try:
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", str(default_limit)))
    except ValueError:
        raise ApiError.invalid("Offset and limit must be integers") from None
    if offset < 0:
        raise ApiError.invalid("Offset must be greater than or equal to 0")
    if limit < 1:
        raise ApiError.invalid("Limit must be greater than 0")
    limit = min(limit, 100)
    if offset + limit > ITERATION_LIMIT:
        raise ApiError.invalid(f"Offset + limit must not exceed {ITERATION_LIMIT}")
    total = query.get("total", "false").lower() == "true"
    return Page(offset, limit, total)


def list_param(request: Request, name: str) -> list[str] | None:
    """A ``name[]`` filter (also accepted without brackets, and comma-separated)."""
    values = request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)
    flat = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return flat or None


def time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise ApiError(
            400, "Invalid Input Provided", 2001, [f"{name} is not a valid date"]
        ) from None


async def read_json(request: Request) -> Doc:
    try:
        raw = await read_body(request, MAX_REST_BODY_BYTES)
    except BodyTooLarge as exc:
        raise ApiError(413, "Request Entity Too Large", 2001, [str(exc)]) from None
    try:
        body = parse_json(raw or b"null")
    except JsonInputError as exc:
        raise ApiError.invalid(f"The request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ApiError.invalid("The request body must be a JSON object")
    return body
