"""``python -m pagerduty_local``: the ``pagerduty-local`` console script."""

from __future__ import annotations

from .cli import main

main(prog_name="pagerduty-local")
