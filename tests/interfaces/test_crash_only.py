"""``ads serve`` is crash-only: ``kill -9`` in any stage, restart, and the job completes once.

Real processes throughout: ``ads serve`` is a subprocess on the real local PagerDuty, the
service is built and run in real memory cgroups, the fix branch is pushed to a real bare git
repository, and the PR goes to the recorded-GitHub double over loopback (reached through
``GITHUB_API_URL``; the remote's fetch URL names github.com, its push URL the bare repository).

How the kill lands in a chosen stage: the worker's fault-injection seam ``ADS_TEST_CRASH_AT``
(``ads.interfaces.serve_app``) SIGKILLs ``ads serve`` right after a stage's work and before its
checkpoint — the moment a naive resume would repeat a side effect — or while the service runs
in its cgroup during verification. Each test kills one serve per stage of a chain and restarts
it, so one verification's cost covers several stages; two chains keep each within the job's
attempt bound (5). The service is the demo's worker made quiet (no stdout), so a run that
outlives ADS (where the sandbox's ``--die-with-parent`` is unavailable) does not die of SIGPIPE
but stays, as a real service would, until reclaimed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from ads.interfaces.demo_workspace import DEMO_SOURCE, create_demo_workspace
from ads.interfaces.http_server import free_port
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty
from tests.fixtures.github import GitHubDouble
from tests.fixtures.pagerduty import demo_kill, page_oom

GITHUB_REMOTE = "https://github.com/acme/ads-demo-service.git"
WRITE_TOKEN = "ghp_writeTOKENforADS0000000000000000"
BRANCH = "ads/incident-1-fix-memory-leak"


def quiet_demo_source(target: Path) -> Path:
    """The demo service with its prints blanked out (same line numbers, same leak)."""
    shutil.copytree(DEMO_SOURCE, target, ignore=shutil.ignore_patterns("build", ".ads"))
    worker = target / "worker.c"
    quiet = re.sub(
        r"\b(?:f?printf|fflush)\([^;]*\);",
        lambda call: ";" + "\n" * call.group(0).count("\n"),
        worker.read_text(),
    )
    worker.write_text(quiet)
    return target


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Setup:
    repo: Path
    bare: Path
    port: int
    secret: str
    pagerduty: LocalPagerDuty
    github: GitHubDouble
    logs: Path
    pids: list[int] = field(default_factory=list)
    # one client for every poll: each new one would load the CA bundle again
    http: httpx2.Client = field(default_factory=httpx2.Client)

    def start(
        self, crash_at: str | None = None, *, retry_seconds: float = 0.1
    ) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "PAGERDUTY_API_TOKEN": self.pagerduty.token,
            "PAGERDUTY_API_HOST": self.pagerduty.api_url,
            "ADS_PAGERDUTY_CA": str(self.pagerduty.ca_file),
            "ADS_WEBHOOK_SECRETS": self.secret,
            "GITHUB_TOKEN": WRITE_TOKEN,
            "GITHUB_API_URL": self.github.base_url,
        }
        env.pop("ADS_TEST_CRASH_AT", None)
        if crash_at:
            env["ADS_TEST_CRASH_AT"] = crash_at
        log = (self.logs / f"serve-{len(self.pids)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "ads", "serve", "--config", str(self.repo / "ads.yaml"),
             "--port", str(self.port), "--lease-seconds", "60",
             "--retry-seconds", str(retry_seconds)],
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.pids.append(proc.pid)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if self.http.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    return proc
            except httpx2.HTTPError:
                time.sleep(0.1)
        if proc.poll() is None:
            return proc  # still starting up: the caller waits on what it needs
        raise AssertionError(f"ads serve exited at start: {self.log_text(len(self.pids) - 1)}")

    def log_text(self, index: int) -> str:
        return (self.logs / f"serve-{index}.log").read_text()

    def events(self, index: int) -> list[dict[str, object]]:
        found = []
        for line in self.log_text(index).splitlines():
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict) and "event" in body:
                found.append(body)
        return found

    def job(self) -> dict[str, object]:
        (job,) = self.http.get(f"http://127.0.0.1:{self.port}/jobs").json()["jobs"]
        return dict(job)

    def job_ended(self) -> bool:
        """The one job is done or failed (none yet while the webhook is still on its way)."""
        jobs = self.http.get(f"http://127.0.0.1:{self.port}/jobs").json()["jobs"]
        return len(jobs) == 1 and jobs[0]["status"] in ("done", "failed")


@pytest.fixture
def setup(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    github_double: GitHubDouble,
    cgroup_limiter: MemoryLimiter,
) -> Iterator[Setup]:
    source = quiet_demo_source(tmp_path / "source")
    repo = create_demo_workspace(tmp_path / "ads-demo-service", source=source)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", GITHUB_REMOTE)
    git(repo, "config", f"url.{bare}.pushInsteadOf", GITHUB_REMOTE)
    port = free_port()
    _, secret = local_pagerduty.add_webhook_subscription(
        f"http://127.0.0.1:{port}/webhooks/pagerduty", events=["incident.triggered"]
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    made = Setup(repo, bare, port, secret, local_pagerduty, github_double, logs)
    try:
        yield made
    finally:
        made.http.close()


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def leftovers_of(pid: int, limiter: MemoryLimiter) -> tuple[list[Path], list[int], list[Path]]:
    """The cgroups (with the processes in them) and temporary directories ``pid`` made."""
    assert limiter.parent is not None
    cgroups = sorted(p for p in limiter.parent.iterdir() if f"-o{pid}x" in p.name)
    processes = [int(p) for c in cgroups for p in (c / "cgroup.procs").read_text().split()]
    scratch = sorted(Path("/tmp").glob(f"ads-*-o{pid}x*"))
    return cgroups, processes, scratch


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def ads_notes(client: PagerDuty) -> list[str]:
    (incident,) = client.list_incidents()
    return [n.content for n in client.list_notes(incident.id) if n.content.startswith("[ADS")]


CHAINS = {
    "diagnose, verify-before, verify-after": ["diagnose", "verify-before", "verify-after"],
    "branch, push, PR, note": ["branch", "push", "pull request", "note"],
}


@pytest.mark.slow
@pytest.mark.cgroup
@pytest.mark.parametrize("chain", list(CHAINS))
def test_kill_9_in_each_stage_then_restart_completes_the_job_exactly_once(
    chain: str,
    setup: Setup,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    points = CHAINS[chain]
    left: dict[str, tuple[list[Path], list[int], list[Path]]] = {}
    for index, point in enumerate(points):
        serve = setup.start(crash_at=point)
        if index == 0:
            page_oom(setup.pagerduty, pagerduty_client, demo_kill())
        try:
            serve.wait(timeout=120)
        finally:
            if serve.poll() is None:
                serve.kill()
        assert serve.returncode == -signal.SIGKILL, setup.log_text(index)
        assert any(e["event"] == "crash.injected" and e["point"] == point
                   for e in setup.events(index)), setup.log_text(index)  # fmt: skip
        left[point] = leftovers_of(serve.pid, cgroup_limiter)
    if "verify-after" in left:  # the kill really left something behind to reclaim (its
        cgroups, _, scratch = left["verify-after"]  # processes die with ADS in the sandbox)
        assert cgroups
        assert len([d for d in scratch if d.name.startswith("ads-worktree-")]) == 2

    serve = setup.start()
    try:
        assert wait_for(setup.job_ended, 120), setup.log_text(-1)
        job = setup.job()
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    final = setup.events(len(points))
    assert job["status"] == "done" and job["error"] is None, job["error"]
    assert job["attempts"] == len(points) + 1
    # the abandoned job was taken up at once (its owner is dead), not after the 60 s lease
    assert any(e["event"] == "job.released" for e in final)
    resumed = {e["stage"] for e in final if e["event"] == "stage.resumed"}
    assert "diagnose" in resumed
    if chain.startswith("branch"):
        assert {"verification", "branch"} <= resumed  # the costly stages were not repeated

    notes = ads_notes(pagerduty_client)
    assert len(notes) == 1 and notes[0].startswith("[ADS diagnosis]"), notes
    assert f"Pull request: https://github.com/{setup.github.repo}/pull/1" in notes[0]
    assert git(setup.repo, "branch", "--list", "ads/*fix*").split() == [BRANCH]
    assert git(setup.bare, "branch", "--list").split() == [BRANCH]
    assert [(p.head, p.state) for p in setup.github.pulls] == [(BRANCH, "open")]

    assert git(setup.repo, "worktree", "list").count("\n") == 0  # the main checkout only
    for pid in setup.pids:
        cgroups, processes, scratch = leftovers_of(pid, cgroup_limiter)
        assert (cgroups, processes, scratch) == ([], [], []), pid
    for _, processes, _ in left.values():
        assert not [p for p in processes if is_running(p)]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.cgroup
def test_push_to_an_unreachable_remote_is_retried_and_the_note_names_the_local_branch(
    setup: Setup, pagerduty_client: PagerDuty
) -> None:
    git(setup.repo, "remote", "set-url", "origin",
        f"http://127.0.0.1:{closed_port()}/acme/ads-demo-service.git")  # fmt: skip
    serve = setup.start(retry_seconds=0.2)
    try:
        page_oom(setup.pagerduty, pagerduty_client, demo_kill())
        assert wait_for(setup.job_ended, 120), setup.log_text(0)
        job = setup.job()
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    events = setup.events(0)
    retries = [e for e in events if e["event"] == "job.retry"]
    assert len(retries) == 4, setup.log_text(0)
    assert all("failed to connect" in str(e["error"]).lower()
                                     for e in retries)  # fmt: skip
    assert job["status"] == "failed" and str(job["error"]).startswith("gave up after 5 attempts")
    resumed = [e["stage"] for e in events if e["event"] == "stage.resumed"]
    assert resumed.count("verification") == 4  # each retry resumed at the push

    (note,) = ads_notes(pagerduty_client)
    assert note.startswith("[ADS diagnosis]")
    assert f"Branch: {BRANCH} (local" in note and "Not finished: push of" in note
    assert "Fix verification: verified" in note
    assert git(setup.repo, "branch", "--list", "ads/*fix*").split() == [BRANCH]
    assert setup.github.pulls == []


@pytest.mark.cgroup
def test_a_second_sigterm_abandons_the_job_without_claiming_a_cleanup_that_did_not_run(
    setup: Setup, pagerduty_client: PagerDuty, cgroup_limiter: MemoryLimiter
) -> None:
    serve = setup.start()
    try:
        page_oom(setup.pagerduty, pagerduty_client, demo_kill())
        running = wait_for(
            lambda: any(is_running(p) for p in leftovers_of(serve.pid, cgroup_limiter)[1]), 60
        )
        assert running, "the verification never started its service"
        serve.send_signal(signal.SIGTERM)
        assert wait_for(lambda: "finishing the current job first" in setup.log_text(0), 30)
        serve.send_signal(signal.SIGTERM)  # the job is still under way: this abandons it
        serve.wait(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    output = setup.log_text(0)
    assert serve.returncode == 130, output
    assert "cleaned up" not in output and "Traceback" not in output
    assert "interrupted again: abandoned the job under way; removed what it had left" in output
    assert leftovers_of(serve.pid, cgroup_limiter) == ([], [], [])
    assert git(setup.repo, "worktree", "list").count("\n") == 0
