"""The Kubernetes watcher, driven through the official client against recorded API responses.

No cluster can run on this machine, so ``tests.fixtures.kubernetes.RecordedKubeApi`` serves
recorded Kubernetes API shapes (PodList, an OOMKilled Pod of the demo Deployment, its ReplicaSet
and Deployment, watch streams with a dropped connection and a ``410 Expired`` ERROR event) from a
real HTTP server on 127.0.0.1; the client reaches it through a kubeconfig file. The stream
carries five kills of the demo worker (#2 in the first list, then #3, #4 and #5), some of them
seen several times, and every test asserts what an on-call engineer would check: one page per
kill, none twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ads.analysis.alert_rules import AlertEvent, build_alert_event
from ads.config import AlertRules, settings_from_dict
from ads.errors import ConfigError, KubernetesError, PagerDutyUnavailableError
from ads.interfaces.cli_watch import describe_kill, watch
from ads.models import OomEvent
from ads.sources.monitors.kubernetes import (
    KubernetesWatcher,
    WatchOutcome,
    WatchTarget,
    make_api_client,
    run_watch,
    watch_targets,
)
from ads.sources.monitors.kubernetes_state import AlertedKills
from ads.sources.outbox import Outbox
from tests.fixtures.kubernetes import RecordedKubeApi, WatchSession, recorded, recorded_stream

pytestmark = pytest.mark.timeout(60)

TARGET = WatchTarget(
    service="ads-demo-service",
    namespace="default",
    label_selector="app.kubernetes.io/name=ads-demo-service",
    container="worker",
)
MI = 1024 * 1024


def _at(minute: int, second: int) -> datetime:
    return datetime(2026, 11, 25, 5, minute, second, tzinfo=UTC)


KILL_TIMES = {2: _at(1, 21), 3: _at(2, 14), 4: _at(3, 27), 5: _at(5, 20)}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RecordedKubeApi]:
    with RecordedKubeApi(tmp_path) as server:
        server.add_demo_owners()
        yield server


def _script_full_story(api: RecordedKubeApi) -> None:
    """List → watch (kill #3, then the connection drops) → watch (replay, kill #4, 410) →
    re-list → watch (kill #5)."""
    api.script.pod_lists = [recorded("podlist_initial.json"), recorded("podlist_after_410.json")]
    api.script.watches = [
        WatchSession(recorded_stream("watch_session1_kill3.ndjson"), drop=True),
        WatchSession(recorded_stream("watch_session2_kill4_then_410.ndjson")),
        WatchSession(recorded_stream("watch_session3_kill5.ndjson")),
    ]


def _watcher(
    api: RecordedKubeApi, events: list[OomEvent], state: AlertedKills | None = None
) -> KubernetesWatcher:
    return KubernetesWatcher(
        make_api_client(api.kubeconfig),
        [TARGET],
        events.append,
        state=state,
        max_kill_age=None,
        notice=lambda message: None,
    )


def test_each_kill_pages_once_across_a_drop_a_replay_and_a_410(api: RecordedKubeApi) -> None:
    _script_full_story(api)
    events: list[OomEvent] = []
    watcher = _watcher(api, events)

    outcomes = [watcher.poll_once() for _ in range(4)]

    assert outcomes == [
        WatchOutcome.DROPPED,
        WatchOutcome.EXPIRED,
        WatchOutcome.ENDED,
        WatchOutcome.ENDED,
    ]
    assert [e.killed_at for e in events] == [KILL_TIMES[n] for n in (2, 3, 4, 5)]
    assert [e.restart_count for e in events] == [1, 2, 3, 4]  # restarts before each kill
    # The watch resumed from the last version seen before the drop, then from the re-list's.
    versions = [q.get("resourceVersion", [""])[0] for q in api.watch_requests()]
    assert versions[:3] == ["1000", "1003", "1200"]
    assert api.list_requests() == 2  # the first list and the one after 410 Gone


def test_the_event_carries_workload_limit_image_node_and_git_sha(api: RecordedKubeApi) -> None:
    _script_full_story(api)
    events: list[OomEvent] = []
    _watcher(api, events).poll_once()

    first = events[0]
    assert first.workload == "ads-demo-service"  # pod → ReplicaSet → Deployment
    assert first.memory_limit == 64 * MI
    assert first.exit_code == 137
    assert first.reason == "OOMKilled"
    assert first.namespace == "default"
    assert first.pod == "ads-demo-service-7d9c8b6f5-x2x4q"
    assert first.container == "worker"
    assert first.node == "kind-worker"
    assert first.image == "ghcr.io/example/ads-demo-service:3f9c2e1"
    assert first.git_sha == "3f9c2e1a7b5d4c3e2f1a0b9c8d7e6f5a4b3c2d1e"
    assert first.restart_count == 1  # kill #2 of the worker: one restart before it
    assert first.started_at == _at(0, 48)
    assert any(r.endswith("/deployments/ads-demo-service") for r in api.requests)


def test_a_restarted_watcher_with_the_same_state_file_repeats_nothing(
    api: RecordedKubeApi, tmp_path: Path
) -> None:
    state_path = tmp_path / "watch.db"
    _script_full_story(api)
    before: list[OomEvent] = []
    first = _watcher(api, before, AlertedKills(state_path))
    first.poll_once()  # list (kill #2) and kill #3, then the drop
    assert [e.killed_at for e in before] == [KILL_TIMES[2], KILL_TIMES[3]]

    # A new process: it lists again (the pod still shows kill #3) and watches on.
    api.script.pod_lists.insert(0, recorded("podlist_initial.json"))
    after: list[OomEvent] = []
    second = _watcher(api, after, AlertedKills(state_path))
    for _ in range(3):
        second.poll_once()

    assert [e.killed_at for e in after] == [KILL_TIMES[4], KILL_TIMES[5]]


def test_a_pod_without_limit_or_owner_still_pages_with_those_fields_unknown(
    api: RecordedKubeApi,
) -> None:
    api.script.pod_lists = [recorded("podlist_bare_pod.json")]
    events: list[OomEvent] = []
    _watcher(api, events).poll_once()

    (event,) = events
    assert event.pod == "scratch-worker"
    assert event.workload is None
    assert event.memory_limit is None
    assert event.git_sha is None
    assert event.exit_code == 137


def test_old_kills_seen_on_first_start_are_remembered_not_paged(api: RecordedKubeApi) -> None:
    _script_full_story(api)
    events: list[OomEvent] = []
    watcher = KubernetesWatcher(
        make_api_client(api.kubeconfig),
        [TARGET],
        events.append,
        max_kill_age=timedelta(minutes=10),
        notice=lambda message: None,
        now=lambda: _at(1, 21) + timedelta(hours=2),
    )
    watcher.poll_once()
    # Kill #2 was in the pod when the watcher started, two hours old: no page. Kill #3 follows
    # it in the stream; it is the next kill of a container already known, so it pages.
    assert [e.killed_at for e in events] == [KILL_TIMES[3]]


def test_a_failing_handler_loses_nothing(api: RecordedKubeApi) -> None:
    api.script.pod_lists = [recorded("podlist_initial.json")]
    calls: list[OomEvent] = []

    def flaky(event: OomEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise KubernetesError("handler failed")

    watcher = KubernetesWatcher(make_api_client(api.kubeconfig), [TARGET], flaky, max_kill_age=None)
    with pytest.raises(KubernetesError):
        watcher.list_pods(TARGET)
    watcher.list_pods(TARGET)  # the next list offers the same kill again
    assert [e.killed_at for e in calls] == [KILL_TIMES[2], KILL_TIMES[2]]
    watcher.list_pods(TARGET)
    assert len(calls) == 2


def test_refused_credentials_are_one_clear_error(api: RecordedKubeApi, tmp_path: Path) -> None:
    api.script.pod_lists = [recorded("podlist_initial.json")]
    bad = api.write_kubeconfig(tmp_path / "bad-kubeconfig.yaml", token="wrong")
    watcher = KubernetesWatcher(make_api_client(bad), [TARGET], lambda e: None)
    with pytest.raises(
        KubernetesError, match=r"refused listing pods in default matching .*: 401 Unauthorized"
    ):
        watcher.poll_once()


def test_missing_or_broken_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no kubeconfig at"):
        make_api_client(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with pytest.raises(ConfigError, match="cannot use Kubernetes configuration"):
        make_api_client(broken)


def test_an_unreachable_api_server_is_a_dropped_watch_with_backoff(tmp_path: Path) -> None:
    with RecordedKubeApi(tmp_path) as server:
        kubeconfig = server.kubeconfig
    notices: list[str] = []
    watcher = KubernetesWatcher(
        make_api_client(kubeconfig), [TARGET], lambda e: None, notice=notices.append
    )
    watcher.core.api_client.configuration.retries = 0
    assert watcher.poll_once() is WatchOutcome.DROPPED
    assert watcher.poll_once() is WatchOutcome.DROPPED
    assert len(notices) == 1  # told once, not on every retry
    assert 0 < watcher.backoff_delay(TARGET) <= 30


def test_run_watch_reads_ads_yaml_and_stops_on_request(
    api: RecordedKubeApi, tmp_path: Path
) -> None:
    _script_full_story(api)
    settings = settings_from_dict(
        {
            "services": {
                "ads-demo-service": {
                    "kubernetes": {"namespace": "default", "deployment": "ads-demo-service"}
                }
            }
        },
        path=tmp_path / "ads.yaml",
    )
    (target,) = watch_targets(settings, make_api_client(api.kubeconfig))
    assert target.label_selector == "app.kubernetes.io/name=ads-demo-service"

    stop = threading.Event()
    seen: list[OomEvent] = []

    def on_oom(event: OomEvent) -> None:
        seen.append(event)
        if len(seen) == 4:
            stop.set()

    thread = threading.Thread(
        target=run_watch,
        args=(settings, api.kubeconfig, tmp_path / "w.db", on_oom),
        kwargs={"stop_event": stop, "notice": lambda m: None, "max_kill_age": None},
    )
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [e.killed_at for e in seen] == [KILL_TIMES[n] for n in (2, 3, 4, 5)]
    assert (tmp_path / "w.db").is_file()


def _ads_yaml(tmp_path: Path, kubernetes: dict[str, str]) -> Path:
    path = tmp_path / "ads.yaml"
    path.write_text(yaml.safe_dump({"services": {"ads-demo-service": {"kubernetes": kubernetes}}}))
    return path


def test_watch_command_without_a_kubernetes_target_says_so_in_one_line(
    api: RecordedKubeApi, tmp_path: Path
) -> None:
    config = _ads_yaml(tmp_path, {"namespace": "default"})
    result = CliRunner().invoke(
        watch, ["--config", str(config), "--kubeconfig", str(api.kubeconfig)]
    )
    assert result.exit_code == 2
    assert "no service in ads.yaml says where it runs in Kubernetes" in result.output
    assert "Traceback" not in result.output


def test_watch_command_with_a_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    config = _ads_yaml(tmp_path, {"deployment": "ads-demo-service"})
    result = CliRunner().invoke(
        watch, ["--config", str(config), "--kubeconfig", str(tmp_path / "nope.yaml")]
    )
    assert result.exit_code == 2
    assert "no kubeconfig at" in result.output


def test_a_kill_is_described_with_where_which_restart_and_limit(api: RecordedKubeApi) -> None:
    api.script.pod_lists = [recorded("podlist_initial.json")]
    events: list[OomEvent] = []
    _watcher(api, events).list_pods(TARGET)
    line = describe_kill(events[0])
    assert "OOMKilled" in line
    assert "default/ads-demo-service-7d9c8b6f5-x2x4q/worker" in line
    assert "64Mi" in line and "restart 1" in line and "exit 137" in line


def test_the_shipped_watcher_manifest_is_read_only_and_watches_the_demo() -> None:
    path = Path(__file__).parents[2] / "examples/ads-demo-service/infra/kubernetes"
    docs = {d["kind"]: d for d in yaml.safe_load_all((path / "ads-watcher.yaml").read_text())}
    verbs = {v for rule in docs["ClusterRole"]["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}
    resources = {r for rule in docs["ClusterRole"]["rules"] for r in rule["resources"]}
    assert resources == {"pods", "events", "replicasets", "deployments"}

    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["ads", "watch"]
    (env,) = container["env"]
    assert env["name"] == "PAGERDUTY_ROUTING_KEY" and "secretKeyRef" in env["valueFrom"]

    settings = settings_from_dict(yaml.safe_load(docs["ConfigMap"]["data"]["ads.yaml"]))
    demo = yaml.safe_load((path / "deployment.yaml").read_text())
    kube = settings.services["ads-demo-service"].kubernetes
    labels = demo["spec"]["template"]["metadata"]["labels"]
    key, value = (kube.label_selector or "").split("=")
    assert labels[key] == value
    assert kube.deployment == demo["metadata"]["name"]
    assert settings.state_dir == Path("/var/lib/ads")


def test_a_node_oom_the_container_survived_pages_once_as_oomkilling(
    api: RecordedKubeApi, tmp_path: Path
) -> None:
    """node-problem-detector's OOMKilling Events: the one the pod status also shows (kill #2)
    and another program's kill stay silent; a worker process killed while the container ran on
    pages once, even when the stream replays it and the watcher restarts."""
    api.script.pod_lists = [recorded("podlist_initial.json")]
    api.script.event_list = recorded("eventlist_oomkilling.json")
    replay = recorded_stream("watch_events_node_oom.ndjson")
    api.script.event_watches = [WatchSession(replay), WatchSession(replay)]
    state = tmp_path / "watch.db"
    events: list[OomEvent] = []

    def node_watcher() -> KubernetesWatcher:
        return KubernetesWatcher(
            make_api_client(api.kubeconfig),
            [TARGET],
            events.append,
            state=AlertedKills(state),
            max_kill_age=None,
            node_event_grace=0,
        )

    assert node_watcher().poll_node_events_once() is WatchOutcome.ENDED
    api.script.event_watches.append(WatchSession(replay))
    node_watcher().poll_node_events_once()  # a restarted watcher: lists and replays again
    node_watcher().poll_node_events_once()

    (event,) = events
    assert event.reason == "OOMKilling"
    assert event.killed_at == _at(1, 55)
    assert event.pid == 5301
    assert event.peak_usage == 61440 * 1024
    assert (event.pod, event.container, event.node) == (
        "ads-demo-service-7d9c8b6f5-x2x4q",
        "worker",
        "kind-worker",
    )
    assert event.workload == "ads-demo-service"
    assert event.memory_limit == 64 * MI
    assert any("fieldSelector=reason%3DOOMKilling" in r for r in api.requests)


def test_queued_alerts_go_out_on_the_watchers_tick_without_a_new_kill(
    api: RecordedKubeApi, tmp_path: Path
) -> None:
    """PagerDuty is down for the first kill; the kill waits in the outbox and leaves on a tick
    once PagerDuty is back, though no further kill comes."""
    api.script.pod_lists = [recorded("podlist_initial.json")]
    outbox = Outbox(tmp_path / "outbox.db")
    accepted: list[AlertEvent] = []
    down = threading.Event()
    down.set()

    class PagerDuty:
        def send(self, alert: AlertEvent) -> None:
            if down.is_set():
                raise PagerDutyUnavailableError("PagerDuty unreachable", delay=0.05)
            accepted.append(alert)

    sender = PagerDuty()
    stop = threading.Event()

    def on_oom(event: OomEvent) -> None:
        assert outbox.deliver(build_alert_event(event, AlertRules()), sender).value == "queued"
        down.clear()  # PagerDuty comes back

    def tick() -> None:
        outbox.flush_if_due(sender)
        if accepted:
            stop.set()

    watcher = KubernetesWatcher(
        make_api_client(api.kubeconfig), [TARGET], on_oom, max_kill_age=None, node_events=False
    )
    runner = threading.Thread(
        target=watcher.run, args=(stop,), kwargs={"tick": tick, "tick_every": 0.05}
    )
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive()
    (alert,) = accepted
    assert alert.dedup_key == "oomkilled/default/ads-demo-service/worker"
    assert alert.custom_details["memory_limit"] == "64Mi"
    assert outbox.queued() == []


def test_without_rights_on_events_the_pods_are_still_watched(
    api: RecordedKubeApi, tmp_path: Path
) -> None:
    """A Role that grants pods but not events: one notice, and kills still page."""
    _script_full_story(api)
    api.forbid_events = True
    notices: list[str] = []
    stop = threading.Event()
    seen: list[OomEvent] = []

    def on_oom(event: OomEvent) -> None:
        seen.append(event)
        if len(seen) == 4:
            stop.set()

    watcher = KubernetesWatcher(
        make_api_client(api.kubeconfig), [TARGET], on_oom, max_kill_age=None, notice=notices.append
    )
    runner = threading.Thread(target=watcher.run, args=(stop,))
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert len(seen) == 4
    assert any("OOMKilling events are not watched" in n and "403" in n for n in notices)
