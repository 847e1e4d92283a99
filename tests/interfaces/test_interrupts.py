"""SIGTERM and Ctrl-C: "cleaned up" is said only when the cleanup ran to its end.

A command that gets a second signal while it is still cleaning up after the first (``ads serve``
finishing its current job, ``ads run`` removing its cgroup) abandons that cleanup: it must say
so. Each case runs a real command in a fresh interpreter that signals itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

COMMAND = """
import os, signal, sys, time, click
from ads.interfaces.cli_common import reports_errors

@click.command()
@reports_errors
def job():
    try:
        os.kill(os.getpid(), signal.{first})
        time.sleep(30)
    finally:
        print("cleaning up", flush=True)
        {during_cleanup}
        print("cleanup finished", flush=True)

job([])
"""


def run(first: str, during_cleanup: str) -> subprocess.CompletedProcess[str]:
    source = COMMAND.format(first=first, during_cleanup=during_cleanup)
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("first", ["SIGTERM", "SIGINT"])
def test_one_signal_cleans_up_and_says_so(first: str) -> None:
    proc = run(first, "pass")
    assert proc.returncode == 130, proc.stderr
    assert "cleanup finished" in proc.stdout
    assert "interrupted; cleaned up" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_cleanup_does_not_claim_it_was_done(second: int) -> None:
    proc = run("SIGTERM", f"os.kill(os.getpid(), {int(second)}); time.sleep(30)")
    assert proc.returncode == 130, proc.stderr
    assert "cleanup finished" not in proc.stdout
    assert "cleaned up" not in proc.stderr
    assert "abandoned" in proc.stderr
    assert "Traceback" not in proc.stderr
