"""MCP errors stay short and say what to do, whatever size the arguments (issue 12 point 8).

An assistant that sends a 1 MB argument gets back a tool error of a few hundred characters that
names the argument and the fix, not the argument; a bad prompt argument is an error that says
why, not "Error rendering prompt".
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from ads.interfaces.mcp_server.guards import MAX_MESSAGE_CHARS
from tests.fixtures.mcp import McpDemo, mcp_client
from tests.interfaces.test_mcp_server import fails

BIG = "x" * 1_000_000

CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("list_incidents", {"status": BIG}, "use triggered, acknowledged, resolved"),
    ("list_incidents", {"since": BIG}, "not an ISO 8601 time"),
    ("list_incidents", {"limit": BIG}, "limit"),
    ("get_incident", {"incident_id": BIG}, "not a PagerDuty incident id"),
    ("get_oncall", {"service": BIG}, "services in ads.yaml: ads-demo-service"),
    ("list_recent_changes", {"service": BIG}, "services in ads.yaml: ads-demo-service"),
    ("add_incident_note", {"incident_id": "Q1", "content": BIG}, "at most 25000 characters"),
    ("add_incident_note", {"incident_id": BIG, "content": "hello"}, "not a PagerDuty incident"),
]


def test_errors_do_not_echo_huge_arguments(
    mcp_demo: McpDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = mcp_demo.in_process(monkeypatch, enable_write_tools=True)

    async def scenario() -> list[tuple[str, str, str]]:
        async with mcp_client(server) as client:
            return [
                (tool, needle, await fails(client, tool, **arguments))
                for tool, arguments, needle in CALLS
            ]

    for tool, needle, message in anyio.run(scenario):
        assert len(message) <= MAX_MESSAGE_CHARS + 100, (tool, len(message))
        assert needle in message, (tool, message)


def test_a_bad_prompt_argument_says_why(mcp_demo: McpDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    server = mcp_demo.in_process(monkeypatch)

    async def scenario(incident_id: str) -> str:
        async with mcp_client(server) as client:
            with pytest.raises(MCPError) as raised:
                await client.get_prompt("investigate_incident", {"incident_id": incident_id})
            return str(raised.value)

    for bad in ("a/b", BIG):
        message = anyio.run(scenario, bad)
        assert "is not a PagerDuty incident id" in message and "list_incidents" in message
        assert len(message) < MAX_MESSAGE_CHARS
