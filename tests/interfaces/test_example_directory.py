"""The README's flow inside ``examples/ads-demo-service`` of a fresh clone of this repository.

Issue 13, point 2: there ``repo: .`` is a sub-directory of a larger repository (ADS's own), and
ADS looked for ``worker.c`` at the top of it, blamed the wrong history and could not apply its
own fix. Every command here is a real ``ads`` process run in that directory with only the
variables ``ads pagerduty serve`` prints; the PagerDuty is the real local server over HTTPS.
The clone's ``origin`` is a bare copy in the test's directory, so the fix branch is pushed there
and nowhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/ads-demo-service"
FIX_BRANCH = "ads/incident-1-fix-memory-leak"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def fresh_clone(tmp_path: Path) -> Path:
    """A clone of this repository whose ``origin`` is a bare copy under ``tmp_path``."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(origin)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    return clone


def user_env(server: LocalPagerDuty, *, with_ca: bool = True) -> dict[str, str]:
    """What the user's shell holds after pasting the lines ``ads pagerduty serve`` prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADS_", "PAGERDUTY_"))}
    env.pop("SSL_CERT_FILE", None)
    env.pop("REQUESTS_CA_BUNDLE", None)
    env |= {
        "PAGERDUTY_API_HOST": server.api_url,
        "PAGERDUTY_API_TOKEN": server.token,
        "PAGERDUTY_ROUTING_KEY": server.routing_key("ads-demo-service"),
        "COLUMNS": "200",
    }
    if with_ca:
        env |= {"ADS_PAGERDUTY_CA": str(server.ca_file), "SSL_CERT_FILE": str(server.ca_file)}
    return env


def ads(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ads", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.cgroup
def test_readme_flow_in_the_example_directory_of_a_fresh_clone(
    tmp_path: Path,
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    cgroup_limiter: MemoryLimiter,
) -> None:
    clone = fresh_clone(tmp_path)
    base = git(clone, "rev-parse", "--abbrev-ref", "HEAD")  # main, or the branch under test
    service = clone / EXAMPLE
    env = user_env(local_pagerduty)

    ran = ads(service, env, "run", "ads-demo-service", "--page", "--kills", "2")
    assert ran.returncode == 0, ran.stderr
    (incident,) = pagerduty_client.list_incidents()

    doctor = ads(service, env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    marks = [line[0] for line in doctor.stdout.splitlines() if line[:1] in ("✓", "✗", "–")]
    assert marks == ["✓"] * 6, doctor.stdout
    assert f"git repository {EXAMPLE} in {clone}" in doctor.stdout

    analyzed = ads(service, env, "analyze", incident.id, "--format", "json")
    assert analyzed.returncode == 0, analyzed.stderr
    top = json.loads(analyzed.stdout)["findings"][0]
    assert (top["file"], top["function"], top["line"]) == ("worker.c", "controller", 26)

    remediated = ads(service, env, "remediate", incident.id)
    assert remediated.returncode == 0, remediated.stdout + remediated.stderr
    assert "verification: verified" in remediated.stdout
    assert f"branch: {FIX_BRANCH}" in remediated.stdout

    # The fix branch: one commit on the checked-out branch touching only the example's worker.c,
    # named from the top of the repository; pushed to the clone's origin; the checkout untouched.
    changed = git(clone, "diff", "--name-only", f"{base}...{FIX_BRANCH}")
    assert changed == f"{EXAMPLE}/worker.c"
    assert git(clone, "rev-list", "--count", f"{base}..{FIX_BRANCH}") == "1"
    pushed = git(tmp_path / "origin.git", "rev-parse", FIX_BRANCH)
    assert pushed == git(clone, "rev-parse", FIX_BRANCH)
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == base
    assert git(clone, "status", "--porcelain") == ""
    # Whatever the commit window holds, the service's import is never "rolled back".
    assert git(clone, "branch", "--list", "ads/incident-1-rollback") == ""
    (note,) = pagerduty_client.list_notes(incident.id)
    assert FIX_BRANCH in note.content and "Revert" not in note.content


def test_an_untrusted_certificate_is_one_line_naming_ads_pagerduty_ca(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, demo_repo: Path
) -> None:
    proc = ads(demo_repo, user_env(local_pagerduty, with_ca=False), "analyze", "1")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "not trusted" in lines[0] and "ADS_PAGERDUTY_CA" in lines[0]
    assert "could not be reached" not in lines[0]
