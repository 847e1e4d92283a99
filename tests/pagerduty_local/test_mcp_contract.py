"""Contract with PagerDuty's official MCP server (``pagerduty-mcp``): pointed at the local server
through ``PAGERDUTY_API_HOST``, its tools must read back exactly the local server's state.

``pagerduty-mcp`` needs Python 3.12; a 3.12 virtualenv is made once (from PATH or pyenv) in a
cache directory (``ADS_TEST_CACHE``, default ``~/.cache/ads-tests``) and reused. The test is
skipped, saying why, only where no Python 3.12 exists or the package cannot be installed.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty

CACHE = Path(os.environ.get("ADS_TEST_CACHE", Path.home() / ".cache" / "ads-tests"))


def _python312() -> str | None:
    """A Python 3.12 that really runs: pyenv's install first (its shim fails with 127 when 3.12
    is not the selected version), then one on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/3.12*/bin/python3.12"), reverse=True)
    on_path = shutil.which("python3.12")
    for candidate in [*candidates, *([on_path] if on_path else [])]:
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


PAGERDUTY_MCP_VERSION = "1.1.0"  # the contract is with this release


@pytest.fixture(scope="session")
def pagerduty_mcp_command() -> str:
    """The ``pagerduty-mcp`` executable in a cached Python 3.12 virtualenv."""
    venv = CACHE / f"pagerduty-mcp-{PAGERDUTY_MCP_VERSION}-py312"
    executable = venv / "bin" / "pagerduty-mcp"
    if executable.exists():
        return str(executable)
    python = _python312()
    if python is None:
        pytest.skip("pagerduty-mcp needs Python 3.12 and none was found (PATH or pyenv)")
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"pagerduty-mcp=={PAGERDUTY_MCP_VERSION}"],
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        pytest.fail(f"could not pip install pagerduty-mcp: {installed.stderr.strip()[-300:]}")
    return str(executable)


async def _call_tools(
    command: str, env: dict[str, str], calls: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    params = StdioServerParameters(command=command, args=[], env=env)
    answers: list[Any] = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            assert not getattr(result, "is_error", False) and not getattr(
                result, "isError", False
            ), (name, result)
            structured = getattr(result, "structured_content", None) or getattr(
                result, "structuredContent", None
            )
            if structured is None:
                structured = json.loads(result.content[0].text)  # type: ignore[union-attr]
            answers.append(structured.get("result", structured))
    return answers


@pytest.mark.timeout(600)
def test_official_mcp_server_reads_the_local_server(
    pagerduty_mcp_command: str, local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    pagerduty_client.trigger(
        key,
        "OOMKilled: ads-demo-service",
        "ads-demo-service",
        dedup_key="oomkilled/default/ads-demo-service/worker",
    )
    pagerduty_client.trigger(key, "Disk almost full", "ads-demo-service", severity="warning")
    first, second = pagerduty_client.list_incidents()
    pagerduty_client.add_note(first.id, "ADS diagnosis: worker.c controller() line 26-27")
    pagerduty_client.acknowledge(second.id)

    assert local_pagerduty.ca_file is not None
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PAGERDUTY_USER_API_KEY": local_pagerduty.token,
        "PAGERDUTY_API_HOST": local_pagerduty.api_url,
        "SSL_CERT_FILE": str(local_pagerduty.ca_file),
        "REQUESTS_CA_BUNDLE": str(local_pagerduty.ca_file),
    }
    incidents, incident, oncalls, notes = asyncio.run(
        _call_tools(
            pagerduty_mcp_command,
            env,
            [
                ("list_incidents", {"request_scope": "all"}),
                ("get_incident", {"incident_id": first.id}),
                ("list_oncalls", {"escalation_policy_ids": [first.escalation_policy_id]}),
                ("list_incident_notes", {"incident_id": first.id}),
            ],
        )
    )

    listed = {i["id"]: i for i in incidents["response"]}
    assert set(listed) == {first.id, second.id}
    assert listed[second.id]["status"] == "acknowledged"
    assert listed[first.id]["title"] == "OOMKilled: ads-demo-service"
    assert listed[first.id]["service"]["id"] == first.service_id
    assert incident["id"] == first.id and incident["title"] == first.title
    assert incident["incident_number"] == first.number
    assert incident["status"] == "triggered"
    assert [a["assignee"]["id"] for a in incident["assignments"]] == first.assignees

    assert first.service_id is not None
    expected = {
        (o.level, o.user_id) for o in pagerduty_client.oncalls_for_service(first.service_id)
    }
    got = {(o["escalation_level"], o["user"]["id"]) for o in oncalls["response"]}
    assert got == expected
    assert [n["content"] for n in notes["response"]] == [
        "ADS diagnosis: worker.c controller() line 26-27"
    ]
