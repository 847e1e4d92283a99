"""Settings in manifests that move a service's memory, and how a commit changed them.

A Deployment says more about memory than ``resources.limits.memory``: an environment variable
(``CACHE_MB``), a command-line flag (``--workers 8``), a runtime's heap setting (``-Xmx512m``,
``-XX:MaxRAMPercentage=90``, ``GOMEMLIMIT``, Node's ``--max-old-space-size``). This module
reads them from one container (``manifests.ContainerMemory``) and lists what one commit changed
in one manifest file as ``SettingEdit``s with the changed line of the new file, so a diagnosis
can name "infra/kubernetes/deployment.yaml line 24: ``memory: 32Mi``" the way it names a
function and line for a leak. Pure: text in, facts out; a manifest that does not parse yields
nothing here (``manifests.diff_manifests`` reports the problem).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from ..models import FileChange, SettingEdit
from ..units import parse_quantity
from .manifests import ContainerMemory, parse_manifests, quantities_equal

__all__ = [
    "HeapSetting",
    "added_lines",
    "flags_of",
    "heap_settings",
    "manifest_setting_edits",
    "numeric",
]

#: Environment variables whose value is a command line for a runtime (JVM, Node, gunicorn).
OPTION_VARIABLES = (
    "JAVA_OPTS",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "_JAVA_OPTIONS",
    "NODE_OPTIONS",
    "GUNICORN_CMD_ARGS",
)
#: Flags and variables that say how many copies of the working set a container runs.
WORKER_NAMES = ("--workers", "-w", "WEB_CONCURRENCY", "WORKERS", "--processes")
_JVM_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def flags_of(tokens: Iterable[str]) -> dict[str, str]:
    """``["-Xmx512m", "--workers", "8", "--max-old-space-size=96"]`` → ``{"-Xmx": "512m",
    "--workers": "8", "--max-old-space-size": "96"}``: the last value of each flag wins, as
    it does for the programs that read them."""
    found: dict[str, str] = {}
    items = [t for token in tokens for t in str(token).split()]
    for index, token in enumerate(items):
        if not token.startswith("-"):
            continue
        if token.startswith(("-Xmx", "-Xms", "-Xss")) and len(token) > 4:
            found[token[:4]] = token[4:]
        elif "=" in token:
            name, _, value = token.partition("=")
            found[name] = value
        elif index + 1 < len(items) and not items[index + 1].startswith("-"):
            found[token] = items[index + 1]
        else:
            found[token] = ""
    return found


def numeric(value: str | None) -> float | None:
    """A setting's number (``"96"``, ``"0.5"``), or None when it is not one."""
    if value is None:
        return None
    try:
        return float(value.strip().strip('"'))
    except ValueError:
        return None


def _jvm_bytes(value: str) -> int | None:
    match = re.fullmatch(r"(\d+)([kKmMgGtT]?)", value.strip())
    if match is None:
        return None
    return int(match.group(1)) * _JVM_UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class HeapSetting:
    """A runtime heap setting of one container and the bytes it lets the heap reach."""

    name: str  # "-Xmx", "-XX:MaxRAMPercentage", "GOMEMLIMIT", "--max-old-space-size", "--workers"
    value: str
    heap_bytes: int | None  # what the heap may reach; None for a count (workers)
    where: str  # "args", or the environment variable that carries it
    count: int | None = None  # for worker settings: how many processes


def _heap_from_flags(flags: dict[str, str], where: str, limit: int | None) -> list[HeapSetting]:
    found: list[HeapSetting] = []
    if "-Xmx" in flags:
        found.append(HeapSetting("-Xmx", flags["-Xmx"], _jvm_bytes(flags["-Xmx"]), where))
    for name in ("-XX:MaxRAMPercentage", "-XX:MaxRAMFraction"):
        value = numeric(flags.get(name))
        if value is None or limit is None:
            continue
        share = value / 100 if name.endswith("Percentage") else (1 / value if value else 1.0)
        found.append(HeapSetting(name, flags[name], int(limit * share), where))
    megabytes = numeric(flags.get("--max-old-space-size"))
    if megabytes is not None:
        text = flags["--max-old-space-size"]
        found.append(HeapSetting("--max-old-space-size", text, int(megabytes * 1024**2), where))
    for name in WORKER_NAMES:
        count = numeric(flags.get(name))
        if name.startswith("-") and count is not None and count >= 1:
            found.append(HeapSetting(name, flags[name], None, where, count=int(count)))
    return found


def heap_settings(container: ContainerMemory) -> list[HeapSetting]:
    """The heap and worker settings a container's command line and environment give."""
    limit = _bytes(container.limit)
    found = _heap_from_flags(flags_of(container.args), "args", limit)
    for name, value in container.env:
        if name in OPTION_VARIABLES:
            found += _heap_from_flags(flags_of([value]), name, limit)
        elif name == "GOMEMLIMIT":
            found.append(HeapSetting(name, value, _go_bytes(value), "env"))
        elif name in WORKER_NAMES and (count := numeric(value)) is not None and count >= 1:
            found.append(HeapSetting(name, value, None, "env", count=int(count)))
    return found


def _go_bytes(value: str) -> int | None:
    """GOMEMLIMIT takes ``B``, ``KiB``, ``MiB``, ``GiB``, ``TiB`` suffixes."""
    text = value.strip().removesuffix("B")
    return _bytes(text) if text else None


def _bytes(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except ConfigError:
        return None


# --- what a commit changed in a manifest -------------------------------------------------------


def added_lines(diff: str) -> list[tuple[int, str]]:
    """(line number in the new file, text) of each line a unified diff adds."""
    found: list[tuple[int, str]] = []
    line = 0
    for raw in diff.splitlines():
        if raw.startswith("@@"):
            match = re.search(r"\+(\d+)", raw)
            line = int(match.group(1)) if match else 0
        elif raw.startswith("+++") or raw.startswith("---"):
            continue
        elif raw.startswith("+"):
            found.append((line, raw[1:]))
            line += 1
        elif not raw.startswith("-") and not raw.startswith("\\"):
            line += 1
    return found


def _locate(
    change: FileChange, needles: Sequence[str], value: str | None
) -> tuple[int | None, str | None]:
    """The first added line that carries ``value`` (and one of ``needles``); then any added
    line with the value; the new file's first line with both when the diff says nothing."""
    added = added_lines(change.diff)
    if value is not None:
        for want_needle in (True, False):
            for number, text in added:
                if value in text and (not want_needle or any(n in text for n in needles)):
                    return number, text.strip()
        for number, text in enumerate((change.new_text or "").splitlines(), start=1):
            if value in text and any(n in text for n in needles):
                return number, text.strip()
    return None, None


def _containers(
    text: str | None, source: str
) -> dict[tuple[str | None, str, str, str], ContainerMemory]:
    if not text:
        return {}
    scan = parse_manifests(text, source)
    return {} if scan.problems else {c.key: c for c in scan.containers}


def _setting(
    change: FileChange,
    container: ContainerMemory,
    kind: str,
    name: str,
    values: tuple[str | None, str | None],
    needles: Sequence[str],
) -> SettingEdit:
    line, text = _locate(change, needles, values[1])
    return SettingEdit(
        kind=kind,
        file=change.path,
        name=name,
        from_=values[0],
        to=values[1],
        line=line,
        text=text,
        container=container.container,
        workload=container.workload_ref,
    )


def manifest_setting_edits(change: FileChange) -> list[SettingEdit]:
    """Memory limits and requests, environment variables and flags that ``change`` altered in
    each container of a manifest file, each with its changed line in the new file. A container
    the commit added is not a change of its settings."""
    old = _containers(change.old_text, change.path)
    new = _containers(change.new_text, change.path)
    edits: list[SettingEdit] = []
    for key, after in new.items():
        before = old.get(key)
        if before is None:
            continue
        for kind in ("limit", "request"):
            was, now = getattr(before, kind), getattr(after, kind)
            if not quantities_equal(was, now):
                edits.append(_setting(change, after, kind, after.container, (was, now), ["memory"]))
        old_env = dict(before.env)
        for name, value in after.env:
            if old_env.get(name) != value:
                pair = (old_env.get(name), value)
                edits.append(_setting(change, after, "env", name, pair, ["value"]))
        old_flags = flags_of(before.args)
        for name, value in flags_of(after.args).items():
            if old_flags.get(name) != value:
                pair = (old_flags.get(name), value)
                edits.append(_setting(change, after, "arg", name, pair, [name]))
    return edits
