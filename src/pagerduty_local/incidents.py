"""Incident lifecycle: events open, group, acknowledge, resolve and escalate incidents.

It follows PagerDuty's rules for one service: a trigger opens an incident assigned to whoever is
on call now at level 1 of the service's escalation policy (or adds an alert to the open incident
with the same ``dedup_key``); acknowledge/resolve act on that incident; an incident left
unacknowledged for a rule's ``escalation_delay_in_minutes`` moves to the next level. Every step
writes the log entry PagerDuty writes and tells ``on_change`` (which sends webhooks).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .account import Account, new_id, reference
from .oncall import format_time

__all__ = ["IncidentBook", "Rejected"]

Doc = dict[str, Any]
ChangeListener = Callable[[str, Doc, Doc | None], None]

_HIGH = {"critical", "error"}


def contexts(event: Doc) -> list[Doc]:
    """An Events API trigger's ``links`` and ``images`` as alert contexts, typed as PagerDuty
    types them (``link``: href, text; ``image``: src, href, alt text)."""
    found: list[Doc] = []
    for link in event.get("links") or []:
        if isinstance(link, dict) and link.get("href"):
            found.append({"type": "link", "href": link["href"], "text": link.get("text", "")})
    for image in event.get("images") or []:
        if isinstance(image, dict) and image.get("src"):
            found.append(
                {"type": "image", "src": image["src"]}
                | ({"href": image["href"]} if image.get("href") else {})
                | ({"text": image["alt"]} if image.get("alt") else {})
            )
    return found


class Rejected(Exception):
    """A request the lifecycle refuses (bad status change, unknown level): 400 with a reason."""


class IncidentBook:
    """The incidents of one account and the rules that move them."""

    def __init__(self, account: Account, on_change: ChangeListener | None = None) -> None:
        self.account = account
        self.store = account.store
        self.on_change: ChangeListener = on_change or (lambda kind, incident, agent: None)

    # events -------------------------------------------------------------------------------
    def trigger(self, service: Doc, integration: Doc, event: Doc) -> str:
        """Open an incident, or add an alert to the open one with the same dedup_key."""
        payload = event["payload"]
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        now = format_time(self.account.now())
        with self.store.transaction():
            open_id = self.store.open_incident_for_dedup(service["id"], dedup_key)
            if open_id is not None:
                incident, level, since = self._require(open_id)
                entry = self._log(
                    incident,
                    "trigger_log_entry",
                    "Triggered through the API",
                    self._integration_agent(service, integration),
                    now,
                )
                self._add_alert(incident, service, payload, dedup_key, entry, now, event)
                incident["updated_at"] = now
                self.store.update_incident(incident, level=level, level_since=since)
                created = None
            else:
                created = self._open(service, integration, payload, dedup_key, now, event)
        if created is not None:
            self.on_change("incident.triggered", created, None)
        return dedup_key

    def act_on_dedup(self, service: Doc, dedup_key: str, action: str) -> None:
        """``acknowledge``/``resolve`` from Events v2; PagerDuty ignores unknown keys."""
        open_id = self.store.open_incident_for_dedup(service["id"], dedup_key)
        if open_id is None:
            return
        agent = reference("service", service["id"], service["name"])
        if action == "acknowledge":
            self.acknowledge(open_id, agent, channel="api")
        else:
            self.resolve(open_id, agent, channel="api")

    # REST actions -------------------------------------------------------------------------
    def acknowledge(self, incident_id: str, agent: Doc, *, channel: str = "api") -> Doc:
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            if incident["status"] == "resolved":
                raise Rejected("Incident Already Resolved")
            if incident["status"] == "triggered":
                now = format_time(self.account.now())
                self._status(incident, "acknowledged", agent, now)
                incident["acknowledgements"] = [{"at": now, "acknowledger": agent}]
                self._log(incident, "acknowledge_log_entry", "Acknowledged", agent, now, channel)
                self.store.update_incident(incident, level=level, level_since=since)
            else:
                return incident
        self.on_change("incident.acknowledged", incident, agent)
        return incident

    def resolve(self, incident_id: str, agent: Doc, *, channel: str = "api") -> Doc:
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            if incident["status"] == "resolved":
                return incident
            now = format_time(self.account.now())
            self._status(incident, "resolved", agent, now)
            incident["resolved_at"] = now
            incident["assignments"] = []
            for alert in self.store.list_alerts(incident["id"]):
                alert["status"] = "resolved"
                alert["resolved_at"] = now
                self.store.update_alert(alert)
            counts = incident["alert_counts"]
            incident["alert_counts"] = {
                "all": counts["all"],
                "triggered": 0,
                "resolved": counts["all"],
            }
            self._log(incident, "resolve_log_entry", "Resolved", agent, now, channel)
            self.store.update_incident(incident, level=level, level_since=since)
        self.on_change("incident.resolved", incident, agent)
        return incident

    def escalate(self, incident_id: str, level: int, agent: Doc | None) -> Doc:
        """Move the incident to ``level`` of its policy and assign that level's on-calls."""
        with self.store.transaction():
            incident, _, _ = self._require(incident_id)
            if incident["status"] == "resolved":
                raise Rejected("Incident Already Resolved")
            policy = self.store.get_object("escalation_policy", incident["escalation_policy"]["id"])
            if policy is None or not 1 <= level <= len(policy["escalation_rules"]):
                raise Rejected(
                    f"escalation_level must be between 1 and "
                    f"{len(policy['escalation_rules']) if policy else 0}"
                )
            now = format_time(self.account.now())
            who = agent or reference(
                "service", incident["service"]["id"], incident["service"]["summary"]
            )
            self._log(
                incident,
                "escalate_log_entry",
                f"Escalated to level {level}",
                who,
                now,
                "api" if agent else "timeout",
            )
            self._assign(incident, self.account.on_call_at_level(policy["id"], level), now)
            incident["updated_at"] = now
            self.store.update_incident(
                incident, level=level, level_since=self.account.now().timestamp()
            )
        self.on_change("incident.escalated", incident, agent)
        return incident

    def reassign(self, incident_id: str, users: list[Doc], agent: Doc) -> Doc:
        with self.store.transaction():
            incident, level, _ = self._require(incident_id)
            if incident["status"] == "resolved":
                raise Rejected("Incident Already Resolved")
            now = format_time(self.account.now())
            self._assign(incident, users, now)
            incident["updated_at"] = now
            self.store.update_incident(
                incident, level=level, level_since=self.account.now().timestamp()
            )
        self.on_change("incident.reassigned", incident, agent)
        return incident

    def add_note(self, incident_id: str, content: str, user: Doc) -> Doc:
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            now = format_time(self.account.now())
            note = {
                "id": new_id("Q", 14),
                "user": user,
                "channel": {"summary": "The PagerDuty REST API", "type": "api"},
                "content": content,
                "created_at": now,
            }
            self.store.add_note(incident["id"], note)
            self._log(incident, "annotate_log_entry", content, user, now, "note")
            self.store.update_incident(incident, level=level, level_since=since)
        self.on_change("incident.annotated", incident, user)
        return note

    def create(self, service: Doc, fields: Doc, agent: Doc) -> Doc:
        """Open an incident from ``POST /incidents`` (no alert: PagerDuty creates none either),
        assigned to ``fields["assignments"]`` users or the policy's level-1 on-calls."""
        now = format_time(self.account.now())
        with self.store.transaction():
            if fields.get("incident_key"):
                open_id = self.store.open_incident_for_dedup(service["id"], fields["incident_key"])
                if open_id is not None:
                    raise Rejected(
                        "Open incident with matching dedup key already exists on this service"
                    )
            number = self.store.next_incident_number()
            incident_id = new_id()
            policy = fields.get("escalation_policy") or service["escalation_policy"]
            title = fields["title"]
            incident: Doc = {
                **reference("incident", incident_id, f"[#{number}] {title}"),
                "type": "incident",
                "incident_number": number,
                "title": title,
                "description": title,
                "created_at": now,
                "updated_at": now,
                "status": "triggered",
                "incident_key": fields.get("incident_key") or uuid.uuid4().hex,
                "service": reference("service", service["id"], service["name"]),
                "assignments": [],
                "assigned_via": "direct_assignment"
                if fields.get("assignments")
                else "escalation_policy",
                "last_status_change_at": now,
                "last_status_change_by": agent,
                "alert_counts": {"all": 0, "triggered": 0, "resolved": 0},
                "is_mergeable": True,
                "escalation_policy": {
                    k: policy[k] for k in ("id", "type", "summary", "self", "html_url")
                },
                "teams": service.get("teams", []),
                "pending_actions": [],
                "acknowledgements": [],
                "priority": fields.get("priority"),
                "urgency": fields.get("urgency") or "high",
                "incident_type": {"name": "incident_default"},
            }
            # the body's details are the trigger's event details (PagerDuty's incident body is
            # not part of the incident it returns)
            entry = self._log(
                incident, "trigger_log_entry", "Triggered through the API", agent, now,
                event_details={"description": str(fields.get("details") or title)},
            )  # fmt: skip
            incident["first_trigger_log_entry"] = {
                k: entry[k] for k in ("id", "summary", "self", "html_url")
            } | {"type": "trigger_log_entry_reference"}
            users = fields.get("assignments") or self.account.on_call_at_level(policy["id"], 1)
            self._assign(incident, users, now)
            level_since = self.account.now().timestamp()
            self.store.insert_incident(incident, level=1, level_since=level_since)
        self.on_change("incident.triggered", incident, agent)
        return incident

    def set_fields(self, incident_id: str, fields: Doc, agent: Doc) -> Doc:
        """Change ``title``, ``urgency``, ``priority``, ``escalation_policy`` or record a
        ``resolution`` (a note PagerDuty adds when resolving), with the log entries."""
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            now = format_time(self.account.now())
            if "title" in fields:
                incident["title"] = incident["description"] = fields["title"]
                incident["summary"] = f"[#{incident['incident_number']}] {fields['title']}"
            if "urgency" in fields and fields["urgency"] != incident.get("urgency"):
                incident["urgency"] = fields["urgency"]
                self._log(
                    incident, "urgency_change_log_entry", f"Urgency changed to {fields['urgency']}",
                    agent, now,
                )  # fmt: skip
            if "priority" in fields:
                incident["priority"] = fields["priority"]
            if "escalation_policy" in fields:
                policy = fields["escalation_policy"]
                if incident["status"] == "resolved":
                    raise Rejected("Incident Already Resolved")
                incident["escalation_policy"] = {
                    k: policy[k] for k in ("id", "type", "summary", "self", "html_url")
                }
                self._log(
                    incident, "escalate_log_entry",
                    f"Reassigned to escalation policy {policy['summary']}", agent, now,
                )  # fmt: skip
                self._assign(incident, self.account.on_call_at_level(policy["id"], 1), now)
                level, since = 1, self.account.now().timestamp()
            if fields.get("resolution"):
                self.store.add_note(
                    incident["id"],
                    {
                        "id": new_id("Q", 14),
                        "user": agent,
                        "channel": {"summary": "The PagerDuty REST API", "type": "api"},
                        "content": fields["resolution"],
                        "created_at": now,
                    },
                )
            incident["updated_at"] = now
            self.store.update_incident(incident, level=level, level_since=since)
        if "priority" in fields:
            self.on_change("incident.priority_updated", incident, agent)
        if "escalation_policy" in fields:
            self.on_change("incident.reassigned", incident, agent)
        return incident

    def snooze(self, incident_id: str, seconds: int, agent: Doc) -> Doc:
        """Snooze an acknowledged incident: it returns to triggered after ``seconds``
        (recorded as PagerDuty's ``pending_actions`` ``unacknowledge``)."""
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            if incident["status"] != "acknowledged":
                raise Rejected("Incident must be acknowledged to be snoozed")
            now = self.account.now()
            at = format_time(now + timedelta(seconds=seconds))
            incident["pending_actions"] = [
                a for a in incident.get("pending_actions", []) if a.get("type") != "unacknowledge"
            ] + [{"type": "unacknowledge", "at": at}]
            self._log(
                incident, "snooze_log_entry", f"Snoozed for {seconds} seconds", agent,
                format_time(now), changed_actions=[],
            )  # fmt: skip
            incident["updated_at"] = format_time(now)
            self.store.update_incident(incident, level=level, level_since=since)
        return incident

    def merge(self, target_id: str, source_ids: list[str], agent: Doc) -> Doc:
        """Move the sources' alerts into the target and resolve the sources, as PagerDuty
        merges incidents."""
        resolved: list[Doc] = []
        with self.store.transaction():
            target, level, since = self._require(target_id)
            if target["status"] == "resolved":
                raise Rejected("Incident Already Resolved")
            now = format_time(self.account.now())
            for source_id in source_ids:
                source, s_level, s_since = self._require(source_id)
                if source["id"] == target["id"]:
                    raise Rejected("An incident cannot be merged into itself")
                moved = self.store.list_alerts(source["id"])
                for alert in moved:
                    alert["incident"] = reference("incident", target["id"], target["summary"])
                    self.store.move_alert(alert, target["id"])
                counts, more = target["alert_counts"], source["alert_counts"]
                target["alert_counts"] = {k: counts[k] + more[k] for k in counts}
                source["alert_counts"] = {"all": 0, "triggered": 0, "resolved": 0}
                self._status(source, "resolved", agent, now)
                source["resolved_at"] = now
                source["assignments"] = []
                source["resolve_reason"] = {
                    "type": "merge_resolve_reason",
                    "incident": reference("incident", target["id"], target["summary"]),
                }
                self._log(
                    source, "resolve_log_entry", f"Resolved by merging into {target['summary']}",
                    agent, now,
                )  # fmt: skip
                self.store.update_incident(source, level=s_level, level_since=s_since)
                resolved.append(source)
                self._log(
                    target, "annotate_log_entry", f"Merged {source['summary']} into this incident",
                    agent, now,
                )  # fmt: skip
            target["updated_at"] = now
            self.store.update_incident(target, level=level, level_since=since)
        for source in resolved:
            self.on_change("incident.resolved", source, agent)
        return target

    def request_responders(
        self, incident_id: str, requester: Doc, message: str, targets: list[Doc]
    ) -> Doc:
        """Ask users (or an escalation policy's on-calls) to join the incident; they are added
        to ``incident_responders`` as pending, as PagerDuty records a responder request."""
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            if incident["status"] == "resolved":
                raise Rejected("Incident Already Resolved")
            now = format_time(self.account.now())
            incident_ref = reference("incident", incident["id"], incident["summary"])
            answered = []
            for target in targets:
                users = (
                    [target]
                    if target["type"] == "user_reference"
                    else self.account.on_call_at_level(target["id"], 1)
                )
                responders = [
                    {
                        "state": "pending",
                        "user": user,
                        "incident": incident_ref,
                        "updated_at": now,
                        "message": message,
                        "requester": requester,
                        "requested_at": now,
                    }
                    for user in users
                ]
                incident.setdefault("incidents_responders", []).extend(responders)
                answered.append(
                    {
                        "type": target["type"].removesuffix("_reference"),
                        "id": target["id"],
                        "summary": target["summary"],
                        "incident_responders": responders,
                    }
                )
            self._log(
                incident, "annotate_log_entry",
                f"{requester['summary']} requested responders: {message}", requester, now,
            )  # fmt: skip
            incident["updated_at"] = now
            self.store.update_incident(incident, level=level, level_since=since)
        self.on_change("incident.responder.added", incident, requester)
        return {
            "id": new_id("Q", 14),
            "incident": incident_ref,
            "requester": requester,
            "requested_at": now,
            "message": message,
            "responder_request_targets": [{"responder_request_target": t} for t in answered],
        }

    def set_alert_status(self, incident_id: str, alert_id: str, status: str) -> Doc:
        """Resolve (or re-trigger) one alert; the incident's alert counts follow."""
        with self.store.transaction():
            incident, level, since = self._require(incident_id)
            alert = self.store.get_alert(alert_id)
            if alert is None or alert["incident"]["id"] != incident["id"]:
                raise KeyError(alert_id)
            if alert["status"] != status:
                now = format_time(self.account.now())
                alert["status"] = status
                alert["resolved_at"] = now if status == "resolved" else None
                self.store.update_alert(alert)
                alerts = self.store.list_alerts(incident["id"])
                resolved = sum(1 for a in alerts if a["status"] == "resolved")
                incident["alert_counts"] = {
                    "all": len(alerts),
                    "triggered": len(alerts) - resolved,
                    "resolved": resolved,
                }
                incident["updated_at"] = now
                self.store.update_incident(incident, level=level, level_since=since)
        return alert

    def escalate_due(self) -> int:
        """Escalate every triggered incident whose level has timed out; returns how many."""
        moved = 0
        now = self.account.now().timestamp()
        policies = self.store.list_objects("escalation_policy")
        delays = [
            self.account.escalation_delay(p, level).total_seconds()
            for p in policies
            for level in range(1, len(p["escalation_rules"]))
        ]
        if not delays:
            return 0
        for incident, level, since in self.store.escalation_candidates(
            now - min(delays), max(len(p["escalation_rules"]) for p in policies)
        ):
            policy = self.store.get_object("escalation_policy", incident["escalation_policy"]["id"])
            if policy is None or level >= len(policy["escalation_rules"]):
                continue
            if now - since >= self.account.escalation_delay(policy, level).total_seconds():
                self.escalate(incident["id"], level + 1, None)
                moved += 1
        return moved

    # internals ----------------------------------------------------------------------------
    def _require(self, incident_id: str) -> tuple[Doc, int, float]:
        found = self.store.get_incident(incident_id)
        if found is None:
            raise KeyError(incident_id)
        return found

    def _open(
        self, service: Doc, integration: Doc, payload: Doc, dedup_key: str, now: str, event: Doc
    ) -> Doc:
        number = self.store.next_incident_number()
        incident_id = new_id()
        policy = service["escalation_policy"]
        severity = payload["severity"]
        rule = service["incident_urgency_rule"].get("urgency", "high")
        urgency = rule if rule in ("high", "low") else ("high" if severity in _HIGH else "low")
        incident: Doc = {
            **reference("incident", incident_id, f"[#{number}] {payload['summary']}"),
            "type": "incident",
            "incident_number": number,
            "title": payload["summary"],
            "description": payload["summary"],
            "created_at": now,
            "updated_at": now,
            "status": "triggered",
            "incident_key": dedup_key,
            "service": reference("service", service["id"], service["name"]),
            "assignments": [],
            "assigned_via": "escalation_policy",
            "last_status_change_at": now,
            "last_status_change_by": reference("service", service["id"], service["name"]),
            "resolved_at": None,
            "alert_counts": {"all": 0, "triggered": 0, "resolved": 0},
            "is_mergeable": True,
            "escalation_policy": {**policy},
            "teams": service.get("teams", []),
            "pending_actions": [],
            "acknowledgements": [],
            "alert_grouping": None,
            "priority": None,
            "urgency": urgency,
            "incident_type": {"name": "incident_default"},
            "resolve_reason": None,
            "conference_bridge": None,
        }
        agent = self._integration_agent(service, integration)
        entry = self._log(incident, "trigger_log_entry", "Triggered through the API", agent, now)
        incident["first_trigger_log_entry"] = {
            k: entry[k] for k in ("id", "summary", "self", "html_url")
        } | {"type": "trigger_log_entry_reference"}
        self._assign(incident, self.account.on_call_at_level(policy["id"], 1), now)
        self.store.insert_incident(incident, level=1, level_since=self.account.now().timestamp())
        self._add_alert(incident, service, payload, dedup_key, entry, now, event)
        self.store.update_incident(incident, level=1, level_since=self.account.now().timestamp())
        return incident

    def _add_alert(
        self,
        incident: Doc,
        service: Doc,
        payload: Doc,
        dedup_key: str,
        entry: Doc,
        now: str,
        event: Doc,
    ) -> None:
        alert_id = new_id("Q", 14)
        details = payload.get("custom_details") or {}
        self.store.add_alert(
            incident["id"],
            {
                "id": alert_id,
                "type": "alert",
                "summary": payload["summary"],
                "self": f"/incidents/{incident['id']}/alerts/{alert_id}",
                "html_url": f"/alerts/{alert_id}",
                "created_at": now,
                "status": "triggered",
                "alert_key": dedup_key,
                "service": reference("service", service["id"], service["name"]),
                "first_trigger_log_entry": {
                    k: entry[k] for k in ("id", "summary", "self", "html_url")
                }
                | {"type": "trigger_log_entry_reference"},
                "incident": reference("incident", incident["id"], incident["summary"]),
                "suppressed": False,
                "severity": payload["severity"],
                "body": {
                    "type": "alert_body",
                    "contexts": contexts(event),
                    "details": details,
                    "cef_details": {
                        "client": event.get("client"),
                        "client_url": event.get("client_url"),
                        "details": details,
                        "dedup_key": dedup_key,
                        "description": payload["summary"],
                        "event_class": payload.get("class"),
                        "mutations": [],
                        "priority": None,
                        "reporter_component": payload.get("component"),
                        "reporter_location": payload.get("group"),
                        "severity": payload["severity"],
                        "source_component": payload.get("component"),
                        "source_location": payload.get("source"),
                        "summary": payload["summary"],
                        "version": "1.0",
                    },
                },
            },
        )
        counts = incident["alert_counts"]
        incident["alert_counts"] = {
            "all": counts["all"] + 1,
            "triggered": counts["triggered"] + 1,
            "resolved": counts["resolved"],
        }

    def _assign(self, incident: Doc, users: list[Doc], now: str) -> None:
        incident["assignments"] = [{"at": now, "assignee": user} for user in users]
        agent = reference("service", incident["service"]["id"], incident["service"]["summary"])
        for user in users:
            self._log(
                incident,
                "assign_log_entry",
                f"Assigned to {user['summary']}",
                agent,
                now,
                "auto",
                assignees=[user],
            )
            self._log(
                incident,
                "notify_log_entry",
                f"Notified {user['summary']} by email",
                agent,
                now,
                "auto",
                user=user,
            )

    @staticmethod
    def _status(incident: Doc, status: str, agent: Doc, now: str) -> None:
        incident["status"] = status
        incident["updated_at"] = now
        incident["last_status_change_at"] = now
        incident["last_status_change_by"] = agent

    @staticmethod
    def _integration_agent(service: Doc, integration: Doc) -> Doc:
        return {
            "id": integration["integration_id"],
            "type": "integration_reference",
            "summary": integration["integration_name"],
            "self": f"/services/{service['id']}/integrations/{integration['integration_id']}",
            "html_url": f"/services/{service['id']}/integrations/{integration['integration_id']}",
        }

    def _log(
        self,
        incident: Doc,
        kind: str,
        summary: str,
        agent: Doc,
        now: str,
        channel: str = "api",
        **extra: Any,
    ) -> Doc:
        entry_id = new_id("R", 26)
        entry: Doc = {
            "id": entry_id,
            "type": kind,
            "summary": summary,
            "self": f"/log_entries/{entry_id}",
            "html_url": f"/incidents/{incident['id']}/log_entries/{entry_id}",
            "created_at": now,
            "agent": agent,
            "channel": {"type": channel, "summary": summary}
            if channel == "note"
            else {"type": channel},
            "service": incident["service"],
            "incident": reference("incident", incident["id"], incident["summary"]),
            "teams": incident.get("teams", []),
            "contexts": [],
            "event_details": {"description": summary},
            **extra,
        }
        self.store.add_log_entry(incident["id"], entry)
        return entry
