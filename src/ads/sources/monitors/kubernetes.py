"""The Kubernetes watcher behind ``ads watch``: OOMKilled containers become ``OomEvent``s.

It uses the official ``kubernetes`` client the way its documentation asks for a watch that
must not miss anything: list the pods first (the list's ``resourceVersion`` is where the watch
starts), then watch from there, moving the bookmark with every event. When the API server says
``410 Gone`` (the version is too old; as an ERROR event or an HTTP status) the watcher lists
again; when the connection drops or the stream ends, it reconnects from the last version it saw,
with backoff. A kill can be seen several times on the way (dead container, CrashLoopBackOff,
replayed events, a re-list): ``AlertedKills`` remembers, per container and on disk, the last kill
handled, so each kill calls ``on_oom`` exactly once, even across a restart of the watcher.

What a kill does not say is looked up: the workload is the Deployment that owns the pod's
ReplicaSet (read through the apps/v1 API and cached); the limit and image come from the pod's
own container spec, which is what actually ran. Node ``OOMKilling`` Events (kernel kills of a
process the container survived) are watched the same way; see ``kubernetes_events``. The
list/watch mechanics live in ``kubernetes_feed.ListWatch``, one per collection.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from ...config import ServiceConfig, Settings
from ...errors import AdsError, ConfigError, KubernetesError
from ...models import OomEvent
from .kubernetes_events import OOM_KILLING, NodeOom, matching_container, node_oom
from .kubernetes_feed import ListWatch, WatchOutcome, read_json, refusal
from .kubernetes_pods import ContainerKill, Json, container_kills, controller_owner, oom_event
from .kubernetes_state import AlertedKills

__all__ = [
    "KubernetesWatcher",
    "PodListing",
    "WatchOutcome",
    "WatchTarget",
    "list_service_pods",
    "make_api_client",
    "open_watch",
    "run_watch",
    "watch_targets",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchTarget:
    """Pods of one service: namespace, label selector and (optionally) the container to watch."""

    service: str
    namespace: str
    label_selector: str | None
    container: str | None = None


def make_api_client(kubeconfig: str | Path | None = None) -> k8s.ApiClient:
    """A client from ``kubeconfig``, else in-cluster config in a pod, else ``~/.kube/config``."""
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            return k8s.ApiClient(configuration)
        if kubeconfig is not None and not Path(kubeconfig).is_file():
            raise ConfigError(f"no kubeconfig at {kubeconfig}")
        return k8s_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig is not None else None
        )
    except ConfigException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot use Kubernetes configuration: {first}",
            hint="pass --kubeconfig PATH, or run inside a pod with a service account",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(
            f"kubeconfig {kubeconfig or '~/.kube/config'} is not valid YAML{where}",
            hint="`kubectl config view` shows what a valid one looks like",
        ) from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # YAML, not a kubeconfig
        raise ConfigError(
            f"kubeconfig {kubeconfig or '~/.kube/config'} is not a kubeconfig "
            f"({type(exc).__name__}: {str(exc)[:80]})",
            hint="it needs clusters, users, contexts and current-context",
        ) from None


def check_reachable(api_client: k8s.ApiClient, timeout: float = 10.0) -> None:
    """``KubernetesError`` naming the API server when it cannot be reached at all, so ``ads
    watch`` says so at once instead of retrying a watch that never connects. Any HTTP answer,
    even a refusal, counts as reached (refusals are reported where they happen)."""
    host = api_client.configuration.host
    try:
        k8s.VersionApi(api_client).get_code(_request_timeout=(timeout, timeout))
    except k8s.ApiException:
        return
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise KubernetesError(
            f"cannot reach the Kubernetes API server at {host} ({_one_line(reason)})",
            hint="check the kubeconfig's cluster server and the network (`kubectl version`)",
        ) from None


class KubernetesWatcher:
    """Watch the pods of ``targets`` and call ``on_oom`` once for every new OOM kill.

    ``state`` is an ``AlertedKills`` (pass one with a path to survive restarts).
    ``max_kill_age``: a kill older than this when the watcher first sees it is remembered but
    not paged (so deploying the watcher does not page for last week's kills); None pages all.
    ``notice`` is told, once per change, what the operator should know (connection lost...).
    """

    def __init__(
        self,
        api_client: k8s.ApiClient,
        targets: list[WatchTarget],
        on_oom: Callable[[OomEvent], None],
        *,
        state: AlertedKills | None = None,
        max_kill_age: timedelta | None = timedelta(hours=1),
        watch_timeout: int = 300,
        backoff: tuple[float, float] = (0.5, 30.0),
        notice: Callable[[str], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        node_events: bool = True,
        node_event_grace: float = 5.0,
    ) -> None:
        self.api_client = api_client
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.targets = targets
        self.on_oom = on_oom
        self.state = state if state is not None else AlertedKills()
        self.max_kill_age = max_kill_age
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self.notice = notice or (lambda message: log.warning("%s", message))
        self.now = now
        self.node_events = node_events
        self.node_event_grace = node_event_grace
        self._workloads: dict[tuple[str, str, str], str | None] = {}
        self._stopping = threading.Event()
        self.feeds = {t: self._pod_feed(t) for t in targets}
        self.node_feed = ListWatch(
            f"{OOM_KILLING} events",
            self.core.list_event_for_all_namespaces,
            (),
            {"field_selector": f"reason={OOM_KILLING}"},
            self.examine_node_event,
            notice=self.notice,
            watch_timeout=watch_timeout,
            backoff=backoff,
        )

    def _pod_feed(self, target: WatchTarget) -> ListWatch:
        def handle(pod: Json) -> None:
            pod.setdefault("metadata", {}).setdefault("namespace", target.namespace)
            self.examine(pod, target)

        return ListWatch(
            f"pods in {target.namespace} matching {target.label_selector or '(all)'}",
            self.core.list_namespaced_pod,
            (target.namespace,),
            {"label_selector": target.label_selector},
            handle,
            notice=self.notice,
            watch_timeout=self.watch_timeout,
            backoff=self.backoff,
        )

    # -- one pod ---------------------------------------------------------------------------

    def _workload(self, pod: Json, namespace: str) -> str | None:
        owner = controller_owner(pod)
        if owner is None:
            return None
        if owner.kind != "ReplicaSet":
            return owner.name  # StatefulSet, DaemonSet, Job...: the owner is the workload
        cache_key = (namespace, owner.kind, owner.name)
        if cache_key in self._workloads:
            return self._workloads[cache_key]
        workload: str | None = owner.name
        try:
            replica_set = read_json(
                self.apps.read_namespaced_replica_set(owner.name, namespace, _preload_content=False)
            )
            rs_owner = controller_owner(replica_set)
            if rs_owner is not None and rs_owner.kind == "Deployment":
                deployment = read_json(
                    self.apps.read_namespaced_deployment(
                        rs_owner.name, namespace, _preload_content=False
                    )
                )
                workload = str(deployment.get("metadata", {}).get("name") or rs_owner.name)
        except k8s.ApiException as exc:
            if exc.status in (401, 403):
                raise refusal(exc, f"reading the owner of pod in {namespace}") from None
            # 404: the ReplicaSet or Deployment is gone; the ReplicaSet's name is what we know
        self._workloads[cache_key] = workload
        return workload

    def examine(self, pod: Json, target: WatchTarget) -> list[OomEvent]:
        """Page for every kill in ``pod`` not handled yet; return the events sent to on_oom."""
        sent: list[OomEvent] = []
        kills = sorted(
            (k for k in container_kills(pod, target.container) if self.state.is_new(k)),
            key=lambda k: (k.finished_at or self.now(), k.restart_count),
        )
        for kill in kills:
            if not self.state.is_new(kill):
                continue  # state.terminated and lastState can show the same kill
            too_old = (
                self.max_kill_age is not None
                and self.state.get(kill.key) is None
                and kill.finished_at is not None
                and self.now() - kill.finished_at > self.max_kill_age
            )
            if not too_old:
                event = oom_event(
                    kill,
                    pod,
                    service=target.service,
                    workload=self._workload(pod, kill.namespace),
                    now=self.now(),
                )
                self.on_oom(event)  # raises: not recorded, so the next re-list pages again
                sent.append(event)
            self.state.record(kill)
        return sent

    def examine_node_event(self, raw: Json) -> list[OomEvent]:
        """Page for a node ``OOMKilling`` Event that no container status reports (see
        ``kubernetes_events``); the pods on that node are read after ``node_event_grace``."""
        oom = node_oom(raw)
        if oom is None:
            return []
        # One row per Event (its uid); ``count`` rises when the kernel repeats the same line.
        kill = ContainerKill(
            namespace=f"node/{oom.node}", pod=oom.uid, pod_uid=oom.uid, container=OOM_KILLING,
            restart_count=oom.count, exit_code=137, container_id=None, started_at=None,
            finished_at=oom.at,
        )  # fmt: skip
        if not self.state.is_new(kill):
            return []
        if self.max_kill_age is not None and oom.at and self.now() - oom.at > self.max_kill_age:
            self.state.record(kill)
            return []
        self._stopping.wait(self.node_event_grace)  # let the kubelet report a container kill
        sent: list[OomEvent] = []
        for target in self.targets:
            event = self._node_oom_event(oom, target)
            if event is not None:
                self.on_oom(event)
                sent.append(event)
                break
        self.state.record(kill)
        return sent

    def _node_oom_event(self, oom: NodeOom, target: WatchTarget) -> OomEvent | None:
        try:
            pods = (
                read_json(
                    self.core.list_namespaced_pod(
                        target.namespace,
                        label_selector=target.label_selector,
                        field_selector=f"spec.nodeName={oom.node}",
                        _preload_content=False,
                        _request_timeout=(10, 60),
                    )
                ).get("items")
                or []
            )
        except k8s.ApiException as exc:
            raise refusal(exc, f"listing pods in {target.namespace}") from None
        for pod in pods:
            container = matching_container(oom, pod, target.container)
            if container is None:
                continue
            meta = pod.get("metadata") or {}
            status: Json = next(
                (
                    s
                    for s in (pod.get("status") or {}).get("containerStatuses") or []
                    if s.get("name") == container
                ),
                {},
            )
            kill = ContainerKill(
                namespace=str(meta.get("namespace") or target.namespace),
                pod=str(meta.get("name") or ""),
                pod_uid=meta.get("uid"),
                container=container,
                restart_count=int(status.get("restartCount") or 0),
                exit_code=137,
                container_id=None,
                started_at=None,
                finished_at=oom.at,
            )
            event = oom_event(
                kill,
                pod,
                service=target.service,
                workload=self._workload(pod, kill.namespace),
                now=self.now(),
            )
            return event.model_copy(
                update={"reason": OOM_KILLING, "pid": oom.pid, "peak_usage": oom.anon_rss}
            )
        return None

    # -- list and watch --------------------------------------------------------------------

    def list_pods(self, target: WatchTarget) -> None:
        """List the target's pods, page for new kills, and set the watch bookmark."""
        self.feeds[target].list()

    def poll_once(self, target: WatchTarget | None = None) -> WatchOutcome:
        """List if there is no bookmark, then watch one connection. The unit tests drive this."""
        return self.feeds[target or self.targets[0]].poll_once()

    def poll_node_events_once(self) -> WatchOutcome:
        """The same, for the node ``OOMKilling`` Events."""
        return self.node_feed.poll_once()

    def backoff_delay(self, target: WatchTarget) -> float:
        return self.feeds[target].backoff_delay()

    # -- running ---------------------------------------------------------------------------

    def _keep_polling(self, feed: ListWatch, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            started = time.monotonic()
            outcome = feed.poll_once()
            if outcome is WatchOutcome.DROPPED:
                stop_event.wait(feed.backoff_delay())
            elif outcome is WatchOutcome.ENDED and time.monotonic() - started < 1.0:
                # A stream that ends at once (a proxy, a misconfigured timeout): don't spin.
                stop_event.wait(self.backoff[0])

    def run(
        self,
        stop_event: threading.Event,
        *,
        tick: Callable[[], object] | None = None,
        tick_every: float = 5.0,
    ) -> None:
        """Watch every target, and node events, until ``stop_event`` is set or one fails.

        ``tick`` is called every ``tick_every`` seconds meanwhile, e.g. to send alerts an
        outbox is holding (``Outbox.flush_if_due``) even when no new kill comes.
        """
        errors: list[BaseException] = []

        def guarded(feed: ListWatch) -> None:
            try:
                self._keep_polling(feed, stop_event)
            except KubernetesError as exc:
                if feed is self.node_feed:  # optional: pods are still watched without it
                    self.notice(f"node {OOM_KILLING} events are not watched: {exc}")
                    return
                errors.append(exc)
                stop_event.set()
            except BaseException as exc:
                errors.append(exc)
                stop_event.set()

        feeds = [*self.feeds.values(), *([self.node_feed] if self.node_events else [])]
        threads = [
            threading.Thread(target=guarded, args=(f,), name=f"watch {f.what}", daemon=True)
            for f in feeds
        ]
        for thread in threads:
            thread.start()
        try:
            while not stop_event.wait(tick_every):
                if tick is not None:
                    tick()
        finally:
            stop_event.set()
            self.stop()
            for thread in threads:
                thread.join(timeout=5)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Stop watching and release the client's connections."""
        self.stop()
        self.api_client.close()

    def stop(self) -> None:
        """End the open watch connections now (they block on a socket read otherwise)."""
        self._stopping.set()
        for feed in [*self.feeds.values(), self.node_feed]:
            feed.stop()


def watch_targets(settings: Settings, api_client: k8s.ApiClient) -> list[WatchTarget]:
    """One target per service with ``kubernetes.label_selector`` or ``kubernetes.deployment``.

    A service that names only its Deployment is watched through the Deployment's own
    ``spec.selector.matchLabels``.
    """
    targets = []
    apps = k8s.AppsV1Api(api_client)
    for service in settings.services.values():
        target = _target_for(service, apps)
        if target is not None:
            targets.append(target)
    if not targets:
        raise ConfigError(
            "no service in ads.yaml says where it runs in Kubernetes",
            hint="set services.<name>.kubernetes.label_selector or .deployment",
        )
    return targets


def _target_for(service: ServiceConfig, apps: k8s.AppsV1Api) -> WatchTarget | None:
    kube = service.kubernetes
    selector = kube.label_selector
    if selector is None and kube.deployment:
        try:
            deployment = read_json(
                apps.read_namespaced_deployment(
                    kube.deployment, kube.namespace, _preload_content=False
                )
            )
        except k8s.ApiException as exc:
            raise refusal(exc, f"reading deployment {kube.namespace}/{kube.deployment}") from None
        labels = (deployment.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None
    if selector is None:
        return None
    return WatchTarget(service.name, kube.namespace, selector, kube.container)


@dataclass(frozen=True)
class PodListing:
    """What listing one service's pods found: where the watcher looks, and how many pods."""

    target: WatchTarget
    pods: int


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def list_service_pods(
    settings: Settings, kubeconfig: str | Path | None, service: str, *, limit: int = 50
) -> PodListing | None:
    """List ``service``'s pods the way the watcher starts (``ads doctor``'s monitoring check);
    None when ads.yaml does not say where ``service`` runs in Kubernetes.

    Raises ``ConfigError`` for an unusable kubeconfig, or when no service in ads.yaml has a
    Kubernetes target; ``KubernetesError`` when the API server refuses or cannot be reached.
    """
    api = make_api_client(kubeconfig)
    try:
        targets = [t for t in watch_targets(settings, api) if t.service == service]
        if not targets:
            return None
        target = targets[0]
        pods = k8s.CoreV1Api(api).list_namespaced_pod(
            target.namespace,
            label_selector=target.label_selector,
            limit=limit,
            _request_timeout=15,
        )
        return PodListing(target, len(pods.items or []))
    except k8s.ApiException as exc:
        raise refusal(exc, f"listing pods of {service}") from None
    except AdsError:
        raise
    except Exception as exc:  # urllib3/SSL/socket errors: the API server is not reachable
        host = getattr(api.configuration, "host", "the API server")
        raise KubernetesError(f"Kubernetes API at {host} not reachable: {_one_line(exc)}") from exc
    finally:
        api.close()


def open_watch(
    settings: Settings,
    kubeconfig: str | Path | None,
    state_path: Path | None,
    on_oom: Callable[[OomEvent], None],
    *,
    notice: Callable[[str], None] | None = None,
    max_kill_age: timedelta | None = timedelta(hours=1),
) -> KubernetesWatcher:
    """A watcher for every service in ``settings``; kubeconfig, state and targets are checked.

    Every problem the operator can fix (no kubeconfig, unreadable state file, no service with a
    Kubernetes target, refused credentials) is raised here, before anything is watched.
    """
    api_client = make_api_client(kubeconfig)
    check_reachable(api_client)
    state = AlertedKills(state_path if state_path is not None else settings.state_dir / "watch.db")
    targets = watch_targets(settings, api_client)
    return KubernetesWatcher(
        api_client, targets, on_oom, state=state, notice=notice, max_kill_age=max_kill_age
    )


def run_watch(
    settings: Settings,
    kubeconfig: str | Path | None,
    state_path: Path | None,
    on_oom: Callable[[OomEvent], None],
    *,
    stop_event: threading.Event | None = None,
    notice: Callable[[str], None] | None = None,
    max_kill_age: timedelta | None = timedelta(hours=1),
    tick: Callable[[], object] | None = None,
) -> None:
    """``ads watch`` as a function: watch every service in ``settings`` until ``stop_event``."""
    watcher = open_watch(
        settings, kubeconfig, state_path, on_oom, notice=notice, max_kill_age=max_kill_age
    )
    try:
        watcher.run(stop_event or threading.Event(), tick=tick)
    finally:
        watcher.close()
