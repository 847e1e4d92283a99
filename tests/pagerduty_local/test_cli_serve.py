"""``ads pagerduty serve`` and ``pagerduty-local serve`` as a user runs them: a real process, real
HTTPS, its output pasted into another shell with ``eval``, Ctrl-C to stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ads.interfaces.cli_pagerduty import pagerduty
from tests.fixtures.processes import read_until

ADS = "from ads.interfaces.cli_pagerduty import pagerduty; pagerduty()"
COMMANDS = {
    "ads pagerduty": [sys.executable, "-c", ADS],
    "pagerduty-local": [sys.executable, "-m", "pagerduty_local"],
}
# What a client does with nothing but the environment: requests (REQUESTS_CA_BUNDLE, as
# PagerDuty's MCP server does), and the standard library's ssl (SSL_CERT_FILE, as OpenSSL does).
CLIENT = """
import json, os, ssl, urllib.request, requests
headers = {"Authorization": "Token token=" + os.environ["PAGERDUTY_USER_API_KEY"]}
url = os.environ["PAGERDUTY_API_HOST"] + "/services"
print(json.dumps([s["name"] for s in requests.get(url, headers=headers).json()["services"]]))
request = urllib.request.Request(url, headers=headers)
with urllib.request.urlopen(request, context=ssl.create_default_context()) as answer:
    print(json.dumps(sorted(s["id"] for s in json.load(answer)["services"])))
"""


def clean_env() -> dict[str, str]:
    names = ("PAGERDUTY_", "ADS_", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    return {k: v for k, v in os.environ.items() if not k.startswith(names)} | {"COLUMNS": "200"}


def as_a_background_job() -> None:
    """What a shell does to ``serve … &`` in a script: SIGINT ignored, inherited by Python."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_serving(command: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``command serve`` from a relative --state-dir, as a script starts it in the background;
    the process and what it printed up to "Ctrl-C to stop"."""
    process = subprocess.Popen(
        [*command, "serve", "--port", "0", "--state-dir", "pd-state"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=clean_env(),
        preexec_fn=as_a_background_job,
    )
    return process, read_until(process, "Ctrl-C")


def stop_with(process: subprocess.Popen[str], signum: int, cwd: Path) -> str:
    """Send ``signum``; what serve printed after its start once it stopped, state kept."""
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=90)  # against a hang; generous under load
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"serve did not stop on {signal.Signals(signum).name} in 90 s: {out}{err}")
    assert process.returncode == 0, err
    assert (cwd / "pd-state" / "pagerduty.sqlite3").exists()
    return out


@pytest.fixture(params=list(COMMANDS))
def serving(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """The command serving (``start_serving``); Ctrl-C (SIGINT) stops it afterwards."""
    command = COMMANDS[request.param]
    process, output = start_serving(command, tmp_path)
    try:
        yield command, output
    finally:
        assert "# stopped; state kept" in stop_with(process, signal.SIGINT, tmp_path)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_sigterm_stops_serve_cleanly(name: str, tmp_path: Path) -> None:
    process, _ = start_serving(COMMANDS[name], tmp_path)
    assert "# stopped; state kept" in stop_with(process, signal.SIGTERM, tmp_path)


def test_what_serve_prints_is_all_a_client_needs(
    serving: tuple[list[str], str], tmp_path: Path
) -> None:
    command, output = serving
    ca = tmp_path / "pd-state" / "tls" / "ca.pem"
    for variable in ("ADS_PAGERDUTY_CA", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        assert f"export {variable}={ca}\n" in output, output  # absolute, for other directories
    for variable in ("PAGERDUTY_API_HOST", "PAGERDUTY_API_TOKEN", "PAGERDUTY_USER_API_KEY"):
        assert re.search(rf"^export {variable}=\S+$", output, re.M), output
    assert re.search(r"^export PAGERDUTY_ROUTING_KEY=\S+  # ads-demo-service$", output, re.M)

    # Another shell, elsewhere: eval what `env` prints, then talk to the server with only that.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env_command = " ".join([*command[:-1], repr(command[-1]), "env", "--state-dir", "../pd-state"])
    script = f"eval \"$({env_command})\" && {sys.executable} -c '{CLIENT}'"
    shell = subprocess.run(
        ["bash", "-c", script], cwd=elsewhere, env=clean_env(), capture_output=True, text=True
    )
    assert shell.returncode == 0, shell.stderr
    names, ids = shell.stdout.splitlines()
    assert names == '["ads-demo-service", "py-pages-service"]'
    assert ids.startswith('["P')


def test_everything_serve_prints_is_valid_for_eval(serving: tuple[list[str], str]) -> None:
    _, output = serving
    shell = subprocess.run(
        ["bash", "-c", 'eval "$OUTPUT" && echo "$PAGERDUTY_API_HOST"'],
        env=clean_env() | {"OUTPUT": output},
        capture_output=True,
        text=True,
    )
    assert shell.returncode == 0 and shell.stderr == "", shell.stderr
    assert shell.stdout.startswith("https://127.0.0.1:")


def test_env_before_any_serve_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for command in COMMANDS.values():
        proc = subprocess.run(
            [*command, "env", "--state-dir", str(tmp_path / "never")],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2
        assert "no local PagerDuty has served from" in proc.stderr + proc.stdout
        assert "Traceback" not in proc.stderr


def test_bad_seed_is_one_line_and_exit_2(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("api_token: t\nservices: [{id: P1, name: x, escalation_policy: PNONE}]\n")
    result = CliRunner().invoke(
        pagerduty, ["serve", "--port", "0", "--state-dir", str(tmp_path / "s"), "--seed", str(seed)]
    )
    assert result.exit_code == 2
    assert "PNONE is not defined" in result.output
    assert "Traceback" not in result.output
    proc = subprocess.run(
        [*COMMANDS["pagerduty-local"], "serve", "--port", "0", "--state-dir", str(tmp_path / "t"),
         "--seed", str(seed)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "PNONE is not defined" in proc.stderr
