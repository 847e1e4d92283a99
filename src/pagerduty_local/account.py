"""The account: seed → stored PagerDuty objects, references, URLs, and on-call resolution.

Stored documents carry relative ``self``/``html_url`` paths; ``render`` prefixes them with the
address the server listens on, so the same SQLite file keeps working after a restart on another
port.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .oncall import Turn, format_time, turns
from .seed import Seed
from .store import Store

__all__ = ["Account", "new_id", "reference"]

Doc = dict[str, Any]
_ALPHABET = string.ascii_uppercase + string.digits


def new_id(prefix: str = "P", length: int = 7) -> str:
    """A PagerDuty-looking object id (``PXXXXXX``)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length - len(prefix)))


_PATHS = {
    "user": "users",
    "team": "teams",
    "schedule": "schedules",
    "escalation_policy": "escalation_policies",
    "service": "services",
    "incident": "incidents",
    "priority": "priorities",
}

# The priorities a PagerDuty account has once priorities are turned on (P1 highest).
PRIORITIES = [
    ("PPRIO01", "P1", "Critical: the service is down for everyone"),
    ("PPRIO02", "P2", "High: a major part of the service is impaired"),
    ("PPRIO03", "P3", "Moderate: a minor part of the service is impaired"),
    ("PPRIO04", "P4", "Low: a cosmetic or small issue"),
    ("PPRIO05", "P5", "Informational"),
]


def reference(kind: str, object_id: str, summary: str) -> Doc:
    """A ``<kind>_reference`` with relative links (made absolute by ``Account.render``)."""
    path = f"/{_PATHS[kind]}/{object_id}"
    return {
        "id": object_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": path,
        "html_url": path,
    }


class Account:
    """The served account: the store plus where it is served and how fast its clock runs."""

    def __init__(
        self,
        store: Store,
        *,
        base_url: str = "",
        time_scale: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from datetime import UTC

        self.store = store
        self.base_url = base_url.rstrip("/")
        self.time_scale = time_scale
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    @property
    def token(self) -> str:
        return self.store.get_meta("api_token") or ""

    @property
    def subdomain(self) -> str:
        return self.store.get_meta("subdomain") or "ads-local"

    def render(self, value: Any) -> Any:
        """A stored document with its relative ``self``/``html_url`` made absolute."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "self" and isinstance(item, str) and item.startswith("/"):
                    out[key] = self.base_url + item
                elif key == "html_url" and isinstance(item, str) and item.startswith("/"):
                    out[key] = f"{self.base_url}/web{item}"
                else:
                    out[key] = self.render(item)
            return out
        if isinstance(value, list):
            return [self.render(item) for item in value]
        return value

    def priorities(self) -> list[Doc]:
        """The account's incident priorities, highest first."""
        return [
            {
                **reference("priority", priority_id, name),
                "type": "priority",
                "name": name,
                "description": description,
                "color": color,
            }
            for (priority_id, name, description), color in zip(
                PRIORITIES, ("a8171c", "eb6016", "f9b406", "555555", "cccccc"), strict=True
            )
        ]

    # seeding ------------------------------------------------------------------------------
    def load_seed(self, seed: Seed) -> None:
        """Write the seed's directory objects (incidents already stored are kept)."""
        store = self.store
        with store.transaction():
            store.set_meta("api_token", seed.api_token)
            store.set_meta("subdomain", seed.subdomain)
            teams = {t.id: reference("team", t.id, t.name) for t in seed.teams}
            users = {u.id: reference("user", u.id, u.name) for u in seed.users}
            schedules = {s.id: reference("schedule", s.id, s.name) for s in seed.schedules}
            policies = {
                p.id: reference("escalation_policy", p.id, p.name) for p in seed.escalation_policies
            }
            services = {s.id: reference("service", s.id, s.name) for s in seed.services}
            for n, team in enumerate(seed.teams):
                store.put_object(
                    "team",
                    {
                        **teams[team.id],
                        "type": "team",
                        "name": team.name,
                        "description": team.description,
                    },
                    n,
                )
            for n, user in enumerate(seed.users):
                store.put_object("user", self._user_doc(user, users, teams), n)
            for n, schedule in enumerate(seed.schedules):
                policies_using = [
                    policies[p.id]
                    for p in seed.escalation_policies
                    if any(t.id == schedule.id for r in p.rules for t in r.targets)
                ]
                store.put_object(
                    "schedule",
                    {
                        **schedules[schedule.id],
                        "type": "schedule",
                        "name": schedule.name,
                        "description": "",
                        "time_zone": schedule.time_zone,
                        "users": [users[u] for u in dict.fromkeys(schedule.users)],
                        "escalation_policies": policies_using,
                        "teams": [],
                        "schedule_layers": [
                            {
                                "id": f"{schedule.id}L1",
                                "name": "Layer 1",
                                "start": format_time(schedule.rotation_virtual_start),
                                "end": None,
                                "rotation_virtual_start": format_time(
                                    schedule.rotation_virtual_start
                                ),
                                "rotation_turn_length_seconds": (
                                    schedule.rotation_turn_length_seconds
                                ),
                                "users": [{"user": users[u]} for u in schedule.users],
                                "restrictions": [],
                            }
                        ],
                    },
                    n,
                )
            for n, policy in enumerate(seed.escalation_policies):
                rules = []
                for level, rule in enumerate(policy.rules, start=1):
                    targets = [
                        schedules[t.id] if t.type == "schedule_reference" else users[t.id]
                        for t in rule.targets
                    ]
                    rules.append(
                        {
                            "id": f"{policy.id}R{level}",
                            "escalation_delay_in_minutes": rule.escalation_delay_in_minutes,
                            "targets": targets,
                        }
                    )
                store.put_object(
                    "escalation_policy",
                    {
                        **policies[policy.id],
                        "type": "escalation_policy",
                        "name": policy.name,
                        "description": "",
                        "num_loops": policy.num_loops,
                        "on_call_handoff_notifications": "if_has_services",
                        "escalation_rules": rules,
                        "services": [
                            services[s.id]
                            for s in seed.services
                            if s.escalation_policy == policy.id
                        ],
                        "teams": [teams[t] for t in policy.teams],
                    },
                    n,
                )
            for n, service in enumerate(seed.services):
                store.put_object(
                    "service", self._service_doc(service, services, policies, teams), n
                )
                for integration in service.integrations:
                    store.put_object(
                        "routing_key",
                        {
                            "id": integration.integration_key,
                            "service_id": service.id,
                            "integration_id": integration.id,
                            "integration_name": integration.name,
                        },
                    )
            for n, sub in enumerate(seed.webhook_subscriptions):
                store.put_object(
                    "webhook_subscription",
                    {
                        "id": sub.id,
                        "type": "webhook_subscription",
                        "active": True,
                        "description": sub.description,
                        "events": sub.events,
                        "filter": (
                            {"type": "service_reference", "id": sub.service_id}
                            if sub.service_id
                            else {"type": "account_reference"}
                        ),
                        "delivery_method": {
                            "type": "http_delivery_method",
                            "url": sub.url,
                            "secret": sub.secret,
                            "custom_headers": [],
                        },
                    },
                    n,
                )

    @staticmethod
    def _user_doc(user: Any, users: dict[str, Doc], teams: dict[str, Doc]) -> Doc:
        return {
            **users[user.id],
            "type": "user",
            "name": user.name,
            "email": user.email,
            "time_zone": user.time_zone,
            "color": "green",
            "role": user.role,
            "avatar_url": "https://secure.gravatar.com/avatar/0.png",
            "description": user.description,
            "invitation_sent": False,
            "job_title": "",
            "teams": [teams[t] for t in user.teams],
            "contact_methods": [
                {
                    "id": f"{user.id}E",
                    "type": "email_contact_method_reference",
                    "summary": "Default",
                    "self": f"/users/{user.id}/contact_methods/{user.id}E",
                    "html_url": None,
                }
            ],
            "notification_rules": [],
        }

    @staticmethod
    def _service_doc(
        service: Any, services: dict[str, Doc], policies: dict[str, Doc], teams: dict[str, Doc]
    ) -> Doc:
        # PagerDuty writes "severity based" as a constant rule whose urgency is severity_based.
        rule: Doc = {"type": "constant", "urgency": service.urgency_rule}
        return {
            **services[service.id],
            "type": "service",
            "name": service.name,
            "description": service.description,
            "auto_resolve_timeout": None,
            "acknowledgement_timeout": None,
            "created_at": "2026-01-05T00:00:00Z",
            "updated_at": "2026-01-05T00:00:00Z",
            "status": "active",
            "last_incident_timestamp": None,
            "escalation_policy": policies[service.escalation_policy],
            "teams": [teams[t] for t in service.teams],
            "integrations": [
                {
                    "id": i.id,
                    "type": "events_api_v2_inbound_integration_reference",
                    "summary": i.name,
                    "self": f"/services/{service.id}/integrations/{i.id}",
                    "html_url": f"/services/{service.id}/integrations/{i.id}",
                }
                for i in service.integrations
            ],
            "incident_urgency_rule": rule,
            "alert_creation": "create_alerts_and_incidents",
            "alert_grouping_parameters": {"type": None},
        }

    # on call ------------------------------------------------------------------------------
    def oncalls(self, since: datetime | None = None, until: datetime | None = None) -> list[Doc]:
        """Every on-call span of every policy level overlapping the window (default: now)."""
        since = since or self.now()
        until = until or since
        found: list[Doc] = []
        for policy in self.store.list_objects("escalation_policy"):
            policy_ref = {k: policy[k] for k in ("id", "type", "summary", "self", "html_url")}
            policy_ref["type"] = "escalation_policy_reference"
            for level, rule in enumerate(policy["escalation_rules"], start=1):
                for target in rule["targets"]:
                    if target["type"] == "user_reference":
                        found.append(self._oncall(policy_ref, level, target, None, None))
                        continue
                    schedule = self.store.get_object("schedule", target["id"])
                    if schedule is None:
                        continue
                    for turn in turns(schedule, since, until):
                        found.append(self._oncall(policy_ref, level, turn.user, target, turn))
        return found

    @staticmethod
    def _oncall(policy: Doc, level: int, user: Doc, schedule: Doc | None, turn: Turn | None) -> Doc:
        return {
            "escalation_policy": policy,
            "escalation_level": level,
            "schedule": schedule,
            "user": user,
            "start": format_time(turn.start) if turn else None,
            "end": format_time(turn.end) if turn else None,
        }

    def on_call_at_level(self, policy_id: str, level: int) -> list[Doc]:
        """The user references on call now at ``level`` of the policy (one per target)."""
        now = self.now()
        users: dict[str, Doc] = {}
        for oncall in self.oncalls(now, now):
            if (
                oncall["escalation_policy"]["id"] == policy_id
                and oncall["escalation_level"] == level
            ):
                users.setdefault(oncall["user"]["id"], oncall["user"])
        return list(users.values())

    def escalation_delay(self, policy: Doc, level: int) -> timedelta:
        """How long level ``level`` has before the incident escalates, on the scaled clock."""
        minutes = policy["escalation_rules"][level - 1]["escalation_delay_in_minutes"]
        return timedelta(seconds=minutes * 60 / self.time_scale)
