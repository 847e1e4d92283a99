"""Settings: ``ads.yaml`` plus secrets from the environment, as small typed groups.

``ads.yaml`` says, per service, which PagerDuty service maps to which repository, where its C
sources and Kubernetes manifests are, how to build and run it locally and under which memory
limit. Secrets (PagerDuty token, routing key, GitHub token, webhook secrets) come only from the
environment and never appear in ``repr`` or logs. A bad file gives one ``ConfigError`` line that
names the field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, UnknownServiceError
from .units import parse_quantity

__all__ = [
    "AlertRules",
    "Backoff",
    "EscalationRule",
    "KubernetesTarget",
    "Secrets",
    "ServiceConfig",
    "Settings",
    "find_config",
    "is_ads_secret_name",
    "load_settings",
    "settings_from_dict",
]

CONFIG_ENV = "ADS_CONFIG"
TOP_LEVEL_KEYS = ("services", "state_dir", "time_scale")  # README's "ads.yaml reference" lists all

# What ADS itself is trusted with, and so what the code it builds and runs must never see (the
# sandbox's environment is an allow-list; these are refused even when ads.yaml lists them).
ADS_SECRET_NAMES = frozenset(
    {"PAGERDUTY_API_TOKEN", "PAGERDUTY_ROUTING_KEY", "GITHUB_TOKEN", "GH_TOKEN"}
)
_SANDBOX_OWNED = frozenset({"HOME", "TMPDIR"})  # the sandbox's private dirs, set by it
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_ads_secret_name(name: str) -> bool:
    """Whether ``name`` is (or may be) one of ADS's own secrets: never passed to service code."""
    upper = name.upper()
    return upper in ADS_SECRET_NAMES or upper.startswith(("ADS_", "PAGERDUTY_"))


def _sandbox_env_name(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not an environment variable name")
    if is_ads_secret_name(name):
        raise ValueError(
            f"{name} is one of ADS's own settings or secrets; the service's code never gets it"
        )
    if name in _SANDBOX_OWNED:
        raise ValueError(f"{name} is set by the sandbox (its private directory)")
    return name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class KubernetesTarget(_Section):
    """Where the service runs in a cluster."""

    namespace: str = "default"
    deployment: str | None = None
    container: str | None = None
    label_selector: str | None = None


class Backoff(_Section):
    """CrashLoopBackOff for the local runtime: kubelet's defaults are 10 s doubling to 300 s."""

    initial_seconds: float = Field(10.0, ge=0)
    max_seconds: float = Field(300.0, ge=0)
    factor: float = Field(2.0, ge=1)
    reset_after_seconds: float = Field(600.0, ge=0)

    def delay(self, restart: int) -> float:
        """Seconds to wait before restart number ``restart`` (1-based)."""
        if restart <= 0:
            return 0.0
        return min(self.max_seconds, self.initial_seconds * self.factor ** (restart - 1))


class AlertRules(_Section):
    """Which terminations page, and how loudly."""

    oomkilled: bool = True
    severity: str = "critical"
    crashloop_after_restarts: int | None = None
    exit_codes: list[int] = Field(default_factory=list)
    resolve_after_healthy_seconds: float = Field(60.0, ge=0)

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        allowed = ("critical", "error", "warning", "info")
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value


class EscalationRule(_Section):
    """Escalate an incident still unacknowledged ``after_minutes`` after ADS's note was posted."""

    severity: str = "critical"
    after_minutes: float = Field(15.0, gt=0)
    to_level: int = Field(2, ge=2)


class ServiceConfig(_Section):
    """One service: its repo, code, manifests, build/run commands and memory limit."""

    name: str = ""
    pagerduty_service: str | None = None
    repo: str = "."
    sources: list[str] = Field(default_factory=lambda: ["."])
    manifests: str = "infra/kubernetes"
    build: str | None = None
    run: str | None = None
    memory_limit: str = "64Mi"
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget)
    backoff: Backoff = Field(default_factory=Backoff)
    alert_rules: AlertRules = Field(default_factory=AlertRules)
    github_handles: dict[str, str] = Field(default_factory=dict)
    lookback_days: float = Field(7.0, gt=0)
    escalation: list[EscalationRule] = Field(default_factory=list)
    # The sandbox's environment is an allow-list (see ads.sources.monitors.sandbox): ``env`` sets
    # names to fixed values, ``env_passthrough`` copies names from ADS's own environment.
    env: dict[str, str] = Field(default_factory=dict)
    env_passthrough: list[str] = Field(default_factory=list)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _sandbox_env_name(name)
        return value

    @field_validator("env_passthrough")
    @classmethod
    def _env_passthrough(cls, value: list[str]) -> list[str]:
        for name in value:
            _sandbox_env_name(name)
        return value

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _memory_limit(cls, value: Any) -> str:
        try:
            parse_quantity(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return str(value)

    @property
    def memory_limit_bytes(self) -> int:
        return parse_quantity(self.memory_limit)

    @property
    def pagerduty_name(self) -> str:
        return self.pagerduty_service or self.name


@dataclass(frozen=True)
class Secrets:
    """Secrets from the environment; ``repr`` shows only whether each is set."""

    pagerduty_token: str | None = field(default=None, repr=False)
    pagerduty_host: str | None = None
    routing_key: str | None = field(default=None, repr=False)
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str | None = None  # GitHub Enterprise's API (or a test double); not secret
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        env = dict(os.environ) if env is None else env
        secrets = [s.strip() for s in env.get("ADS_WEBHOOK_SECRETS", "").split(",") if s.strip()]
        return cls(
            pagerduty_token=env.get("PAGERDUTY_API_TOKEN") or None,
            pagerduty_host=env.get("PAGERDUTY_API_HOST") or None,
            routing_key=env.get("PAGERDUTY_ROUTING_KEY") or None,
            github_token=env.get("GITHUB_TOKEN") or None,
            github_api_url=env.get("GITHUB_API_URL") or None,
            webhook_secrets=tuple(secrets),
        )


@dataclass
class Settings:
    """Everything ADS is configured with: services by name, where the file was, the secrets."""

    services: dict[str, ServiceConfig]
    path: Path | None = None
    secrets: Secrets = field(default_factory=Secrets.from_env)
    state_dir: Path = field(default_factory=lambda: Path(".ads"))
    time_scale: float = 1.0  # >1 makes rule minutes pass faster (demos and tests)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def service(self, name: str) -> ServiceConfig:
        """The service called ``name``; ``UnknownServiceError`` lists the known ones."""
        try:
            return self.services[name]
        except KeyError:
            raise UnknownServiceError(name, list(self.services)) from None

    def service_for_pagerduty(self, pd_name: str) -> ServiceConfig:
        for service in self.services.values():
            if pd_name in (service.pagerduty_name, service.name):
                return service
        raise UnknownServiceError(pd_name, list(self.services))

    def repo_path(self, service: ServiceConfig) -> Path:
        """The service's repository as a path (relative paths are relative to ads.yaml)."""
        return (self.base_dir / service.repo).resolve()


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def settings_from_dict(data: Any, *, path: Path | None = None) -> Settings:
    """Validate parsed ``ads.yaml`` content; ``ConfigError`` names the first bad field."""
    where = str(path) if path else "ads.yaml"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'services' key")
    unknown = set(data) - set(TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    raw_services = data.get("services")
    if not isinstance(raw_services, dict) or not raw_services:
        raise ConfigError(f"{where}: 'services' must map service names to their settings")
    services: dict[str, ServiceConfig] = {}
    for name, body in raw_services.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: services.{name}: expected a mapping")
        try:
            services[str(name)] = ServiceConfig.model_validate({**body, "name": str(name)})
        except ValidationError as exc:
            first = exc.errors()[0]
            field_name = _field_path(first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{where}: services.{name}.{field_name}: {message}") from None
    base = path.parent if path else Path.cwd()
    state_dir = base / str(data.get("state_dir", ".ads"))
    time_scale = data.get("time_scale", 1.0)
    if isinstance(time_scale, bool) or not isinstance(time_scale, int | float) or time_scale <= 0:
        raise ConfigError(f"{where}: time_scale must be a positive number, got {time_scale!r}")
    return Settings(services=services, path=path, state_dir=state_dir, time_scale=float(time_scale))


def find_config(explicit: str | Path | None = None) -> Path:
    """The ads.yaml to use: ``--config``, then ``$ADS_CONFIG``, then ``./ads.yaml``."""
    candidate = explicit or os.environ.get(CONFIG_ENV) or "ads.yaml"
    path = Path(candidate)
    if not path.is_file():
        raise ConfigError(
            f"no configuration file at {path}",
            hint=f"pass --config PATH or set {CONFIG_ENV}",
        )
    return path.resolve()


def load_settings(explicit: str | Path | None = None) -> Settings:
    """Read and validate ads.yaml; every failure is one ``ConfigError`` line."""
    path = find_config(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return settings_from_dict(data, path=path)
