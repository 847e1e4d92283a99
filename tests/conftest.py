"""Shared fixtures. Fixtures for one system live in tests/fixtures/<system>.py as plugins."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.pagerduty",
    "tests.fixtures.demo",
    "tests.fixtures.history",
    "tests.fixtures.mcp",
    "tests.fixtures.github",
    "tests.fixtures.browser",
]

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "examples" / "ads-demo-service"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI (``CI`` set), a skip is a failure: CI has every tool, cgroup and reference file
    the tests need, so a skip there means something is missing, never that all is well."""
    outcome = yield
    report = outcome.get_result()
    if _in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must have what this test needs: {reason}"
