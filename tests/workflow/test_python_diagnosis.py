"""Diagnosing a Python service through the workflow: real git histories, the same ranking,
history attribution and confidence rules as C."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ads.config import ServiceConfig, load_settings
from ads.interfaces.demo_workspace import create_python_demo_workspace
from ads.models import Alert, Confidence, Incident
from ads.sources.monitors import MemoryLimiter
from ads.sources.repository import GitRepository
from ads.workflow.bisect import bisect
from ads.workflow.diagnose import analyse

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

BOUNDED = """\
from flask import Flask, request

app = Flask(__name__)
SESSIONS: dict[str, bytes] = {}
SEEN: list[str] = []


@app.post("/login")
def login():
    session_id = request.headers["X-Session"]
    SESSIONS[session_id] = request.get_data()
    if len(SESSIONS) > 500:
        del SESSIONS[next(iter(SESSIONS))]
    return {"ok": True}


@app.get("/ping")
def ping():
    SEEN.append(request.remote_addr)
    return {"pong": True}
"""


def _git(repo: Path, *args: str, when: datetime, who: str = "Ana Author") -> str:
    env = {
        "GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": "a@example.com",
        "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": "a@example.com",
        "GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat(),
        "PATH": "/usr/bin:/bin", "HOME": str(repo),
    }  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _incident(service: str, at: datetime) -> Incident:
    details = {"reason": "OOMKilled", "exit_code": 137, "memory_limit": "64Mi"}
    return Incident(
        id="PY1", number=7, title=f"{service} OOMKilled", status="triggered",
        service_name=service, created_at=at,
        alerts=[Alert(id="A1", summary=f"{service} OOMKilled", custom_details=details)],
    )  # fmt: skip


def test_the_commit_that_deleted_the_eviction_is_top_1_and_attributed(tmp_path: Path) -> None:
    repo = tmp_path / "auth-service"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main", when=NOW)
    (repo / "app.py").write_text(BOUNDED)
    _git(repo, "add", "-A", when=NOW - timedelta(days=30))
    _git(repo, "commit", "-qm", "Login sessions", when=NOW - timedelta(days=30))
    (repo / "app.py").write_text(
        BOUNDED.replace(
            "    if len(SESSIONS) > 500:\n        del SESSIONS[next(iter(SESSIONS))]\n", ""
        )
    )
    _git(repo, "commit", "-qam", "Simplify login", when=NOW - timedelta(hours=3), who="Bo Bug")
    sha = _git(repo, "rev-parse", "HEAD", when=NOW)

    diagnosis = analyse(_incident("auth", NOW), ServiceConfig(name="auth"), GitRepository(repo))

    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line, top.variable) == ("app.py", "login", 11, "SESSIONS")
    assert top.introduced_by is not None and top.introduced_by.sha == sha
    assert top.confidence is Confidence.HIGH
    assert any("removed del SESSIONS[next(iter(SESSIONS))]" in n
               for n in top.introduced_by.notes)  # fmt: skip
    # the pre-existing growth (older than the window) is listed below it, with no commit
    other = [f for f in diagnosis.findings if f.variable == "SEEN"]
    assert other and other[0].introduced_by is None
    assert (
        diagnosis.changes[0].sha == sha and diagnosis.changes[0].role.value == "introduced the leak"
    )


def test_the_python_demo_diagnosis_names_file_function_line_and_commit(tmp_path: Path) -> None:
    repo = create_python_demo_workspace(tmp_path / "py-pages-service", now=NOW)
    service = ServiceConfig(name="py-pages-service", sources=["pages"])
    diagnosis = analyse(_incident("py-pages-service", NOW), service, GitRepository(repo))
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line) == ("pages/worker.py", "render_page", 28)
    assert top.introduced_by is not None
    assert top.introduced_by.subject == "Keep rendered pages cached: stop evicting hot pages"
    assert top.confidence is Confidence.HIGH
    assert diagnosis.impact and "512.0 KiB per iteration" in diagnosis.impact
    assert not any("gcc" in note for note in diagnosis.notes)  # no C analyser for Python


@pytest.mark.cgroup
def test_bisection_finds_the_commit_that_removed_the_eviction(
    tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    """``ads bisect`` works unchanged for a Python service: by reproduction alone (each build
    run under 64Mi), the first OOM-killed commit is the one the static diagnosis names."""
    repo = create_python_demo_workspace(tmp_path / "py-pages-service", now=NOW)
    service = load_settings(repo / "ads.yaml").service("py-pages-service")
    first = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    result = bisect(
        repo, service, first, "HEAD", seconds=5.0, threshold=40 * 2**20, limiter=cgroup_limiter
    )
    assert result.first_bad_subject == "Keep rendered pages cached: stop evicting hot pages"
    verdicts = {run.sha: run.verdict for run in result.runs}
    assert verdicts[result.first_bad or ""] == "bad"
    assert verdicts.get(first, "good") == "good"  # the bounded cache stays under the limit
