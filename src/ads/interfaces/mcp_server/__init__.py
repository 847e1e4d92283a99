"""``ads mcp``: ADS as a Model Context Protocol server (official SDK, ``MCPServer``).

An AI assistant (Claude, Copilot, Cursor) retrieves incidents, finds the on-call, analyses the
changes, gets the root cause and, with ``--enable-write-tools``, verifies the fix and opens the
PR — all through the same workflow the CLI and the webhook worker use.
"""

from .server import READ_TOOLS, WRITE_TOOLS, build_server
from .state import ServerState

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "ServerState", "build_server"]
