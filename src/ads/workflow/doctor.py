"""``ads doctor``: the product brief's verification checklist, each item checked live.

    PagerDuty service integration configured   service exists, has an Events API v2
                                               integration, PAGERDUTY_ROUTING_KEY belongs to it
    Kubernetes monitoring enabled              the watcher can list the service's pods (with a
                                               kubeconfig), else the local runtime can create a
                                               memory cgroup (one is made and removed)
    Alert rules configured for OOMKilled events  ads.yaml's alert_rules.oomkilled, severity
    ADS can access repository for code analysis  the git repository opens, C sources are found
    On-call schedule configured                someone is on call now at level 1 of the policy
    Incident escalation policies defined       the service has a policy with at least one level

Every check answers a ``Check``: ``ok`` True (passed), False (failed: ``fix`` says what to do) or
None (not applicable). Nothing here raises for a problem the operator can fix: an unreachable
PagerDuty or a refused token fails the PagerDuty items with that one-line message. Nothing is
written to PagerDuty; where a routing key cannot be matched against the service's integration
keys (the API does not show them), it is tried with an Events API ``resolve`` of a dedup key no
alert uses, which PagerDuty accepts for a valid key and ignores.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ServiceConfig
from ..errors import (
    AdsError,
    PagerDutyError,
    PagerDutyNotFoundError,
    PagerDutyUnavailableError,
)
from ..sources.pagerduty import PagerDuty
from .context import Context
from .diagnose import read_sources

__all__ = [
    "ALERT_RULES",
    "CHECK_NAMES",
    "ESCALATION",
    "INTEGRATION",
    "MONITORING",
    "ONCALL",
    "REPOSITORY",
    "Check",
    "run_checks",
]

Doc = dict[str, Any]

INTEGRATION = "PagerDuty service integration configured"
MONITORING = "Kubernetes monitoring enabled"
ALERT_RULES = "Alert rules configured for OOMKilled events"
REPOSITORY = "ADS can access repository for code analysis"
ONCALL = "On-call schedule configured"
ESCALATION = "Incident escalation policies defined"
CHECK_NAMES = (INTEGRATION, MONITORING, ALERT_RULES, REPOSITORY, ONCALL, ESCALATION)

_EVENTS_V2 = ("events_api_v2_inbound_integration", "events_api_v2_inbound_integration_reference")


@dataclass(frozen=True)
class Check:
    """One checklist item for one service: passed (True), failed (False) or skipped (None)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""
    service: str = ""

    @property
    def failed(self) -> bool:
        return self.ok is False


def _message(exc: BaseException) -> str:
    """One line for an error, without a traceback."""
    if isinstance(exc, AdsError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _PagerDutyView:
    """What the PagerDuty items need, fetched once: the service, or why it could not be."""

    def __init__(self, ctx: Context, service: ServiceConfig) -> None:
        self.name = service.pagerduty_name
        self.client: PagerDuty | None = None
        self.service: Doc | None = None
        self.error: str | None = None
        self.fix = ""
        try:
            self.client = ctx.pagerduty
            self.service = self.client.find_service(self.name)
        except PagerDutyNotFoundError as exc:
            self.error = str(exc)
            self.fix = (
                f"create the PagerDuty service {self.name!r}, or set "
                f"services.{service.name}.pagerduty_service in ads.yaml to its name"
            )
        except AdsError as exc:
            self.error = str(exc)
            self.fix = exc.hint or (
                "check PAGERDUTY_API_TOKEN and PAGERDUTY_API_HOST (and ADS_PAGERDUTY_CA or "
                "SSL_CERT_FILE for a server with its own CA)"
            )
            if exc.hint:
                self.error = exc.message
            if isinstance(exc, PagerDutyUnavailableError) and exc.__cause__ is not None:
                self.error += f" ({_message(exc.__cause__)})"  # e.g. an untrusted certificate
                if "CERTIFICATE" in self.error.upper():
                    self.fix = "set ADS_PAGERDUTY_CA (or SSL_CERT_FILE) to the server's CA file"
        except Exception as exc:  # e.g. an unreadable CA file: still one line, no traceback
            self.error = f"cannot use PagerDuty: {_message(exc)}"
            self.fix = "check ADS_PAGERDUTY_CA / SSL_CERT_FILE and PAGERDUTY_API_HOST"

    def failed(self, name: str, service: str) -> Check:
        return Check(name, False, self.error or "PagerDuty not available", self.fix, service)


# 1. integration ---------------------------------------------------------------------------
def _integration_keys(client: PagerDuty, service_id: str, integrations: list[Doc]) -> set[str]:
    """The Events v2 integration keys of the service, where the API shows them (may be empty)."""
    keys: set[str] = set()
    try:
        full = client.get_service(service_id, include=["integrations"])
        integrations = list(full.get("integrations") or integrations)
    except PagerDutyError:
        pass
    for integration in integrations:
        if integration.get("type") not in _EVENTS_V2:
            continue
        key = integration.get("integration_key")
        if key:
            keys.add(str(key))
    return keys


def _check_integration(view: _PagerDutyView, routing_key: str | None, service: str) -> Check:
    if view.service is None or view.client is None:
        return view.failed(INTEGRATION, service)
    pd_service = view.service
    integrations = [i for i in pd_service.get("integrations") or [] if isinstance(i, dict)]
    events_v2 = [i for i in integrations if i.get("type") in _EVENTS_V2]
    where = f"PagerDuty service {view.name!r} ({pd_service['id']})"
    add_one = (
        f"in PagerDuty open service {view.name!r} → Integrations → Add an integration → "
        "Events API V2, then export PAGERDUTY_ROUTING_KEY=<its integration key>"
    )
    if not events_v2:
        others = ", ".join(str(i.get("summary") or i.get("type")) for i in integrations)
        found = f" (it has only: {others})" if others else ""
        return Check(
            INTEGRATION, False, f"{where} has no Events API v2 integration{found}", add_one, service
        )
    names = ", ".join(str(i.get("summary") or i.get("id")) for i in events_v2)
    found = f"{where} has Events API v2 integration(s): {names}"
    if not routing_key:
        return Check(
            INTEGRATION,
            True,
            f"{found}; PAGERDUTY_ROUTING_KEY is not set, so `ads watch` / `ads run --page` "
            "cannot page (not checked)",
            "export PAGERDUTY_ROUTING_KEY=<the integration key> to page from ADS's monitors",
            service,
        )
    set_key = (
        f"export PAGERDUTY_ROUTING_KEY=<the Integration Key shown in PagerDuty under service "
        f"{view.name!r} → Integrations → Events API V2>"
    )
    keys = _integration_keys(view.client, pd_service["id"], events_v2)
    if keys:
        if routing_key in keys:
            return Check(
                INTEGRATION, True, f"{found}; PAGERDUTY_ROUTING_KEY is its key", "", service
            )
        return Check(
            INTEGRATION,
            False,
            f"{found}, but PAGERDUTY_ROUTING_KEY is not the key of any of them",
            set_key,
            service,
        )
    try:  # PagerDuty ignores acknowledge/resolve for a dedup key no alert has
        view.client.resolve_event(routing_key, f"ads-doctor-probe-{uuid.uuid4().hex}")
    except AdsError as exc:
        return Check(
            INTEGRATION,
            False,
            f"{found}, but the Events API refused PAGERDUTY_ROUTING_KEY: {exc.message}",
            set_key,
            service,
        )
    return Check(
        INTEGRATION,
        True,
        f"{found}; the Events API accepts PAGERDUTY_ROUTING_KEY (the API does not show "
        "integration keys, so whether it is this service's could not be checked)",
        "",
        service,
    )


# 2. monitoring ----------------------------------------------------------------------------
def _check_kubernetes(ctx: Context, service: ServiceConfig, kubeconfig: Path | None) -> Check:
    from ..sources.monitors.kubernetes import list_service_pods  # the client only when asked

    name = service.name
    fix = (
        "check the kubeconfig's server and credentials; the watcher needs get/list/watch on "
        "pods, events, replicasets and deployments in the service's namespace"
    )
    try:
        listing = list_service_pods(ctx.settings, kubeconfig, name)
    except AdsError as exc:
        return Check(MONITORING, False, exc.message, exc.hint or fix, name)
    if listing is None:
        return Check(
            MONITORING,
            False,
            f"ads.yaml does not say where {name} runs in Kubernetes",
            f"set services.{name}.kubernetes.label_selector or .deployment in ads.yaml",
            name,
        )
    target = listing.target
    return Check(
        MONITORING,
        True,
        f"the watcher can list pods in namespace {target.namespace!r} "
        f"({target.label_selector}): {listing.pods} pod(s)",
        "",
        name,
    )


def _check_local_runtime(service: ServiceConfig) -> Check:
    from ..sources.monitors.cgroups import detect_limiter

    name = service.name
    fix = (
        "pass --kubeconfig to check the cluster watcher; for the local runtime run as root, "
        "or set ADS_CGROUP_ROOT to a delegated cgroup"
    )
    try:
        limiter = detect_limiter(allow_fallback=False)
        cgroup = limiter.create("ads-doctor", service.memory_limit_bytes)
        path = cgroup.path
        cgroup.remove()
    except AdsError as exc:
        return Check(MONITORING, False, f"no kubeconfig, and {exc.message}", fix, name)
    except OSError as exc:
        return Check(
            MONITORING, False, f"no kubeconfig, and a memory cgroup failed: {exc}", fix, name
        )
    return Check(
        MONITORING,
        True,
        f"no Kubernetes here (no kubeconfig given): OOM kills are watched by the local "
        f"runtime instead, which created and removed a memory cgroup ({limiter.mode.value}, "
        f"{path})",
        "",
        name,
    )


# 3. alert rules ---------------------------------------------------------------------------
def _check_alert_rules(ctx: Context, service: ServiceConfig) -> Check:
    rules = service.alert_rules
    name = service.name
    if not rules.oomkilled:
        return Check(
            ALERT_RULES,
            False,
            f"alert_rules.oomkilled is false for {name}: OOM kills are not paged",
            f"set services.{name}.alert_rules.oomkilled: true in ads.yaml",
            name,
        )
    detail = f"OOMKilled pages with severity {rules.severity}"
    if rules.crashloop_after_restarts:
        detail += f" (CrashLoopBackOff after {rules.crashloop_after_restarts} restarts)"
    manifests = ctx.settings.repo_path(service) / service.manifests
    texts = {
        p.name: p.read_text(encoding="utf-8", errors="replace")
        for p in (sorted(manifests.glob("*.y*ml")) if manifests.is_dir() else [])
    }
    prometheus = [n for n, t in texts.items() if "PrometheusRule" in t and "OOMKilled" in t]
    if prometheus:
        detail += f"; Prometheus rule for it in the manifests: {', '.join(prometheus)}"
    return Check(ALERT_RULES, True, detail, "", name)


# 4. repository ----------------------------------------------------------------------------
def _check_repository(ctx: Context, service: ServiceConfig) -> Check:
    name = service.name
    try:
        repo = ctx.repository(service)
        sha = repo.head_sha()
        sources = read_sources(repo.path, service.sources)
    except AdsError as exc:
        return Check(
            REPOSITORY,
            False,
            exc.message,
            exc.hint or f"set services.{name}.repo (a path or git URL) and .sources in ads.yaml",
            name,
        )
    if not sources:
        return Check(
            REPOSITORY,
            False,
            f"no source files under {', '.join(service.sources)} in {repo.path}",
            f"set services.{name}.sources in ads.yaml to the source files or directories",
            name,
        )
    files = ", ".join(path for path, _ in sources[:5]) + (" ..." if len(sources) > 5 else "")
    where = f"{repo.prefix.rstrip('/')} in " if repo.prefix else ""
    return Check(
        REPOSITORY,
        True,
        f"git repository {where}{repo.root} at {sha[:12]}; {len(sources)} source file(s): {files}",
        "",
        name,
    )


# 5. on call, 6. escalation ----------------------------------------------------------------
def _policy(client: PagerDuty, pd_service: Doc) -> Doc | None:
    """The service's escalation policy in full (None when the service has none)."""
    ref = pd_service.get("escalation_policy") or {}
    return client.escalation_policy(ref["id"]) if ref.get("id") else None


def _check_oncall(view: _PagerDutyView, service: str) -> Check:
    if view.service is None or view.client is None:
        return view.failed(ONCALL, service)
    fix = (
        "in PagerDuty give level 1 of the service's escalation policy a schedule with someone "
        "on call now (a layer that has started, with users), or a user target"
    )
    try:
        oncalls = view.client.oncalls_for_service(view.service["id"])
    except AdsError as exc:
        return Check(ONCALL, False, exc.message, exc.hint or fix, service)
    first = [o for o in oncalls if o.level == 1]
    if not first:
        later = sorted({o.level for o in oncalls})
        also = f" (only at level(s) {', '.join(map(str, later))})" if later else ""
        return Check(
            ONCALL,
            False,
            f"nobody is on call now at level 1 for {view.name!r}{also}",
            fix,
            service,
        )
    people = ", ".join(f"{o.name}{f' ({o.schedule})' if o.schedule else ''}" for o in first)
    return Check(ONCALL, True, f"on call now at level 1: {people}", "", service)


def _check_escalation(view: _PagerDutyView, service: str) -> Check:
    if view.service is None or view.client is None:
        return view.failed(ESCALATION, service)
    fix = f"in PagerDuty give service {view.name!r} an escalation policy with at least one level"
    try:
        policy = _policy(view.client, view.service)
    except AdsError as exc:
        return Check(ESCALATION, False, exc.message, exc.hint or fix, service)
    if policy is None:
        return Check(ESCALATION, False, f"{view.name!r} has no escalation policy", fix, service)
    rules = [r for r in policy.get("escalation_rules") or [] if r.get("targets")]
    if not rules:
        return Check(
            ESCALATION,
            False,
            f"escalation policy {policy.get('name')!r} has no level with a target",
            fix,
            service,
        )
    delays = ", ".join(f"{r.get('escalation_delay_in_minutes', '?')} min" for r in rules)
    return Check(
        ESCALATION,
        True,
        f"escalation policy {policy.get('name')!r}: {len(rules)} level(s) (escalating after "
        f"{delays})",
        "",
        service,
    )


# the checklist ----------------------------------------------------------------------------
def _guarded(name: str, service: str, check: Callable[[], Check]) -> Check:
    """A check that met an unexpected error fails with one line instead of a traceback."""
    try:
        return check()
    except AdsError as exc:
        return Check(name, False, exc.message, exc.hint or "", service)
    except Exception as exc:
        return Check(name, False, f"could not check: {_message(exc)}", "", service)


def run_checks(
    ctx: Context, *, kubeconfig: Path | None = None, service: str | None = None
) -> list[Check]:
    """The checklist for ``service`` (a name in ads.yaml), or for every service in ads.yaml.

    Raises only ``UnknownServiceError`` (a name not in ads.yaml); every other problem is a
    failed ``Check``.
    """
    services = [ctx.settings.service(service)] if service else list(ctx.settings.services.values())
    in_cluster = kubeconfig is not None or bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    checks: list[Check] = []
    for config in services:
        checks += _service_checks(ctx, config, kubeconfig if in_cluster else None, in_cluster)
    return checks


def _service_checks(
    ctx: Context, config: ServiceConfig, kubeconfig: Path | None, in_cluster: bool
) -> list[Check]:
    name = config.name
    view = _PagerDutyView(ctx, config)
    routing_key = ctx.settings.secrets.routing_key

    def monitoring() -> Check:
        if in_cluster:
            return _check_kubernetes(ctx, config, kubeconfig)
        return _check_local_runtime(config)

    return [
        _guarded(INTEGRATION, name, lambda: _check_integration(view, routing_key, name)),
        _guarded(MONITORING, name, monitoring),
        _guarded(ALERT_RULES, name, lambda: _check_alert_rules(ctx, config)),
        _guarded(REPOSITORY, name, lambda: _check_repository(ctx, config)),
        _guarded(ONCALL, name, lambda: _check_oncall(view, name)),
        _guarded(ESCALATION, name, lambda: _check_escalation(view, name)),
    ]
