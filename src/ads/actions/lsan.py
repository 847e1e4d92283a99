"""Naming the leaking site at run time, before the kernel's SIGKILL: LeakSanitizer snapshots.

A service that loops forever never reaches LeakSanitizer's at-exit report (measured: none on
SIGTERM either) and an OOM kill leaves nothing. So ADS preloads ``liblsan.so.0`` next to a tiny
shim of its own (``lsan_shim.c``, compiled here once into a cache directory) that runs
``__lsan_do_recoverable_leak_check()`` whenever it receives SIGUSR2 and writes the report to a
file. The verification run sends SIGUSR2 a few times as memory climbs; the allocation site whose
leaked bytes *grow* between snapshots is the leak (a one-off leak at start-up stays flat).

The binary is not rebuilt for this: LSan interposes ``malloc`` from the preload. Reports are taken
unsymbolized (``symbolize=0``): measured on the demo, LSan's in-process symbolizer costs the
service about 15 MiB of its 64 MiB limit and brought the OOM kill forward from 1.8 s to 1.3 s;
unsymbolized, the kill comes at 1.8 s as without LSan. Frames are resolved afterwards with
``addr2line`` from the ``-O0 -g`` build's debug info.

The service runs in the sandbox (``ads.sources.monitors.sandbox``) as a user who cannot read
ADS's cache, so each run gets the shim copied into its report directory, which is handed to the
sandbox user and made writable inside it; the reports are read back from there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..models import Finding, MemorySample
from ..sources.monitors.local_runtime import RunObserver
from ..sources.monitors.sandbox import Sandbox
from ..sources.owner import current_owner
from .snapshot_schedule import SnapshotSchedule

__all__ = ["LeakSite", "LeakSnapshots", "find_liblsan", "parse_report", "shim_library"]

SNAPSHOT_SIGNAL = signal.SIGUSR2
LSAN_OPTIONS = (
    "leak_check_at_exit=0:report_objects=0:malloc_context_size=12:print_suppressions=0:symbolize=0"
)
_ALLOCATORS = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "strdup", "strndup", "memalign",
    "posix_memalign", "aligned_alloc", "valloc", "pvalloc",
}  # fmt: skip
_LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated")
_FRAME = re.compile(
    r"^\s+#\d+ 0x[0-9a-f]+\s+(?:in (?P<function>\S+)\s*)?"
    r"(?:\((?P<module>[^()]+)\+0x(?P<offset>[0-9a-f]+)\)|(?P<where>\S+))?\s*$"
)


def find_liblsan() -> Path | None:
    """``liblsan.so.0`` as gcc knows it, or ``None`` when this toolchain has no LeakSanitizer."""
    try:
        proc = subprocess.run(
            ["gcc", "-print-file-name=liblsan.so.0"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = Path(proc.stdout.strip())
    return path.resolve() if proc.returncode == 0 and path.is_absolute() and path.exists() else None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ads"


def shim_library(cache_dir: Path | None = None) -> Path:
    """The compiled shim, built once per (shim source, gcc version) into ``cache_dir``.

    Raises ``OSError`` or ``subprocess.CalledProcessError`` when it cannot be built; the caller
    treats that as "LeakSanitizer not available here".
    """
    source = resources.files("ads.actions").joinpath("lsan_shim.c").read_bytes()
    version = subprocess.run(
        ["gcc", "--version"], capture_output=True, check=True, timeout=30
    ).stdout
    key = hashlib.sha256(source + version).hexdigest()[:16]
    directory = cache_dir or _cache_dir()
    target = directory / f"lsan-shim-{key}.so"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        c_file = Path(scratch) / "lsan_shim.c"
        c_file.write_bytes(source)
        built = Path(scratch) / "shim.so"
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O2", "-o", str(built), str(c_file), "-lpthread"],
            capture_output=True,
            check=True,
            timeout=120,
        )
        os.replace(built, target)  # atomic: a concurrent build of the same key is harmless
    return target


@functools.lru_cache(maxsize=1)
def _shim_or_reason() -> tuple[Path, Path] | str:
    lsan = find_liblsan()
    if lsan is None:
        return "LeakSanitizer not available: gcc has no liblsan.so.0 here"
    try:
        return lsan, shim_library()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"LeakSanitizer shim could not be compiled: {exc}"


@dataclass(frozen=True)
class LeakSite:
    """Where leaked blocks were allocated: the first frame outside the allocator."""

    function: str
    file: str
    line: int
    stack: tuple[tuple[str, str, int], ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"

    def matches(self, finding: Finding) -> bool:
        """Whether any frame of this site's stack is the finding's allocation."""
        for function, file, line in self.stack or ((self.function, self.file, self.line),):
            same_file = file == finding.file or file.endswith("/" + finding.file)
            if same_file and finding.line <= line <= max(finding.end_line, finding.line):
                return function == finding.function
        return False


@dataclass(frozen=True)
class _Frame:
    """One stack frame as LeakSanitizer printed it: symbolized, or ``(module+0xoffset)``."""

    function: str | None
    where: str | None
    module: str | None
    offset: int | None

    def in_allocator(self) -> bool:
        name = self.function or ""
        place = f"{self.where or ''} {self.module or ''}"
        return (
            name in _ALLOCATORS
            or name.startswith("__interceptor_")
            or "sanitizer" in place
            or "liblsan" in place
        )


def _strip(path: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        base = prefix.rstrip("/")
        if base and path.startswith(base + "/"):
            return path[len(base) + 1 :]
    return path


@functools.lru_cache(maxsize=4096)
def _addr2line(module: str, address: int) -> tuple[str, str, int] | None:
    """Function, file and line of a module-relative code address, from the binary's DWARF."""
    try:
        proc = subprocess.run(
            ["addr2line", "-f", "-e", module, hex(address)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 2:
        return None
    function, where = lines[0].strip(), lines[1].split(" (")[0].strip()
    file, _, line = where.rpartition(":")
    if function == "??" or not file or file == "??" or not line.isdigit() or line == "0":
        return None
    return function, file, int(line)


def _resolve(frame: _Frame, strip: tuple[str, ...]) -> tuple[str, str, int]:
    if frame.where:
        match = re.match(r"^(.+?):(\d+)(?::\d+)?$", frame.where)
        if match:
            return frame.function or "?", _strip(match.group(1), strip), int(match.group(2))
    if frame.module and frame.offset is not None:
        # frames above #0 are return addresses: the call is the instruction before
        found = _addr2line(frame.module, max(0, frame.offset - 1))
        if found is not None:
            return found[0], _strip(found[1], strip), found[2]
        return frame.function or "?", f"{Path(frame.module).name}+{frame.offset:#x}", 0
    return frame.function or "?", frame.where or "?", 0


def parse_report(text: str, strip_prefixes: tuple[str, ...] = ()) -> dict[LeakSite, int]:
    """Leaked bytes by allocation site in one LeakSanitizer report (direct leaks only).

    Reports may be symbolized by LeakSanitizer or not (``symbolize=0``, what the snapshot runs
    use: in-process symbolization costs the service about 15 MiB under its limit); raw frames
    are resolved here with ``addr2line`` against the binary.
    """
    sites: dict[LeakSite, int] = {}
    size: int | None = None
    frames: list[_Frame] = []

    def close() -> None:
        nonlocal size, frames
        own = [f for f in frames if not f.in_allocator()][:8]
        if size is not None and own:
            stack = tuple(_resolve(f, strip_prefixes) for f in own)
            site = LeakSite(stack[0][0], stack[0][1], stack[0][2], stack)
            sites[site] = sites.get(site, 0) + size
        size, frames = None, []

    for line in text.splitlines():
        leak = _LEAK.match(line)
        if leak:
            close()
            size = int(leak.group(2)) if leak.group(1) == "Direct" else None
            continue
        frame = _FRAME.match(line)
        if frame and size is not None:
            offset = frame.group("offset")
            frames.append(
                _Frame(
                    frame.group("function"),
                    frame.group("where"),
                    frame.group("module"),
                    int(offset, 16) if offset else None,
                )
            )
            continue
        if not line.strip():
            close()
    close()
    return sites


class LeakSnapshots(RunObserver):
    """A run observer that takes LeakSanitizer snapshots as memory climbs, then names the leak.

    Snapshots follow a ``SnapshotSchedule``: as memory crosses fractions of the limit, and at
    least every ``interval`` seconds.
    """

    name = "LeakSanitizer"

    def __init__(
        self,
        *,
        strip_prefixes: tuple[str, ...] = (),
        interval: float = 1.0,
        sandbox: Sandbox | None = None,
    ) -> None:
        setup = _shim_or_reason()
        self.unavailable: str | None = setup if isinstance(setup, str) else None
        self.lsan: Path | None = None if isinstance(setup, str) else setup[0]
        self.shim: Path | None = None
        self.directory = Path(tempfile.mkdtemp(prefix=f"ads-lsan-{current_owner().tag}-"))
        if not isinstance(setup, str):
            self.shim = self.directory / setup[1].name  # readable by the sandbox user
            shutil.copy2(setup[1], self.shim)
        if sandbox is not None:
            sandbox.adopt(self.directory)
        self.strip_prefixes = strip_prefixes
        self.schedule = SnapshotSchedule(interval)
        self.signalled = 0
        self._pid: int | None = None
        self._growing: tuple[LeakSite, int, int] | None = None
        self._resolved = False

    @property
    def available(self) -> bool:
        return self.unavailable is None

    def wrap(self, run_command: str) -> str:
        """``run_command`` with LeakSanitizer and the shim preloaded into what it starts."""
        if not self.available:
            return run_command
        exports = {
            "LD_PRELOAD": f"{self.lsan}:{self.shim}",
            "LSAN_OPTIONS": LSAN_OPTIONS,
            "ADS_LSAN_DIR": str(self.directory),
        }
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in exports.items())
        return f"export {assignments}; {run_command}"

    # -- RunObserver ------------------------------------------------------------------------------

    def started(self, restart: int, pid: int) -> None:
        self._pid = pid
        self.schedule.restart()

    def sample(self, sample: MemorySample, limit: int) -> None:
        if not self.available or self._pid is None:
            return
        if self.schedule.due(sample.bytes, limit):
            self.snapshot()

    # -- snapshots --------------------------------------------------------------------------------

    def snapshot(self) -> int:
        """Send the snapshot signal to every process of the run that loaded the shim."""
        self.schedule.taken()
        sent = 0
        for pid in self._shim_processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, SNAPSHOT_SIGNAL)
                sent += 1
        self.signalled += sent
        return sent

    def _shim_processes(self) -> list[int]:
        if self._pid is None or self.shim is None:
            return []
        found: list[int] = []
        todo = [self._pid]
        while todo:
            pid = todo.pop()
            try:
                if str(self.shim) in Path(f"/proc/{pid}/maps").read_text():
                    found.append(pid)
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
        return found

    def reports(self) -> dict[int, list[str]]:
        """Complete snapshot reports by process id, in the order they were taken."""
        by_pid: dict[int, list[str]] = {}
        for done in sorted(self.directory.glob("snapshot-*.done")):
            parts = done.stem.split("-")
            if len(parts) != 3 or not parts[1].isdigit():
                continue
            pid = parts[1]
            report = done.with_suffix(".txt")
            if report.is_symlink():  # written by the sandboxed service: read only its own files
                continue
            with contextlib.suppress(OSError):
                text = report.read_text(errors="replace")
                by_pid.setdefault(int(pid), []).append(text)
        return by_pid

    def growing_site(self) -> tuple[LeakSite, int, int] | None:
        """The site whose leaked bytes grew most between the first and last snapshot.

        Returns (site, bytes grown, snapshots compared), or ``None`` when fewer than two
        snapshots were complete or nothing grew. Computed once: call it while the binary still
        exists, since raw frames are symbolized from it.
        """
        if self._resolved:
            return self._growing
        best: tuple[LeakSite, int, int] | None = None
        for texts in self.reports().values():
            if len(texts) < 2:
                continue
            first = parse_report(texts[0], self.strip_prefixes)
            last = parse_report(texts[-1], self.strip_prefixes)
            for site, size in last.items():
                grown = size - first.get(site, 0)
                if grown > 0 and (best is None or grown > best[1]):
                    best = (site, grown, len(texts))
        self._growing, self._resolved = best, True
        return best

    def fatal_error(self) -> str | None:
        """LeakSanitizer's own failure message, if a snapshot hit one (e.g. ptrace refused)."""
        for report in sorted(self.directory.glob("snapshot-*.txt")):
            with contextlib.suppress(OSError):
                for line in report.read_text(errors="replace").splitlines():
                    if "LeakSanitizer has encountered a fatal error" in line:
                        return line.strip()
        return None

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
