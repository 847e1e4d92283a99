"""The seed file: the PagerDuty account (teams, users, schedules, policies, services) to serve.

A seed is YAML so that people can read and edit the demo account. It is validated here, before
anything touches the store, so that a bad seed gives one ``ConfigError`` line naming the file
and the field instead of a half-loaded account.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._exceptions import ConfigError

__all__ = ["DEMO_SEED", "Seed", "load_seed"]

DEMO_SEED = Path(str(resources.files(__package__).joinpath("demo_seed.yaml")))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedTeam(_Strict):
    id: str
    name: str
    description: str = ""


class SeedUser(_Strict):
    """A user. ``github`` is stored in the user's description as ``GitHub: @handle``."""

    id: str
    name: str
    email: str = Field(min_length=6)
    github: str | None = None
    time_zone: str = "UTC"
    role: str = "user"
    teams: list[str] = Field(default_factory=list)

    @property
    def description(self) -> str:
        return f"GitHub: @{self.github}" if self.github else ""


class SeedSchedule(_Strict):
    """A schedule with one rotation layer: ``users`` take turns of ``rotation_turn_length``."""

    id: str
    name: str
    time_zone: str = "UTC"
    rotation_virtual_start: datetime
    rotation_turn_length_seconds: int = Field(604800, gt=0)
    users: list[str] = Field(min_length=1)


class SeedTarget(_Strict):
    type: Literal["schedule_reference", "user_reference"]
    id: str


class SeedRule(_Strict):
    escalation_delay_in_minutes: int = Field(30, ge=1)
    targets: list[SeedTarget] = Field(min_length=1)


class SeedEscalationPolicy(_Strict):
    id: str
    name: str
    num_loops: int = Field(0, ge=0)
    teams: list[str] = Field(default_factory=list)
    rules: list[SeedRule] = Field(min_length=1)


class SeedIntegration(_Strict):
    id: str
    name: str = "Events API v2"
    integration_key: str = Field(min_length=32, max_length=32)


class SeedService(_Strict):
    id: str
    name: str
    description: str = ""
    escalation_policy: str
    teams: list[str] = Field(default_factory=list)
    urgency_rule: Literal["severity_based", "high", "low"] = "severity_based"
    integrations: list[SeedIntegration] = Field(default_factory=list)


class SeedWebhookSubscription(_Strict):
    id: str
    url: str
    secret: str = Field(min_length=1)
    events: list[str] = Field(
        default_factory=lambda: [
            "incident.triggered",
            "incident.acknowledged",
            "incident.resolved",
            "incident.annotated",
        ]
    )
    service_id: str | None = None
    description: str = ""


class Seed(_Strict):
    """A whole account; references between objects are checked in ``_references``."""

    api_token: str = Field(min_length=1)
    subdomain: str = "ads-local"
    teams: list[SeedTeam] = Field(default_factory=list)
    users: list[SeedUser] = Field(default_factory=list)
    schedules: list[SeedSchedule] = Field(default_factory=list)
    escalation_policies: list[SeedEscalationPolicy] = Field(default_factory=list)
    services: list[SeedService] = Field(default_factory=list)
    webhook_subscriptions: list[SeedWebhookSubscription] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Seed:
        ids: list[str] = [
            o.id
            for group in (self.teams, self.users, self.schedules, self.escalation_policies)
            for o in group
        ] + [s.id for s in self.services]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"duplicate id(s): {', '.join(duplicated)}")
        teams = {t.id for t in self.teams}
        users = {u.id for u in self.users}
        schedules = {s.id for s in self.schedules}
        policies = {p.id for p in self.escalation_policies}
        for user in self.users:
            _known(f"user {user.id} team", user.teams, teams)
        for schedule in self.schedules:
            _known(f"schedule {schedule.id} user", schedule.users, users)
        for policy in self.escalation_policies:
            _known(f"escalation policy {policy.id} team", policy.teams, teams)
            for rule in policy.rules:
                for target in rule.targets:
                    known = schedules if target.type == "schedule_reference" else users
                    _known(f"escalation policy {policy.id} target", [target.id], known)
        for service in self.services:
            _known(f"service {service.id} escalation_policy", [service.escalation_policy], policies)
            _known(f"service {service.id} team", service.teams, teams)
        keys = [i.integration_key for s in self.services for i in s.integrations]
        if len(keys) != len(set(keys)):
            raise ValueError("two integrations share one integration_key")
        return self


def _known(what: str, wanted: list[str], known: set[str]) -> None:
    missing = [w for w in wanted if w not in known]
    if missing:
        raise ValueError(f"{what} {', '.join(missing)} is not defined in the seed")


def seed_from_dict(data: Any, *, where: str = "seed") -> Seed:
    """Validate parsed seed content; ``ConfigError`` names the first bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping (api_token, users, services, ...)")
    try:
        return Seed.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {loc + ': ' if loc else ''}{message}") from None


def load_seed(path: Path | str | None = None) -> Seed:
    """Read and validate a seed file (the shipped demo account when ``path`` is None)."""
    seed_path = Path(path) if path is not None else DEMO_SEED
    try:
        text = seed_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read seed file {seed_path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{seed_path}:{at} is not valid YAML") from None
    return seed_from_dict(data, where=str(seed_path))
