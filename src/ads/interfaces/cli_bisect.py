"""``ads bisect``: the first commit whose build is OOM-killed under the service's limit."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_common import config_option, reports_errors

__all__ = ["bisect_command"]


@click.command("bisect")
@click.argument("service")
@click.option("--good", "good", required=True, help="A revision that is not OOM-killed.")
@click.option("--bad", "bad", required=True, help="A later revision that is OOM-killed.")
@config_option
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Bound on each run: a build that lives this long unkilled is good (default 10).",
)
@click.option("--limit", default=None, help="Memory limit to run under (default: the service's).")
@click.option(
    "--threshold", default=None, help="Also call a run bad when its memory passes this (e.g. 24Mi)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="text (progress, then the answer) or json (every run with its memory curve).",
)
@reports_errors
def bisect_command(
    service: str,
    good: str,
    bad: str,
    config_path: Path | None,
    seconds: float | None,
    limit: str | None,
    threshold: str | None,
    output_format: str,
) -> None:
    """Find the first commit between --good and --bad whose build is OOM-killed.

    Each candidate is built in the sandbox and run under the service's memory limit in a
    cgroup, bounded in time, like `git bisect run`: about log2(n) runs. Commits that do not
    build are skipped. Prints `first bad commit: <sha> <subject>` and exits 0; exits non-zero
    with one line when --good is not good or --bad is not bad.

    \b
    Examples:
      ads bisect ads-demo-service --good v1.2 --bad HEAD
      ads bisect ads-demo-service --good HEAD~8 --bad HEAD --seconds 5 --format json
    """
    from ..config import load_settings
    from ..errors import ConfigError
    from ..units import parse_quantity
    from ..workflow.bisect import DEFAULT_SECONDS, BisectError, bisect
    from .console import bisect_progress, console

    settings = load_settings(config_path)
    service_config = settings.service(service)
    repo = settings.repo_path(service_config)
    if not repo.is_dir():
        raise ConfigError(f"services.{service}.repo: {repo} does not exist")
    memory_limit = parse_quantity(limit) if limit else None
    bound = parse_quantity(threshold) if threshold else None
    with bisect_progress(service, quiet=output_format == "json") as progress:
        try:
            result = bisect(
                repo,
                service_config,
                good,
                bad,
                memory_limit=memory_limit,
                seconds=seconds or DEFAULT_SECONDS,
                threshold=bound,
                progress=progress,
            )
        except BisectError as exc:
            if output_format == "json" and exc.result is not None:
                click.echo(exc.result.model_dump_json(indent=2))
            raise
    if output_format == "json":
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    assert result.first_bad is not None
    console.print(
        f"first bad commit: {result.first_bad} {result.first_bad_subject}",
        highlight=False,
        soft_wrap=True,
    )
    if result.ambiguous:
        console.print(
            f"(or one of the {len(result.ambiguous)} commit(s) before it that do not build: "
            + ", ".join(sha[:12] for sha in result.ambiguous)
            + ")",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{len(result.runs)} run(s) for {result.candidates} commit(s) in {result.seconds:.1f} s",
        highlight=False,
    )
