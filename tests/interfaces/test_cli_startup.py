"""``ads --help`` and ``ads <command> --help`` start fast: they load none of the heavy clients.

Each check runs in a fresh interpreter (this test process has long since imported them all),
invoking the click group in process there and reading ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from ads.interfaces import cli
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


@pytest.mark.parametrize("width", [40, 80, 1000])
def test_help_summaries_are_what_each_command_says(width: int) -> None:
    """``ads --help`` lists commands from ``SUMMARIES`` without importing them: each line must be
    the one the command itself would give at that width."""
    group = cli.main
    context = click.Context(group)
    assert set(cli.SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        command = group.get_command(context, name)
        assert command is not None
        said = cli.summary_line(name, cli.SUMMARIES[name], width)
        assert said == command.get_short_help_str(width), name


def test_top_level_help_lists_every_command_without_importing_it() -> None:
    probe = (
        "import sys; from ads.interfaces.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('ads.interfaces.cli_')))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    *help_lines, imported = proc.stdout.splitlines()
    listed = {line.split()[0] for line in help_lines if line.startswith("  ") and line.split()}
    assert set(COMMANDS) <= listed
    assert imported == "[]"


def test_serve_without_an_mcp_token_does_not_load_the_mcp_sdk() -> None:
    """``ads serve`` mounts MCP only with ``ADS_MCP_TOKEN``; without it the SDK (a second of
    start-up, paid on every restart of the service) stays unloaded."""
    probe = (
        "import sys\n"
        "import ads.interfaces.cli_serve, ads.interfaces.serve_app\n"
        "print('mcp' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"]
