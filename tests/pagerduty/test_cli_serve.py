"""``ads pagerduty serve`` as a user runs it: a real process, real HTTPS, Ctrl-C to stop."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from click.testing import CliRunner

from ads.interfaces.cli_pagerduty import pagerduty

LAUNCH = "from ads.interfaces.cli_pagerduty import pagerduty; pagerduty()"


def test_serve_prints_what_clients_need_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    # A relative --state-dir, as a user types it: what is printed is pasted into other shells.
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "serve", "--port", "0", "--state-dir", "pd-state"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + 20
    while "Ctrl-C" not in output and time.monotonic() < deadline:
        output += process.stdout.readline()
    try:
        host = re.search(r"PAGERDUTY_API_HOST=(\S+)", output)
        token = re.search(r"PAGERDUTY_API_TOKEN=(\S+)", output)
        ca = re.search(r"SSL_CERT_FILE=(\S+)", output)
        key = re.search(r"PAGERDUTY_ROUTING_KEY=(\S+)\s+# ads-demo-service", output)
        assert host and token and ca and key, output
        assert host.group(1).startswith("https://127.0.0.1:")
        assert ca.group(1) == str(tmp_path / "pd-state" / "tls" / "ca.pem")  # absolute
        for variable in ("ADS_PAGERDUTY_CA", "REQUESTS_CA_BUNDLE"):  # ADS's, requests'
            assert f"export {variable}={ca.group(1)}\n" in output, output
        response = httpx2.get(
            f"{host.group(1)}/services",
            verify=ssl.create_default_context(cafile=ca.group(1)),
            headers={"Authorization": f"Token token={token.group(1)}"},
        )
        assert [s["name"] for s in response.json()["services"]] == ["ads-demo-service"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode in (0, 130)
    assert (tmp_path / "pd-state" / "pagerduty.sqlite3").exists()


def test_bad_seed_is_one_line_and_exit_2(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("api_token: t\nservices: [{id: P1, name: x, escalation_policy: PNONE}]\n")
    result = CliRunner().invoke(
        pagerduty, ["serve", "--port", "0", "--state-dir", str(tmp_path / "s"), "--seed", str(seed)]
    )
    assert result.exit_code == 2
    assert "PNONE is not defined" in result.output
    assert "Traceback" not in result.output
