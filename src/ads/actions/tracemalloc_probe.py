"""Naming the growing site of a Python service at run time, before the kernel's SIGKILL.

The Python sibling of ``ads.actions.lsan``. The service is not changed: its run command gets a
private directory prepended to ``PYTHONPATH`` holding a ``sitecustomize`` bootstrap (written
here, see ``BOOTSTRAP``), which the interpreter imports at start-up. The bootstrap starts
``tracemalloc`` (``FRAMES`` frames per traceback), installs a SIGUSR2 handler, says it is
ready, and hands over to the interpreter's own ``sitecustomize`` if there is one. On each
signal the handler takes a snapshot (a signal arriving while one is being taken is dropped);
the first is kept as the baseline and every later one is compared to it
(``Snapshot.compare_to(baseline, "traceback")``), the top growing tracebacks written as JSON
next to the bootstrap. Only that summary leaves the process: ADS never
unpickles what the untrusted service wrote (``Snapshot.load`` is pickle).

The observer sends the signal as charged memory first crosses 30, 50, 70 and 85 % of the
limit, and at least every ``interval`` seconds, so there are several snapshots before any OOM
kill. The growing site is the traceback whose size grew most by the last snapshot, named by
its most recent frame in the service's own code; the function holding that line is read from
the file with ``ast`` (tracemalloc frames carry file and line only).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.languages import front_end_for
from ..json_input import JsonInputError, parse_json
from ..models import Finding, MemorySample
from ..sources.monitors.local_runtime import RunObserver
from ..sources.monitors.sandbox import Sandbox
from ..sources.owner import current_owner
from .snapshot_schedule import SnapshotSchedule

__all__ = ["BOOTSTRAP", "TracedSite", "TracemallocSnapshots"]

SNAPSHOT_SIGNAL = signal.SIGUSR2
FRAMES = 25
MAX_REPORT_BYTES = 1 << 20
BOOTSTRAP = '''\
"""ADS's tracemalloc bootstrap, imported as sitecustomize from a private PYTHONPATH entry."""
import os
import sys

_DIR = os.environ.get("ADS_TRACEMALLOC_DIR")
_HERE = os.path.dirname(os.path.abspath(__file__))


def _install():
    import json
    import signal
    import tracemalloc

    tracemalloc.start(int(os.environ.get("ADS_TRACEMALLOC_FRAMES", "25")))
    ignored = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, __file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    state = {"first": None, "taken": 0, "busy": False}

    def snapshot(signum, frame):
        # A signal that lands inside this handler is dropped: started here, each snapshot
        # would interrupt the last and, signalled faster than one takes, none would finish.
        if state["busy"]:
            return
        state["busy"] = True
        try:
            _take()
        finally:
            state["busy"] = False

    def _take():
        taken = tracemalloc.take_snapshot().filter_traces(ignored)
        stats = []
        if state["first"] is None:
            state["first"] = taken
        else:
            for stat in taken.compare_to(state["first"], "traceback")[:12]:
                if stat.size_diff <= 0:
                    continue
                frames = [[f.filename, f.lineno] for f in reversed(stat.traceback)]
                stats.append({"size_diff": stat.size_diff, "count_diff": stat.count_diff,
                              "size": stat.size, "frames": frames})
        state["taken"] += 1
        name = os.path.join(_DIR, "snapshot-%d-%03d.json" % (os.getpid(), state["taken"]))
        with open(name + ".tmp", "w") as out:
            json.dump({"pid": os.getpid(), "taken": state["taken"],
                       "traced": tracemalloc.get_traced_memory()[0], "stats": stats}, out)
        os.replace(name + ".tmp", name)

    signal.signal(signal.SIGUSR2, snapshot)
    with open(os.path.join(_DIR, "ready-%d" % os.getpid()), "w") as out:
        out.write(sys.executable)


def _chain():
    """Run the interpreter's own sitecustomize (this one shadows it on sys.path)."""
    import importlib.machinery
    import importlib.util

    rest = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if _DIR and os.path.isdir(_DIR):
    try:
        _install()
    except Exception as exc:  # the service must run even when tracing cannot
        sys.stderr.write("ADS tracemalloc bootstrap: %s\\n" % exc)
_chain()
'''


@dataclass(frozen=True)
class TracedSite:
    """Where the growing Python objects were allocated: file, line and enclosing function."""

    function: str
    file: str
    line: int
    stack: tuple[tuple[str, str, int], ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}()"

    def traceback(self) -> str:
        return " ← ".join(f"{file}:{line} {function}()" for function, file, line in self.stack)

    def matches(self, finding: Finding) -> bool:
        """Whether a frame of the service's own code is the finding's function (or line)."""
        for function, file, line in self.stack or ((self.function, self.file, self.line),):
            same_file = file == finding.file or file.endswith("/" + finding.file)
            if not same_file:
                continue
            if function == finding.function or finding.line <= line <= finding.end_line:
                return True
        return False


def _strip(path: str, prefixes: tuple[str, ...]) -> str | None:
    """The path relative to the service's tree, or None for a file outside it."""
    for prefix in prefixes:
        base = prefix.rstrip("/")
        if base and path.startswith(base + "/"):
            return path[len(base) + 1 :]
    return None


def _namespace_pid(pid: int) -> int | None:
    """The pid the process sees itself as (the sandbox has its own pid namespace): the last
    ``NSpid`` field of its status; the bootstrap names its ready file with it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        return None
    return pid


class TracemallocSnapshots(RunObserver):
    """A run observer that asks the bootstrap for snapshots as memory climbs, then names the
    growing site (the same contract as ``lsan.LeakSnapshots``)."""

    name = "tracemalloc"

    def __init__(
        self,
        tree: Path,
        *,
        interval: float = 1.0,
        sandbox: Sandbox | None = None,
        frames: int = FRAMES,
        first_after: float = 0.0,
    ) -> None:
        self.tree = Path(tree)
        self.strip_prefixes = (str(tree), os.path.realpath(tree))
        self.unavailable: str | None = None
        self.directory = Path(tempfile.mkdtemp(prefix=f"ads-tracemalloc-{current_owner().tag}-"))
        self.bootstrap_dir = self.directory / "bootstrap"
        self.bootstrap_dir.mkdir()
        (self.bootstrap_dir / "sitecustomize.py").write_text(BOOTSTRAP)
        self.directory.chmod(0o755)
        if sandbox is not None:
            sandbox.adopt(self.directory)
        self.frames = frames
        # first_after: seconds of warm-up before the baseline snapshot
        self.schedule = SnapshotSchedule(interval, first_after)
        self.signalled = 0
        self._pid: int | None = None
        self._growing: tuple[TracedSite, int, int] | None = None
        self._resolved = False
        self._functions: dict[tuple[str, int], str] = {}

    @property
    def available(self) -> bool:
        return self.unavailable is None

    def wrap(self, run_command: str) -> str:
        """``run_command`` with the bootstrap first on ``PYTHONPATH``."""
        boot = shlex.quote(str(self.bootstrap_dir))
        return (
            f'export PYTHONPATH={boot}"${{PYTHONPATH:+:$PYTHONPATH}}" '
            f"ADS_TRACEMALLOC_DIR={shlex.quote(str(self.directory))} "
            f"ADS_TRACEMALLOC_FRAMES={self.frames}; {run_command}"
        )

    # -- RunObserver ------------------------------------------------------------------------------

    def started(self, restart: int, pid: int) -> None:
        self._pid = pid
        self.schedule.restart()

    def sample(self, sample: MemorySample, limit: int) -> None:
        if self._pid is not None and self.schedule.due(sample.bytes, limit):
            self.snapshot()

    # -- snapshots --------------------------------------------------------------------------------

    def snapshot(self) -> int:
        """Signal every process of the run that loaded the bootstrap."""
        self.schedule.taken()
        ready = {
            int(p.name.removeprefix("ready-"))
            for p in self.directory.glob("ready-*")
            if p.name.removeprefix("ready-").isdigit()
        }
        sent = 0
        for pid in self._run_processes():
            if _namespace_pid(pid) in ready:  # only a process whose handler is installed
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, SNAPSHOT_SIGNAL)
                    sent += 1
        self.signalled += sent
        return sent

    def _run_processes(self) -> list[int]:
        if self._pid is None:
            return []
        found: list[int] = []
        todo = [self._pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo.extend(int(c) for c in (task / "children").read_text().split())
        return found

    def reports(self) -> dict[int, list[dict[str, object]]]:
        """The snapshot summaries by process id, in the order they were taken."""
        by_pid: dict[int, list[dict[str, object]]] = {}
        for path in sorted(self.directory.glob("snapshot-*-*.json")):
            parts = path.stem.split("-")
            if len(parts) != 3 or not parts[1].isdigit() or path.is_symlink():
                continue  # written by the sandboxed service: read only its own plain files
            with contextlib.suppress(OSError, JsonInputError):
                with path.open("rb") as handle:
                    raw = handle.read(MAX_REPORT_BYTES + 1)
                if len(raw) > MAX_REPORT_BYTES:
                    continue
                value = parse_json(raw)
                if isinstance(value, dict):
                    by_pid.setdefault(int(parts[1]), []).append(value)
        return by_pid

    def _function_at(self, relative: str, line: int) -> str:
        """The traced frame's function, as the file's language front end names it (the
        module's own code when it is in none, or the file cannot be read)."""
        key = (relative, line)
        if key not in self._functions:
            path = self.tree / relative
            front_end = front_end_for(relative)
            name = None
            with contextlib.suppress(OSError, ValueError, SyntaxError):
                inside = path.resolve().is_relative_to(self.tree.resolve())
                readable = inside and not path.is_symlink() and path.stat().st_size <= 4 << 20
                if front_end is not None and readable:
                    name = front_end.function_at(relative, path.read_bytes(), line)
            self._functions[key] = name or "<module>"
        return self._functions[key]

    def _site(self, frames: object) -> TracedSite | None:
        if not isinstance(frames, list):
            return None
        stack: list[tuple[str, str, int]] = []
        for frame in frames[:FRAMES]:
            if not (isinstance(frame, list) and len(frame) == 2):
                continue
            filename, line = frame
            if not isinstance(filename, str) or not isinstance(line, int):
                continue
            relative = _strip(filename, self.strip_prefixes)
            if relative is not None:
                stack.append((self._function_at(relative, line), relative, line))
        if not stack:
            return None
        function, file, line = stack[0]
        return TracedSite(function, file, line, tuple(stack))

    def growing_site(self) -> tuple[TracedSite, int, int] | None:
        """(site, bytes grown since the first snapshot, snapshots taken) for the traceback in
        the service's own code that grew most; None with fewer than two snapshots or no
        growth. Computed once: call it while the tree still exists."""
        if self._resolved:
            return self._growing
        best: tuple[TracedSite, int, int] | None = None
        for reports in self.reports().values():
            if len(reports) < 2:
                continue
            stats = reports[-1].get("stats")
            for stat in stats if isinstance(stats, list) else []:
                if not isinstance(stat, dict):
                    continue
                grown = stat.get("size_diff")
                site = self._site(stat.get("frames"))
                if site is None or not isinstance(grown, int) or grown <= 0:
                    continue
                if best is None or grown > best[1]:
                    best = (site, grown, len(reports))
        self._growing, self._resolved = best, True
        return best

    def growth_at(self, finding: Finding) -> tuple[int, int] | None:
        """(bytes grown at the finding's site by the last snapshot, snapshots taken), or None
        with fewer than two snapshots: the patched run's check that the site stopped growing."""
        best: tuple[int, int] | None = None
        for reports in self.reports().values():
            if len(reports) < 2:
                continue
            grown = 0
            stats = reports[-1].get("stats")
            for stat in stats if isinstance(stats, list) else []:
                if not isinstance(stat, dict) or not isinstance(stat.get("size_diff"), int):
                    continue
                site = self._site(stat.get("frames"))
                if site is not None and site.matches(finding):
                    grown += max(0, int(stat["size_diff"]))
            if best is None or grown > best[0]:
                best = (grown, len(reports))
        return best

    def loaded(self) -> bool:
        """Whether some process of the run loaded the bootstrap."""
        return any(self.directory.glob("ready-*"))

    def fatal_error(self) -> str | None:
        return None

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
