"""Issue 13, a new user's first hour: finding incidents from the terminal, the local PagerDuty's
pages and webhook subscription, and every error path of point 9 as one line and a non-zero exit.

Everything runs the real ``ads`` in a subprocess against the real local PagerDuty (HTTPS, its
own CA); Kubernetes is a kubeconfig that names no reachable cluster, or is not one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from ads.interfaces.demo_workspace import create_demo_workspace
from ads.sources.monitors import MemoryLimiter
from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty
from tests.fixtures.cli import Ran, run_ads
from tests.fixtures.pagerduty import demo_kill, page_oom
from tests.fixtures.processes import read_until
from tests.interfaces.test_cli import assert_one_line_error


def pagerduty_env(server: LocalPagerDuty, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PAGERDUTY_API_TOKEN": server.token,
        "PAGERDUTY_API_HOST": server.api_url,
        "ADS_PAGERDUTY_CA": str(server.ca_file),
        **extra,
    }
    env.pop("PAGERDUTY_ROUTING_KEY", None) if "PAGERDUTY_ROUTING_KEY" not in extra else None
    return env


def ads(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Ran:
    """``ads *args`` as a user types it, run in-process (``tests.fixtures.cli``)."""
    return run_ads(*args, cwd=cwd, env=env)


# -- finding and handling incidents -----------------------------------------------------------


def test_incidents_ack_resolve_and_numbers_everywhere(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    page_oom(local_pagerduty, pagerduty_client, demo_kill(restart_count=2))
    env = pagerduty_env(local_pagerduty, COLUMNS="200")  # the table on one line per incident

    def run(*args: str) -> Ran:
        proc = ads(*args, cwd=repo, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc

    listed = run("incidents").stdout
    assert "ads-demo-service OOMKilled (64Mi limit)" in listed  # no restart count to go stale
    assert re.search(r"^\s*1\s+\w+\s+triggered\s+high\s+ads-demo-service", listed, re.M), listed
    assert "Bob Martins" in listed or "Alice" in listed  # who is assigned, by name

    analysed = run("analyze", "1", "--format", "json").stdout
    assert '"function": "controller"' in analysed
    assert "wrote" in run("report", "#1").stdout  # the stored diagnosis, found by its number

    assert "incident #1 acknowledged" in run("ack", "1").stdout
    assert "no triggered incidents" in run("incidents", "--status", "triggered").stdout
    assert "acknowledged" in run("incidents", "--urgency", "high").stdout
    assert "incident #1 resolved" in run("resolve", "#1").stdout
    assert "no triggered or acknowledged incidents" in run("incidents").stdout
    assert '"number":1' in run("incidents", "--all", "--format", "json").stdout
    assert run("incidents", "--service", "ads-demo-service", "--all").stdout.count("resolved")

    assert_one_line_error(ads("ack", "99", cwd=repo, env=env), "no incident 99")
    assert_one_line_error(
        ads("incidents", "--status", "open", cwd=repo, env=env), "--status open: not one of"
    )
    assert_one_line_error(
        ads("incidents", "--service", "billing", cwd=repo, env=env), "unknown service 'billing'"
    )
    assert_one_line_error(ads("analyze", "1/../x", cwd=repo, env=env), "not a PagerDuty incident")
    assert_one_line_error(ads("report", "7", cwd=repo, env=env), "no stored diagnosis")


def test_every_html_url_of_the_local_server_is_a_page(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    incident = page_oom(local_pagerduty, pagerduty_client, demo_kill())
    assert incident.html_url
    verify = local_pagerduty.ssl_context()
    seen: set[str] = set()
    todo = [incident.html_url, f"{local_pagerduty.api_url}/web/incidents"]
    while todo:
        url = todo.pop()
        if url in seen or not url.startswith(local_pagerduty.api_url + "/web"):
            continue
        seen.add(url)
        page = httpx2.get(url, verify=verify, follow_redirects=True)
        assert page.status_code == 200, url
        todo += [
            link if link.startswith("http") else local_pagerduty.api_url + link
            for link in re.findall(r'href="([^"]+)"', page.text)
        ]
    kinds = {url.split("/web/")[1].split("/")[0] for url in seen if "/web/" in url}
    assert {"incidents", "users", "services", "escalation_policies", "schedules", "alerts"} <= kinds
    listing = httpx2.get(f"{local_pagerduty.api_url}/web/incidents", verify=verify).text
    assert incident.title in listing and "#1" in listing
    missing = httpx2.get(f"{local_pagerduty.api_url}/web/users/PNOPE", verify=verify)
    assert missing.status_code == 404


def test_pagerduty_serve_subscribes_ads_serve_and_keeps_the_secret(tmp_path: Path) -> None:
    url = "http://127.0.0.1:8080/webhooks/pagerduty"

    def serve_once() -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ads", "pagerduty", "serve", "--port", "0",
             "--state-dir", str(tmp_path / "pd"), "--webhook-url", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        printed = read_until(proc, "Ctrl-C to stop")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)  # a graceful stop; generous, for a loaded machine
        return printed

    first = serve_once()
    assert f"incident.triggered → {url}" in first and "created" in first
    secret = re.search(r"^export ADS_WEBHOOK_SECRETS=(\S+)", first, re.M)
    assert secret, first
    again = serve_once()
    assert "kept" in again  # a restart keeps the subscription: ads serve's secret stays valid
    assert f"export ADS_WEBHOOK_SECRETS={secret.group(1)}" in again

    refused = ads("pagerduty", "serve", "--webhook-url", "ftp://x", cwd=tmp_path)
    assert_one_line_error(refused, "is not an http(s) URL")


# -- point 9: one line, non-zero ----------------------------------------------------------------


def test_mcp_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        proc = ads("mcp", "--transport", "streamable-http", "--port", port, cwd=repo)
    assert_one_line_error(proc, f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "uvicorn" not in proc.stderr.lower()


KUBECONFIGS = {
    "not YAML": "apiVersion: v1\nclusters: [{{{\n",
    "not a kubeconfig": "just some text\n",
    "a list": "- a\n- b\n",
}


@pytest.mark.parametrize("body", list(KUBECONFIGS.values()), ids=list(KUBECONFIGS))
def test_watch_with_a_malformed_kubeconfig_is_one_line(tmp_path: Path, body: str) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(body)
    proc = ads("watch", "--kubeconfig", str(kubeconfig), cwd=repo)
    assert_one_line_error(proc, f"kubeconfig {kubeconfig} is not")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_watch_against_an_unreachable_cluster_says_so(tmp_path: Path) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    kubeconfig = tmp_path / "kubeconfig"
    server = f"https://127.0.0.1:{closed_port()}"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    proc = ads("watch", "--kubeconfig", str(kubeconfig), cwd=repo)
    assert_one_line_error(proc, f"cannot reach the Kubernetes API server at {server}")


def test_run_page_without_a_routing_key_fails_before_the_bar(
    tmp_path: Path, local_pagerduty: LocalPagerDuty
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    proc = ads("run", "ads-demo-service", "--page", cwd=repo, env=pagerduty_env(local_pagerduty))
    assert_one_line_error(proc, "PAGERDUTY_ROUTING_KEY is not set")
    assert proc.stdout.strip() == ""  # no build line, no live bar drawn


@pytest.mark.cgroup
def test_run_page_names_the_incident_and_a_wrong_routing_key_exits_non_zero(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, cgroup_limiter: MemoryLimiter
) -> None:
    repo = create_demo_workspace(tmp_path / "ads-demo-service")
    key = local_pagerduty.routing_key("ads-demo-service")
    env = pagerduty_env(local_pagerduty, PAGERDUTY_ROUTING_KEY=key, COLUMNS="300")
    args = ("run", "ads-demo-service", "--kills", "1", "--page")
    opened = ads(*args, cwd=repo, env=env)
    assert opened.returncode == 0, opened.stderr
    assert "opened PagerDuty incident #1: ads-demo-service OOMKilled" in opened.stdout
    assert f"{local_pagerduty.api_url}/web/incidents/" in opened.stdout

    joined = ads(*args, cwd=repo, env=env)
    assert joined.returncode == 0, joined.stderr
    assert "joined the open PagerDuty incident #1" in joined.stdout
    assert "`ads resolve 1`" in joined.stdout

    wrong = ads(*args, cwd=repo, env={**env, "PAGERDUTY_ROUTING_KEY": "R" * 32})
    assert_one_line_error(wrong, "PagerDuty refused the OOM alert for ads-demo-service")


def test_c_that_leaves_nothing_to_diagnose_exits_non_zero(tmp_path: Path) -> None:
    repo = tmp_path / "broken"
    repo.mkdir()
    (repo / "worker.c").write_text("int main( { while (1) { malloc(; }\n")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "broken")):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b",
                            "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b"})  # fmt: skip
    incident = tmp_path / "incident.json"
    incident.write_text(
        '{"incident": {"id": "Q1", "incident_number": 1, "title": "worker OOMKilled", '
        '"status": "triggered", "created_at": "2026-11-25T04:00:00Z"}}'
    )
    proc = ads("analyze", "--incident", str(incident), "--repo", str(repo), cwd=tmp_path)
    assert_one_line_error(proc, "nothing could be diagnosed: worker.c: the C parser could not")
