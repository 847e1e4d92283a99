"""Node OOM kills: the ``OOMKilling`` Events that node-problem-detector records from the kernel.

When the kernel kills a process that is not a container's main process (a worker child, a
helper), the container lives on and its status never says OOMKilled; the only trace is the
node's ``OOMKilling`` Event, whose message is the kernel's own line::

    Memory cgroup out of memory: Killed process 4012 (worker) total-vm:72536kB,
    anon-rss:65012kB, file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:180kB oom_score_adj:985

A node event is attributed to a watched container only when a pod of the service runs on that
node, the killed process carries the container's name (or its command's or image's base
name), and the container's current instance was already running at the time of the kill and
still runs: then the kill hit a process the container survived. Otherwise the container's own
status (OOMKilled) tells the story and the pod watcher pages it; an OOMKilled within
``SAME_KILL_WINDOW`` of the node event also marks it as already paged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from .kubernetes_pods import Json, container_kills

__all__ = ["OOM_KILLING", "SAME_KILL_WINDOW", "NodeOom", "matching_container", "node_oom"]

OOM_KILLING = "OOMKilling"
SAME_KILL_WINDOW = timedelta(seconds=10)
_KILLED = re.compile(r"Killed process (?P<pid>\d+) \((?P<name>[^)]*)\)")
_ANON_RSS = re.compile(r"anon-rss:(?P<kb>\d+)kB")


@dataclass(frozen=True)
class NodeOom:
    """One ``OOMKilling`` Event: which node, which process, how much it held, when."""

    uid: str
    count: int
    node: str
    pid: int | None
    process: str | None
    anon_rss: int | None  # bytes
    at: datetime | None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def node_oom(event: Json) -> NodeOom | None:
    """The node OOM an Event reports, or None when it is another kind of Event."""
    if event.get("reason") != OOM_KILLING:
        return None
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    node = (involved.get("name") if involved.get("kind") == "Node" else None) or source.get("host")
    if not node:
        return None
    message = str(event.get("message") or "")
    killed = _KILLED.search(message)
    rss = _ANON_RSS.search(message)
    series = event.get("series") or {}
    at = (
        _time(series.get("lastObservedTime"))
        or _time(event.get("lastTimestamp"))
        or _time(event.get("eventTime"))
        or _time(event.get("firstTimestamp"))
    )
    return NodeOom(
        uid=str((event.get("metadata") or {}).get("uid") or ""),
        count=int(event.get("count") or series.get("count") or 1),
        node=str(node),
        pid=int(killed.group("pid")) if killed else None,
        process=killed.group("name") if killed else None,
        anon_rss=int(rss.group("kb")) * 1024 if rss else None,
        at=at,
    )


def _names(container: Json) -> set[str]:
    names = {str(container.get("name") or "")}
    for field in ("command", "args"):
        values = container.get(field) or []
        if values:
            names.add(PurePosixPath(str(values[0])).name)
    image = str(container.get("image") or "")
    names.add(image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0])
    return {n for n in names if n}


def _running_since_before(pod: Json, container: str, at: datetime | None) -> bool:
    """The container's current instance runs and had started when the node OOM happened."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            started = _time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
            return started is not None and at is not None and started <= at
    return False


def matching_container(oom: NodeOom, pod: Json, container: str | None) -> str | None:
    """The pod's container the killed process belongs to, if this node OOM is not yet paged.

    None when the pod is on another node, no container carries the process's name, or the
    container already shows an OOMKilled within ``SAME_KILL_WINDOW`` of this event.
    """
    if (pod.get("spec") or {}).get("nodeName") != oom.node or not oom.process:
        return None
    for spec in (pod.get("spec") or {}).get("containers") or []:
        name = spec.get("name")
        if container is not None and name != container:
            continue
        if oom.process not in _names(spec):
            continue
        if not _running_since_before(pod, str(name), oom.at):
            return None  # the kill may have hit an earlier instance: its own status says
        for kill in container_kills(pod, name):
            if oom.at is None or kill.finished_at is None:
                return None  # cannot tell them apart: trust the container's own status
            if abs(kill.finished_at - oom.at) <= SAME_KILL_WINDOW:
                return None
        return str(name)
    return None
