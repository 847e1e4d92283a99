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

__all__ = ["COMMANDS", "main"]

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


class LazyGroup(click.Group):
    """A group whose commands are imported the first time they are looked up."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

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


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ads")
def main() -> None:
    """ADS, the Automated Diagnostic System: OOMKilled incident to verified fix in seconds."""


if __name__ == "__main__":  # pragma: no cover
    main()
