"""tracemalloc snapshots from an unmodified Python service: the bootstrap, the diff, the site."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ads.actions.tracemalloc_probe import TracemallocSnapshots
from ads.models import Finding, FindingKind

SERVICE = """\
import time

KEPT = []


def handle(n):
    KEPT.append(b"x" * 100_000)


def main():
    n = 0
    while True:
        n += 1
        handle(n)
        with open("progress", "w") as out:
            out.write(str(n))
        time.sleep(0.005)


main()
"""


def _finding(function: str, line: int) -> Finding:
    return Finding(
        file="svc/app.py", function=function, line=line, end_line=line,
        kind=FindingKind.UNBOUNDED_GROWTH, issue="grows", allocation="KEPT.append(...)",
    )  # fmt: skip


def _iterations(tree: Path) -> int:
    """How many requests the test service has handled (it writes the count each time)."""
    try:
        return int((tree / "progress").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _wait_for(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _start_traced(tree: Path, source: str) -> tuple[TracemallocSnapshots, subprocess.Popen[bytes]]:
    """``source`` as svc/app.py under ``tree``, started unmodified with the bootstrap."""
    (tree / "svc").mkdir(parents=True)
    (tree / "svc" / "app.py").write_text(source)
    probe = TracemallocSnapshots(tree)
    proc = subprocess.Popen(
        ["bash", "-c", probe.wrap("exec python3 svc/app.py")], cwd=tree,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )  # fmt: skip
    return probe, proc


def test_the_growing_site_is_named_with_its_function(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    probe, proc = _start_traced(tree, SERVICE)
    try:
        probe.started(0, proc.pid)
        _wait_for(probe.loaded)
        for taken in (1, 2, 3):
            # the service's own progress, not a sleep: ≥ 15 more 100 kB blocks between
            # snapshots however loaded the machine is
            before = _iterations(tree)
            _wait_for(lambda before=before: _iterations(tree) >= before + 15)
            assert probe.snapshot() == 1
            _wait_for(lambda n=taken: len(next(iter(probe.reports().values()), [])) >= n)
    finally:
        proc.kill()
        proc.wait()
    found = probe.growing_site()
    assert found is not None
    site, grown, snapshots = found
    assert (site.file, site.line, site.function) == ("svc/app.py", 7, "handle")
    assert str(site) == "svc/app.py:7 in handle()"
    assert site.traceback().startswith("svc/app.py:7 handle() ← svc/app.py:14 main()")
    assert grown > 1_000_000 and snapshots == 3
    assert site.matches(_finding("handle", 7))
    assert not site.matches(_finding("other", 30))
    growth = probe.growth_at(_finding("handle", 7))
    assert growth is not None and growth[0] > 1_000_000
    probe.cleanup()
    assert not probe.directory.exists()


def test_a_service_without_the_bootstrap_is_never_signalled(tmp_path: Path) -> None:
    """SIGUSR2 would kill a process that has no handler: only ready processes get it."""
    probe = TracemallocSnapshots(tmp_path)
    proc = subprocess.Popen(["sleep", "30"])
    try:
        probe.started(0, proc.pid)
        assert probe.snapshot() == 0
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        probe.cleanup()


MANY_OBJECTS = """\
import time

KEPT = [(i, str(i)) for i in range(300_000)]  # a snapshot to compare takes a while


def main():
    while True:
        KEPT.append((len(KEPT), "more"))
        time.sleep(0.001)


main()
"""


def test_snapshots_keep_coming_when_signals_arrive_faster_than_a_snapshot_takes(
    tmp_path: Path,
) -> None:
    """On a loaded machine a snapshot of a big heap takes longer than the schedule's interval:
    a signal arriving inside the handler must not start another snapshot inside it (each would
    interrupt the last and none would finish: the patched build's check then had fewer than two
    snapshots). The signals are sent every few milliseconds until three summaries exist."""
    tree = tmp_path / "tree"
    probe, proc = _start_traced(tree, MANY_OBJECTS)
    try:
        probe.started(0, proc.pid)
        _wait_for(probe.loaded)
        deadline = time.monotonic() + 60
        while len(next(iter(probe.reports().values()), [])) < 3:
            assert time.monotonic() < deadline, "fewer than 3 snapshots while signalled"
            assert proc.poll() is None, "the service died of the signals"
            probe.snapshot()
            time.sleep(0.003)
    finally:
        proc.kill()
        proc.wait()
        probe.cleanup()
