"""The local PagerDuty-compatible server: REST v2, Events v2 and webhooks v3 over SQLite.

``LocalPagerDuty`` runs it in a background thread (tests, ``ads demo``); ``create_app`` is the
ASGI app for any server; ``load_seed`` reads the account file (``DEMO_SEED`` ships with ADS).
GitHub handles live in each user's ``description`` as ``GitHub: @handle``, which a real
PagerDuty user can carry too.
"""

from __future__ import annotations

from .app import create_app
from .runner import LocalPagerDuty
from .seed import DEMO_SEED, Seed, load_seed
from .webhooks import sign

__all__ = ["DEMO_SEED", "LocalPagerDuty", "Seed", "create_app", "load_seed", "sign"]
