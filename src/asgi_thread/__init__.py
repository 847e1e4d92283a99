"""Serve an ASGI app with uvicorn in a background thread, with deadlines and bounds per client.

Shared by ADS (``ads serve``, ``ads mcp``, ``ads demo``) and the local PagerDuty
(``pagerduty_local``), so both stop, cut idle connections and bound slow clients the same way.
It imports uvicorn, Starlette, h11 and the standard library only, never either product:
``pagerduty_local`` stays a product that imports nothing from ``ads``. Each product turns
``ServerStartError`` into its own error.
"""

from .background import DEFAULT_SHUTDOWN_TIMEOUT, BackgroundServer, ServerStartError, listen

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "BackgroundServer", "ServerStartError", "listen"]
