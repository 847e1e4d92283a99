"""``pagerduty-local``: the local PagerDuty-compatible server on its own, no ADS involved.

``pagerduty-local serve`` loads the seed (the demo account unless ``--seed``), keeps its state in
``--state-dir`` across restarts, serves HTTPS with a CA it generated there on first run, and
prints what clients need as shell lines (``environment``), valid input for ``eval``: everything
else it says is a ``#`` comment. It also writes them to ``STATE_DIR/client.env``, which
``pagerduty-local env`` prints, so another shell can ``eval "$(pagerduty-local env)"``.
``ads pagerduty serve`` and ``ads pagerduty env`` are the same commands under ADS's CLI.

Bad input (a seed that does not validate, a port in use) is one line on stderr and exit 2.
Importing this module loads click only; the server is imported when a command runs.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["ENV_FILE", "main", "print_environment", "serve_until_interrupted"]

ENV_FILE = "client.env"
DEFAULT_STATE_DIR = Path(".pagerduty-local")

F = TypeVar("F", bound=Callable[..., Any])


def serve_options(default_state_dir: Path) -> Callable[[F], F]:
    """The options of ``serve`` (shared with ``ads pagerduty serve``, which has its own default
    state directory)."""

    def decorate(func: F) -> F:
        options = [
            click.option(
                "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
            ),
            click.option(
                "--port",
                default=8443,
                show_default=True,
                type=click.IntRange(0, 65535),
                help="Port (0: any free).",
            ),
            state_dir_option(default_state_dir),
            click.option(
                "--seed",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="Account seed file (default: the demo account, demo_seed.yaml).",
            ),
            click.option(
                "--time-scale",
                type=click.FloatRange(min=0, min_open=True),
                default=1.0,
                show_default=True,
                help="How much faster escalation timeouts run (60: policy minutes pass as "
                "seconds).",
            ),
            click.option(
                "--insecure-http",
                is_flag=True,
                help="Serve plain HTTP instead of HTTPS (PagerDuty's client will refuse it).",
            ),
            click.option(
                "--webhook-url",
                default=None,
                metavar="URL",
                help="Subscribe URL to incident.triggered webhooks and print the "
                "ADS_WEBHOOK_SECRETS to export for it (kept across restarts).",
            ),
            click.option(
                "--rate-limit",
                type=click.IntRange(min=1),
                default=None,
                metavar="N",
                help="Answer 429 beyond N REST requests per minute per token, as PagerDuty "
                "does (default: 960).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def state_dir_option(default: Path) -> Callable[[F], F]:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help="Where the SQLite state, the generated CA and client.env live.",
    )


def serve_until_interrupted(
    *,
    host: str,
    port: int,
    state_dir: Path,
    seed: Path | None,
    time_scale: float,
    insecure_http: bool,
    webhook_url: str | None,
    rate_limit: int | None = None,
    echo: Callable[[str], None] = click.echo,
) -> None:
    """Serve until Ctrl-C, printing (and writing to ``client.env``) the lines clients need.

    ``LocalPagerDutyError`` for bad input; the caller shows it as one line."""
    from ._exceptions import ConfigError
    from .runner import LocalPagerDuty
    from .seed import DEMO_SEED

    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--webhook-url {webhook_url!r} is not an http(s) URL",
            hint="e.g. http://127.0.0.1:8080/webhooks/pagerduty, where `ads serve` listens",
        )
    state_dir = state_dir.expanduser().resolve()
    server = LocalPagerDuty(
        state_dir,
        seed=seed,
        time_scale=time_scale,
        host=host,
        port=port,
        insecure_http=insecure_http,
        rate_limit=rate_limit,
    )
    with _stop_signals(), server:  # from the start: a reader may signal on the first line
        seed_name = str(Path(seed).resolve()) if seed else f"the demo account ({DEMO_SEED})"
        lines = [
            f"# local PagerDuty serving {seed_name}",
            f"# state: {server.store_path}",
            *server.shell_lines(),
        ]
        if webhook_url is not None:
            sub_id, secret, created = server.ensure_webhook_subscription(
                webhook_url, ["incident.triggered"]
            )
            made = "created" if created else "kept"
            lines.append(
                f"# webhook subscription {sub_id} {made}: incident.triggered → {webhook_url}"
            )
            lines.append(f"export ADS_WEBHOOK_SECRETS={secret}  # for `ads serve`")
        (state_dir / ENV_FILE).write_text("\n".join(lines) + "\n")
        for line in lines:
            echo(line)
        try:
            echo(f"# the same lines are in {state_dir / ENV_FILE}; Ctrl-C to stop")
            sys.stdout.flush()
            threading.Event().wait()
        except KeyboardInterrupt:
            echo("# stopped; state kept")


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop serving, whatever this process inherited.

    A shell runs ``serve … &`` from a script with SIGINT ignored, and Python then leaves it
    ignored: ``kill -INT`` (what "Ctrl-C to stop" promises) did nothing. SIGTERM (``kill``,
    systemd, a container runtime) stops cleanly too, so the state is closed, not cut."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (an embedding caller): leave theirs alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def print_environment(state_dir: Path, echo: Callable[[str], None] = click.echo) -> None:
    """Print the lines the last ``serve`` with this state directory wrote."""
    from ._exceptions import ConfigError

    path = state_dir.expanduser().resolve() / ENV_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"no local PagerDuty has served from {path.parent} ({ENV_FILE} not found)",
            hint="start it first with `serve`, giving the same --state-dir",
        ) from None
    for line in text.splitlines():
        echo(line)


def _one_line_errors(func: F) -> F:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ._exceptions import LocalPagerDutyError

        try:
            return func(*args, **kwargs)
        except LocalPagerDutyError as exc:
            click.echo(f"pagerduty-local: error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"pagerduty-local: error: {exc.strerror or exc}{where}", err=True)
            sys.exit(1)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="ads", message="pagerduty-local (in %(package)s %(version)s)")
def main() -> None:
    """A local PagerDuty-compatible API (REST v2, Events v2, webhooks v3) over SQLite and HTTPS.

    \b
    Examples:
      pagerduty-local serve --port 8443
      eval "$(pagerduty-local env)"    # in another shell
    """


@main.command()
@serve_options(DEFAULT_STATE_DIR)
@_one_line_errors
def serve(**options: Any) -> None:
    """Serve until Ctrl-C, printing the variables clients need (valid for eval).

    \b
    Examples:
      pagerduty-local serve
      pagerduty-local serve --port 0 --state-dir /tmp/pd > /tmp/pd.env &
    """
    serve_until_interrupted(**options)


@main.command()
@state_dir_option(DEFAULT_STATE_DIR)
@_one_line_errors
def env(state_dir: Path) -> None:
    """Print the variables of the server serving from --state-dir, for eval.

    \b
    Examples:
      eval "$(pagerduty-local env)"
    """
    print_environment(state_dir)
