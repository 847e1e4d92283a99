"""The Python front end's speed on a real code base, and what tracemalloc costs the service.

Prints:

(a) analysis time of ``analyze_python_sources`` (the Python front end, in process, parsing
    included) over the ``.py`` files of a real code base: the Django sdist from PyPI
    (``--package``, default django==5.0.6), downloaded with ``pip download --no-binary :all:
    --no-deps`` when the bench runs (cached in ~/.cache/ads-bench). By default its package
    directory (``--under django``: 153k lines, what a service's ``sources`` would name);
    ``--under .`` reads the whole sdist with its tests (465k lines). Median of --runs runs, with
    the lines, files, findings (in and out of scope) and the goal (≤ 5 s), and the share of
    the time that is ``ast.parse`` alone.
(b) the tracemalloc bootstrap's overhead on the Python demo service: the worker of
    examples/py-pages-service with its cache bounded again (the fixed version) and no delay
    between requests, run for --seconds without the bootstrap, with it (tracemalloc on, no
    snapshot), and with it taking a snapshot every 0.5 s as the verification run does; requests
    per second of each (median of --runs), and the slowdown.

Usage: .venv/bin/python bench/python_growth.py [--package django==5.0.6] [--runs 3]
       [--seconds 3] [--skip-download]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import gc
import os
import re
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from ads.actions.tracemalloc_probe import TracemallocSnapshots
from ads.analysis.python import analyze_python_sources
from ads.analysis.scope import BuildScope
from ads.interfaces.demo_workspace import worker_with_eviction

GOAL_SECONDS = 5.0
MIN_LINES = 50_000
ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "ads-bench"  # the cache bench/_common.py uses too


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(value: float, goal: float) -> str:
    return "meets" if value <= goal else "MISSES"


def download(package: str) -> Path | None:
    """The unpacked sdist of ``package``, or None with a line saying why."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name, _, version = package.partition("==")
    pattern = f"{name.lower()}-{version or '*'}.tar.gz"
    archives = sorted(CACHE.glob(pattern)) or sorted(CACHE.glob(pattern.capitalize()))
    if not archives:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", package, "-d", str(CACHE)],
            capture_output=True, text=True,
        )  # fmt: skip
        archives = sorted(CACHE.glob(pattern)) or sorted(CACHE.glob(pattern.capitalize()))
        if proc.returncode != 0 or not archives:
            reason = (proc.stderr.strip().splitlines() or ["no archive"])[-1]
            print(f"SKIPPED (a): could not download the {package} sdist from PyPI ({reason})")
            return None
    archive = archives[-1]
    unpacked = CACHE / archive.name.removesuffix(".tar.gz")
    if not unpacked.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return unpacked if unpacked.is_dir() else None


def bench_analysis(package: str, runs: int, under: str) -> None:
    root = download(package)
    if root is None:
        return
    files = sorted(
        (p.relative_to(root).as_posix(), p.read_bytes())
        for p in (root / under).rglob("*.py")
        if p.is_file() and not p.is_symlink()
    )
    lines = sum(data.count(b"\n") for _, data in files)
    if lines < MIN_LINES:
        print(f"SKIPPED (a): {package} has {lines} lines of Python, fewer than {MIN_LINES}")
        return
    times: list[float] = []
    cpu: list[float] = []
    analysis = None
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        analysis = analyze_python_sources(files, scope=BuildScope.from_build(None))
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    assert analysis is not None
    inside = [f for f in analysis.findings if f.in_scope]
    seconds = median(times)
    parse_times = []
    for _ in range(runs):
        gc.disable()  # as the front end does (see analyze_python_sources)
        started = time.process_time()
        for path, data in files:
            with contextlib.suppress(SyntaxError, ValueError):
                ast.parse(data, filename=path)
        parse_times.append(time.process_time() - started)
        gc.enable()
    where = f"{under}/ of " if under not in ("", ".") else ""
    print(f"(a) {where}{package}: {len(files)} files, {lines:,} lines of Python")
    print(f"    ast.parse alone: {median(parse_times):.2f} s of CPU")
    print(
        f"    analysis {seconds:.2f} s wall median of {runs} (min {min(times):.2f}, max "
        f"{max(times):.2f}), {median(cpu):.2f} s of CPU; goal ≤ {GOAL_SECONDS:g} s: "
        f"{verdict(seconds, GOAL_SECONDS)} (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores)"
    )
    print(
        f"    findings: {len(inside)} in scope, {len(analysis.findings) - len(inside)} outside "
        f"(tests, examples); {len(analysis.parse_problems)} files did not parse"
    )
    for finding in inside[:8]:
        print(f"      {finding.file}:{finding.line} {finding.function}(): {finding.issue}")


def _fast_worker(tree: Path) -> Path:
    """The demo worker, bounded again and with no delay: requests as fast as it can."""
    source = (ROOT / "examples" / "py-pages-service" / "pages" / "worker.py").read_text()
    source = worker_with_eviction(source)
    source = re.sub(r"REQUEST_DELAY_S = [0-9.]+", "REQUEST_DELAY_S = 0", source)
    source = source.replace("if request % 10 == 0:", "if request % 100 == 0:")
    path = tree / "pages" / "worker.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def _requests_per_second(
    tree: Path, seconds: float, probe: TracemallocSnapshots | None, snapshot_every: float | None
) -> tuple[float, float]:
    """(requests per wall second, requests per CPU second of the service)."""
    command = "exec python3 -u pages/worker.py"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if probe is not None:
        command = probe.wrap(command)
    proc = subprocess.Popen(
        ["bash", "-c", command], cwd=tree, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "starting": the interpreter and the bootstrap are up
    assert first.startswith("worker: starting"), first
    if probe is not None:
        probe.started(0, proc.pid)
    started, counted, last = time.monotonic(), 0, time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("worker: request"):
                counted += 100
            if probe is not None and snapshot_every and time.monotonic() - last >= snapshot_every:
                probe.snapshot()
                last = time.monotonic()
    finally:
        wall = time.monotonic() - started
        proc.send_signal(signal.SIGKILL)
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = -9
    return counted / wall, counted / max(usage.ru_utime + usage.ru_stime, 1e-9)


def bench_overhead(runs: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="ads-bench-tracemalloc-") as scratch:
        tree = Path(scratch)
        _fast_worker(tree)
        rates: dict[str, list[tuple[float, float]]] = {
            "plain": [], "tracemalloc": [], "snapshots": []
        }  # fmt: skip
        for _ in range(runs):
            rates["plain"].append(_requests_per_second(tree, seconds, None, None))
            probe = TracemallocSnapshots(tree)
            rates["tracemalloc"].append(_requests_per_second(tree, seconds, probe, None))
            probe.cleanup()
            probe = TracemallocSnapshots(tree)
            rates["snapshots"].append(_requests_per_second(tree, seconds, probe, 0.5))
            probe.cleanup()
    plain = median([cpu for _, cpu in rates["plain"]])
    print(f"(b) py-pages-service worker (bounded cache, no delay), {seconds:g} s × {runs} runs")
    print("    (requests per CPU second of the service: contention-proof; wall in brackets)")
    for key, label in (("plain", "without the bootstrap:"),
                       ("tracemalloc", "tracemalloc on, no snapshot:"),
                       ("snapshots", "snapshot every 0.5 s:")):  # fmt: skip
        rate = median([cpu for _, cpu in rates[key]])
        wall = median([w for w, _ in rates[key]])
        slower = (1 - rate / plain) * 100 if plain else float("nan")
        print(f"    {label:31} {rate:8.0f} /CPU-s ({wall:6.0f} /s)  {slower:+.0f} % slower")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="django==5.0.6")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--under", default="django", help="directory of the sdist to analyse")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--skip-download", action="store_true", help="only the overhead (b)")
    args = parser.parse_args()
    if not args.skip_download:
        bench_analysis(args.package, args.runs, args.under)
    bench_overhead(args.runs, args.seconds)


if __name__ == "__main__":
    main()
