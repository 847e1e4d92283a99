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
own container spec, which is what actually ran.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.config.config_exception import ConfigException

from ...config import ServiceConfig, Settings
from ...errors import ConfigError, KubernetesError
from ...models import OomEvent
from .kubernetes_pods import Json, container_kills, controller_owner, oom_event
from .kubernetes_state import AlertedKills

__all__ = [
    "KubernetesWatcher",
    "WatchOutcome",
    "WatchTarget",
    "make_api_client",
    "open_watch",
    "run_watch",
    "watch_targets",
]

log = logging.getLogger(__name__)
GONE = 410


class WatchOutcome(StrEnum):
    """How one watch connection ended."""

    ENDED = "ended"  # server closed the stream (its timeout): watch again from the bookmark
    EXPIRED = "expired"  # 410 Gone: the bookmark is too old, list again
    DROPPED = "dropped"  # connection lost or refused: reconnect after a backoff
    STOPPED = "stopped"  # stop() was called


@dataclass(frozen=True)
class WatchTarget:
    """Pods of one service: namespace, label selector and (optionally) the container to watch."""

    service: str
    namespace: str
    label_selector: str | None
    container: str | None = None


@dataclass
class _Cursor:
    resource_version: str | None = None
    failures: int = 0


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


def _refusal(exc: k8s.ApiException, what: str) -> KubernetesError:
    hints = {
        401: "the kubeconfig's credentials were refused",
        403: "the service account needs get/list/watch on pods, replicasets and deployments",
        404: "check the namespace in ads.yaml",
    }
    return KubernetesError(
        f"Kubernetes API refused {what}: {exc.status} {exc.reason}", hint=hints.get(exc.status)
    )


def _read_json(response: Any) -> Json:
    try:
        data = json.loads(response.data)
    finally:
        response.release_conn()
    return data if isinstance(data, dict) else {}


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
        self._cursors: dict[WatchTarget, _Cursor] = {t: _Cursor() for t in targets}
        self._workloads: dict[tuple[str, str, str], str | None] = {}
        self._watches: dict[WatchTarget, k8s_watch.Watch] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()

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
            replica_set = _read_json(
                self.apps.read_namespaced_replica_set(owner.name, namespace, _preload_content=False)
            )
            rs_owner = controller_owner(replica_set)
            if rs_owner is not None and rs_owner.kind == "Deployment":
                deployment = _read_json(
                    self.apps.read_namespaced_deployment(
                        rs_owner.name, namespace, _preload_content=False
                    )
                )
                workload = str(deployment.get("metadata", {}).get("name") or rs_owner.name)
        except k8s.ApiException as exc:
            if exc.status in (401, 403):
                raise _refusal(exc, f"reading the owner of pod in {namespace}") from None
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

    # -- list and watch --------------------------------------------------------------------

    def list_pods(self, target: WatchTarget) -> list[OomEvent]:
        """List the target's pods, page for new kills, and set the watch bookmark."""
        try:
            pod_list = _read_json(
                self.core.list_namespaced_pod(
                    target.namespace,
                    label_selector=target.label_selector,
                    _preload_content=False,
                    _request_timeout=(10, 60),
                )
            )
        except k8s.ApiException as exc:
            raise _refusal(exc, f"listing pods in {target.namespace}") from None
        sent: list[OomEvent] = []
        for pod in pod_list.get("items") or []:
            if isinstance(pod, dict):
                pod.setdefault("metadata", {}).setdefault("namespace", target.namespace)
                sent.extend(self.examine(pod, target))
        version = (pod_list.get("metadata") or {}).get("resourceVersion")
        self._cursors[target].resource_version = str(version) if version else None
        return sent

    def watch_pods(self, target: WatchTarget) -> WatchOutcome:
        """One watch connection from the bookmark until it ends, expires or drops."""
        cursor = self._cursors[target]
        watcher = k8s_watch.Watch()
        with self._lock:
            self._watches[target] = watcher
        try:
            stream = watcher.stream(
                self.core.list_namespaced_pod,
                target.namespace,
                label_selector=target.label_selector,
                resource_version=cursor.resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_timeout,
                _request_timeout=(10, self.watch_timeout + 30),
            )
            for event in stream:
                raw = event.get("raw_object") or {}
                version = (raw.get("metadata") or {}).get("resourceVersion")
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self.examine(raw, target)
                if version:
                    cursor.resource_version = str(version)
                cursor.failures = 0
        except k8s.ApiException as exc:
            if exc.status == GONE:
                cursor.resource_version = None
                return WatchOutcome.EXPIRED
            if exc.status in (401, 403, 404):
                raise _refusal(exc, f"watching pods in {target.namespace}") from None
            return self._dropped(target, f"API server answered {exc.status} {exc.reason}")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if self._stopping.is_set():
                return WatchOutcome.STOPPED
            return self._dropped(target, type(exc).__name__)
        finally:
            with self._lock:
                self._watches.pop(target, None)
        return WatchOutcome.STOPPED if self._stopping.is_set() else WatchOutcome.ENDED

    def _dropped(self, target: WatchTarget, why: str) -> WatchOutcome:
        cursor = self._cursors[target]
        if cursor.failures == 0:
            self.notice(
                f"lost the watch on {target.namespace}/{target.label_selector or '*'} ({why});"
                " reconnecting from resourceVersion "
                f"{cursor.resource_version or '(re-list)'}"
            )
        cursor.failures += 1
        return WatchOutcome.DROPPED

    def poll_once(self, target: WatchTarget | None = None) -> WatchOutcome:
        """List if there is no bookmark, then watch one connection. The unit tests drive this."""
        chosen = target or self.targets[0]
        if self._cursors[chosen].resource_version is None:
            try:
                self.list_pods(chosen)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                return self._dropped(chosen, type(exc).__name__)
        return self.watch_pods(chosen)

    def backoff_delay(self, target: WatchTarget) -> float:
        failures = self._cursors[target].failures
        if failures == 0:
            return 0.0
        initial, ceiling = self.backoff
        return float(min(ceiling, initial * 2 ** (failures - 1)))

    # -- running ---------------------------------------------------------------------------

    def _run_target(self, target: WatchTarget, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            started = time.monotonic()
            outcome = self.poll_once(target)
            if outcome is WatchOutcome.DROPPED:
                stop_event.wait(self.backoff_delay(target))
            elif outcome is WatchOutcome.ENDED and time.monotonic() - started < 1.0:
                # A stream that ends at once (a proxy, a misconfigured timeout): don't spin.
                stop_event.wait(self.backoff[0])

    def run(self, stop_event: threading.Event) -> None:
        """Watch every target (one thread each) until ``stop_event`` is set or one fails."""
        errors: list[BaseException] = []

        def guarded(target: WatchTarget) -> None:
            try:
                self._run_target(target, stop_event)
            except BaseException as exc:
                errors.append(exc)
                stop_event.set()

        threads = [
            threading.Thread(target=guarded, args=(t,), name=f"watch-{t.service}", daemon=True)
            for t in self.targets
        ]
        for thread in threads:
            thread.start()
        try:
            stop_event.wait()
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
        with self._lock:
            watches = list(self._watches.values())
        for watcher in watches:
            watcher.stop()


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
            deployment = _read_json(
                apps.read_namespaced_deployment(
                    kube.deployment, kube.namespace, _preload_content=False
                )
            )
        except k8s.ApiException as exc:
            raise _refusal(exc, f"reading deployment {kube.namespace}/{kube.deployment}") from None
        labels = (deployment.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None
    if selector is None:
        return None
    return WatchTarget(service.name, kube.namespace, selector, kube.container)


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
) -> None:
    """``ads watch`` as a function: watch every service in ``settings`` until ``stop_event``."""
    watcher = open_watch(
        settings, kubeconfig, state_path, on_oom, notice=notice, max_kill_age=max_kill_age
    )
    try:
        watcher.run(stop_event or threading.Event())
    finally:
        watcher.close()
