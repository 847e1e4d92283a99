"""Memory cgroups (v1 and v2) as the kubelet uses them, and the ``RLIMIT_AS`` fallback.

A ``MemoryLimiter`` knows how to make a fresh confinement for one process start
(``MemoryCgroup``): the kernel then OOM-kills the process when its charged memory reaches the
limit, exactly as it does for a container. Detection prefers cgroup v1's memory controller
(``/sys/fs/cgroup/memory``), then a cgroup v2 hierarchy with the memory controller; where neither
is writable (not root) it falls back to ``RLIMIT_AS``, which makes ``malloc`` fail instead of the
kernel killing — a weaker reproduction that every event is labelled with.

``ADS_CGROUP_ROOT`` overrides where ADS makes its cgroups (a delegated v2 subtree, say). It must
be a directory inside a mounted cgroup hierarchy that limits memory (read from
``/proc/self/mountinfo``: a v1 ``cgroup`` mount with the memory controller, or ``cgroup2`` with
``memory`` in the directory's ``cgroup.controllers``); anything else is one error line, never a
plain directory that looks like a cgroup but limits nothing. A cgroup is named
``<service>-o<pid>x<start>-<random>``: the owner tag (``ads.sources.owner``) of the ADS process
that made it, so what a crash leaves is reclaimed and nothing else is.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path

from ...errors import RuntimeUnavailableError
from ...models import ReproductionMode
from ..owner import current_owner

__all__ = ["MemoryCgroup", "MemoryLimiter", "detect_limiter"]

CGROUP_FS = Path("/sys/fs/cgroup")
ROOT_ENV = "ADS_CGROUP_ROOT"
MOUNTINFO = Path("/proc/self/mountinfo")
_ROOT_HINT = (
    f"unset {ROOT_ENV}, or point it at a directory in /sys/fs/cgroup/memory (v1) "
    "or a delegated cgroup v2"
)


def _read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    return default if text in ("", "max") else int(text)


def _read_keyed(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except OSError:
        pass
    return 0


class MemoryCgroup(ABC):
    """One confinement for one process start; ``remove()`` leaves nothing behind."""

    mode: ReproductionMode

    def __init__(self, path: Path | None, limit: int) -> None:
        self.path = path
        self.limit = limit

    @abstractmethod
    def wrap(self, command: str) -> list[str]:
        """An argv that enters this confinement and then ``exec``s ``command`` (same pid)."""

    @abstractmethod
    def usage(self) -> int:
        """Bytes charged now."""

    @abstractmethod
    def peak(self) -> int:
        """Highest bytes charged since creation (0 when the kernel does not say)."""

    @abstractmethod
    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this cgroup."""

    def pids(self) -> list[int]:
        if self.path is None:
            return []
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left and delete the cgroup directory (retrying while it drains)."""
        if self.path is None or not self.path.exists():
            return
        deadline = time.monotonic() + timeout
        while True:
            self.kill_all()
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeUnavailableError(f"could not remove cgroup {self.path}") from None
                time.sleep(0.02)

    def _enter_prefix(self) -> str:
        assert self.path is not None
        return f"echo $$ > {shlex.quote(str(self.path / 'cgroup.procs'))} && exec "


class _CgroupV1(MemoryCgroup):
    mode = ReproductionMode.CGROUP_V1

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(path, limit)
        path.mkdir(parents=True)
        (path / "memory.limit_in_bytes").write_text(str(limit))
        memsw = path / "memory.memsw.limit_in_bytes"
        if memsw.exists():  # no swapping past the limit, as in a container without swap
            with contextlib.suppress(OSError):
                memsw.write_text(str(limit))
        with contextlib.suppress(OSError):
            (path / "memory.swappiness").write_text("0")

    def wrap(self, command: str) -> list[str]:
        return ["/bin/sh", "-c", self._enter_prefix() + command]

    def usage(self) -> int:
        assert self.path is not None
        return _read_int(self.path / "memory.usage_in_bytes")

    def peak(self) -> int:
        assert self.path is not None
        return _read_int(self.path / "memory.max_usage_in_bytes")

    def oom_kills(self) -> int:
        assert self.path is not None
        return _read_keyed(self.path / "memory.oom_control", "oom_kill")


class _CgroupV2(MemoryCgroup):
    mode = ReproductionMode.CGROUP_V2

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(path, limit)
        path.mkdir(parents=True)
        (path / "memory.max").write_text(str(limit))
        with contextlib.suppress(OSError):
            (path / "memory.swap.max").write_text("0")
        with contextlib.suppress(OSError):
            (path / "memory.oom.group").write_text("1")  # kill the whole pod, like the kubelet

    def wrap(self, command: str) -> list[str]:
        return ["/bin/sh", "-c", self._enter_prefix() + command]

    def usage(self) -> int:
        assert self.path is not None
        return _read_int(self.path / "memory.current")

    def peak(self) -> int:
        assert self.path is not None
        return _read_int(self.path / "memory.peak")

    def oom_kills(self) -> int:
        assert self.path is not None
        return _read_keyed(self.path / "memory.events", "oom_kill")


class _RlimitAs(MemoryCgroup):
    """Not a cgroup: ``ulimit -v`` so allocations beyond the limit fail. Weaker, and labelled."""

    mode = ReproductionMode.RLIMIT_AS

    def __init__(self, limit: int) -> None:
        super().__init__(None, limit)
        self.pid: int | None = None

    def wrap(self, command: str) -> list[str]:
        return ["/bin/sh", "-c", f"ulimit -v {max(1, self.limit // 1024)} && exec {command}"]

    def _tree(self) -> list[int]:
        """The started process and its descendants (the service runs under the sandbox's own
        launcher processes, so the process ADS started is not the one that allocates)."""
        found: list[int] = []
        todo = [self.pid] if self.pid else []
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError, ValueError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo.extend(int(c) for c in (task / "children").read_text().split())
        return found

    def _status_bytes(self, key: str) -> int:
        total = 0
        for pid in self._tree():
            with (
                contextlib.suppress(OSError, ValueError, IndexError),
                open(f"/proc/{pid}/status") as status,
            ):
                for line in status:
                    if line.startswith(key):
                        total += int(line.split()[1]) * 1024
        return total

    def usage(self) -> int:
        return self._status_bytes("VmRSS:")

    def peak(self) -> int:
        return self._status_bytes("VmHWM:")

    def oom_kills(self) -> int:
        return 0

    def pids(self) -> list[int]:
        return self._tree()


class MemoryLimiter:
    """Makes fresh confinements under one parent directory, of one kind (v1, v2 or rlimit)."""

    def __init__(self, mode: ReproductionMode, parent: Path | None) -> None:
        self.mode = mode
        self.parent = parent

    def create(self, name: str, limit: int) -> MemoryCgroup:
        if self.mode is ReproductionMode.RLIMIT_AS:
            return _RlimitAs(limit)
        assert self.parent is not None
        # the owner tag lets ads.actions.leftovers tell a crashed ADS's cgroup from a live one's
        path = self.parent / f"{name}-{current_owner().tag}-{uuid.uuid4().hex[:8]}"
        try:
            if self.mode is ReproductionMode.CGROUP_V1:
                return _CgroupV1(path, limit)
            return _CgroupV2(path, limit)
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.rmdir()
            raise RuntimeUnavailableError(
                f"cannot create memory cgroup {path}: {exc.strerror}",
                hint="run as root, or set ADS_CGROUP_ROOT to a delegated cgroup",
            ) from None

    @property
    def is_weaker(self) -> bool:
        return self.mode is ReproductionMode.RLIMIT_AS


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(exist_ok=True)
    except OSError:
        return False
    probe = path / f"ads-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def _v2_parent(fs: Path) -> Path | None:
    controllers = fs / "cgroup.controllers"
    try:
        if "memory" not in controllers.read_text().split():
            return None
    except OSError:
        return None
    parent = fs / "ads"
    if not _writable_dir(parent):
        return None
    with contextlib.suppress(OSError):
        (fs / "cgroup.subtree_control").write_text("+memory")
    with contextlib.suppress(OSError):
        (parent / "cgroup.subtree_control").write_text("+memory")
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return parent if "memory" in enabled else None


def _unescape(field: str) -> str:
    """A mountinfo path field: space, tab, newline and backslash are written as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_of(path: Path, mountinfo: str) -> tuple[Path, str, list[str]] | None:
    """The mount holding ``path`` (absolute, resolved): its mount point, file-system type and
    super options; the deepest mount point wins, and of equal ones the last mounted."""
    found: tuple[Path, str, list[str]] | None = None
    for line in mountinfo.splitlines():
        left, separator, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not separator or len(fields) < 5 or not tail:
            continue
        point = Path(_unescape(fields[4]))
        if point != path and point not in path.parents:
            continue
        if found is None or len(point.parts) >= len(found[0].parts):
            options = tail[2].split(",") if len(tail) > 2 else []
            found = (point, tail[0], options)
    return found


def cgroup_root_mode(root: Path, mountinfo: str | None = None) -> ReproductionMode:
    """How ``root`` (``ADS_CGROUP_ROOT``) limits memory, or ``RuntimeUnavailableError`` saying
    why it cannot: missing, not a directory, not in a cgroup mount, no memory controller. A
    missing ``root`` whose parent is a memory cgroup is created (a new child cgroup)."""
    where = f"{ROOT_ENV}={root}"
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text()
        except OSError as exc:
            raise RuntimeUnavailableError(
                f"cannot check that {where} is a cgroup: {MOUNTINFO}: {exc.strerror}"
            ) from None
    if not root.exists() and root.parent.is_dir():
        _memory_mode(root.parent, where, mountinfo)  # its parent is one: make the child
        with contextlib.suppress(OSError):
            root.mkdir()
    if not root.is_dir():
        problem = "does not exist" if not root.exists() else "is not a directory"
        raise RuntimeUnavailableError(f"{where} {problem}", hint=_ROOT_HINT)
    return _memory_mode(root, where, mountinfo)


def _memory_mode(directory: Path, where: str, mountinfo: str) -> ReproductionMode:
    mount = mount_of(directory.resolve(), mountinfo)
    if mount is None or mount[1] not in ("cgroup", "cgroup2"):
        what = f"on {mount[1]} mounted at {mount[0]}" if mount else "in no mount"
        raise RuntimeUnavailableError(
            f"{where} is not in a mounted cgroup (it is {what}): nothing would limit memory",
            hint=_ROOT_HINT,
        )
    point, fstype, options = mount
    if fstype == "cgroup":
        if "memory" not in options:
            controllers = ",".join(o for o in options if o not in ("rw", "ro"))
            raise RuntimeUnavailableError(
                f"{where} is in the cgroup v1 hierarchy at {point}, which has no memory "
                f"controller ({controllers})",
                hint=_ROOT_HINT,
            )
        return ReproductionMode.CGROUP_V1
    try:
        controllers_v2 = (directory / "cgroup.controllers").read_text().split()
    except OSError:
        controllers_v2 = []
    if "memory" not in controllers_v2:
        raise RuntimeUnavailableError(
            f"{where} is a cgroup v2 directory without the memory controller",
            hint="enable it in the parent's cgroup.subtree_control (+memory)",
        )
    return ReproductionMode.CGROUP_V2


def detect_limiter(fs: Path = CGROUP_FS, *, allow_fallback: bool = True) -> MemoryLimiter:
    """The best way to confine memory here: cgroup v1, then v2, then (if allowed) RLIMIT_AS."""
    override = os.environ.get(ROOT_ENV)
    if override:
        root = Path(override).expanduser()
        mode = cgroup_root_mode(root)
        if not _writable_dir(root):
            raise RuntimeUnavailableError(
                f"{ROOT_ENV}={override} is a memory cgroup ADS cannot create cgroups in",
                hint="run as root, or delegate it to this user",
            )
        return MemoryLimiter(mode, root)
    v1 = fs / "memory"
    if (v1 / "memory.limit_in_bytes").exists() and _writable_dir(v1 / "ads"):
        return MemoryLimiter(ReproductionMode.CGROUP_V1, v1 / "ads")
    parent = _v2_parent(fs)
    if parent is not None:
        return MemoryLimiter(ReproductionMode.CGROUP_V2, parent)
    if not allow_fallback:
        raise RuntimeUnavailableError(
            "no writable memory cgroup (v1 or v2) on this machine",
            hint="run as root, or set ADS_CGROUP_ROOT to a delegated cgroup",
        )
    return MemoryLimiter(ReproductionMode.RLIMIT_AS, None)
