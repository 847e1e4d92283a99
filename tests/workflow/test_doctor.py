"""``ads doctor`` against the real local PagerDuty (TLS) and the demo service's real git repo.

The demo set-up passes every item; an account whose schedule has nobody on call fails the
on-call item, a service without an integration fails the integration item, a wrong routing key,
a refused token or an unreachable PagerDuty fail with one line (no traceback), and the command
exits non-zero in those cases.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from ads.config import Secrets, Settings, load_settings
from ads.interfaces.cli_doctor import doctor
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.sources.monitors.cgroups import detect_limiter
from ads.sources.pagerduty import PagerDuty
from ads.workflow.context import Context
from ads.workflow.doctor import (
    ALERT_RULES,
    CHECK_NAMES,
    ESCALATION,
    INTEGRATION,
    MONITORING,
    ONCALL,
    REPOSITORY,
    Check,
    run_checks,
)
from pagerduty_local import DEMO_SEED, LocalPagerDuty
from tests.fixtures.kubernetes import RecordedKubeApi, recorded

SERVICE = "ads-demo-service"


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Path:
    return create_demo_workspace(tmp_path / SERVICE)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[RecordedKubeApi]:
    with RecordedKubeApi(tmp_path) as server:
        server.script.pod_lists = [recorded("podlist_initial.json")]
        yield server


@pytest.fixture(autouse=True)
def _no_ambient_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def _client(server: LocalPagerDuty, token: str | None = None) -> PagerDuty:
    return PagerDuty(
        token or server.token,
        api_url=server.api_url,
        events_url=server.events_url,
        verify=server.ssl_context(),
        retry_sleep_seconds=0.01,
    )


def _context(repo: Path, server: LocalPagerDuty, *, routing_key: str | None = None) -> Context:
    settings: Settings = load_settings(repo / "ads.yaml")
    settings.secrets = dataclasses.replace(Secrets(), routing_key=routing_key)
    return Context(settings=settings, pagerduty_factory=lambda: _client(server))


def _by_name(checks: list[Check]) -> dict[str, Check]:
    assert [c.name for c in checks] == list(CHECK_NAMES)
    return {c.name: c for c in checks}


def _failed(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if c.failed]


def _seed(tmp_path: Path, change: Any) -> Path:
    """A modified copy of the demo seed (``change`` edits the parsed YAML in place)."""
    data = yaml.safe_load(DEMO_SEED.read_text())
    change(data)
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _nobody_on_call(server: LocalPagerDuty) -> None:
    """Every layer of every schedule ended: the schedules have nobody on call now."""
    store = server.app.state.pd.account.store
    for n, schedule in enumerate(store.list_objects("schedule")):
        store.put_object("schedule", {**schedule, "schedule_layers": []}, n)


# the library ------------------------------------------------------------------------------
def test_demo_setup_passes_every_item(
    demo_workspace: Path, local_pagerduty: LocalPagerDuty, kube: RecordedKubeApi
) -> None:
    ctx = _context(
        demo_workspace, local_pagerduty, routing_key=local_pagerduty.routing_key(SERVICE)
    )
    checks = _by_name(run_checks(ctx, kubeconfig=kube.kubeconfig, service=SERVICE))
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    assert "Events API v2" in checks[INTEGRATION].detail
    assert "PAGERDUTY_ROUTING_KEY" in checks[INTEGRATION].detail
    assert "list pods in namespace 'default'" in checks[MONITORING].detail
    assert any("/api/v1/namespaces/default/pods" in r for r in kube.requests)
    assert "severity critical" in checks[ALERT_RULES].detail
    assert "worker.c" in checks[REPOSITORY].detail
    assert "Alice Nguyen" in checks[ONCALL].detail or "Bob Martins" in checks[ONCALL].detail
    assert "2 level(s)" in checks[ESCALATION].detail


@pytest.mark.cgroup
def test_without_kubeconfig_the_local_runtime_creates_a_memory_cgroup(
    demo_workspace: Path, local_pagerduty: LocalPagerDuty
) -> None:
    try:
        detect_limiter(allow_fallback=False)
    except Exception:
        pytest.skip("needs a writable memory cgroup")
    ctx = _context(
        demo_workspace, local_pagerduty, routing_key=local_pagerduty.routing_key(SERVICE)
    )
    checks = run_checks(ctx)
    assert _failed(checks) == []
    monitoring = _by_name(checks)[MONITORING]
    assert "created and removed a memory cgroup" in monitoring.detail
    created = Path(monitoring.detail.rsplit(", ", 1)[1].rstrip(")"))
    assert not created.exists()


def test_nobody_on_call_fails_the_on_call_item(
    demo_workspace: Path, local_pagerduty: LocalPagerDuty, kube: RecordedKubeApi
) -> None:
    _nobody_on_call(local_pagerduty)
    ctx = _context(demo_workspace, local_pagerduty)
    checks = run_checks(ctx, kubeconfig=kube.kubeconfig)
    assert _failed(checks) == [ONCALL]
    oncall = _by_name(checks)[ONCALL]
    assert "on-call schedule" in oncall.name.lower()
    assert "nobody is on call now at level 1" in oncall.detail
    assert "schedule" in oncall.fix


def test_schedule_starting_in_the_future_fails_the_on_call_item(
    tmp_path: Path, demo_workspace: Path, kube: RecordedKubeApi
) -> None:
    def future(data: dict[str, Any]) -> None:
        for schedule in data["schedules"]:
            schedule["rotation_virtual_start"] = "2099-01-05T00:00:00Z"

    with LocalPagerDuty(tmp_path / "pd", seed=_seed(tmp_path, future)) as server:
        checks = run_checks(_context(demo_workspace, server), kubeconfig=kube.kubeconfig)
    assert _failed(checks) == [ONCALL]


def test_service_without_integration_fails_the_integration_item(
    tmp_path: Path, demo_workspace: Path, kube: RecordedKubeApi
) -> None:
    def no_integration(data: dict[str, Any]) -> None:
        for service in data["services"]:
            service["integrations"] = []

    with LocalPagerDuty(tmp_path / "pd", seed=_seed(tmp_path, no_integration)) as server:
        checks = run_checks(_context(demo_workspace, server), kubeconfig=kube.kubeconfig)
    assert _failed(checks) == [INTEGRATION]
    integration = _by_name(checks)[INTEGRATION]
    assert "service integration" in integration.name.lower()
    assert "has no Events API v2 integration" in integration.detail
    assert "Events API V2" in integration.fix


def test_routing_key_of_no_integration_fails(
    demo_workspace: Path, local_pagerduty: LocalPagerDuty, kube: RecordedKubeApi
) -> None:
    ctx = _context(demo_workspace, local_pagerduty, routing_key="R" * 32)
    checks = run_checks(ctx, kubeconfig=kube.kubeconfig)
    assert _failed(checks) == [INTEGRATION]
    integration = _by_name(checks)[INTEGRATION]
    assert "refused PAGERDUTY_ROUTING_KEY" in integration.detail
    assert "PAGERDUTY_ROUTING_KEY" in integration.fix
    assert local_pagerduty.app.state.pd.account.store.list_objects("incident") == []


def test_wrong_token_fails_the_pagerduty_items_with_one_line(
    demo_workspace: Path, local_pagerduty: LocalPagerDuty, kube: RecordedKubeApi
) -> None:
    ctx = _context(demo_workspace, local_pagerduty)
    ctx.pagerduty_factory = lambda: _client(local_pagerduty, token="not-the-token")
    checks = _by_name(run_checks(ctx, kubeconfig=kube.kubeconfig))
    for name in (INTEGRATION, ONCALL, ESCALATION):
        assert checks[name].ok is False
        assert "refused the API token (401)" in checks[name].detail
        assert "PAGERDUTY_API_TOKEN" in checks[name].fix
    assert checks[REPOSITORY].ok and checks[ALERT_RULES].ok and checks[MONITORING].ok


def test_unreachable_pagerduty_fails_with_one_line(
    demo_workspace: Path, kube: RecordedKubeApi
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(demo_workspace / "ads.yaml")

    def unreachable() -> PagerDuty:
        client = PagerDuty("token", api_url=f"https://127.0.0.1:{port}", retry_sleep_seconds=0)
        client.rest.max_network_attempts = 1
        return client

    ctx = Context(settings=settings, pagerduty_factory=unreachable)
    checks = _by_name(run_checks(ctx, kubeconfig=kube.kubeconfig))
    assert checks[INTEGRATION].ok is False
    assert "could not be reached" in checks[INTEGRATION].detail
    assert checks[ONCALL].ok is False and checks[ESCALATION].ok is False


def test_no_pagerduty_configured_fails_with_the_variable_to_set(
    demo_workspace: Path, kube: RecordedKubeApi
) -> None:
    ctx = Context(settings=load_settings(demo_workspace / "ads.yaml"))
    checks = _by_name(run_checks(ctx, kubeconfig=kube.kubeconfig))
    assert checks[INTEGRATION].ok is False
    assert "PAGERDUTY_API_TOKEN" in checks[INTEGRATION].fix


def test_refused_kubeconfig_and_missing_repo_and_disabled_rule_fail(
    tmp_path: Path, demo_workspace: Path, local_pagerduty: LocalPagerDuty, kube: RecordedKubeApi
) -> None:
    config = yaml.safe_load((demo_workspace / "ads.yaml").read_text())
    config["services"][SERVICE]["alert_rules"]["oomkilled"] = False
    config["services"][SERVICE]["repo"] = str(tmp_path / "nowhere")
    (demo_workspace / "ads.yaml").write_text(yaml.safe_dump(config))
    bad_token = kube.write_kubeconfig(tmp_path / "refused.yaml", token="wrong")
    ctx = _context(demo_workspace, local_pagerduty)
    checks = _by_name(run_checks(ctx, kubeconfig=bad_token))
    assert checks[MONITORING].ok is False and "401" in checks[MONITORING].detail
    assert checks[ALERT_RULES].ok is False and "oomkilled: true" in checks[ALERT_RULES].fix
    assert checks[REPOSITORY].ok is False and "does not exist" in checks[REPOSITORY].detail
    missing = run_checks(ctx, kubeconfig=tmp_path / "no-such-kubeconfig")
    assert "no kubeconfig at" in _by_name(missing)[MONITORING].detail


def test_unreachable_kubernetes_api_fails_the_monitoring_item_with_one_line(
    tmp_path: Path, demo_workspace: Path, local_pagerduty: LocalPagerDuty, kube: RecordedKubeApi
) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        kube.url = url
        kubeconfig = kube.write_kubeconfig(tmp_path / "unreachable.yaml")
        ctx = _context(demo_workspace, local_pagerduty)
        checks = _by_name(run_checks(ctx, kubeconfig=kubeconfig))
    monitoring = checks[MONITORING]
    assert monitoring.ok is False
    assert monitoring.detail.startswith(f"Kubernetes API at {url} not reachable: ")
    assert "\n" not in monitoring.detail and "get/list/watch on pods" in monitoring.fix


# the command ------------------------------------------------------------------------------
def _invoke(
    monkeypatch: pytest.MonkeyPatch, server: LocalPagerDuty, repo: Path, *args: str
) -> Result:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", server.token)
    monkeypatch.setenv("PAGERDUTY_API_HOST", server.api_url)
    monkeypatch.setenv("ADS_PAGERDUTY_CA", str(server.ca_file))
    keys = [i.integration_key for s in server.seed.services for i in s.integrations]
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", keys[0] if keys else "")
    return CliRunner().invoke(doctor, ["--config", str(repo / "ads.yaml"), *args])


def test_command_passes_on_the_demo_setup(
    monkeypatch: pytest.MonkeyPatch,
    demo_workspace: Path,
    local_pagerduty: LocalPagerDuty,
    kube: RecordedKubeApi,
) -> None:
    result = _invoke(
        monkeypatch, local_pagerduty, demo_workspace, "--kubeconfig", str(kube.kubeconfig)
    )
    assert result.exit_code == 0, result.output
    for name in CHECK_NAMES:
        assert f"✓ {name}" in result.output
    assert "all 6 checks passed" in result.output


def test_command_exits_non_zero_naming_the_on_call_item(
    monkeypatch: pytest.MonkeyPatch,
    demo_workspace: Path,
    local_pagerduty: LocalPagerDuty,
    kube: RecordedKubeApi,
) -> None:
    _nobody_on_call(local_pagerduty)
    result = _invoke(
        monkeypatch,
        local_pagerduty,
        demo_workspace,
        "--kubeconfig",
        str(kube.kubeconfig),
        "--service",
        SERVICE,
    )
    assert result.exit_code == 1, result.output
    assert f"✗ {ONCALL}" in result.output
    assert "fix:" in result.output
    assert "1 of 6 checks failed" in result.output


def test_command_exits_non_zero_naming_the_integration_item(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo_workspace: Path, kube: RecordedKubeApi
) -> None:
    def no_integration(data: dict[str, Any]) -> None:
        for service in data["services"]:
            service["integrations"] = []

    with LocalPagerDuty(tmp_path / "pd", seed=_seed(tmp_path, no_integration)) as server:
        result = _invoke(monkeypatch, server, demo_workspace, "--kubeconfig", str(kube.kubeconfig))
    assert result.exit_code == 1, result.output
    assert f"✗ {INTEGRATION}" in result.output
    assert "Traceback" not in result.output


def test_command_unknown_service_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, demo_workspace: Path, local_pagerduty: LocalPagerDuty
) -> None:
    result = _invoke(monkeypatch, local_pagerduty, demo_workspace, "--service", "nope")
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
