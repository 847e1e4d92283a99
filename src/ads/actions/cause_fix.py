"""The fix for a cause that is not a leak: correct the manifest or revert the setting.

* memory limit lowered: the limit back to what was safe before the change (and the smallest
  limit the measured start-up needs, with headroom, said beside it);
* size constant / env var / flag raised: that line back to its previous value;
* runtime heap setting larger than the limit: the heap capped at a share of the limit;
* load: no patch — scale out, or raise the limit from the measured peak.

Each is a one-line unified diff of the file at the analysed revision, made as text so comments
and layout survive (the manifest's limit through ``mitigation.raise_memory_limit``, which finds
the value by PyYAML's node marks). "Mitigation: raise the limit" is offered only with numbers
behind it: what the service holds from start-up, or the observed peak, plus headroom.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from ..errors import ConfigError, RemediationError
from ..models import CauseKind, Hypothesis
from ..units import format_bytes, format_quantity, parse_quantity
from .mitigation import LABEL, raise_memory_limit

__all__ = ["HEADROOM", "CauseFix", "headroom_limit", "propose_cause_fix"]

#: A limit sized from a measurement gets this much room above it (allocator slack, page cache).
HEADROOM = 1.25
MiB = 1024 * 1024
HEAP_SHARE = 0.75  # of the container's limit, for a heap cap (the rest: metaspace, stacks, …)


def headroom_limit(measured: int) -> int:
    """The smallest limit, in whole MiB, that holds ``measured`` bytes with ``HEADROOM``."""
    return max(MiB, math.ceil(measured * HEADROOM / MiB) * MiB)


@dataclass(frozen=True)
class CauseFix:
    """What to change for a non-code cause: the patch (None when there is nothing to patch),
    one sentence for the PR's Fix field, the mitigation, and the limit to verify it under."""

    summary: str
    diff: str | None
    mitigation: str | None
    verify_limit: int | None = None  # run the current build at this limit (a limit fix)


def _diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def _replace_on_line(text: str, line: int | None, old: str, new: str) -> str | None:
    """``text`` with ``old`` → ``new`` on 1-based ``line`` only; None when it is not there."""
    if line is None:
        return None
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines) or old not in lines[line - 1]:
        return None
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return "".join(lines)


def _bytes(value: str | None) -> int | None:
    try:
        return parse_quantity(value) if value is not None else None
    except ConfigError:
        return None


def _mitigation(measured: int | None, what: str, current: int | None) -> str | None:
    if measured is None or measured <= 0:
        return None
    proposed = headroom_limit(measured)
    if current is not None and proposed <= current:
        return None  # it fits already: a higher limit cannot help
    return (
        f"({LABEL}) raise the memory limit to {format_quantity(proposed)}: {what} "
        f"{format_bytes(measured)}, plus {HEADROOM - 1:.0%} headroom"
    )


def propose_cause_fix(
    cause: Hypothesis, path: str, text: str | None, *, limit: int | None = None
) -> CauseFix:
    """The fix for ``cause``; ``text`` is ``path`` (repository-relative) at the analysed
    revision. ``RemediationError`` when the file no longer has the changed line."""
    if cause.kind is CauseKind.LOAD:
        mitigation = _mitigation(cause.held_bytes, "the service holds ≥", limit)
        return CauseFix(
            summary="no code or configuration change to revert: scale out or shed load",
            diff=None,
            mitigation=mitigation,
        )
    if text is None:
        raise RemediationError(f"{path} is not in the analysed revision: no patch can be made")
    setting = cause.setting
    if cause.kind is CauseKind.LIMIT_LOWERED and setting is not None:
        return _limit_fix(cause, path, text)
    if cause.kind is CauseKind.SIZE_RAISED and setting is not None and setting.from_ is not None:
        old, new = setting.to or "", setting.from_
        patched = _replace_on_line(text, setting.line, old, new)
        if patched is None:
            raise RemediationError(f"{path}:{setting.line} no longer sets {setting.name} to {old}")
        sha = cause.change.sha[:7] if cause.change else "the change"
        return CauseFix(
            summary=f"{setting.name} back to {new} (reverts {sha}'s {old})",
            diff=_diff(path, text, patched),
            mitigation=_mitigation(cause.held_bytes, "the service holds ≥", limit),
        )
    if cause.kind is CauseKind.RUNTIME_HEAP:
        return _heap_fix(cause, path, text, limit)
    raise RemediationError(f"no fix ADS can write for: {cause.summary}")


def _limit_fix(cause: Hypothesis, path: str, text: str) -> CauseFix:
    setting = cause.setting
    assert setting is not None
    safe = _bytes(cause.safe_limit)
    if safe is None:
        raise RemediationError(f"the limit before the change ({cause.safe_limit}) is not a size")
    deployment = (setting.workload or "").rpartition("/")[2]
    patched, old, container = raise_memory_limit(
        text, deployment=deployment, container=setting.container, new_limit=safe
    )
    sha = cause.change.sha[:7] if cause.change else "the change"
    summary = f"memory limit of {container} back to {format_quantity(safe)} (reverts {sha}'s {old})"
    if cause.held_bytes:
        smallest = headroom_limit(cause.held_bytes)
        if smallest < safe:
            summary += (
                f"; the smallest limit its start-up needs with {HEADROOM - 1:.0%} headroom is "
                f"{format_quantity(smallest)} (it holds ≥ {format_bytes(cause.held_bytes)})"
            )
    return CauseFix(summary=summary, diff=_diff(path, text, patched), mitigation=None,
                    verify_limit=safe)  # fmt: skip


def _heap_fix(cause: Hypothesis, path: str, text: str, limit: int | None) -> CauseFix:
    line = cause.text or ""
    if limit is None or not line:
        raise RemediationError("the heap setting's line or the limit is unknown: no patch")
    cap = max(MiB, int(limit * HEAP_SHARE) // MiB * MiB)
    replacements = [
        ("-Xmx", lambda v: f"{cap // MiB}m"),
        ("--max-old-space-size=", lambda v: str(cap // MiB)),
        ("-XX:MaxRAMPercentage=", lambda v: f"{HEAP_SHARE * 100:.1f}"),
    ]
    for flag, value in replacements:
        start = line.find(flag)
        if start < 0:
            continue
        begin = start + len(flag)
        end = begin
        while end < len(line) and line[end] not in " \"',]":
            end += 1
        new_line = line[:begin] + value(line[begin:end]) + line[end:]
        patched = _replace_on_line(text, cause.line, line, new_line)
        if patched is None:
            break
        return CauseFix(
            summary=f"cap the heap at {HEAP_SHARE:.0%} of the {format_quantity(limit)} limit "
            f"({flag}{value('')})",
            diff=_diff(path, text, patched),
            mitigation=None,
        )
    raise RemediationError(f"no heap flag ADS can rewrite on {path}:{cause.line}")
