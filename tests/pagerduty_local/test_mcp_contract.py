"""Contract with PagerDuty's official MCP server (``pagerduty-mcp`` 1.1.0): run with nothing but
the environment ``pagerduty-local serve`` prints, with its write tools on, every one of its
incident-response tools is called in one MCP session against the local server, read and write.

At least 95 % of them must succeed; ``EXPECTED_REFUSALS`` lists the others with PagerDuty's own
reason (the local account has what an incident-response account has, not shift-based "v3"
schedules, which those two tools write to). One tool of each family outside incident response
must get PagerDuty's "feature not available" answer (402 Payment Required), not a 404.

``pagerduty-mcp`` needs Python 3.12: a 3.12 virtualenv with it is made once (from pyenv or PATH)
in ``ADS_TEST_CACHE`` (default ``~/.cache/ads-tests``) and reused, so a re-run costs one MCP
session (a few seconds). Skipped, saying why, only where no Python 3.12 exists (a failure under
CI, like every skip).
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from pagerduty_local import LocalPagerDuty
from pagerduty_local.routes_unavailable import FAMILIES

CACHE = Path(os.environ.get("ADS_TEST_CACHE", Path.home() / ".cache" / "ads-tests"))
PAGERDUTY_MCP_VERSION = "1.1.0"  # the contract is with this release

# The tools of pagerduty-mcp 1.1.0 that are not expected to work here, with PagerDuty's reason.
EXPECTED_REFUSALS = {
    "create_schedule": "Payment Required: shift-based (v3) schedules are not on this account",
    "update_schedule": "Payment Required: shift-based (v3) schedules are not on this account",
}
# One tool per family outside incident response: each must get PagerDuty's 402. (Business
# services are checked over HTTP only: pagerduty-mcp's tool reads any answer as an empty list.)
OTHER_FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "alert grouping": ("list_alert_grouping_settings", {}),
    "event orchestration": ("list_event_orchestrations", {}),
    "status pages": ("list_status_pages", {}),
    "analytics": (
        "get_incident_metrics_all",
        {"created_at_start": "2026-11-01T00:00:00Z", "created_at_end": "2026-12-01T00:00:00Z"},
    ),
    "v3 schedules": ("list_schedule_v3_rotations", {"schedule_id": "PS00001"}),
    "incident workflows": ("list_incident_workflows", {}),
    "extension schemas": ("list_extension_schemas", {}),
}


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
        shutil.rmtree(venv, ignore_errors=True)  # no half-made venv mistaken for a good one
        pytest.fail(f"could not pip install pagerduty-mcp: {installed.stderr.strip()[-300:]}")
    return str(executable)


def printed_environment(server: LocalPagerDuty) -> dict[str, str]:
    """The variables of the ``export`` lines the server prints (what a user's shell holds after
    ``eval``), and nothing else but PATH and HOME."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    for line in server.shell_lines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            env[name] = value
    return env


Ctx = dict[str, Any]
Call = tuple[str, Callable[[Ctx], dict[str, Any]], Callable[[Ctx, Any], None] | None]


def _keep(key: str, path: Callable[[Any], Any]) -> Callable[[Ctx, Any], None]:
    def keep(ctx: Ctx, answer: Any) -> None:
        ctx[key] = path(answer)

    return keep


def incident_response_calls() -> list[Call]:
    """Every incident-response tool, in an order where each finds what it needs (ids kept in
    ``ctx`` from earlier answers)."""
    soon = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    return [
        ("get_user_data", lambda c: {}, _keep("me", lambda a: a["id"])),
        ("list_users", lambda c: {}, _keep("users", lambda a: [u["id"] for u in a["response"]])),
        ("list_services", lambda c: {}, _keep("service", lambda a: a["response"][0]["id"])),
        ("get_service", lambda c: {"service_id": c["service"]}, None),
        ("get_technical_service_dependencies", lambda c: {"service_id": c["service"]}, None),
        (
            "list_escalation_policies",
            lambda c: {},
            _keep("policy", lambda a: a["response"][0]["id"]),
        ),
        ("get_escalation_policy", lambda c: {"policy_id": c["policy"]}, None),
        ("list_teams", lambda c: {}, _keep("team", lambda a: a["response"][0]["id"])),
        ("get_team", lambda c: {"team_id": c["team"]}, None),
        ("list_team_members", lambda c: {"team_id": c["team"]}, None),
        (
            "list_schedules",
            lambda c: {"query_model": {}},
            _keep("schedule", lambda a: a["response"][0]["id"]),
        ),
        ("get_schedule", lambda c: {"schedule_id": c["schedule"]}, None),
        ("list_schedule_users", lambda c: {"schedule_id": c["schedule"]}, None),
        ("list_oncalls", lambda c: {"escalation_policy_ids": [c["policy"]]}, None),
        ("list_priorities", lambda c: {}, None),
        (
            "list_incidents",
            lambda c: {"request_scope": "all"},
            _keep("oom", lambda a: a["response"][0]["id"]),
        ),
        ("get_incident", lambda c: {"incident_id": c["oom"]}, None),
        (
            "list_alerts_from_incident",
            lambda c: {"incident_id": c["oom"]},
            _keep("alert", lambda a: a["response"][0]["id"]),
        ),
        (
            "get_alert_from_incident",
            lambda c: {"incident_id": c["oom"], "alert_id": c["alert"]},
            None,
        ),
        ("list_log_entries", lambda c: {}, _keep("entry", lambda a: a["response"][0]["id"])),
        ("get_log_entry", lambda c: {"log_entry_id": c["entry"]}, None),
        ("list_change_events", lambda c: {}, _keep("change", lambda a: a["response"][0]["id"])),
        ("get_change_event", lambda c: {"change_event_id": c["change"]}, None),
        ("list_service_change_events", lambda c: {"service_id": c["service"]}, None),
        ("list_incident_change_events", lambda c: {"incident_id": c["oom"]}, None),
        ("get_past_incidents", lambda c: {"incident_id": c["oom"], "query_model": {}}, None),
        ("get_related_incidents", lambda c: {"incident_id": c["oom"], "query_model": {}}, None),
        ("get_outlier_incident", lambda c: {"incident_id": c["oom"], "query_model": {}}, None),
        (
            "create_incident",
            lambda c: {
                "incident": {
                    "title": "Checkout latency",
                    "service": {"id": c["service"], "type": "service_reference"},
                    "urgency": "low",
                    "body": {"type": "incident_body", "details": "p99 4 s"},
                }
            },
            _keep("made", lambda a: a["id"]),
        ),
        ("add_note_to_incident", lambda c: {"incident_id": c["made"], "note": "looking"}, None),
        ("list_incident_notes", lambda c: {"incident_id": c["made"]}, None),
        (
            "add_responders",
            lambda c: {
                "incident_id": c["made"],
                "request": {
                    "message": "join?",
                    "responder_request_targets": [
                        {
                            "responder_request_target": {
                                "id": c["users"][-1],
                                "type": "user_reference",
                            }
                        }
                    ],
                },
            },
            None,
        ),
        (
            "manage_incidents",
            lambda c: {"manage_request": {"incident_ids": [c["made"]], "urgency": "high"}},
            None,
        ),
        (
            "manage_incidents",
            lambda c: {
                "manage_request": {
                    "incident_ids": [c["made"]],
                    "assignement": {"id": c["users"][-1]},
                }
            },
            None,
        ),
        (
            "manage_incidents",
            lambda c: {"manage_request": {"incident_ids": [c["made"]], "escalation_level": 2}},
            None,
        ),
        (
            "manage_incidents",
            lambda c: {"manage_request": {"incident_ids": [c["made"]], "status": "acknowledged"}},
            None,
        ),
        (
            "manage_incidents",
            lambda c: {"manage_request": {"incident_ids": [c["made"]], "status": "resolved"}},
            None,
        ),
        (
            "create_team",
            lambda c: {"create_model": {"team": {"name": "Payments", "description": "pay"}}},
            _keep("new_team", lambda a: a["id"]),
        ),
        (
            "update_team",
            lambda c: {
                "team_id": c["new_team"],
                "update_model": {"team": {"name": "Payments SRE"}},
            },
            None,
        ),
        (
            "add_team_member",
            lambda c: {
                "team_id": c["new_team"],
                "member_data": {"user_id": c["me"], "role": "responder"},
            },
            None,
        ),
        ("remove_team_member", lambda c: {"team_id": c["new_team"], "user_id": c["me"]}, None),
        ("delete_team", lambda c: {"team_id": c["new_team"]}, None),
        (
            "create_service",
            lambda c: {
                "service_data": {
                    "service": {
                        "name": "checkout",
                        "escalation_policy": {
                            "id": c["policy"],
                            "type": "escalation_policy_reference",
                        },
                    }
                }
            },
            _keep("new_service", lambda a: a["id"]),
        ),
        (
            "update_service",
            lambda c: {
                "service_id": c["new_service"],
                "service_data": {
                    "service": {
                        "name": "checkout-api",
                        "escalation_policy": {
                            "id": c["policy"],
                            "type": "escalation_policy_reference",
                        },
                    }
                },
            },
            None,
        ),
        (
            "create_user",
            lambda c: {"request": {"name": "Dana Ops", "email": "dana@example.com"}},
            None,
        ),
        (
            "create_schedule_override",
            lambda c: {
                "schedule_id": c["schedule"],
                "override_request": {
                    "overrides": [
                        {
                            "start": soon.isoformat(),
                            "end": (soon + timedelta(hours=2)).isoformat(),
                            "user_id": c["me"],
                        }
                    ]
                },
            },
            None,
        ),
        (
            "create_schedule",
            lambda c: {"schedule_data": {"name": "Weekend", "time_zone": "UTC"}},
            None,
        ),
        (
            "update_schedule",
            lambda c: {"schedule_id": c["schedule"], "schedule_data": {"name": "Primary"}},
            None,
        ),
        (
            "create_webhook_subscription",
            lambda c: {
                "webhook_data": {
                    "delivery_method": {"url": "https://hooks.example.com/pd"},
                    "events": ["incident.triggered"],
                    "filter": {"type": "account_reference"},
                }
            },
            _keep("hook", lambda a: a["id"]),
        ),
        ("list_webhook_subscriptions", lambda c: {}, None),
        ("get_webhook_subscription", lambda c: {"subscription_id": c["hook"]}, None),
        (
            "update_webhook_subscription",
            lambda c: {
                "subscription_id": c["hook"],
                "webhook_data": {"description": "paging bridge", "active": False},
            },
            None,
        ),
        ("delete_webhook_subscription", lambda c: {"subscription_id": c["hook"]}, None),
    ]


def _text(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


def _answer(result: Any) -> Any:
    structured = getattr(result, "structured_content", None)
    if structured is None:
        text = _text(result)
        try:
            structured = json.loads(text)
        except ValueError:
            return text
    return structured.get("result", structured) if isinstance(structured, dict) else structured


async def _session(
    command: str, env: dict[str, str], calls: list[Call], others: dict[str, tuple[str, Any]]
) -> tuple[list[str], dict[str, str], set[str], dict[str, str]]:
    """(tools called, {tool: error} for those that failed, the tools the server offers,
    {family: answer} for the other families)."""
    params = StdioServerParameters(command=command, args=["--enable-write-tools"], env=env)
    ctx: Ctx = {}
    called: list[str] = []
    failed: dict[str, str] = {}
    other_answers: dict[str, str] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        offered = {tool.name for tool in (await session.list_tools()).tools}
        for name, arguments, keep in calls:
            called.append(name)
            try:
                result = await session.call_tool(name, arguments(ctx))
            except KeyError as exc:  # an earlier tool that should have made the id failed
                failed[name] = f"needs {exc} from an earlier tool"
                continue
            if result.is_error:
                failed[name] = _text(result)[:300]
            elif keep is not None:
                keep(ctx, _answer(result))
        for family, (name, arguments) in others.items():
            result = await session.call_tool(name, arguments)
            other_answers[family] = ("error: " if result.is_error else "ok: ") + _text(result)
    return called, failed, offered, other_answers


def _seed_incident(server: LocalPagerDuty) -> None:
    """An OOM kill paged through Events API v2 (with a link and an image) and a deploy's change
    event, as ADS's monitors send them."""
    key = server.routing_key("ads-demo-service")
    with httpx2.Client(base_url=server.events_url, verify=server.ssl_context()) as http:
        http.post(
            "/v2/change/enqueue",
            json={
                "routing_key": key,
                "payload": {"summary": "deploy 3f2a1c", "source": "make deploy"},
            },
        ).raise_for_status()
        http.post("/v2/enqueue", json={
            "routing_key": key, "event_action": "trigger",
            "dedup_key": "oomkilled/default/ads-demo-service/worker",
            "links": [{"href": "https://grafana.example.com/d/1", "text": "memory"}],
            "images": [{"src": "https://grafana.example.com/m.png", "alt": "memory graph"}],
            "payload": {"summary": "OOMKilled: ads-demo-service", "source": "worker",
                        "severity": "critical"},
        }).raise_for_status()  # fmt: skip


@pytest.mark.timeout(600)
def test_pagerduty_mcp_incident_response_tools_work_with_only_the_printed_environment(
    pagerduty_mcp_command: str, local_pagerduty: LocalPagerDuty
) -> None:
    _seed_incident(local_pagerduty)
    calls = incident_response_calls()
    called, failed, offered, others = asyncio.run(
        _session(pagerduty_mcp_command, printed_environment(local_pagerduty), calls, OTHER_FAMILIES)
    )

    tools = set(called)
    assert tools <= offered, tools - offered  # the names are pagerduty-mcp's own
    unexpected = {name: why for name, why in failed.items() if name not in EXPECTED_REFUSALS}
    assert unexpected == {}
    succeeded = len(tools - set(failed))
    assert succeeded / len(tools) >= 0.95, (succeeded, len(tools), failed)
    for name in set(failed) & set(EXPECTED_REFUSALS):
        assert "402" in failed[name] or "Payment Required" in failed[name], failed[name]
    for family, answer in others.items():
        assert "402" in answer or "Payment Required" in answer, (family, answer)
        assert "404" not in answer, (family, answer)

    # What the write tools did is what the server holds now.
    with httpx2.Client(
        base_url=local_pagerduty.api_url,
        verify=local_pagerduty.ssl_context(),
        headers={"Authorization": f"Token token={local_pagerduty.token}"},
    ) as http:
        incidents = http.get("/incidents", params={"statuses[]": "resolved"}).json()["incidents"]
        (made,) = [i for i in incidents if i["title"] == "Checkout latency"]
        notes = http.get(f"/incidents/{made['id']}/notes").json()["notes"]
        services = {s["name"] for s in http.get("/services").json()["services"]}
        users = {u["email"] for u in http.get("/users").json()["users"]}
        hooks = http.get("/webhook_subscriptions").json()["webhook_subscriptions"]
        key = "oomkilled/default/ads-demo-service/worker"
        paged = http.get("/incidents", params={"incident_key": key}).json()["incidents"]
        unavailable = {prefix: http.get(prefix) for prefix in FAMILIES}
    assert made["urgency"] == "high" and made["status"] == "resolved"
    assert [n["content"] for n in notes] == ["looking"]
    assert "checkout-api" in services and "dana@example.com" in users
    assert all(h["delivery_method"]["url"] != "https://hooks.example.com/pd" for h in hooks)
    assert paged[0]["status"] == "triggered"
    for prefix, answer in unavailable.items():
        assert answer.status_code == 402, prefix
        assert answer.json()["error"]["message"] == "Payment Required", prefix
