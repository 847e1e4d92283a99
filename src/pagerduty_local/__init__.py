"""The local PagerDuty-compatible server: REST v2, Events v2 and webhooks v3 over SQLite.

A product of its own, shipped in ADS's distribution: it imports nothing from ``ads`` (an
import-linter contract checks it), and ADS reaches it only over HTTPS, as it reaches PagerDuty.
``pagerduty-local`` serves it alone; ``ads pagerduty serve`` and ``ads demo`` start it too.

``LocalPagerDuty`` runs it in a background thread (tests, ``ads demo``); ``create_app`` is the
ASGI app for any server; ``load_seed`` reads the account file (``DEMO_SEED`` ships with it);
``sign`` is how it signs webhooks (``X-PagerDuty-Signature``). Errors it raises to the program
running it are ``LocalPagerDutyError``s (``_exceptions``). GitHub handles live in each user's
``description`` as ``GitHub: @handle``, which a real PagerDuty user can carry too.

Names are loaded on first use (PEP 562), so ``import pagerduty_local.cli`` for ``--help`` does
not load Starlette, uvicorn or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._exceptions import ConfigError, LocalPagerDutyError, ServerStartError
    from .app import create_app
    from .runner import LocalPagerDuty
    from .seed import DEMO_SEED, Seed, load_seed
    from .webhooks import sign

__all__ = [
    "DEMO_SEED",
    "ConfigError",
    "LocalPagerDuty",
    "LocalPagerDutyError",
    "Seed",
    "ServerStartError",
    "create_app",
    "load_seed",
    "sign",
]

_WHERE = {
    "ConfigError": "._exceptions",
    "LocalPagerDutyError": "._exceptions",
    "ServerStartError": "._exceptions",
    "create_app": ".app",
    "LocalPagerDuty": ".runner",
    "DEMO_SEED": ".seed",
    "Seed": ".seed",
    "load_seed": ".seed",
    "sign": ".webhooks",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)
