"""How long reading and describing a window of commits takes (code-change analysis, issue 5).

Builds a synthetic C repository with ``git fast-import`` (N commits over a few dozen files, one
of them, 10 commits before the end, removing a ``free``), then times, separately:

* ``GitRepository.commits`` for the whole window (metadata, diffs, file texts);
* ``describe_commit`` for every commit (tree-sitter over the before/after texts);
* ``find_introducing_commit`` + ``rank_changes``.

Usage: .venv/bin/python bench/git_history.py [--commits 2000] [--files 40] [--functions 12]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ads.analysis.history import describe_commit, find_introducing_commit, rank_changes
from ads.sources.repository import GitRepository

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def function_text(file: int, function: int, value: int, frees: bool) -> str:
    free = "        free(item);\n" if frees else ""
    return (
        f"void handler_{file}_{function}(struct queue *q) {{\n"
        "    while (queue_running(q)) {\n"
        f"        char *item = malloc({value} * sizeof(char));\n"
        "        queue_take(q, item);\n"
        f"{free}"
        "    }\n"
        "}\n\n"
    )


def file_text(file: int, values: list[int], frees: list[bool]) -> bytes:
    head = "#include <stdlib.h>\nstruct queue;\nint queue_running(struct queue *q);\n"
    head += "void queue_take(struct queue *q, char *item);\n\n"
    pairs = enumerate(zip(values, frees, strict=True))
    body = "".join(function_text(file, f, value, free) for f, (value, free) in pairs)
    return (head + body).encode()


def fast_import_stream(commits: int, files: int, functions: int, leak_at: int) -> bytes:
    """A fast-import stream: the first commit adds every file, the rest edit one function each."""
    rng = random.Random(1234)
    values = [[64] * functions for _ in range(files)]
    frees = [[True] * functions for _ in range(files)]
    out: list[bytes] = []
    for n in range(commits):
        when = int((EPOCH + timedelta(minutes=5 * n)).timestamp())
        if n == 0:
            touched = list(range(files))
            message = "initial import"
        elif n == leak_at:
            touched = [3]
            frees[3][5] = False
            message = "queue: hand items to the consumer without freeing"
        else:
            file, function = rng.randrange(files), rng.randrange(functions)
            values[file][function] += 1
            touched = [file]
            message = f"tune buffer size of handler_{file}_{function}"
        out.append(b"commit refs/heads/main\n")
        person = f"Dev {n % 7} <dev{n % 7}@example.com> {when} +0000\n".encode()
        out += [b"author " + person, b"committer " + person]
        out.append(b"data %d\n%s\n" % (len(message), message.encode()))
        for file in touched:
            content = file_text(file, values[file], frees[file])
            out.append(
                b"M 100644 inline src/module_%d.c\ndata %d\n%s\n" % (file, len(content), content)
            )
    return b"".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--functions", type=int, default=12)
    args = parser.parse_args()
    leak_at = args.commits - 10
    with tempfile.TemporaryDirectory(prefix="ads-bench-history-") as tmp:
        path = Path(tmp)
        started = time.perf_counter()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
        stream = fast_import_stream(args.commits, args.files, args.functions, leak_at)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True)
        subprocess.run(["git", "reset", "-q", "--hard"], cwd=path, check=True)
        print(
            f"built {args.commits} commits over {args.files} files with git fast-import "
            f"in {time.perf_counter() - started:.2f} s"
        )

        repo = GitRepository(path)
        incident_at = EPOCH + timedelta(minutes=5 * args.commits)
        since = EPOCH - timedelta(days=1)
        started = time.perf_counter()
        commits = repo.commits(since, incident_at, ["src"])
        read = time.perf_counter() - started
        started = time.perf_counter()
        changes = [describe_commit(c, incident_at, source_paths=["src"]) for c in commits]
        described = time.perf_counter() - started
        started = time.perf_counter()
        culprit = find_introducing_commit(changes, "src/module_3.c", "handler_3_5", "item", None)
        ranked = rank_changes(
            changes,
            finding_file="src/module_3.c",
            finding_function="handler_3_5",
            introducing_sha=culprit.sha if culprit else None,
        )
        attributed = time.perf_counter() - started

        n = len(commits)
        print(f"read window:    {n} commits in {read:.3f} s ({1000 * read / n:.2f} ms/commit)")
        per_commit = 1000 * described / n
        print(f"describe:       {n} commits in {described:.3f} s ({per_commit:.2f} ms/commit)")
        print(f"attribute+rank: {attributed * 1000:.1f} ms")
        found = culprit is not None and culprit.subject.startswith("queue: hand items")
        first = culprit is not None and ranked[0].sha == culprit.sha
        print(f"introducing commit found: {found}; ranked first: {first}")
        return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
