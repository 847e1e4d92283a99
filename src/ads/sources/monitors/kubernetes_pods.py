"""Reading OOM kills out of Kubernetes Pod objects, as the API server sends them (camelCase JSON).

The watcher works on the raw JSON of pods, ReplicaSets and Deployments rather than the client's
generated models: the shape is the API's own, the recorded test responses are the same bytes, and
a field the model does not know yet cannot break parsing. A container's kill shows up twice in
the life of a pod: first as ``state.terminated`` (dead, not yet restarted), then as
``lastState.terminated`` once the kubelet has started the next instance. ``ContainerKill.identity``
is what lets the watcher page once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import ConfigError
from ...models import OomEvent
from ...units import parse_quantity

__all__ = [
    "GIT_SHA_KEYS",
    "ContainerKill",
    "Owner",
    "container_kills",
    "controller_owner",
    "oom_event",
]

OOM_REASON = "OOMKilled"
# Pod annotations or labels that may carry the git sha the image was built from.
GIT_SHA_KEYS = ("ads.dev/git-sha", "app.kubernetes.io/git-sha", "git-sha", "commit-sha")

Json = dict[str, Any]


@dataclass(frozen=True)
class ContainerKill:
    """One terminated container instance whose reason was OOMKilled.

    ``restart_count`` is the number of restarts before this kill (see ``_restarts_before``).
    """

    namespace: str
    pod: str
    pod_uid: str | None
    container: str
    restart_count: int
    exit_code: int
    container_id: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.pod, self.container)


@dataclass(frozen=True)
class Owner:
    """The controlling owner of an object, from ``metadata.ownerReferences``."""

    kind: str
    name: str


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _restarts_before(status: Json, terminated: Json, current: bool) -> int:
    """How many times the container had restarted when this instance was killed.

    ``restartCount`` belongs to the newest instance: while the dead one is still the newest
    (``state.terminated``, or CrashLoopBackOff before the next start) it is the dead one's
    count; once a new instance runs, the dead one's count is one less. The local runtime counts
    the same way (the first kill has 0 restarts before it).
    """
    count = int(status.get("restartCount") or 0)
    if current:
        return count
    dead, newest = terminated.get("containerID"), status.get("containerID")
    if dead and newest:
        return count if dead == newest else max(0, count - 1)
    return max(0, count - 1) if "running" in _dict(status.get("state")) else count


def _kill_from(
    terminated: Json, meta: Json, status: Json, *, current: bool
) -> ContainerKill | None:
    if terminated.get("reason") != OOM_REASON:
        return None
    exit_code = terminated.get("exitCode")
    return ContainerKill(
        namespace=str(meta.get("namespace") or "default"),
        pod=str(meta.get("name") or ""),
        pod_uid=meta.get("uid"),
        container=str(status.get("name") or ""),
        restart_count=_restarts_before(status, terminated, current),
        exit_code=exit_code if isinstance(exit_code, int) else 137,
        container_id=terminated.get("containerID") or None,
        started_at=_time(terminated.get("startedAt")),
        finished_at=_time(terminated.get("finishedAt")),
    )


def container_kills(pod: Json, container: str | None = None) -> list[ContainerKill]:
    """The OOM kills a pod's status shows: current ``state`` and ``lastState`` of each container.

    ``container`` restricts the result to one container name (the service's, from ads.yaml).
    Both states are returned when both are OOM kills; the watcher's bookkeeping drops the one it
    has already paged for.
    """
    meta = _dict(pod.get("metadata"))
    kills: list[ContainerKill] = []
    for status in _dict(pod.get("status")).get("containerStatuses") or []:
        if not isinstance(status, dict):
            continue
        if container is not None and status.get("name") != container:
            continue
        for state_field in ("lastState", "state"):
            terminated = _dict(_dict(status.get(state_field)).get("terminated"))
            kill = _kill_from(terminated, meta, status, current=state_field == "state")
            if kill is not None:
                kills.append(kill)
    return kills


def controller_owner(obj: Json) -> Owner | None:
    """The owner reference marked ``controller: true`` (or the only one), if any."""
    refs = [
        r for r in _dict(obj.get("metadata")).get("ownerReferences") or [] if isinstance(r, dict)
    ]
    chosen = next((r for r in refs if r.get("controller")), refs[0] if len(refs) == 1 else None)
    if chosen is None or not chosen.get("kind") or not chosen.get("name"):
        return None
    return Owner(kind=str(chosen["kind"]), name=str(chosen["name"]))


def _container_spec(pod: Json, name: str) -> Json:
    for spec in _dict(pod.get("spec")).get("containers") or []:
        if isinstance(spec, dict) and spec.get("name") == name:
            return spec
    return {}


def _memory_limit(spec: Json) -> int | None:
    limit = _dict(_dict(spec.get("resources")).get("limits")).get("memory")
    if limit is None:
        return None
    try:
        return parse_quantity(limit)
    except ConfigError:
        return None


def _git_sha(pod: Json) -> str | None:
    meta = _dict(pod.get("metadata"))
    for source in (_dict(meta.get("annotations")), _dict(meta.get("labels"))):
        for key in GIT_SHA_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def oom_event(
    kill: ContainerKill, pod: Json, *, service: str, workload: str | None, now: datetime
) -> OomEvent:
    """The ``OomEvent`` for one kill; what the pod does not say (no limit, no owner) is None."""
    spec = _container_spec(pod, kill.container)
    status = next(
        (
            s
            for s in _dict(pod.get("status")).get("containerStatuses") or []
            if isinstance(s, dict) and s.get("name") == kill.container
        ),
        {},
    )
    return OomEvent(
        service=service,
        reason=OOM_REASON,
        exit_code=kill.exit_code,
        memory_limit=_memory_limit(spec),
        killed_at=kill.finished_at or now,
        started_at=kill.started_at,
        restart_count=kill.restart_count,
        git_sha=_git_sha(pod),
        namespace=kill.namespace,
        workload=workload,
        pod=kill.pod,
        container=kill.container,
        node=_dict(pod.get("spec")).get("nodeName") or None,
        image=spec.get("image") or status.get("image") or None,
    )
