"""Mitigation: a patch raising the container's memory limit — temporary, not recommended long-term.

A higher limit does not fix a leak; it only moves the OOM kill later. It can buy time while the
fix is reviewed, so ADS offers it with the arithmetic in plain sight: the limit the observed
growth needs to survive a stated time (growth bytes/s × seconds + the current limit), and whether
that is a sane number at all. A leak of tens of MiB per second needs terabytes for a day: then
the plan says a limit raise cannot mitigate it, and the diff is still there for the record.

The manifest is edited as text, not re-dumped: only the ``limits.memory`` line changes, so
comments, key order and quoting survive and the diff is one line. The position of that value
comes from PyYAML's node marks, never from a regular expression.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path

import yaml
from pydantic import BaseModel

from ..config import ServiceConfig
from ..errors import ConfigError, RemediationError
from ..units import format_bytes, format_quantity, parse_quantity

__all__ = [
    "LABEL",
    "MitigationPlan",
    "needed_limit",
    "propose_mitigation",
    "raise_memory_limit",
]

LABEL = "temporary, not recommended long-term"
MiB = 1024 * 1024
VIABLE_FACTOR = 4  # beyond 4× the limit the service was sized for, scheduling changes too much


class MitigationPlan(BaseModel):
    """A limit raise for one deployment, with the numbers behind it."""

    manifest: str
    deployment: str
    container: str
    current_limit: str
    proposed_limit: str
    growth_bytes_per_second: float
    hours: float
    viable: bool
    diff: str
    label: str = LABEL
    summary: str

    def text(self) -> str:
        """One paragraph for ``Remediation.mitigation``; the PR body, note and report put it
        under their own "Mitigation" heading, so it does not start with the word again."""
        return f"({self.label}) {self.summary}" if self.viable else self.summary


def needed_limit(current: int, growth_bytes_per_second: float, hours: float) -> int:
    """The limit that lasts ``hours`` at the observed growth, rounded up to whole MiB."""
    needed = current + max(0.0, growth_bytes_per_second) * hours * 3600
    return max(current, math.ceil(needed / MiB) * MiB)


def _mapping_get(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _path(node: yaml.Node | None, *keys: str) -> yaml.Node | None:
    for key in keys:
        if node is None:
            return None
        node = _mapping_get(node, key)
    return node


def _limit_node(
    text: str, deployment: str, container: str | None
) -> tuple[yaml.ScalarNode, str] | None:
    """The ``limits.memory`` scalar of the container, and the container's name."""
    for document in yaml.compose_all(text):
        kind = _path(document, "kind")
        name = _path(document, "metadata", "name")
        if not (isinstance(kind, yaml.ScalarNode) and kind.value == "Deployment"):
            continue
        if not (isinstance(name, yaml.ScalarNode) and name.value == deployment):
            continue
        containers = _path(document, "spec", "template", "spec", "containers")
        if not isinstance(containers, yaml.SequenceNode):
            return None
        for item in containers.value:
            cname = _path(item, "name")
            cname_text = cname.value if isinstance(cname, yaml.ScalarNode) else ""
            if container not in (None, cname_text) and len(containers.value) > 1:
                continue
            limit = _path(item, "resources", "limits", "memory")
            if isinstance(limit, yaml.ScalarNode):
                return limit, str(cname_text)
            return None
    return None


def raise_memory_limit(
    text: str, *, deployment: str, container: str | None, new_limit: int
) -> tuple[str, str, str]:
    """``text`` with the container's memory limit set to ``new_limit``.

    Returns (new text, old value, container name). ``RemediationError`` when the manifest has
    no such deployment or the container has no memory limit to raise.
    """
    try:
        found = _limit_node(text, deployment, container)
    except yaml.YAMLError as exc:
        raise RemediationError(f"the manifest is not valid YAML: {exc}") from None
    if found is None:
        raise RemediationError(
            f"no memory limit for container {container or '(any)'} of Deployment {deployment}",
            hint="check services.<name>.kubernetes in ads.yaml",
        )
    node, cname = found
    start, end = node.start_mark.index, node.end_mark.index
    quote = text[start] if text[start] in "'\"" else ""
    replacement = f"{quote}{format_quantity(new_limit)}{quote}"
    return text[:start] + replacement + text[end:], str(node.value), cname


def _find_manifest(repo: Path, service: ServiceConfig, deployment: str) -> Path:
    directory = repo / service.manifests
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        try:
            if _limit_node(path.read_text(encoding="utf-8"), deployment, None) is not None:
                return path
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue
    raise RemediationError(
        f"no manifest in {directory} sets a memory limit for Deployment {deployment}",
        hint="set services.<name>.manifests in ads.yaml",
    )


def propose_mitigation(
    repo: Path,
    service: ServiceConfig,
    *,
    growth_bytes_per_second: float,
    hours: float = 24.0,
) -> MitigationPlan:
    """A diff to the service's Deployment manifest raising its memory limit for ``hours``.

    ``growth_bytes_per_second`` is the observed growth (e.g. ``VerificationResult.growth_before``
    or the diagnosis' impact). The repo is only read.
    """
    repo = Path(repo)
    deployment = service.kubernetes.deployment or service.name
    manifest = _find_manifest(repo, service, deployment)
    text = manifest.read_text(encoding="utf-8")
    found = _limit_node(text, deployment, service.kubernetes.container)
    assert found is not None  # _find_manifest checked the deployment has one
    try:
        current = parse_quantity(found[0].value)
    except ConfigError as exc:
        raise RemediationError(f"{manifest.name}: {exc}") from None
    proposed = needed_limit(current, growth_bytes_per_second, hours)
    patched, old, container = raise_memory_limit(
        text, deployment=deployment, container=service.kubernetes.container, new_limit=proposed
    )
    relative = manifest.relative_to(repo).as_posix()
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            patched.splitlines(keepends=True),
            fromfile=f"a/{relative}",
            tofile=f"b/{relative}",
        )
    )
    viable = proposed <= VIABLE_FACTOR * current
    growth = f"{format_bytes(growth_bytes_per_second)}/s"
    new = format_quantity(proposed)
    if viable:
        summary = (
            f"raise the memory limit of {deployment}/{container} from {old} to {new}, enough for "
            f"about {hours:g} h at the observed growth of {growth}; the leak still needs the fix."
        )
    else:
        factor = proposed / current if current else float("inf")
        summary = (
            f"a limit raise cannot meaningfully mitigate this leak: at the observed growth of "
            f"{growth}, lasting {hours:g} h would take {format_bytes(proposed)} instead of "
            f"{old} ({factor:,.0f}× the current limit; ADS proposes at most {VIABLE_FACTOR}×). "
            "Roll back or ship the fix instead."
        )
    return MitigationPlan(
        manifest=relative,
        deployment=deployment,
        container=container,
        current_limit=old,
        proposed_limit=new,
        growth_bytes_per_second=growth_bytes_per_second,
        hours=hours,
        viable=viable,
        diff=diff,
        summary=summary,
    )
