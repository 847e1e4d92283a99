"""``ads pagerduty``: the local PagerDuty-compatible server (``pagerduty_local``) on its own.

The same commands as the ``pagerduty-local`` console script, under ADS's CLI, with ADS's state
directory as the default and ADS's one-line errors: ``serve`` prints what clients need
(``PAGERDUTY_API_HOST``, ``PAGERDUTY_API_TOKEN``, ``PAGERDUTY_USER_API_KEY``, the CA under
``ADS_PAGERDUTY_CA``/``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``, ``PAGERDUTY_ROUTING_KEY``) as
shell lines valid for ``eval``, with absolute paths; ``env`` prints them again in another shell.
This module is one of the two places ADS imports the server (``ads demo`` is the other): ADS
otherwise reaches it only over HTTPS, as it reaches PagerDuty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from pagerduty_local.cli import print_environment, serve_options, serve_until_interrupted
from pagerduty_local.cli import state_dir_option as _state_dir_option

from .cli_common import reports_errors

__all__ = ["pagerduty"]

STATE_DIR = Path(".ads") / "pagerduty"


@contextmanager
def _as_ads_errors() -> Iterator[None]:
    """The server's own errors (``pagerduty_local.LocalPagerDutyError``) as ADS's ConfigError,
    so they get ADS's one line and exit 2."""
    from pagerduty_local import LocalPagerDutyError

    from ..errors import ConfigError

    try:
        yield
    except LocalPagerDutyError as exc:
        raise ConfigError(exc.message, hint=exc.hint) from None


@click.group()
def pagerduty() -> None:
    """The local PagerDuty-compatible API (REST v2, Events v2, webhooks v3).

    \b
    Examples:
      ads pagerduty serve --webhook-url http://127.0.0.1:8080/webhooks/pagerduty
      eval "$(ads pagerduty env)"    # in another shell
    """


@pagerduty.command()
@serve_options(STATE_DIR)
@reports_errors
def serve(**options: Any) -> None:
    """Serve the local PagerDuty API until Ctrl-C, printing the variables clients need.

    Everything printed is valid for eval: export lines and # comments. The same lines are
    written to STATE_DIR/client.env, which `ads pagerduty env` prints.

    \b
    Examples:
      ads pagerduty serve
      ads pagerduty serve --webhook-url http://127.0.0.1:8080/webhooks/pagerduty
    """
    with _as_ads_errors():
        serve_until_interrupted(**options)


@pagerduty.command()
@_state_dir_option(STATE_DIR)
@reports_errors
def env(state_dir: Path) -> None:
    """Print the variables of the local PagerDuty serving from --state-dir, for eval.

    \b
    Examples:
      eval "$(ads pagerduty env)"
      ads pagerduty env --state-dir .ads/demo/pagerduty
    """
    with _as_ads_errors():
        print_environment(state_dir)
