"""What every workflow step shares: the settings, the PagerDuty client and ADS's own store.

Made once per process (the MCP server's lifespan, the webhook worker, one CLI command) and passed
down, so clients and connections are reused and tests can hand in ones pointed at local servers.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ServiceConfig, Settings
from ..errors import ConfigError
from ..sources.pagerduty import PagerDuty
from ..sources.repository import GitRepository, open_repository
from ..sources.storage import Store

__all__ = ["Context"]


@dataclass
class Context:
    """Settings + PagerDuty + store, and where the service repositories are."""

    settings: Settings
    pagerduty_factory: Callable[[], PagerDuty] | None = None
    store_path: Path | None = None
    _pagerduty: PagerDuty | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def pagerduty(self) -> PagerDuty:
        if self._pagerduty is None:
            if self.pagerduty_factory is None:
                raise ConfigError(
                    "no PagerDuty configured",
                    hint="set PAGERDUTY_API_TOKEN (and PAGERDUTY_API_HOST for EU accounts)",
                )
            self._pagerduty = self.pagerduty_factory()
        return self._pagerduty

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.store_path or self.settings.state_dir / "ads.db")
        return self._store

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        """The context the CLI, MCP server and webhook worker use: PagerDuty from the environment.

        ``PAGERDUTY_API_TOKEN`` / ``PAGERDUTY_API_HOST`` say which account; ``ADS_PAGERDUTY_CA``
        (or ``SSL_CERT_FILE``) names a CA to trust, e.g. the local server's; ``PAGERDUTY_FROM``
        is the requester email that account-level tokens need for writes.
        """
        secrets = settings.secrets
        ca_file = os.environ.get("ADS_PAGERDUTY_CA") or os.environ.get("SSL_CERT_FILE")
        from_email = os.environ.get("PAGERDUTY_FROM") or None

        def factory() -> PagerDuty:
            return PagerDuty.from_secrets(secrets, ca_file=ca_file, from_email=from_email)

        return cls(settings=settings, pagerduty_factory=factory)

    @classmethod
    def with_pagerduty(
        cls,
        settings: Settings,
        *,
        token: str,
        api_url: str,
        events_url: str,
        verify: ssl.SSLContext | bool | str = True,
    ) -> Context:
        """The context on one given PagerDuty account instead of the environment's: ``ads demo``
        on the local PagerDuty server it starts (``verify`` trusts that server's CA)."""
        client = PagerDuty(token, api_url=api_url, events_url=events_url, verify=verify)
        return cls(settings=settings, pagerduty_factory=lambda: client)

    def repository(self, service: ServiceConfig) -> GitRepository:
        """The service's repository: a local path, or a git URL cloned into the cache."""
        return open_repository(
            service.repo, self.settings.base_dir, self.settings.state_dir / "repos"
        )
