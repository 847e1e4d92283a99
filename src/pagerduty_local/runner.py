"""``LocalPagerDuty``: the local server in a background thread, for tests, benches and ``ads demo``.

It binds 127.0.0.1 on a free port (or the one given) before uvicorn starts, so its URLs are known
at once; serves HTTPS with the CA from ``tls.ensure_tls`` unless ``insecure_http`` is set; keeps
its state in ``state_dir/pagerduty.sqlite3`` so it survives a restart. It runs on the
runner ADS shares (``asgi_thread``), whose ``ServerStartError`` becomes this package's.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2

import asgi_thread
from asgi_thread import DEFAULT_SHUTDOWN_TIMEOUT, BackgroundServer, listen

from ._exceptions import ConfigError, ServerStartError
from .app import create_app
from .environment import Integration, environment, shell_lines
from .seed import Seed, load_seed
from .tls import ensure_tls

__all__ = ["LocalPagerDuty"]


class LocalPagerDuty:
    """A running local PagerDuty: ``with LocalPagerDuty(state_dir) as pd: pd.api_url ...``."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        seed: Path | str | None = None,
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        insecure_http: bool = False,
        webhook_retry_seconds: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT,
        rate_limit: int | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.seed: Seed = load_seed(seed)
        self.time_scale = time_scale
        self.host = host
        self.port = port
        self.insecure_http = insecure_http
        self.webhook_retry_seconds = webhook_retry_seconds
        self.clock = clock
        self.shutdown_timeout = shutdown_timeout
        self.rate_limit = rate_limit
        self.ca_file: Path | None = None
        self.runner: BackgroundServer | None = None
        self.app: Any = None

    # URLs and credentials -----------------------------------------------------------------
    @property
    def api_url(self) -> str:
        scheme = "http" if self.insecure_http else "https"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def events_url(self) -> str:
        """Base URL of Events API v2 (clients post to ``/v2/enqueue`` under it)."""
        return self.api_url

    @property
    def token(self) -> str:
        return self.seed.api_token

    @property
    def from_email(self) -> str:
        """The email of the user the local token belongs to (the seed's first user)."""
        return self.seed.users[0].email if self.seed.users else ""

    @property
    def store_path(self) -> Path:
        return self.state_dir / "pagerduty.sqlite3"

    def routing_key(self, service_name: str) -> str:
        for service in self.seed.services:
            if service.name == service_name and service.integrations:
                return service.integrations[0].integration_key
        known = ", ".join(s.name for s in self.seed.services) or "none"
        raise ConfigError(
            f"no Events API v2 integration for service {service_name!r}; seeded services: {known}"
        )

    def integrations(self) -> list[Integration]:
        """Every Events API v2 integration of the seed, service by service."""
        return [
            Integration(service.name, integration.integration_key)
            for service in self.seed.services
            for integration in service.integrations
        ]

    def client_environment(self) -> dict[str, str]:
        """The variables a client needs (``environment``): URL, token, CA, routing key."""
        return environment(self.api_url, self.token, self.ca_file, self.integrations())

    def shell_lines(self) -> list[str]:
        """``export`` lines of ``client_environment``, for ``eval "$(…)"``."""
        return shell_lines(self.api_url, self.token, self.ca_file, self.integrations())

    def web_url(self, incident: str) -> str:
        return f"{self.api_url}/web/incidents/{incident}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the local CA (what ``verify=`` should get)."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def add_webhook_subscription(
        self,
        url: str,
        *,
        events: list[str] | None = None,
        service_id: str | None = None,
        description: str = "",
    ) -> tuple[str, str]:
        """Subscribe ``url`` to webhooks v3 through ``POST /webhook_subscriptions``, as one
        would on PagerDuty; returns ``(subscription_id, secret)`` (the secret signs every
        delivery and is shown only here)."""
        body = {
            "webhook_subscription": {
                "type": "webhook_subscription",
                "description": description,
                "delivery_method": {"type": "http_delivery_method", "url": url},
                "events": events
                or [
                    "incident.triggered",
                    "incident.acknowledged",
                    "incident.resolved",
                    "incident.annotated",
                ],
                "filter": (
                    {"type": "service_reference", "id": service_id}
                    if service_id
                    else {"type": "account_reference"}
                ),
            }
        }
        verify: ssl.SSLContext | bool = self.ssl_context() if self.ca_file else True
        response = httpx2.post(
            f"{self.api_url}/webhook_subscriptions",
            json=body,
            headers={"Authorization": f"Token token={self.token}"},
            verify=verify,
        )
        if response.status_code != 200:
            raise ConfigError(f"webhook subscription refused: {response.text}")
        created = response.json()["webhook_subscription"]
        return created["id"], created["delivery_method"]["secret"]

    def webhook_subscription_for(self, url: str) -> tuple[str, str] | None:
        """``(subscription_id, secret)`` of an active subscription already delivering to
        ``url`` (kept in the state across restarts), read from this server's own store."""
        if self.app is None:
            return None
        for sub in self.app.state.pd.account.store.list_objects("webhook_subscription"):
            method = sub.get("delivery_method") or {}
            if sub.get("active", True) and method.get("url") == url and method.get("secret"):
                return str(sub["id"]), str(method["secret"])
        return None

    def ensure_webhook_subscription(self, url: str, events: list[str]) -> tuple[str, str, bool]:
        """The subscription delivering ``events`` to ``url``: the existing one (so restarting
        ``ads pagerduty serve --webhook-url`` keeps the secret ``ads serve`` already has) or a
        new one; ``(id, secret, created)``."""
        found = self.webhook_subscription_for(url)
        if found is not None:
            return (*found, False)
        return (*self.add_webhook_subscription(url, events=events), True)

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> LocalPagerDuty:
        """Serve; an address in use, or a server that does not come up, is a
        ``ServerStartError``."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            sock = listen(self.host, self.port)  # first: the app needs its own URL
        except asgi_thread.ServerStartError as exc:
            raise ServerStartError(str(exc)) from None
        self.port = int(sock.getsockname()[1])
        tls: dict[str, Any] = {}
        if not self.insecure_http:
            files = ensure_tls(self.state_dir)
            self.ca_file = files.ca_file
            tls = {"ssl_certfile": str(files.cert_file), "ssl_keyfile": str(files.key_file)}
        self.app = create_app(
            self.store_path,
            seed=self.seed,
            base_url=self.api_url,
            time_scale=self.time_scale,
            webhook_retry_seconds=self.webhook_retry_seconds,
            clock=self.clock,
            rate_limit=self.rate_limit,
        )
        server = BackgroundServer(
            self.app,
            sock=sock,
            lifespan="on",
            shutdown_timeout=self.shutdown_timeout,
            name="local-pagerduty",
            **tls,
        )
        try:
            self.runner = server.start()
        except asgi_thread.ServerStartError as exc:
            self.app.state.pd.account.store.close()
            raise ServerStartError(str(exc)) from exc.__cause__
        return self

    def stop(self) -> None:
        """Stop serving (idle keep-alive connections of clients are cut); the state is kept."""
        if self.runner is not None:
            self.runner.stop()
            self.app.state.pd.account.store.close()
        self.runner = None

    def __enter__(self) -> LocalPagerDuty:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
