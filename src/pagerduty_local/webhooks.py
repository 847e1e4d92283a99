"""Webhooks v3 out: PagerDuty's envelope, signed, delivered in order, retried with backoff.

As PagerDuty does: the body is ``{"event": {id, event_type, resource_type, occurred_at, agent,
client, data}}``; ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>`` with the
subscription's secret; ``X-Webhook-Id`` repeats on every attempt; timeouts, connection errors,
429 and 5xx are retried with growing delays, any other 4xx drops the webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from .account import Account

__all__ = ["Delivery", "WebhookSender", "sign"]

Doc = dict[str, Any]
log = logging.getLogger(__name__)


def sign(body: bytes, secret: str) -> str:
    """``X-PagerDuty-Signature`` for ``body`` under a subscription's ``secret``, as PagerDuty
    signs: ``v1=`` and the hex HMAC-SHA256 of the raw body.

    The server signs with its own code, not ADS's verifier (``ads.sources.pagerduty``): it is a
    separate product that ADS reaches only over HTTP, as it reaches PagerDuty.
    """
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One webhook to one subscription, and what became of it."""

    webhook_id: str
    subscription_id: str
    url: str
    event_type: str
    body: bytes
    signature: str
    attempts: list[str] = field(default_factory=list)
    delivered: bool = False
    dropped: bool = False


class WebhookSender:
    """Queues webhooks for the account's subscriptions and delivers them in order."""

    def __init__(
        self,
        account: Account,
        *,
        max_attempts: int = 6,
        first_retry_seconds: float = 1.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.account = account
        self.max_attempts = max_attempts
        self.first_retry_seconds = first_retry_seconds
        self.timeout_seconds = timeout_seconds
        self.deliveries: list[Delivery] = []
        self._queue: asyncio.Queue[Delivery] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # called by IncidentBook, from any thread ----------------------------------------------
    def incident_changed(self, event_type: str, incident: Doc, agent: Doc | None) -> None:
        subscriptions = [
            s
            for s in self.account.store.list_objects("webhook_subscription")
            if s.get("active", True) and event_type in s["events"] and _matches(s, incident)
        ]
        if not subscriptions or self._loop is None or self._queue is None:
            return
        envelope = self.envelope(event_type, incident, agent)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        for sub in subscriptions:
            method = sub["delivery_method"]
            delivery = Delivery(
                webhook_id=str(uuid.uuid4()),
                subscription_id=sub["id"],
                url=method["url"],
                event_type=event_type,
                body=body,
                signature=sign(body, method["secret"]),
            )
            self.deliveries.append(delivery)
            self._loop.call_soon_threadsafe(self._queue.put_nowait, delivery)

    def ping(self, sub: Doc) -> bool:
        """Send ``pagey.ping`` to one subscription, as PagerDuty's "test" does; False when the
        sender is not running."""
        if self._loop is None or self._queue is None:
            return False
        occurred = self.account.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        envelope = {
            "event": {
                "id": uuid.uuid4().hex[:26].upper(),
                "event_type": "pagey.ping",
                "resource_type": "pagey",
                "occurred_at": occurred,
                "agent": None,
                "client": None,
                "data": {"message": "Hello from your friend Pagey!", "type": "ping"},
            }
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        method = sub["delivery_method"]
        delivery = Delivery(
            webhook_id=str(uuid.uuid4()),
            subscription_id=sub["id"],
            url=method["url"],
            event_type="pagey.ping",
            body=body,
            signature=sign(body, method["secret"]),
        )
        self.deliveries.append(delivery)
        self._loop.call_soon_threadsafe(self._queue.put_nowait, delivery)
        return True

    def envelope(self, event_type: str, incident: Doc, agent: Doc | None) -> Doc:
        account = self.account
        if event_type == "incident.annotated":
            notes = account.store.list_notes(incident["id"])
            note = notes[-1] if notes else {"id": None, "content": ""}
            data: Doc = {
                "incident": {k: incident[k] for k in ("id", "self", "html_url")}
                | {"type": "incident_reference"},
                "id": note["id"],
                "content": note["content"],
                "trimmed": False,
                "type": "incident_note",
            }
        else:
            data = {
                "id": incident["id"],
                "type": "incident",
                "self": incident["self"],
                "html_url": incident["html_url"],
                "number": incident["incident_number"],
                "status": incident["status"],
                "incident_key": incident["incident_key"],
                "created_at": incident["created_at"],
                "title": incident["title"],
                "service": incident["service"],
                "assignees": [a["assignee"] for a in incident["assignments"]],
                "escalation_policy": incident["escalation_policy"],
                "teams": incident.get("teams", []),
                "priority": incident.get("priority"),
                "urgency": incident["urgency"],
                "conference_bridge": None,
                "resolve_reason": None,
            }
        occurred = account.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return account.render(
            {
                "event": {
                    "id": uuid.uuid4().hex[:26].upper(),
                    "event_type": event_type,
                    "resource_type": "incident",
                    "occurred_at": occurred,
                    "agent": agent,
                    "client": None,
                    "data": data,
                }
            }
        )

    # the delivery task --------------------------------------------------------------------
    async def run(self) -> None:
        """Deliver queued webhooks until cancelled (started by the app's lifespan)."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        first = await self._queue.get()  # a client only once there is something to send:
        # making one loads the CA bundle, which most servers (tests, the demo) never need
        async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
            await self._deliver(client, first)
            while True:
                delivery = await self._queue.get()
                await self._deliver(client, delivery)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-PagerDuty-Signature": delivery.signature,
            "X-Webhook-Id": delivery.webhook_id,
            "X-Webhook-Subscription": delivery.subscription_id,
        }
        delay = self.first_retry_seconds
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await client.post(delivery.url, content=delivery.body, headers=headers)
            except httpx.HTTPError as exc:
                delivery.attempts.append(type(exc).__name__)
            else:
                delivery.attempts.append(str(response.status_code))
                if response.is_success:
                    delivery.delivered = True
                    return
                if response.status_code != 429 and response.status_code < 500:
                    break
            if attempt < self.max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        delivery.dropped = True
        log.warning(
            "webhook %s to %s dropped after %s",
            delivery.event_type,
            delivery.url,
            ", ".join(delivery.attempts),
        )


def _matches(subscription: Doc, incident: Doc) -> bool:
    """An account-wide subscription, or one filtered to the incident's service or team."""
    target = subscription["filter"]
    if target["type"] == "service_reference":
        return bool(target.get("id") == incident["service"]["id"])
    if target["type"] == "team_reference":
        return any(t["id"] == target.get("id") for t in incident.get("teams", []))
    return True
