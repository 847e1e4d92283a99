"""The ``ads`` command: every command documented, bad input is one line and a non-zero exit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ads.interfaces.cli import main
from tests.fixtures.cli import Ran, run_ads

ROOT = Path(__file__).resolve().parents[2]


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, loading lazy commands the way ``ads`` does when one is asked for."""
    found: list[tuple[str, ...]] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"ads {' '.join(path)} is not a command"
        command = found
    return command


@pytest.mark.parametrize("path", all_commands(main), ids=" ".join)
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert command.help and len(command.help.strip()) > 20, f"ads {' '.join(path)} has no help"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    top_level = {path[0] for path in all_commands(main)}
    assert len(top_level) >= 10
    missing = [name for name in sorted(top_level) if f"`ads {name}" not in readme]
    assert missing == [], f"commands missing from README.md's table: {missing}"


def ads(*args: str, cwd: Path) -> Ran:
    """``ads *args`` in ``cwd``, in-process (``tests.fixtures.cli``)."""
    return run_ads(*args, cwd=cwd)


def write_config(repo: Path, service_body: str) -> Path:
    path = repo / "ads.yaml"
    path.write_text("services:\n  ads-demo-service:\n" + service_body)
    return path


def assert_one_line_error(proc: subprocess.CompletedProcess[str] | Ran, needle: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]


def test_unknown_service(demo_repo: Path) -> None:
    proc = ads("run", "billing", cwd=demo_repo)
    assert_one_line_error(proc, "unknown service 'billing'")
    assert "ads-demo-service" in proc.stderr


def test_missing_build_command(demo_repo: Path) -> None:
    write_config(demo_repo, "    run: ./build/worker\n")
    assert_one_line_error(ads("run", "ads-demo-service", cwd=demo_repo), "no build command")


def test_build_that_fails(demo_repo: Path) -> None:
    (demo_repo / "worker.c").write_text("int main( {\n")
    proc = ads("run", "ads-demo-service", "--duration", "1", cwd=demo_repo)
    assert_one_line_error(proc, "build of 'ads-demo-service' failed")


def test_wrong_type_in_config(demo_repo: Path) -> None:
    write_config(demo_repo, "    memory_limit: [64, Mi]\n")
    proc = ads("run", "ads-demo-service", cwd=demo_repo)
    assert_one_line_error(proc, "services.ads-demo-service.memory_limit")
    assert proc.returncode == 2


def test_missing_config(tmp_path: Path) -> None:
    assert_one_line_error(ads("run", "ads-demo-service", cwd=tmp_path), "no configuration file")


@pytest.mark.parametrize("path", all_commands(main), ids=" ".join)
def test_every_command_help_shows_an_example(path: tuple[str, ...]) -> None:
    """Each --help ends with runnable examples: an "Examples:" block of `ads <path> ...` lines."""
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=120)
    assert result.exit_code == 0
    text = result.output
    assert "Examples:" in text, f"ads {' '.join(path)} --help has no examples"
    examples = text.split("Examples:", 1)[1].splitlines()
    shown = [line.strip() for line in examples if line.strip().startswith("ads ")]
    assert shown, f"ads {' '.join(path)} --help: no `ads ...` line under Examples:"
    # an example of a group may show a subcommand; any other shows the command itself
    assert any(line.split("#")[0].split()[1 : 1 + len(path)] == list(path) for line in shown) or (
        isinstance(command_at(path), click.Group)
    ), shown


@pytest.mark.parametrize("path", all_commands(main), ids=" ".join)
def test_every_option_says_what_it_does(path: tuple[str, ...]) -> None:
    command = command_at(path)
    bare = [
        "/".join(p.opts)
        for p in command.params
        if isinstance(p, click.Option) and not p.help and "--help" not in p.opts
    ]
    assert bare == [], f"ads {' '.join(path)}: options without help: {bare}"


def config_keys() -> list[str]:
    """Every key the ads.yaml parser accepts: the top level, and each service's (nested)."""
    from pydantic import BaseModel

    from ads.config import TOP_LEVEL_KEYS, ServiceConfig

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        keys: list[str] = []
        for name, info in model.model_fields.items():
            if model is ServiceConfig and name == "name":
                continue  # the key under services:, not a field one writes
            inner = info.annotation
            args = getattr(inner, "__args__", ())
            nested = [a for a in (inner, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
            if nested:
                suffix = "[]" if getattr(inner, "__origin__", None) is list else ""
                keys += walk(nested[0], f"{prefix}{name}{suffix}.")
            else:
                keys.append(f"{prefix}{name}")
        return keys

    return list(TOP_LEVEL_KEYS) + walk(ServiceConfig, "")


def test_every_ads_yaml_key_is_in_the_readme_reference() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "### ads.yaml reference" in readme
    section = readme.split("### ads.yaml reference", 1)[1].split("\n#", 1)[0]
    keys = config_keys()
    named_in_the_issue = {"state_dir", "time_scale", "backoff.factor", "alert_rules.severity",
                          "lookback_days", "kubernetes.label_selector"}  # fmt: skip
    assert named_in_the_issue | {"escalation[].to_level"} <= set(keys)
    missing = [key for key in keys if f"`{key}`" not in section]
    assert missing == [], f"ads.yaml keys missing from README's reference: {missing}"
