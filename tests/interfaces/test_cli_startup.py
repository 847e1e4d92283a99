"""``ads --help`` and ``ads <command> --help`` start fast: they load none of the heavy clients.

Each check runs in a fresh interpreter (this test process has long since imported them all),
invoking the click group in process there and reading ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ads.interfaces.cli import COMMANDS

HEAVY = [
    "mcp", "kubernetes", "github", "uvicorn", "pagerduty", "tree_sitter", "starlette",
    "matplotlib", "jinja2", "numpy",
]  # fmt: skip

PROBE = """
import json, sys
from ads.interfaces.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_after(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_top_level_help_loads_no_heavy_client() -> None:
    loaded = loaded_after("--help")
    assert "click" in loaded  # the probe did run the CLI
    assert loaded & set(HEAVY) == set()


@pytest.mark.parametrize("command", [*COMMANDS, "pagerduty serve"])
def test_command_help_loads_no_heavy_client(command: str) -> None:
    assert loaded_after(*command.split(), "--help") & set(HEAVY) == set()


def test_import_ads_is_cheap() -> None:
    loaded = loaded_after("--version")
    assert loaded & {*HEAVY, "rich", "pydantic", "yaml"} == set()
