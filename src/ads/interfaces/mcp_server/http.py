"""The MCP server over streamable HTTP, behind a bearer token.

Over stdio the client owns the process, so nobody else can reach it; over HTTP anyone who can
reach the port could call the tools, write tools included. So the HTTP app checks
``Authorization: Bearer <token>`` (constant-time) on every request when a token is set, and
``ads mcp`` refuses to listen beyond loopback without one. ``ads serve`` mounts the same app.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from ..web_session import ADMIN_TOKEN_ENV

__all__ = ["LOOPBACK_HOSTS", "TOKEN_ENV", "BearerTokenMiddleware", "streamable_http_app"]

TOKEN_ENV = ADMIN_TOKEN_ENV
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class BearerTokenMiddleware:
    """Pure ASGI: HTTP requests without the right bearer token get 401 and reach nothing."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            offered = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(offered, self.expected):
                body = json.dumps({"error": "missing or wrong bearer token"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="ads-mcp"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def streamable_http_app(
    server: MCPServer[Any], *, token: str | None, host: str = "127.0.0.1", path: str = "/mcp"
) -> ASGIApp:
    """The server's streamable HTTP app at ``path``, token-protected when ``token`` is set.

    The returned app's lifespan runs the SDK's session manager: serve it directly, or run that
    lifespan from the app that mounts it.
    """
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    return BearerTokenMiddleware(app, token) if token else app
