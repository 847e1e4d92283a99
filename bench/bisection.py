"""Benchmark: ``ads bisect`` — commits in the range vs runs used vs wall time.

For each range size (8, 64, 512 commits by default) a synthetic git repository is written with
``git fast-import``: a small C worker that frees each 1 MiB request, until one commit (chosen by
a fixed seed, never an end) routes the release through a function pointer to a no-op, so that
build and every later one is OOM-killed under 32Mi within a second. ``bisect`` (the engine
behind ``ads bisect`` and the MCP tool) then searches the whole range; each good run is bounded
by ``--seconds``. The table shows whether it named the right commit, the runs it used against
ceil(log2(n)) (+1 when an end had to be checked), and the wall time (builds included).

(Named bisection.py, not bisect.py: a script's directory comes first on sys.path, and a
bench/bisect.py would shadow the standard library's ``bisect`` for every bench that imports
``random``.)

Run: .venv/bin/python bench/bisection.py [--sizes 8 64 512] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import tempfile
import time
from pathlib import Path

from ads.config import ServiceConfig
from ads.workflow.bisect import bisect

WORKER = """#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *VERSION = "1.{version}";
typedef void (*release_fn)(void *);
static void keep(void *p) {{ (void)p; }}
static release_fn releaser = keep;

static void handle(void) {{
    char *buf = malloc(1024 * 1024);
    if (buf == NULL)
        return;
    memset(buf, (int)VERSION[0], 1024 * 1024);
    {release}
}}

int main(void) {{
    (void)releaser;
    for (;;) {{
        handle();
        usleep(2000);
    }}
}}
"""

SERVICE = ServiceConfig.model_validate(
    {
        "name": "bench-bisect",
        "build": "cc -O0 -o worker worker.c",
        "run": "./worker",
        "memory_limit": "32Mi",
        "sources": ["worker.c"],
    }
)


def synthetic_repo(root: Path, commits: int, bad_at: int) -> list[str]:
    """``commits`` commits in ``root`` (commit ``bad_at``, 1-based, introduces the leak)."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream: list[bytes] = []
    start = 1_700_000_000
    for number in range(1, commits + 1):
        release = "releaser(buf);" if number >= bad_at else "free(buf);"
        data = WORKER.format(version=number, release=release).encode()
        message = f"release 1.{number}".encode()
        stream += [
            b"commit refs/heads/main\n",
            f"mark :{number}\n".encode(),
            f"committer Bench <bench@example.com> {start + number * 60} +0000\n".encode(),
            f"data {len(message)}\n".encode() + message + b"\n",
        ]
        if number > 1:
            stream.append(f"from :{number - 1}\n".encode())
        stream.append(f"M 100644 inline worker.c\ndata {len(data)}\n".encode() + data + b"\n")
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream),
                   check=True)  # fmt: skip
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "main"], check=True)
    out = subprocess.run(["git", "-C", str(root), "rev-list", "--reverse", "main"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--seconds", type=float, default=1.0, help="bound on each good run")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    print(f"{'commits':>8} {'first bad':>10} {'found':>6} {'runs':>5} {'log2':>5} {'wall s':>8}")
    for size in args.sizes:
        bad_at = chooser.randint(2, size)  # commit 1 is the good end
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "svc"
            shas = synthetic_repo(repo, size, bad_at)
            started = time.monotonic()
            result = bisect(repo, SERVICE, shas[0], shas[-1], seconds=args.seconds)
            wall = time.monotonic() - started
        found = result.first_bad == shas[bad_at - 1]
        log2 = math.ceil(math.log2(max(2, size - 1)))
        print(f"{size:>8} {bad_at:>10} {'yes' if found else 'NO':>6} {len(result.runs):>5} "
              f"{log2:>5} {wall:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
