"""Diagnosis end to end: a real OOM kill → local PagerDuty incident → root cause with evidence."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ads.config import ServiceConfig, load_settings
from ads.errors import AnalysisError, RepositoryError, UnknownServiceError
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.models import Alert, Confidence, FindingKind, Incident
from ads.sources.monitors import LocalRuntime, MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from ads.sources.repository import GitRepository
from ads.workflow import Context, analyse, diagnose
from pagerduty_local import LocalPagerDuty
from tests.fixtures.cli import Ran, run_ads
from tests.fixtures.history import LeakHistory
from tests.fixtures.pagerduty import page_oom
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

MiB = 1024 * 1024


@pytest.mark.cgroup
def test_demo_incident_is_diagnosed_as_the_brief_expects(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    limiter = cgroup_limiter
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    settings = load_settings(repo / "ads.yaml")
    service = settings.service("ads-demo-service")
    run = LocalRuntime(service, repo, limiter=limiter).run(max_kills=1, duration=30)
    (kill,) = run.events
    incident = page_oom(local_pagerduty, pagerduty_client, kill)
    ctx = Context(settings=settings, pagerduty_factory=lambda: pagerduty_client)

    diagnosis = diagnose(ctx, incident.id)

    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line, top.end_line) == ("worker.c", "controller", 26, 27)
    assert top.issue == "memory allocation without corresponding free"
    assert top.kind is FindingKind.LOOP_LEAK
    assert diagnosis.impact and diagnosis.impact.startswith(
        "continuous memory growth until OOMKilled"
    )
    assert top.confidence is Confidence.HIGH
    observed = kill.seconds_to_kill
    assert observed is not None and diagnosis.predicted_seconds_to_oom is not None
    assert observed / 2 <= diagnosis.predicted_seconds_to_oom <= observed * 2
    assert top.introduced_by is not None
    assert top.introduced_by.subject == "Reuse payload buffer across iterations"
    assert [o.level for o in diagnosis.oncall][:1] == [1] and diagnosis.oncall[0].github
    assert ctx.store.diagnosis(incident.id) == diagnosis


def saved_incident(history: LeakHistory, **details: object) -> Incident:
    return Incident(
        id="PSAVED1",
        number=42,
        title="ads-demo-service OOMKilled (64Mi limit, 3 restarts)",
        status="triggered",
        service_name="ads-demo-service",
        created_at=history.incident_at,
        alerts=[
            Alert(
                id="A1",
                summary="ads-demo-service OOMKilled",
                custom_details={
                    "reason": "OOMKilled",
                    "exit_code": 137,
                    "memory_limit": "64Mi",
                    "seconds_to_kill": 1.8,
                    **details,
                },
            )
        ],
    )


def test_history_names_the_introducing_commit_and_the_limit_change(
    leak_history_repo: LeakHistory,
) -> None:
    history = leak_history_repo
    service = ServiceConfig(name="ads-demo-service", sources=["worker.c"])
    diagnosis = analyse(saved_incident(history), service, GitRepository(history.path))

    top = diagnosis.findings[0]
    assert top.introduced_by is not None
    assert top.introduced_by.sha == history.shas["removes_free"]
    assert top.introduced_by.before_incident_seconds == pytest.approx(6 * 3600, abs=60)
    assert "Riley" in top.introduced_by.author
    assert any(history.shas["removes_free"][:7] in reason for reason in top.reasons)
    lowered = [c for c in diagnosis.changes if c.sha == history.shas["lowers_limit"]]
    assert lowered and (lowered[0].memory_limit_from, lowered[0].memory_limit_to) == (
        "128Mi",
        "64Mi",
    )
    assert lowered[0].role is not None and "contribut" in lowered[0].role.value


def test_gcc_is_not_asked_when_its_agreement_could_not_change_the_cause(
    leak_history_repo: LeakHistory,
) -> None:
    service = ServiceConfig(name="ads-demo-service", sources=["worker.c"])
    repo = GitRepository(leak_history_repo.path)

    diagnosis = analyse(saved_incident(leak_history_repo), service, repo)  # gcc allowed

    top = diagnosis.findings[0]
    assert (top.function, top.line, top.confidence) == ("controller", 26, Confidence.HIGH)
    assert not any(e.startswith("corroborated") for e in top.evidence)
    assert any(n.startswith("gcc -fanalyzer not run") for n in diagnosis.notes)


def test_incident_without_oom_signal_says_what_it_cannot_conclude(
    leak_history_repo: LeakHistory,
) -> None:
    incident = saved_incident(leak_history_repo).model_copy(
        update={"title": "ads-demo-service latency high", "alerts": []}
    )
    diagnosis = analyse(incident, ServiceConfig(name="svc"), GitRepository(leak_history_repo.path))
    assert diagnosis.confidence is Confidence.LOW
    assert any("no OOM signal" in note for note in diagnosis.notes)


def test_bad_inputs_are_clear_errors(tmp_path: Path, leak_history_repo: LeakHistory) -> None:
    with pytest.raises(RepositoryError, match="does not exist"):
        GitRepository(tmp_path / "missing")
    with pytest.raises(RepositoryError, match="not a git repository"):
        GitRepository(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    with pytest.raises(RepositoryError, match="no commits yet"):
        analyse(saved_incident(leak_history_repo), ServiceConfig(name="s"), GitRepository(empty))
    (empty / "notes.txt").write_text("no C here")
    subprocess.run(["git", "-C", str(empty), "add", "-A"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(empty),
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@x",
            "commit",
            "-qm",
            "n",
        ],
        check=True,
    )
    with pytest.raises(AnalysisError, match="no source files"):
        analyse(saved_incident(leak_history_repo), ServiceConfig(name="s"), GitRepository(empty))
    demo = load_settings(Path(__file__).parents[2] / "examples/ads-demo-service/ads.yaml")
    with pytest.raises(UnknownServiceError, match="ads-demo-service"):
        demo.service_for_pagerduty("billing-api")


def ads(*args: str) -> Ran:
    """``ads *args``, in-process (``tests.fixtures.cli``)."""
    return run_ads(*args, cwd=Path.cwd())


def test_offline_analyze_needs_no_config(tmp_path: Path, leak_history_repo: LeakHistory) -> None:
    incident = {
        "incident": {
            "id": "PSAVED1",
            "type": "incident",
            "incident_number": 42,
            "title": "ads-demo-service OOMKilled (64Mi limit, 3 restarts)",
            "status": "triggered",
            "created_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "service": {"id": "PSVC", "type": "service_reference", "summary": "ads-demo-service"},
        },
        "alerts": [
            {
                "id": "A1",
                "type": "alert",
                "summary": "ads-demo-service OOMKilled",
                "body": {"details": {"reason": "OOMKilled", "exit_code": 137,
                                     "memory_limit": "64Mi", "seconds_to_kill": 1.8}},
            }
        ],
    }  # fmt: skip
    path = tmp_path / "incident.json"
    path.write_text(json.dumps(incident))
    proc = ads("analyze", "--incident", str(path), "--repo", str(leak_history_repo.path),
               "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    top = result["findings"][0]
    assert (top["file"], top["function"], top["line"]) == ("worker.c", "controller", 26)

    markdown = ads("analyze", "--incident", str(path), "--repo", str(leak_history_repo.path),
                   "--format", "markdown")  # fmt: skip
    assert "- **File**: `worker.c`" in markdown.stdout
    assert "- **Line**: 26-27" in markdown.stdout

    (tmp_path / "bad.json").write_bytes(b"\xff\xfe not json")
    bad = ads("analyze", "--incident", str(tmp_path / "bad.json"), "--repo", str(tmp_path))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "not a JSON document" in bad.stderr
    missing = ads("analyze", "--incident", str(path), "--repo", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_the_build_named_in_the_alerts_is_analysed_not_a_later_head(
    leak_history_repo: LeakHistory,
) -> None:
    repo = leak_history_repo.path
    deployed = GitRepository(repo).head_sha()
    worker = repo / "worker.c"  # work lands after the deploy: every line moves down by two
    worker.write_text("/* moved */\n/* down */\n" + worker.read_text())
    who = ["-c", "user.name=T", "-c", "user.email=t@x"]
    subprocess.run(["git", "-C", str(repo), *who, "commit", "-qam", "later work"], check=True)
    incident = saved_incident(leak_history_repo, git_sha=deployed)
    service = ServiceConfig(name="ads-demo-service", sources=["worker.c"])

    diagnosis = analyse(incident, service, GitRepository(repo), corroborate=False)

    assert diagnosis.revision == deployed
    assert (diagnosis.findings[0].line, diagnosis.findings[0].end_line) == (26, 27)
    head_only = analyse(saved_incident(leak_history_repo), service, GitRepository(repo),
                        corroborate=False)  # fmt: skip
    assert head_only.findings[0].line == 28 and head_only.revision != deployed


#: a service with a leak to diagnose, beside the files the parser cannot read
LEAKING_SERVER = """\
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    for (;;) {
        char *buf = malloc(4096);
        buf[0] = 0;
        usleep(1000);
    }
}
"""
UNREADABLE = "int f{n}(void) {{ return DECLARE_POOL(struct item, 64) }}\n"


def _parse_notes(tmp_path: Path, broken: int) -> list[str]:
    files = {f"src/part{n}.c": UNREADABLE.format(n=n) for n in range(broken)}
    files["src/server.c"] = LEAKING_SERVER
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", files, hours=72)])
    diagnosis = diagnose_tiny(repo)
    assert diagnosis.findings[0].function == "main", diagnosis.findings
    return [n for n in diagnosis.notes if n.startswith("did not fully parse")]


def test_many_files_the_parser_cannot_read_are_one_note_with_their_count(tmp_path: Path) -> None:
    notes = _parse_notes(tmp_path, 7)
    assert len(notes) == 1, notes
    assert notes[0].startswith("did not fully parse: 7 of 8 files"), notes
    assert "src/part0.c" in notes[0] and "src/part6.c" not in notes[0], notes


def test_a_few_files_the_parser_cannot_read_are_each_named(tmp_path: Path) -> None:
    notes = _parse_notes(tmp_path, 2)
    assert [n.split(": ")[1] for n in notes] == ["src/part0.c", "src/part1.c"], notes
