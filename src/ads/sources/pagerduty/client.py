"""``PagerDuty``: the one door to PagerDuty (real or local), over PagerDuty's own client.

REST v2 goes through ``pagerduty.RestApiV2Client`` and Events v2 through
``pagerduty.EventsApiV2Client``; this class only chooses the calls, walks every page, and turns
answers into ADS models and failures into ADS errors: 401/403 → ``PagerDutyAuthError`` (the
token is wrong; EU accounts need ``PAGERDUTY_API_HOST``), 404 → ``PagerDutyNotFoundError``,
unreachable or 429/5xx after the client's retries → ``PagerDutyUnavailableError``. The token is
never logged or put in a message.

A certificate this machine does not trust is not a network problem and retrying cannot cure it:
the transport (``_TrustCheckingTransport``) lifts ``ssl.SSLCertVerificationError`` out of the
client's retry loop at the first attempt, and it becomes a ``PagerDutyError`` (permanent) that
names ``ADS_PAGERDUTY_CA``.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx2

import pagerduty

from ...config import Secrets
from ...errors import (
    ConfigError,
    PagerDutyAuthError,
    PagerDutyError,
    PagerDutyNotFoundError,
    PagerDutyUnavailableError,
    excerpt,
)
from ...models import Alert, Incident, LogEntry, Note, OnCall
from .convert import to_alert, to_incident, to_log_entry, to_note, to_oncall

__all__ = ["DEFAULT_API_URL", "DEFAULT_EVENTS_URL", "PagerDuty"]

Doc = dict[str, Any]
T = TypeVar("T")
DEFAULT_API_URL = "https://api.pagerduty.com"
DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
_RETRIED = {
    429: 5,
    500: 3,
    502: 3,
    503: 3,
    504: 3,
}  # bounded: the client default retries 429 forever
CA_ENV = "ADS_PAGERDUTY_CA"


class _UntrustedCertificate(Exception):
    """The server's certificate failed verification: raised through the client's retry loop
    (which retries only ``httpx2.TransportError``), since a retry meets the same certificate."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(reason)
        self.server = server
        self.reason = reason


def _certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class _TrustCheckingTransport(httpx2.HTTPTransport):
    """httpx's transport, except that an untrusted certificate is ``_UntrustedCertificate``."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return super().handle_request(request)
        except httpx2.ConnectError as exc:
            failure = _certificate_failure(exc)
            if failure is None:
                raise
            reason = failure.verify_message or failure.reason or str(failure)
            server = f"{request.url.scheme}://{request.url.netloc.decode('ascii', 'replace')}"
            raise _UntrustedCertificate(server, str(reason)) from None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


MAX_ID_CHARS = 128  # PagerDuty's ids are 7-14 characters; a longer one is not an id


def _q(identifier: str) -> str:
    """An id as one URL path segment, whatever characters a user typed into it; a
    ``PagerDutyError`` for one too long to be an id (it would not fit in a URL)."""
    if len(str(identifier)) > MAX_ID_CHARS:
        raise PagerDutyError(
            f"{excerpt(str(identifier), 40)} is not a PagerDuty incident id or number "
            f"(at most {MAX_ID_CHARS} characters)"
        )
    return quote(str(identifier), safe="")


class PagerDuty:
    """PagerDuty REST v2 + Events v2 for ADS."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        events_url: str = DEFAULT_EVENTS_URL,
        verify: ssl.SSLContext | bool | str = True,
        from_email: str | None = None,
        retry_sleep_seconds: float = 1.5,
    ) -> None:
        if not token:
            raise ConfigError("no PagerDuty API token", hint="set PAGERDUTY_API_TOKEN")
        for name, url in (("API", api_url), ("Events", events_url)):
            if not url.startswith("https://"):
                raise ConfigError(f"PagerDuty {name} URL must start with https:// (got {url!r})")
        self.api_url = api_url.rstrip("/")
        self.events_url = events_url.rstrip("/")
        self._verify = verify
        self._retry_sleep = retry_sleep_seconds
        self._event_clients: dict[str, pagerduty.EventsApiV2Client] = {}
        self.rest = pagerduty.RestApiV2Client(
            token,
            default_from=from_email,
            base_url=self.api_url,
            transport=_TrustCheckingTransport(verify=verify),
        )
        self.rest.retry.update(_RETRIED)
        self.rest.sleep_timer = retry_sleep_seconds
        self.rest.max_http_attempts = 6

    @classmethod
    def from_secrets(
        cls, secrets: Secrets, *, ca_file: Path | str | None = None, from_email: str | None = None
    ) -> PagerDuty:
        """From ``PAGERDUTY_API_TOKEN`` and ``PAGERDUTY_API_HOST`` (EU accounts:
        https://api.eu.pagerduty.com); ``ca_file`` trusts a local server's CA."""
        if not secrets.pagerduty_token:
            raise ConfigError(
                "PAGERDUTY_API_TOKEN is not set",
                hint="export a REST API token of your account, or the lines `ads pagerduty "
                "serve` prints for the local PagerDuty",
            )
        api_url = secrets.pagerduty_host or DEFAULT_API_URL
        if not api_url.startswith(("https://", "http://")):
            api_url = "https://" + api_url
        events_url = (
            DEFAULT_EVENTS_URL.replace("events.", "events.eu.")
            if ".eu." in api_url
            else (DEFAULT_EVENTS_URL if "pagerduty.com" in api_url else api_url)
        )
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        )
        return cls(
            secrets.pagerduty_token,
            api_url=api_url,
            events_url=events_url,
            verify=verify,
            from_email=from_email,
        )

    # error mapping ------------------------------------------------------------------------
    # (ids are URL-quoted into paths with _q: "P1?x=1" asks for that id, never a query)
    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except pagerduty.HttpError as exc:
            response = exc.response
            if response is None:  # HttpError always carries one; keep the type checker honest
                raise PagerDutyError(f"PagerDuty refused to {what}") from None
            raise self._http_error(what, response.status_code, response) from None
        except pagerduty.UrlError as exc:
            raise PagerDutyError(f"cannot {what}: {exc}") from None
        except _UntrustedCertificate as exc:
            raise PagerDutyError(
                f"the certificate of {exc.server} is not trusted ({exc.reason}) while trying "
                f"to {what}",
                hint=f"set {CA_ENV} to its CA file; `ads pagerduty serve` prints its own",
            ) from None
        except pagerduty.Error as exc:
            raise PagerDutyUnavailableError(
                f"PagerDuty at {self.api_url} could not be reached while trying to {what}",
                hint="check the network, or PAGERDUTY_API_HOST",
            ) from exc.__cause__

    def _http_error(self, what: str, status: int, response: Any) -> PagerDutyError | Exception:
        detail = ""
        try:
            body = response.json()
            error = body.get("error", {}) if isinstance(body, dict) else {}
            errors = error.get("errors") or body.get("errors") or []
            detail = "; ".join(str(e) for e in errors) or str(error.get("message", ""))
        except ValueError:
            pass
        if status in (401, 403):
            return PagerDutyAuthError(
                f"PagerDuty refused the API token ({status}) while trying to {what}",
                hint="check PAGERDUTY_API_TOKEN; for an EU account set "
                "PAGERDUTY_API_HOST=https://api.eu.pagerduty.com",
            )
        if status == 404:
            return PagerDutyNotFoundError(f"PagerDuty has no such object: could not {what}")
        if status == 429 or status >= 500:
            return PagerDutyUnavailableError(
                f"PagerDuty kept answering {status} while trying to {what}"
            )
        return PagerDutyError(f"PagerDuty refused to {what} ({status}): {detail or 'no detail'}")

    def _get(self, what: str, path: str, **params: Any) -> Any:
        return self._call(what, lambda: self.rest.rget(path, params=params or None))

    def _all(self, what: str, path: str, **params: Any) -> list[Doc]:
        def walk() -> list[Doc]:
            items: Iterator[Doc] = self.rest.iter_all(path, params=params or None)
            return list(items)

        return self._call(what, walk)

    # incidents ----------------------------------------------------------------------------
    def get_incident(self, incident_id: str) -> Incident:
        """The incident with its alerts (``custom_details``) and log entries."""
        doc = self._get(f"get incident {incident_id}", f"/incidents/{_q(incident_id)}")
        return to_incident(doc, self.incident_alerts(doc["id"]), self.log_entries(doc["id"]))

    def list_incidents(
        self,
        *,
        statuses: list[str] | None = None,
        service_ids: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        urgencies: list[str] | None = None,
        incident_key: str | None = None,
    ) -> list[Incident]:
        params: dict[str, Any] = {}
        if incident_key:
            params["incident_key"] = incident_key  # an Events API dedup_key
        if statuses:
            params["statuses[]"] = statuses
        if urgencies:
            params["urgencies[]"] = urgencies
        if service_ids:
            params["service_ids[]"] = service_ids
        if since or until:
            params.update({k: v for k, v in (("since", _iso(since)), ("until", _iso(until))) if v})
        else:
            params["date_range"] = "all"
        return [to_incident(d) for d in self._all("list incidents", "/incidents", **params)]

    def incident_alerts(self, incident_id: str) -> list[Alert]:
        path = f"/incidents/{_q(incident_id)}/alerts"
        return [to_alert(d) for d in self._all(f"list alerts of {incident_id}", path)]

    def log_entries(self, incident_id: str) -> list[LogEntry]:
        path = f"/incidents/{_q(incident_id)}/log_entries"
        docs = self._all(f"list log entries of {incident_id}", path)
        # PagerDuty lists newest first; oldest first (stable within one second) reads as a timeline
        entries = [to_log_entry(d) for d in reversed(docs)]
        return sorted(entries, key=lambda e: (e.created_at is None, e.created_at))

    def list_notes(self, incident_id: str) -> list[Note]:
        path = f"/incidents/{_q(incident_id)}/notes"
        return [to_note(d) for d in self._get(f"list notes of {incident_id}", path)]

    def add_note(self, incident_id: str, content: str) -> Note:
        """Add a note to the incident's timeline; returns it (``.id`` is the note's id)."""
        path = f"/incidents/{_q(incident_id)}/notes"
        doc = self._call(
            f"add a note to {incident_id}",
            lambda: self.rest.rpost(path, json={"note": {"content": content}}),
        )
        return to_note(doc)

    def _update(self, incident_id: str, what: str, change: Doc) -> Incident:
        body = {"incident": {"type": "incident_reference", **change}}
        doc = self._call(
            f"{what} incident {incident_id}",
            lambda: self.rest.rput(f"/incidents/{_q(incident_id)}", json=body),
        )
        return to_incident(doc)

    def acknowledge(self, incident_id: str) -> Incident:
        return self._update(incident_id, "acknowledge", {"status": "acknowledged"})

    def resolve(self, incident_id: str) -> Incident:
        return self._update(incident_id, "resolve", {"status": "resolved"})

    def escalate(self, incident_id: str, level: int) -> Incident:
        return self._update(incident_id, "escalate", {"escalation_level": level})

    # services, policies, people -----------------------------------------------------------
    def list_services(self) -> list[Doc]:
        return self._all("list services", "/services")

    def get_service(self, service_id: str, *, include: Sequence[str] = ()) -> Doc:
        """The service; ``include`` asks for related objects in full (``include[]``), e.g.
        ``["integrations"]``, whose Events API v2 integrations then carry their keys."""
        what = f"get service {service_id}" + (f" with its {', '.join(include)}" if include else "")
        params = {"include[]": list(include)} if include else {}
        return dict(self._get(what, f"/services/{_q(service_id)}", **params))

    def find_service(self, name: str) -> Doc:
        """The service called exactly ``name``; ``PagerDutyNotFoundError`` lists the others."""
        services = self._all(f"find service {name!r}", "/services", query=name)
        for service in services:
            if service["name"] == name:
                return service
        known = ", ".join(s["name"] for s in self.list_services()) or "none"
        raise PagerDutyNotFoundError(f"no PagerDuty service named {name!r}; services: {known}")

    def escalation_policy(self, policy_id: str) -> Doc:
        path = f"/escalation_policies/{_q(policy_id)}"
        return dict(self._get(f"get escalation policy {policy_id}", path))

    def get_user(self, user_id: str) -> Doc:
        """The user with its contact methods in full (email, phone, ...)."""
        user = dict(self._get(f"get user {user_id}", f"/users/{_q(user_id)}"))
        methods = self._get(
            f"list contact methods of {user_id}", f"/users/{_q(user_id)}/contact_methods"
        )
        user["contact_methods"] = list(methods)
        return user

    def oncalls_for_service(self, service_id: str) -> list[OnCall]:
        """Who is on call now for the service, by escalation level (level 1 first)."""
        service = self.get_service(service_id)
        policy_id = service["escalation_policy"]["id"]
        docs = self._all(
            f"list on-calls of {service['name']}",
            "/oncalls",
            **{"escalation_policy_ids[]": [policy_id]},
        )
        users: dict[str, Doc] = {}
        oncalls: list[OnCall] = []
        seen: set[tuple[int, str]] = set()
        for doc in sorted(docs, key=lambda d: int(d.get("escalation_level") or 0)):
            key = (int(doc.get("escalation_level") or 0), doc["user"]["id"])
            if key in seen:
                continue
            seen.add(key)
            user_id = doc["user"]["id"]
            if user_id not in users:
                users[user_id] = self.get_user(user_id)
            oncalls.append(to_oncall(doc, users[user_id]))
        return oncalls

    # change events ------------------------------------------------------------------------
    def change_events_for_service(
        self, service_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Doc]:
        params = {k: v for k, v in (("since", _iso(since)), ("until", _iso(until))) if v}
        path = f"/services/{_q(service_id)}/change_events"
        return self._all(f"list change events of {service_id}", path, **params)

    def related_change_events(self, incident_id: str) -> list[Doc]:
        path = f"/incidents/{_q(incident_id)}/related_change_events"
        return list(self._get(f"list change events related to {incident_id}", path))

    # Events API v2 ------------------------------------------------------------------------
    def _events(self, routing_key: str) -> pagerduty.EventsApiV2Client:
        if not routing_key:
            raise ConfigError("no routing key", hint="set PAGERDUTY_ROUTING_KEY")
        client = self._event_clients.get(routing_key)
        if client is None:
            client = pagerduty.EventsApiV2Client(
                routing_key,
                base_url=self.events_url,
                transport=_TrustCheckingTransport(verify=self._verify),
            )
            client.sleep_timer = self._retry_sleep
            self._event_clients[routing_key] = client
        return client

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat(timespec="seconds")

    def trigger(
        self,
        routing_key: str,
        summary: str,
        source: str,
        *,
        severity: str = "critical",
        dedup_key: str | None = None,
        custom_details: dict[str, Any] | None = None,
        component: str | None = None,
        group: str | None = None,
        class_: str | None = None,
    ) -> str:
        """Send a trigger event; returns the dedup_key PagerDuty grouped it under."""
        payload: Doc = {"timestamp": self._now()}
        payload.update(
            {k: v for k, v in (("component", component), ("group", group), ("class", class_)) if v}
        )
        client = self._events(routing_key)
        return str(
            self._call(
                "send a trigger event",
                lambda: client.trigger(
                    summary,
                    source,
                    dedup_key=dedup_key,
                    severity=severity,
                    payload=payload,
                    custom_details=custom_details,
                ),
            )
        )

    def acknowledge_event(self, routing_key: str, dedup_key: str) -> str:
        client = self._events(routing_key)
        return str(self._call("send an acknowledge event", lambda: client.acknowledge(dedup_key)))

    def resolve_event(self, routing_key: str, dedup_key: str) -> str:
        client = self._events(routing_key)
        return str(self._call("send a resolve event", lambda: client.resolve(dedup_key)))

    def change_event(
        self,
        routing_key: str,
        summary: str,
        *,
        source: str | None = None,
        custom_details: dict[str, Any] | None = None,
        links: list[dict[str, str]] | None = None,
    ) -> None:
        client = self._events(routing_key)
        self._call(
            "send a change event",
            lambda: client.submit(
                summary,
                source=source,
                custom_details=custom_details,
                links=links,
                timestamp=self._now(),
            ),
        )
