"""The ``ads`` command: a thin click layer over the library.

Every command turns an ``AdsError`` into one line on stderr and a non-zero exit (2 for
configuration problems, 1 otherwise); a traceback means a bug in ADS, never bad input.

Commands are loaded lazily: ``ads --help`` reads only the small ``cli_*`` modules, and each of
those imports the library (PagerDuty, MCP, Kubernetes, GitHub, uvicorn, tree-sitter) inside the
command's body, so ``ads <command> --help`` starts as fast as Python does (bench/cli_startup.py).
"""

from __future__ import annotations

import importlib

import click

__all__ = ["COMMANDS", "SUMMARIES", "main"]

#: command name → "module:attribute" under ``ads.interfaces``, in the order --help lists them.
COMMANDS: dict[str, str] = {
    "ack": "cli_incidents:ack",
    "analyze": "cli_incidents:analyze",
    "bisect": "cli_bisect:bisect_command",
    "change": "cli_runtime:change",
    "demo": "cli_demo:demo",
    "doctor": "cli_doctor:doctor",
    "incidents": "cli_incidents:incidents",
    "mcp": "cli_mcp:mcp",
    "pagerduty": "cli_pagerduty:pagerduty",
    "remediate": "cli_incidents:remediate_command",
    "report": "cli_incidents:report",
    "resolve": "cli_incidents:resolve",
    "run": "cli_runtime:run",
    "serve": "cli_serve:serve",
    "watch": "cli_watch:watch",
}


#: command name → the first paragraph of its help, which ``ads --help`` shortens to a line
#: without importing the command (a test checks each against the command itself).
SUMMARIES: dict[str, str] = {
    "ack": "Acknowledge INCIDENT (number or id): you are on it; PagerDuty stops escalating it.",
    "analyze": "Diagnose INCIDENT (its number or id): root cause (file, function, line), impact "
    "and confidence.",
    "bisect": "Find the first commit between --good and --bad whose build is OOM-killed.",
    "change": "Send a PagerDuty Change Event for a deploy of SERVICE (its repository's HEAD sha).",
    "demo": "Run the whole ADS loop on the demo service, on this machine, with nothing to "
    "configure.",
    "doctor": "Check the verification checklist live: PagerDuty integration, monitoring, "
    "OOMKilled alert rule, repository access, on-call schedule, escalation policy.",
    "incidents": "List incidents, newest first (like `pd incident list`): number, status, "
    "urgency, service, title, who is assigned.",
    "mcp": "Run the ADS MCP server (read tools; write tools with --enable-write-tools).",
    "pagerduty": "The local PagerDuty-compatible API (REST v2, Events v2, webhooks v3).",
    "remediate": "Diagnose INCIDENT (number or id), verify the fix under the same memory limit, "
    "open the PR and add a note on the incident.",
    "report": "Write the stored diagnosis of INCIDENT (number or id) as a self-contained HTML "
    "page and Markdown.",
    "resolve": "Resolve INCIDENT (number or id): the problem is fixed.",
    "run": "Run SERVICE under its memory limit in a local cgroup, restarting it like a kubelet.",
    "serve": "Receive PagerDuty webhooks and remediate incidents hands-free (Ctrl-C stops).",
    "watch": "Watch Kubernetes for OOMKilled containers and alert once per kill.",
}


def summary_line(name: str, summary: str, limit: int) -> str:
    """The line click would list for a command whose help starts with ``summary``."""
    return click.Command(name, help=summary).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A group whose commands are imported the first time they are looked up; its own
    ``--help`` lists them from ``summaries`` (importing every command module for one line
    each cost a quarter of ``ads --help``'s start-up)."""

    def __init__(
        self, *args: object, lazy: dict[str, str], summaries: dict[str, str], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy
        self.summaries = summaries

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None and name in self.summaries:
                rows.append((name, summary_line(name, self.summaries[name], limit)))
                continue
            command = loaded or self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module_name, attribute = self.lazy[cmd_name].split(":")
            module = importlib.import_module(f"{__package__}.{module_name}")
            command = getattr(module, attribute)
            if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    summaries=SUMMARIES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="ads")
def main() -> None:
    """ADS, the Automated Diagnostic System: OOMKilled incident to verified fix in seconds."""


if __name__ == "__main__":  # pragma: no cover
    main()
