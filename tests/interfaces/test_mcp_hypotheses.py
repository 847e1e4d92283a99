"""The MCP ``list_hypotheses`` (read) and ``bisect`` (write, opt-in) tools, through the official
SDK's in-memory client, on the same engines ``ads analyze`` and ``ads bisect`` use."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ads.config import load_settings
from ads.interfaces.mcp_server import build_server
from ads.sources.monitors import MemoryLimiter
from ads.workflow import Context
from tests.fixtures.bisect import pointer_history
from tests.fixtures.mcp import McpDemo, mcp_client
from tests.interfaces.test_mcp_server import call, fails


def test_list_hypotheses_weighs_every_cause_with_the_leak_first(
    mcp_demo: McpDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = mcp_demo.in_process(monkeypatch)

    async def scenario() -> dict[str, object]:
        async with mcp_client(server) as session:
            tools = {t.name for t in (await session.list_tools()).tools}
            assert "list_hypotheses" in tools and "bisect" not in tools  # bisect is opt-in
            return await call(session, "list_hypotheses", incident_id=mcp_demo.incident.id)

    listed = anyio.run(scenario)
    kinds = [h["kind"] for h in listed["hypotheses"]]  # type: ignore[index]
    assert sorted(kinds) == sorted(
        ["code leak", "memory limit lowered", "size or configuration raised",
         "runtime heap setting incompatible with the limit", "load"]
    )  # fmt: skip
    cause = listed["cause"]
    assert isinstance(cause, dict) and cause["kind"] == "code leak"
    assert cause["file"] == "worker.c" and cause["line"] == 26
    load = next(h for h in listed["hypotheses"] if h["kind"] == "load")  # type: ignore[union-attr]
    assert load["verdict"] == "rejected"


@pytest.mark.cgroup
def test_bisect_tool_names_the_first_bad_commit(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    repo = tmp_path / "pointer-service"
    shas = pointer_history(repo, commits=8, bad_at=5)
    settings = load_settings(repo / "ads.yaml")
    server = build_server(settings, enable_write_tools=True, context_factory=Context)

    async def scenario() -> tuple[dict[str, object], str]:
        async with mcp_client(server) as session:
            found = await call(
                session, "bisect", service="pointer-service", good=shas[0], bad=shas[-1],
                seconds=1.5,
            )  # fmt: skip
            refused = await fails(
                session, "bisect", service="pointer-service", good=shas[-1], bad=shas[0]
            )
            return found, refused

    found, refused = anyio.run(scenario)
    assert found["first_bad"] == shas[4]
    assert found["first_bad_subject"] == "worker: hand buffers back through the releaser"
    runs = found["runs"]
    assert isinstance(runs, list) and 1 <= len(runs) <= 4
    assert all(run["samples"] for run in runs if run["verdict"] != "skip")
    assert "is not an ancestor of --bad" in refused
