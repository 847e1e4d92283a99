"""``ads mcp`` as an AI assistant meets it: the official MCP SDK client.

The server is pointed at the real local PagerDuty server (TLS, demo account) holding an
OOMKilled incident sent through Events API v2, and at a git repository of the demo service with
its history. The client lists the tools, reads the incident, the on-call and the diagnosis, and
— only when the server was built with write tools (``--enable-write-tools``) — opens the fix
branch.

One test starts ``python -m ads mcp`` as a real subprocess over stdio, as Claude Desktop does,
and checks that it initialises and answers a read tool. The tools' behaviour is tested on the
same server built in the test process from the same ads.yaml and environment (see
``McpDemo.in_process``), through the SDK's in-memory client, which spares each test the
process start-up; one more test speaks streamable HTTP to it.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from click.testing import CliRunner
from mcp.client import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from ads.config import load_settings
from ads.errors import AdsError
from ads.interfaces.cli_mcp import mcp
from ads.interfaces.http_server import BackgroundServer
from ads.interfaces.mcp_server import READ_TOOLS, WRITE_TOOLS, build_server
from ads.interfaces.mcp_server.guards import confine_path, redact
from ads.interfaces.mcp_server.http import streamable_http_app
from ads.sources.monitors import detect_limiter
from ads.sources.pagerduty import PagerDuty
from ads.workflow import Context
from tests.fixtures.mcp import McpDemo, mcp_client, mcp_session


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(session: Client | ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured output."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, f"{tool} failed: {text_of(result)}"
    assert result.structured_content is not None, f"{tool} gave no structured output"
    return result.structured_content


async def fails(session: Client | ClientSession, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail as a tool error; its message."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert result.is_error, f"{tool} should have failed, gave {result.structured_content}"
    return text_of(result)


def can_confine_memory() -> bool:
    """Whether this machine gives ADS a memory cgroup, so verification can really run."""
    try:
        detect_limiter(allow_fallback=False)
    except AdsError:
        return False
    return True


def fix_branches(repo: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", "ads/*"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return listed.split()


def show(repo: Path, rev: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "show", rev], capture_output=True, text=True, check=True
    ).stdout


def test_stdio_process_initialises_and_answers(mcp_demo: McpDemo) -> None:
    """``python -m ads mcp`` as a client starts it: a session initialises, a read tool answers."""
    incident = mcp_demo.incident

    async def scenario() -> None:
        with mcp_demo.stderr_path.open("w") as errlog:
            async with mcp_session(mcp_demo.server(), errlog) as session:
                assert session.server_info is not None and session.server_info.name == "ads"
                tools = {t.name for t in (await session.list_tools()).tools}
                assert tools == set(READ_TOOLS), "write tools only with --enable-write-tools"
                got = await call(session, "get_incident", incident_id=incident.id)
                assert got["id"] == incident.id
                assert got["service_name"] == "ads-demo-service"

    anyio.run(scenario)
    assert mcp_demo.pagerduty.token not in mcp_demo.stderr_path.read_text()


def test_read_only_server_answers_the_investigation(
    mcp_demo: McpDemo,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    incident = mcp_demo.incident
    secrets = [mcp_demo.pagerduty.token]
    texts: list[str] = []
    server = mcp_demo.in_process(monkeypatch)
    caplog.set_level(logging.DEBUG)  # all the server logs: ``ads mcp`` writes INFO up to stderr

    async def scenario() -> None:
        async with mcp_client(server) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == set(READ_TOOLS)
            # nothing outside ADS changes; the tools that store a diagnosis or write the report
            # files say they are not read-only (MCP's readOnlyHint: "does not modify")
            writes_own_state = {"analyze_incident", "get_root_cause", "get_report"}
            for name, tool in tools.items():
                assert tool.annotations is not None
                assert tool.annotations.read_only_hint is (name not in writes_own_state), name
                assert not tool.annotations.destructive_hint, name
            assert all(t.output_schema for t in tools.values())

            listed = await call(session, "list_incidents", status="triggered")
            assert [i["id"] for i in listed["incidents"]] == [incident.id]

            got = await call(session, "get_incident", incident_id=incident.id)
            assert got["service_name"] == "ads-demo-service"
            details = got["alerts"][0]["custom_details"]
            assert details["memory_limit"] == "64Mi"
            assert details["exit_code"] == 137
            assert details["seconds_to_kill"] == 1.8
            assert any(e["type"].startswith("trigger") for e in got["log_entries"])

            oncall = await call(session, "get_oncall", incident_id=incident.id)
            levels = {o["level"]: o for o in oncall["levels"]}
            assert set(levels) >= {1, 2}
            assert {levels[1]["github"], levels[2]["github"]} == {"alice-sre", "bob-oncall"}
            by_service = await call(session, "get_oncall", service="ads-demo-service")
            assert by_service["levels"] == oncall["levels"]

            changes = await call(session, "list_recent_changes", service="ads-demo-service")
            subjects = [c["subject"] for c in changes["changes"]]
            assert "Reuse payload buffer across iterations" in subjects
            assert "Right-size worker memory limit to 64Mi" in subjects

            diagnosis = await call(session, "analyze_incident", incident_id=incident.id)
            top = diagnosis["findings"][0]
            assert (top["file"], top["function"]) == ("worker.c", "controller")
            assert (top["line"], top["end_line"]) == (26, 27)
            assert diagnosis["confidence"] == "High"

            cause = await call(session, "get_root_cause", incident_id=incident.id)
            assert cause["found"] is True
            assert (cause["file"], cause["function"], cause["line"]) == (
                "worker.c",
                "controller()",
                "26-27",
            )
            assert cause["confidence"] == "High" and cause["reasons"]
            assert "Reuse payload buffer" in (cause["introduced_by"] or "")

            fix = await call(session, "suggest_remediation", incident_id=incident.id)
            assert "+" in fix["fix_diff"] and "free(buffer);" in fix["fix_diff"]
            assert fix["rollback"] and fix["mitigation"]

            report = await call(session, "get_report", incident_id=incident.id)
            assert "worker.c" in report["markdown"]
            assert Path(report["html_path"]).is_file()

            prompt = await session.get_prompt("investigate_incident", {"incident_id": incident.id})
            prompt_text = prompt.messages[0].content
            assert isinstance(prompt_text, TextContent)
            assert "get_root_cause" in prompt_text.text

            latest = await session.read_resource("ads://diagnoses/latest")
            assert "worker.c" in latest.contents[0].text  # type: ignore[union-attr]
            runbook = await session.read_resource("ads://services/ads-demo-service/runbook")
            assert "64Mi" in runbook.contents[0].text  # type: ignore[union-attr]

            texts.append(await fails(session, "get_incident", incident_id="PNOSUCH1"))
            assert "list_incidents" in texts[-1]
            texts.append(await fails(session, "list_recent_changes", service="billing"))
            assert "ads-demo-service" in texts[-1]
            texts.append(
                await fails(
                    session,
                    "list_recent_changes",
                    service="ads-demo-service",
                    path="../../../../etc/passwd",
                )
            )
            assert "outside the configured repositories" in texts[-1]
            texts.append(await fails(session, "create_remediation_pr", incident_id=incident.id))
            assert "create_remediation_pr" in texts[-1]

    anyio.run(scenario)
    stderr = capfd.readouterr().err
    for secret in secrets:
        assert all(secret not in text for text in texts)
        assert secret not in stderr
        assert secret not in caplog.text
    assert not fix_branches(mcp_demo.repo), "a read-only server must not create branches"


@pytest.mark.slow
def test_write_tools_open_the_fix_branch_and_note(
    mcp_demo: McpDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = mcp_demo.incident
    server = mcp_demo.in_process(monkeypatch, enable_write_tools=True)

    async def scenario() -> dict[str, Any]:
        async with mcp_client(server) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == set(READ_TOOLS) | set(WRITE_TOOLS)
            for name in WRITE_TOOLS:
                annotations = tools[name].annotations
                assert annotations is not None and annotations.read_only_hint is False
            assert tools["resolve_incident"].annotations.destructive_hint is True  # type: ignore[union-attr]

            verified = await call(session, "verify_fix", incident_id=incident.id)
            assert "free(buffer);" in verified["fix_diff"]
            if can_confine_memory():
                assert verified["outcome"] == "verified", verified["detail"]
            assert not fix_branches(mcp_demo.repo), "verify_fix must not make branches"

            pr = await call(session, "create_remediation_pr", incident_id=incident.id)
            note = await call(
                session,
                "add_incident_note",
                incident_id=incident.id,
                content="Looking at the fix branch now.",
            )
            assert note["note_id"]
            acked = await call(session, "acknowledge_incident", incident_id=incident.id)
            assert acked["status"] == "acknowledged"
            return pr

    pr = anyio.run(scenario)
    branch = f"ads/incident-{incident.number}-fix-memory-leak"
    assert pr["branch"] == branch
    assert pr["pr_title"] == f"[Incident #{incident.number}] Fix memory leak in worker service"
    if can_confine_memory():
        assert pr["verification"] == "verified"
    fixed = show(mcp_demo.repo, f"{branch}:worker.c").splitlines()
    assert fixed[26].strip() == "process_work(buffer);"
    assert fixed[27].strip() == "free(buffer);"
    assert "free(buffer);" not in show(mcp_demo.repo, "main:worker.c")
    notes = [n.content for n in mcp_demo.client.list_notes(incident.id)]
    assert any(branch in n for n in notes), "the remediation note names the branch"
    assert "Looking at the fix branch now." in notes
    assert mcp_demo.client.get_incident(incident.id).status == "acknowledged"


def test_streamable_http_answers_only_with_the_bearer_token(
    mcp_demo: McpDemo, pagerduty_client: PagerDuty
) -> None:
    settings = load_settings(mcp_demo.config)
    server = build_server(
        settings,
        context_factory=lambda s: Context(s, pagerduty_factory=lambda: pagerduty_client),
    )
    token = "mcp-bearer-0123456789"
    with BackgroundServer(streamable_http_app(server, token=token)) as http:
        url = f"{http.url}/mcp"
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert httpx2.post(url, json=hello).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert httpx2.post(url, json=hello, headers=wrong).status_code == 401

        async def scenario() -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as client,
                streamable_http_client(url, http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                assert tools == set(READ_TOOLS)
                return await call(session, "get_oncall", service="ads-demo-service")

        oncall = anyio.run(scenario)
    assert [o["level"] for o in oncall["levels"]] == [1, 2]


def test_paths_are_confined_to_the_repositories(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "worker.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    (repo / "escape").symlink_to(tmp_path / "secret.txt")
    assert confine_path("src/worker.c", [repo], base=repo) == (repo / "src/worker.c").resolve()
    assert confine_path(str(repo / "src"), [repo], base=repo) == (repo / "src").resolve()
    for outside in ("../secret.txt", str(tmp_path / "secret.txt"), "escape", "/etc/passwd", ""):
        with pytest.raises(ToolError, match=r"outside the configured repositories|empty"):
            confine_path(outside, [repo], base=repo)


def test_secrets_are_redacted_from_messages() -> None:
    message = "PagerDuty refused token ads-local-token at https://api"
    assert redact(message, ["ads-local-token", ""]) == "PagerDuty refused token *** at https://api"


def test_http_beyond_loopback_needs_a_token(mcp_demo: McpDemo) -> None:
    runner = CliRunner()
    args = ["--config", str(mcp_demo.config), "--transport", "streamable-http"]
    result = runner.invoke(mcp, [*args, "--host", "0.0.0.0"], env={"ADS_MCP_TOKEN": ""})
    assert result.exit_code == 2
    assert "ADS_MCP_TOKEN" in result.output
