"""Hostile input at the command line: one line on stderr, no traceback, a non-zero exit.

Issue 12's points 8 and 5: ports out of range, a 100 KB incident id, a deeply nested incident
file, and deeply nested C through ``ads analyze`` (a diagnosis or an "uncertain" note, never a
``RecursionError``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ads.interfaces.demo_workspace import create_demo_workspace
from pagerduty_local import LocalPagerDuty
from tests.fixtures.cli import Ran, run_ads
from tests.interfaces.test_cli import assert_one_line_error


def ads(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Ran:
    """``ads *args`` in ``cwd`` with ``env`` added, in-process (``tests.fixtures.cli``)."""
    return run_ads(*args, cwd=cwd, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    "command",
    [
        ("serve", "--port", "99999"),
        ("serve", "--port", "-1"),
        ("pagerduty", "serve", "--port", "99999"),
        ("pagerduty", "serve", "--port", "-1"),
        ("mcp", "--transport", "streamable-http", "--port", "70000"),
    ],
    ids=" ".join,
)
def test_ports_out_of_range_are_usage_errors(tmp_path: Path, command: tuple[str, ...]) -> None:
    proc = ads(*command, cwd=tmp_path, env={"ADS_WEBHOOK_SECRETS": "s"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "is not in the range 0<=x<=65535" in proc.stderr


def _pagerduty_env(server: LocalPagerDuty) -> dict[str, str]:
    return {
        "PAGERDUTY_API_TOKEN": server.token,
        "PAGERDUTY_API_HOST": server.api_url,
        "ADS_PAGERDUTY_CA": str(server.ca_file),
    }


@pytest.mark.parametrize("command", ["analyze", "remediate", "report"])
def test_a_100kb_incident_id_is_one_line(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, command: str
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    proc = ads(
        command, "Q" * 100_000, "--config", str(repo / "ads.yaml"),
        cwd=tmp_path, env=_pagerduty_env(local_pagerduty),
    )  # fmt: skip
    assert_one_line_error(proc, "not a PagerDuty incident id")
    assert len(proc.stderr) < 500, "the id is not echoed whole"


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_incident_file_is_one_line(tmp_path: Path, depth: int) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    incident = tmp_path / "incident.json"
    incident.write_text('{"incident": {"id": "Q1", "created_at": "2026-11-25T04:00:00Z", "x": '
                        + _nested(depth) + "}}")  # fmt: skip
    proc = ads("analyze", "--incident", str(incident), "--repo", str(repo), cwd=tmp_path)
    assert_one_line_error(proc, "nested deeper than 64 levels")


def _deep_c() -> str:
    """Issue 12 point 5: a 400-branch else-if chain, 200 nested loops, 400 nested blocks, with
    a leak in the innermost loop body."""
    chain = "    if (n == 0) { n++; }\n" + "".join(
        f"    else if (n == {i}) {{ n += {i}; }}\n" for i in range(1, 400)
    )
    loops = "".join(f"for (int i{i} = 0; i{i} < 2; i{i}++) {{\n" for i in range(200))
    blocks = "{\n" * 400
    body = "char *leak = malloc(1024 * 1024); leak[0] = (char)n;\n"
    return (
        "#include <stdlib.h>\n\n"
        "int churn(int n) {\n" + chain + "    return n;\n}\n\n"
        "void controller(void) {\n    int n = 0;\n    while (1) {\n"
        + loops
        + blocks
        + body
        + "}\n" * 400
        + "}\n" * 200
        + "        n = churn(n);\n    }\n}\n\n"
        "int main(void) { controller(); return 0; }\n"
    )


def test_deeply_nested_c_gives_a_diagnosis_not_a_traceback(tmp_path: Path) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    (repo / "worker.c").write_text(_deep_c())
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "deeply nested worker"], check=True)
    incident = tmp_path / "incident.json"
    incident.write_text(
        json.dumps(
            {
                "incident": {
                    "id": "Q1DEEP",
                    "number": 1,
                    "title": "OOMKilled: ads-demo-service",
                    "status": "triggered",
                    "created_at": "2026-11-25T04:00:00Z",
                    "service": {"id": "PSVC", "summary": "ads-demo-service"},
                }
            }
        )
    )
    proc = ads(
        "analyze", "--incident", str(incident), "--repo", str(repo), "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr, proc.stderr
    if proc.returncode == 0:
        report = json.loads(proc.stdout)
        told = report["findings"] or any("uncertain" in n.lower() for n in report["notes"])
        assert told, report
    else:
        assert_one_line_error(proc, "")
