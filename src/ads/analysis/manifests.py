"""Memory limits and requests in Kubernetes manifests, and how they changed between two versions.

A container is OOMKilled when it reaches ``resources.limits.memory``; a commit that lowered it can
turn a slow leak into a crash loop, so the diagnosis reports such a commit as *contributing*.
This module is pure: it takes manifest text (one file, possibly many ``---`` documents) and
returns what it found; text that is not YAML, or not a workload, gives a problem note instead of
an exception, because a broken manifest in the history must not stop a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from ..errors import ConfigError
from ..units import parse_quantity

__all__ = [
    "WORKLOAD_KINDS",
    "ContainerMemory",
    "LimitChange",
    "ManifestDiff",
    "ManifestScan",
    "diff_manifests",
    "limit_changes",
    "parse_manifests",
    "quantities_equal",
]

# Where each kind keeps its pod spec, as a path of keys from the document's root.
WORKLOAD_KINDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True)
class ContainerMemory:
    """One container's memory settings, as written (``"64Mi"``), ``None`` when not set."""

    kind: str
    workload: str
    container: str
    namespace: str | None = None
    limit: str | None = None
    request: str | None = None
    init: bool = False
    #: ``env`` as (name, value) pairs (only literal values), ``command`` + ``args`` as tokens:
    #: where heap flags, cache sizes and worker counts live
    env: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str | None, str, str, str]:
        return (self.namespace, self.kind, self.workload, self.container)

    @property
    def workload_ref(self) -> str:
        """``Deployment/ads-demo-service``: the workload as kubectl names it."""
        return f"{self.kind}/{self.workload}"


@dataclass
class ManifestScan:
    """What one manifest file holds: its containers' memory settings and any problems met."""

    containers: list[ContainerMemory] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class LimitChange(NamedTuple):
    """A container whose memory limit (or request) differs between two versions of a file."""

    workload: str
    container: str
    from_: str | None
    to: str | None

    def lowered(self) -> bool:
        """Whether the new value is smaller than the old (or newly set where none was)."""
        if self.to is None:
            return False
        if self.from_ is None:
            return True
        old, new = _bytes(self.from_), _bytes(self.to)
        return old is not None and new is not None and new < old


@dataclass
class ManifestDiff:
    """Memory limit and request changes between two versions of a manifest file."""

    limits: list[LimitChange] = field(default_factory=list)
    requests: list[LimitChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _bytes(value: str) -> int | None:
    try:
        return parse_quantity(value)
    except ConfigError:
        return None


def quantities_equal(a: str | None, b: str | None) -> bool:
    """``"64Mi"`` equals ``"67108864"``; unparsable values are compared as text."""
    if a is None or b is None:
        return a is b
    ab, bb = _bytes(a), _bytes(b)
    return ab == bb if ab is not None and bb is not None else a.strip() == b.strip()


def _dig(document: dict[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = document
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _quantity(resources: Any, section: str) -> str | None:
    value = _dig(resources, (section, "memory")) if isinstance(resources, dict) else None
    return None if value is None else str(value)


def _workload_containers(document: dict[str, Any]) -> list[ContainerMemory]:
    kind = str(document.get("kind", ""))
    pod_spec = _dig(document, WORKLOAD_KINDS.get(kind, ("<none>",)))
    if not isinstance(pod_spec, dict):
        return []
    raw_metadata = document.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    name = str(metadata.get("name", "<unnamed>"))
    namespace = metadata.get("namespace")
    found: list[ContainerMemory] = []
    for list_key, init in (("initContainers", True), ("containers", False)):
        containers = pod_spec.get(list_key)
        for container in containers if isinstance(containers, list) else []:
            if not isinstance(container, dict):
                continue
            resources = container.get("resources")
            env = container.get("env")
            pairs = tuple(
                (str(item["name"]), str(item["value"]))
                for item in (env if isinstance(env, list) else [])
                if isinstance(item, dict) and "name" in item and "value" in item
            )
            tokens = tuple(
                str(token)
                for key in ("command", "args")
                if isinstance(container.get(key), list)
                for token in container[key]
            )
            found.append(
                ContainerMemory(
                    kind=kind,
                    workload=name,
                    container=str(container.get("name", "<unnamed>")),
                    namespace=None if namespace is None else str(namespace),
                    limit=_quantity(resources, "limits"),
                    request=_quantity(resources, "requests"),
                    init=init,
                    env=pairs,
                    args=tokens,
                )
            )
    return found


def _documents(document: Any) -> list[dict[str, Any]]:
    """A document, or the items of a ``kind: List``, keeping only mappings."""
    if not isinstance(document, dict):
        return []
    if document.get("kind") == "List" and isinstance(document.get("items"), list):
        return [item for item in document["items"] if isinstance(item, dict)]
    return [document]


def parse_manifests(text: str, source: str = "manifest") -> ManifestScan:
    """Containers' memory settings in ``text``; a problem note (never an exception) if bad."""
    scan = ManifestScan()
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        scan.problems.append(f"{source}: not valid YAML{where}: {problem}")
        return scan
    for document in documents:
        for item in _documents(document):
            scan.containers.extend(_workload_containers(item))
    return scan


def _changes(
    old: dict[tuple[str | None, str, str, str], ContainerMemory],
    new: dict[tuple[str | None, str, str, str], ContainerMemory],
    attribute: str,
) -> list[LimitChange]:
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        before = getattr(old[key], attribute) if key in old else None
        after = getattr(new[key], attribute) if key in new else None
        if not quantities_equal(before, after):
            ref = (old.get(key) or new[key]).workload_ref
            changes.append(LimitChange(ref, key[3], before, after))
    return changes


def diff_manifests(
    old_text: str | None, new_text: str | None, source: str = "manifest"
) -> ManifestDiff:
    """Memory limit and request changes from ``old_text`` to ``new_text`` (``None``: no file)."""
    old_scan = parse_manifests(old_text, f"{source} (before)") if old_text else ManifestScan()
    new_scan = parse_manifests(new_text, f"{source} (after)") if new_text else ManifestScan()
    problems = old_scan.problems + new_scan.problems
    if old_scan.problems or new_scan.problems:
        return ManifestDiff(problems=problems)
    old = {c.key: c for c in old_scan.containers}
    new = {c.key: c for c in new_scan.containers}
    return ManifestDiff(
        limits=_changes(old, new, "limit"), requests=_changes(old, new, "request"), problems=[]
    )


def limit_changes(old_text: str | None, new_text: str | None) -> list[LimitChange]:
    """``(workload, container, from, to)`` for each container whose memory limit changed.

    Unreadable text yields no changes; use ``diff_manifests`` to get the problem note as well.
    """
    return diff_manifests(old_text, new_text).limits
