"""Signing in to ``ads serve``'s web pages from a browser, when it is bound beyond loopback.

Beyond loopback the pages (and ``/jobs``) answer only requests bearing the admin token
(``ADS_MCP_TOKEN``). A script sends it as ``Authorization: Bearer``; a browser cannot, so
``/login`` takes the token once in a form and answers with a session cookie. The cookie is not
the token: it is an expiry and an HMAC of that expiry keyed by the token, so it is worthless
after ``SESSION_SECONDS``, cannot be forged or extended without the token, and every session
ends when the token is rotated. ADS keeps no session state. Both the token and the cookie are
compared in constant time.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page
can make the browser send it) and ``Secure`` when the page was served over HTTPS. ``next``
after signing in is only ever a path on this server: anything else goes to ``/``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = [
    "ADMIN_TOKEN_ENV",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "login_redirect",
    "login_routes",
    "session_cookie",
    "valid_session",
]

ADMIN_TOKEN_ENV = "ADS_MCP_TOKEN"  # the admin token: pages and /jobs beyond loopback, and /mcp
SESSION_COOKIE = "ads_session"
SESSION_SECONDS = 12 * 3600  # a working day and a night shift's hand-over
FAILED_LOGIN_PAUSE = 0.5  # seconds before a wrong token is answered: guessing stays slow
MAX_FORM_BYTES = 4096
NO_TOKEN = "ads serve has no ADS_MCP_TOKEN set: nobody can sign in"


def _mac(token: str, expires: int) -> str:
    return hmac.new(
        token.encode(), f"ads-web-session:{expires}".encode(), hashlib.sha256
    ).hexdigest()


def session_cookie(token: str, *, now: float | None = None) -> str:
    """The cookie value of a session signed in with ``token``, valid ``SESSION_SECONDS``."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_mac(token, expires)}"


def valid_session(token: str, cookie: str | None, *, now: float | None = None) -> bool:
    """Whether ``cookie`` is a live session signed with ``token``."""
    if not cookie or "." not in cookie:
        return False
    raw_expires, mac = cookie.split(".", 1)
    if not raw_expires.isdigit() or len(raw_expires) > 12:
        return False
    expires = int(raw_expires)
    if expires <= (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac.encode(), _mac(token, expires).encode())


def safe_next(target: str | None) -> str:
    """A path on this server to go to after signing in; ``/`` for anything else (another
    host, ``//host``, a scheme, a backslash trick)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 for c in target):
        return "/"
    return target


def login_redirect(request: Request) -> Response:
    """Where a browser without a session is sent: the sign-in form, then back here."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


def login_routes(
    token: Callable[[], str | None],
    page: Callable[[str, str | None], str],
    headers: dict[str, str],
) -> list[Route]:
    """``GET /login`` (the form), ``POST /login`` (the token in, a session cookie out) and
    ``POST /logout``. ``token()`` is the admin token (None: signing in is not possible);
    ``page(next, error)`` renders the form."""

    async def form(request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        error = None if token() else NO_TOKEN
        return HTMLResponse(page(target, error), headers=headers)

    async def sign_in(request: Request) -> Response:
        expected = token()
        body = await request.body()
        fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=4)
        target = safe_next((fields.get("next") or ["/"])[0])
        offered = (fields.get("token") or [""])[0].strip()
        if not expected:
            return HTMLResponse(page(target, NO_TOKEN), status_code=403, headers=headers)
        if not hmac.compare_digest(offered.encode(), expected.encode()):
            await asyncio.sleep(FAILED_LOGIN_PAUSE)
            error = "wrong token: use the value of ADS_MCP_TOKEN that ads serve was started with"
            return HTMLResponse(page(target, error), status_code=401, headers=headers)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, session_cookie(expected), max_age=SESSION_SECONDS, path="/",
            httponly=True, samesite="strict", secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    async def sign_out(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/login", form, methods=["GET"]),
        Route("/login", sign_in, methods=["POST"]),
        Route("/logout", sign_out, methods=["POST"]),
    ]
