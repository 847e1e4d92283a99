"""Shared fixtures. Fixtures for one system live in tests/fixtures/<system>.py as plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.pagerduty",
    "tests.fixtures.demo",
    "tests.fixtures.history",
    "tests.fixtures.mcp",
    "tests.fixtures.github",
]

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "examples" / "ads-demo-service"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT
