"""How many of NIST Juliet 1.3's CWE-401 memory leaks ADS finds, and how often it cries wolf.

Input (never committed): a copy of the Juliet 1.3 C/C++ suite, e.g. GitHub's
``arichardson/juliet-test-suite-c``, given as ``--juliet PATH``: a checked-out directory or a
bare git directory (read at ``--rev``, default HEAD). It must hold
``testcases/CWE401_Memory_Leak/`` and ``testcasesupport/``.

The cases are the 628 single-file C cases of ``testcases/CWE401_Memory_Leak/``: every
``CWE401_Memory_Leak__<name>_<NN>.c``. Multi-file cases (``..._22a.c``, ``..._51b.c``: a letter
after the flow-variant number) and the C++ ``.cpp`` cases are left out. Each case is analysed
as it is, bad and good functions together, alone: ``analyze_c_sources`` (in process, one
worker process per --jobs) gets the case file and the suite's ``testcasesupport/*.h`` headers.
With --with-support-c it also gets ``testcasesupport/io.c``, the support code every case is
linked with (``printLine`` & co): without it, a pointer handed to ``printLine`` is "handed to code
outside the repo", an UNCERTAIN finding, not a leak. (The figure in issue 11, 225 found / 154
false-alarm files, is the one with --with-support-c.)

Scoring is per function, from the findings in the case file. A *leak finding* is a finding of
kind LOOP_LEAK, UNBOUNDED_GROWTH or ONE_OFF_LEAK (UNCERTAIN, "handed to code outside the repo",
is not a leak claim; it is counted on a line of its own). A case is *found* when some leak
finding lies in a function whose name contains ``bad``; it is a *false-alarm file* when some
leak finding lies in a function whose name starts with ``good``. A case whose analysis raises
(or runs over --timeout, or kills its worker) is an *error*: neither found nor a false alarm,
and printed.

Prints: the ADS source analysed (path and commit, since the engine changes under a checkout),
cases, found, false-alarm files, errors, the median and total per-case analysis time (and the
wall time), and the goal (≥ 608 found with ≤ 48 false-alarm files) with meets/MISSES; then a
breakdown by Juliet flow variant (the ``_NN`` suffix: which control-flow or data-flow idiom the
case wraps around the leak) and one by functional variant (``char_malloc``, ``strdup_wchar_t``,
``malloc_realloc_int``...: what is allocated and how), worst first, and the good functions
(``goodG2B``, ``goodB2G1``...) that raised the false alarms.

With --anchors, the same files and scoring for ``gcc -fanalyzer`` (``-O0 -DINCLUDEMAIN
-I testcasesupport``, as the suite's CMakeLists builds them; the ``-Wanalyzer-malloc-leak``
diagnostics of ``-fdiagnostics-format=json``, each mapped to its enclosing function with
tree-sitter-c), and for ``clang --analyze`` (``unix.Malloc`` "Potential leak" warnings) when
clang is installed; their figures are printed beside ADS's, per variant too.

--json OUT writes every case's result (findings with function, line, kind and confidence; the
anchors' diagnostics) for a closer look.

Usage: .venv/bin/python bench/juliet.py --juliet PATH [--rev REV] [--jobs N] [--limit N]
       [--variant NN ...] [--timeout S] [--with-support-c] [--anchors] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tree_sitter
import tree_sitter_c
from _common import describe_checkout

import ads
from ads.analysis.c.leaks import analyze_c_sources

CASE_DIR = "testcases/CWE401_Memory_Leak"
SUPPORT_DIR = "testcasesupport"
EXPECTED_CASES = 628
GOAL_FOUND = 608
GOAL_FALSE_ALARMS = 48
LEAK_KINDS = frozenset({"LOOP_LEAK", "UNBOUNDED_GROWTH", "ONE_OFF_LEAK"})
# A single-file case: ..._<NN>.c; a multi-file case's files carry a letter: ..._51a.c.
SINGLE_FILE = re.compile(r"^CWE401_Memory_Leak__(?P<name>.+)_(?P<variant>\d{2})\.c$")
FLOW_VARIANT = re.compile(rb"Flow Variant:\s*(\d+)\s+([^\n]*)")
NEEDS = (
    "bench/juliet.py needs --juliet PATH: a copy of NIST Juliet 1.3 C (e.g. `git clone "
    "https://github.com/arichardson/juliet-test-suite-c`), checked out or a bare git dir, "
    f"holding {CASE_DIR}/ and {SUPPORT_DIR}/"
)


class MissingInput(Exception):
    """The suite is not where --juliet says (the message says what is needed)."""


# -- the suite ----------------------------------------------------------------------------------


@dataclass
class Case:
    path: str  # relative to the suite's root, as findings name it
    name: str  # the file name without .c
    variant: str  # the flow variant, "01" .. "84"
    functional: str  # the functional variant: "char_malloc", "malloc_realloc_int", ...
    source: bytes


class Suite:
    """The Juliet files, from a checked-out directory or a bare git directory at a revision."""

    def __init__(self, root: Path, rev: str) -> None:
        self.root = root
        self.git_dir: Path | None = None
        self.rev = rev
        if not root.exists():
            raise MissingInput(f"{NEEDS} ({root} does not exist)")
        if (root / CASE_DIR).is_dir():
            self.describe = f"{root} (checked out)"
            return
        proc = subprocess.run(
            ["git", "--git-dir", str(root), "rev-parse", "--verify", f"{rev}^{{commit}}"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise MissingInput(f"{NEEDS} ({root} has no {CASE_DIR}/ and is not a git dir at {rev})")
        self.git_dir = root
        self.rev = proc.stdout.strip()
        self.describe = f"{root} (git, {self.rev[:12]})"

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        command = ["git", "--git-dir", str(self.git_dir), *args]
        return subprocess.run(command, input=stdin, capture_output=True, check=True).stdout

    def list(self, under: str) -> list[str]:
        if self.git_dir is None:
            base = self.root / under
            return sorted(
                p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()
            )
        out = self._git("ls-tree", "-r", "-z", "--name-only", self.rev, "--", under)
        return sorted(p.decode() for p in out.split(b"\0") if p)

    def read(self, paths: list[str]) -> dict[str, bytes | None]:
        """Contents by path; None for a file the copy does not hold (a mirror's absent blob)."""
        if self.git_dir is None:
            return {p: (self.root / p).read_bytes() for p in paths}
        request = b"".join(f"{self.rev}:{p}\n".encode() for p in paths)
        out, at, contents = self._git("cat-file", "--batch", stdin=request), 0, {}
        for path in paths:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) != 3 or header[1] != b"blob":
                contents[path] = None
                continue
            size = int(header[2])
            contents[path] = out[at : at + size]
            at += size + 1
        return contents


def load_cases(suite: Suite, variants: set[str], limit: int | None) -> tuple[list[Case], int]:
    """(the single-file C cases chosen, how many single-file C cases the suite has)."""
    chosen = []
    everything = []
    for path in suite.list(CASE_DIR):
        match = SINGLE_FILE.match(path.rsplit("/", 1)[-1])
        if match is None:
            continue
        everything.append(path)
        if not variants or match["variant"] in variants:
            chosen.append((path, match))
    if not everything:
        raise MissingInput(f"{NEEDS} (no single-file case in {CASE_DIR}/ of {suite.describe})")
    if limit is not None:
        chosen = chosen[:limit]
    contents = suite.read([path for path, _ in chosen])
    cases = []
    for path, match in chosen:
        data = contents[path]
        if data is None:
            raise MissingInput(f"{NEEDS} ({path} is absent from {suite.describe})")
        name = path.rsplit("/", 1)[-1][:-2]
        cases.append(Case(path, name, match["variant"], match["name"], data))
    return cases, len(everything)


def load_support(suite: Suite, with_c: bool) -> dict[str, bytes]:
    paths = [
        p for p in suite.list(SUPPORT_DIR) if p.endswith(".h") or (with_c and p.endswith("io.c"))
    ]
    contents = suite.read(paths)
    if not any(p.endswith("std_testcase.h") for p, data in contents.items() if data):
        raise MissingInput(f"{NEEDS} (no {SUPPORT_DIR}/std_testcase.h in {suite.describe})")
    return {p: data for p, data in contents.items() if data is not None}


# -- scoring ------------------------------------------------------------------------------------


def score(functions: list[str]) -> tuple[bool, bool]:
    """(found, false alarm) for the functions holding leak findings in one case."""
    return (
        any("bad" in f for f in functions),
        any(f.startswith("good") for f in functions),
    )


def function_ranges(source: bytes) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every function definition, 1-based, via tree-sitter-c."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))
    tree = parser.parse(source)
    ranges = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            declarator = node.child_by_field_name("declarator")
            while declarator is not None and declarator.type != "function_declarator":
                declarator = declarator.child_by_field_name("declarator")
            name_node = declarator.child_by_field_name("declarator") if declarator else None
            while name_node is not None and name_node.type not in (
                "identifier",
                "field_identifier",
            ):
                name_node = name_node.child_by_field_name("declarator")
            if name_node is not None and name_node.text is not None:
                name = name_node.text.decode()
                ranges.append((node.start_point[0] + 1, node.end_point[0] + 1, name))
            continue
        stack.extend(node.named_children)
    return ranges


def enclosing(ranges: list[tuple[int, int, str]], line: int) -> str | None:
    inside = [(last - first, name) for first, last, name in ranges if first <= line <= last]
    return min(inside)[1] if inside else None


# -- ADS, in worker processes -------------------------------------------------------------------

_SUPPORT: list[tuple[str, bytes]] = []
_TIMEOUT = 0.0


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"analysis ran over the {_TIMEOUT:g} s timeout")


def _init_worker(support: list[tuple[str, bytes]], timeout: float) -> None:
    global _SUPPORT, _TIMEOUT
    _SUPPORT, _TIMEOUT = support, timeout
    signal.signal(signal.SIGALRM, _on_alarm)


def ads_case(case: Case) -> dict[str, Any]:
    """One case through ``analyze_c_sources``; an exception becomes the result's ``error``."""
    result: dict[str, Any] = {"error": None, "findings": [], "parse_problems": []}
    started = time.perf_counter()
    try:
        if _TIMEOUT:
            signal.setitimer(signal.ITIMER_REAL, _TIMEOUT)
        try:
            report = analyze_c_sources([(case.path, case.source), *_SUPPORT])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        result["seconds"] = time.perf_counter() - started
        result["parse_problems"] = [p for p in report.parse_problems if case.path in p]
        for f in report.findings:
            if f.file != case.path:
                continue
            kind = getattr(f.kind, "name", str(f.kind))
            result["findings"].append(
                {
                    "function": f.function,
                    "line": f.line,
                    "kind": kind,
                    "confidence": str(getattr(f.confidence, "value", f.confidence)),
                    "allocation": f.allocation,
                }
            )
    except Exception as error:  # every failure of one case is that case's error, not the run's
        result["seconds"] = time.perf_counter() - started
        result["error"] = f"{type(error).__name__}: {error}"[:300]
    return result


def run_ads(cases: list[Case], support: dict[str, bytes], jobs: int, timeout: float) -> list[dict]:
    """Per-case ADS results, in the order of ``cases``. Cases whose worker died are retried one
    at a time in a fresh worker, so one crashing case cannot take the others with it."""
    init = (sorted(support.items()), timeout)
    results: list[dict | None] = [None] * len(cases)
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=init) as pool:
        futures = [pool.submit(ads_case, case) for case in cases]
        for i, future in enumerate(futures):
            with contextlib.suppress(BrokenProcessPool):
                results[i] = future.result()
    for i, case in enumerate(cases):
        if results[i] is not None:
            continue
        with ProcessPoolExecutor(1, initializer=_init_worker, initargs=init) as alone:
            try:
                results[i] = alone.submit(ads_case, case).result()
            except BrokenProcessPool:
                results[i] = {
                    "error": "the worker process died (a crash in the analysis)",
                    "findings": [],
                    "parse_problems": [],
                    "seconds": None,
                }
    return [r for r in results if r is not None]


# -- the anchors: gcc -fanalyzer and clang --analyze ----------------------------------------------


def run_timed(
    command: list[str], tree: Path, timeout: float
) -> tuple[subprocess.CompletedProcess[str], float] | dict[str, Any]:
    """An anchor's run and its seconds, or the error result when it ran over ``timeout``."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over the {timeout:g} s timeout", "seconds": timeout, "findings": []}
    return proc, time.perf_counter() - started


def gcc_case(tree: Path, case: Case, timeout: float) -> dict[str, Any]:
    command = ["gcc", "-fanalyzer", "-O0", "-DINCLUDEMAIN", f"-I{SUPPORT_DIR}", "-c", case.path]
    command += ["-o", os.devnull, "-fdiagnostics-format=json"]
    ran = run_timed(command, tree, timeout)
    if isinstance(ran, dict):
        return ran
    proc, seconds = ran
    diagnostics = []
    for line in proc.stderr.splitlines():  # gcc 12 writes one JSON array, on one line
        if line.startswith("["):
            try:
                diagnostics += json.loads(line)
            except json.JSONDecodeError:
                return {"error": "gcc's JSON diagnostics did not parse", "seconds": seconds,
                        "findings": []}  # fmt: skip
    ranges = function_ranges(case.source)
    findings = []
    for d in diagnostics:
        if d.get("option") != "-Wanalyzer-malloc-leak":
            continue
        caret = (d.get("locations") or [{}])[0].get("caret") or {}
        function = None
        if caret.get("file") == case.path:
            function = enclosing(ranges, int(caret.get("line", 0)))
        if function is None:  # not in the case file: the function of the path's last event
            function = ((d.get("path") or [{}])[-1]).get("function")
        findings.append({"function": function, "line": caret.get("line"), "kind": "malloc-leak"})
    error = None
    if proc.returncode != 0:
        error = f"gcc exited {proc.returncode}: " + (proc.stderr.strip()[-200:] or "no output")
    return {"error": error, "seconds": seconds, "findings": findings}


CLANG_LEAK = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):\d+: warning: .*leak.*\[unix\.Malloc\]")


def clang_case(tree: Path, case: Case, timeout: float) -> dict[str, Any]:
    """clang's leak warnings (text output). Written without clang at hand: never run yet."""
    command = ["clang", "--analyze", "-DINCLUDEMAIN", f"-I{SUPPORT_DIR}", case.path]
    command += ["-o", os.devnull]
    ran = run_timed(command, tree, timeout)
    if isinstance(ran, dict):
        return ran
    proc, seconds = ran
    ranges = function_ranges(case.source)
    findings = []
    for line in proc.stderr.splitlines():
        match = CLANG_LEAK.match(line)
        if match and match["file"] == case.path:
            number = int(match["line"])
            function = enclosing(ranges, number)
            findings.append({"function": function, "line": number, "kind": "unix.Malloc leak"})
    error = None if proc.returncode == 0 else f"clang exited {proc.returncode}"
    return {"error": error, "seconds": seconds, "findings": findings}


def run_anchor(tool: str, tree: Path, cases: list[Case], jobs: int, timeout: float) -> list[dict]:
    one = gcc_case if tool == "gcc" else clang_case
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(lambda case: one(tree, case, timeout), cases))


def on_disk(suite: Suite, cases: list[Case], scratch: Path) -> Path:
    """A directory holding the cases and testcasesupport/, for the compilers."""
    if suite.git_dir is None:
        return suite.root
    support = suite.list(SUPPORT_DIR)
    for path, data in suite.read(support).items():
        if data is not None:
            (scratch / path).parent.mkdir(parents=True, exist_ok=True)
            (scratch / path).write_bytes(data)
    for case in cases:
        (scratch / case.path).parent.mkdir(parents=True, exist_ok=True)
        (scratch / case.path).write_bytes(case.source)
    return scratch


# -- figures ------------------------------------------------------------------------------------


def leak_functions(result: dict[str, Any], kinds: frozenset[str] | None) -> list[str]:
    """The functions holding one result's findings of ``kinds`` (None: every finding)."""
    findings = result["findings"]
    return [f["function"] or "" for f in findings if kinds is None or f["kind"] in kinds]


def judge(result: dict[str, Any], kinds: frozenset[str] | None) -> tuple[bool, bool]:
    """(found, false alarm) of one result, counting its findings of ``kinds`` (None: all)."""
    return score(leak_functions(result, kinds))


def tally(results: list[dict], kinds: frozenset[str] | None = LEAK_KINDS) -> dict[str, Any]:
    """Scores each result in place (counting findings of ``kinds``; None: every finding, as for
    the anchors, whose findings are all leak diagnostics) and sums them up."""
    for result in results:
        result["found"], result["false_alarm"] = judge(result, kinds)
        leaking = leak_functions(result, kinds)
        result["bad_functions"] = sorted({f for f in leaking if "bad" in f})
        result["good_functions"] = sorted({f for f in leaking if f.startswith("good")})
    times = [r["seconds"] for r in results if r.get("seconds") is not None]
    return {
        "cases": len(results),
        "found": sum(r["found"] for r in results),
        "false_alarm_files": sum(r["false_alarm"] for r in results),
        "errors": sum(1 for r in results if r["error"] and not r["findings"]),
        "median_seconds": statistics.median(times) if times else None,
        "total_seconds": sum(times),
    }


def goal_text(summary: dict[str, Any]) -> str:
    ok = summary["found"] >= GOAL_FOUND and summary["false_alarm_files"] <= GOAL_FALSE_ALARMS
    note = "" if summary["cases"] == EXPECTED_CASES else f" (on {summary['cases']} cases only)"
    return (
        f"goal ≥ {GOAL_FOUND} found with ≤ {GOAL_FALSE_ALARMS} false-alarm files: "
        f"{'meets' if ok else 'MISSES'}{note}"
    )


def print_summary(label: str, summary: dict[str, Any], wall: float, jobs: int) -> None:
    median = summary["median_seconds"]
    median_text = f"{median * 1000:.1f} ms" if median is not None else "n/a"
    print(
        f"{label}: {summary['cases']} cases, found {summary['found']}, false-alarm files "
        f"{summary['false_alarm_files']}, errors {summary['errors']}; per-case time median "
        f"{median_text}, total {summary['total_seconds']:.1f} s ({wall:.1f} s wall, {jobs} jobs)"
    )
    print(f"  {goal_text(summary)}")


def print_errors(label: str, cases: list[Case], results: list[dict], shown: int = 10) -> None:
    failed = [(c, r) for c, r in zip(cases, results, strict=True) if r["error"]]
    for case, result in failed[:shown]:
        print(f"  {label} error: {case.name}: {result['error']}")
    if len(failed) > shown:
        print(f"  ... {len(failed) - shown} more {label} errors (see --json)")


def print_breakdown(
    title: str,
    keys: list[str],
    ads_results: list[dict],
    anchors: dict[str, list[dict]],
    descriptions: dict[str, str],
) -> None:
    """One row per key (``keys[i]`` is case i's): cases, ADS missed (errors included), ADS
    false-alarm files, errors and the anchors' missed and false alarms, worst first."""
    rows: dict[str, Counter[str]] = {}
    for i, key in enumerate(keys):
        row = rows.setdefault(key, Counter())
        row["cases"] += 1
        result = ads_results[i]
        row["errors"] += bool(result["error"] and not result["findings"])
        row["missed"] += not result["found"]
        row["false_alarms"] += result["false_alarm"]
        for tool, results in anchors.items():
            row[f"{tool}_missed"] += not results[i]["found"]
            row[f"{tool}_false_alarms"] += results[i]["false_alarm"]
    width = max(len(k) for k in rows)
    header = f"  {'':<{width}} {'cases':>5} {'missed':>6} {'f-alarm':>7} {'errors':>6}"
    for tool in anchors:
        header += f" {tool + ' missed':>11} {tool + ' f-alarm':>12}"
    print(f"by {title}, worst first (ADS missed + false-alarm files):")
    print(header)
    order = sorted(rows, key=lambda k: (-(rows[k]["missed"] + rows[k]["false_alarms"]), k))
    for key in order:
        row = rows[key]
        line = (
            f"  {key:<{width}} {row['cases']:>5} {row['missed']:>6} {row['false_alarms']:>7} "
            f"{row['errors']:>6}"
        )
        for tool in anchors:
            line += f" {row[f'{tool}_missed']:>11} {row[f'{tool}_false_alarms']:>12}"
        description = descriptions.get(key, "")
        print(line + (f"  {description[:72]}" if description else ""))


def print_good_functions(results: list[dict]) -> None:
    counts = Counter(f for r in results for f in r["good_functions"])
    if counts:
        shown = ", ".join(f"{name} {n}" for name, n in counts.most_common(12))
        print(f"false alarms by good function (files): {shown}")


def ads_source() -> str:
    """Where the ``ads`` package analysed comes from, with its commit and whether it is dirty."""
    return describe_checkout(Path(ads.__file__).resolve().parent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--juliet", type=Path, help="Juliet 1.3: checked-out dir or bare git dir")
    parser.add_argument("--rev", default="HEAD", help="revision of a git --juliet (HEAD)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--limit", type=int, help="only the first N cases (in path order)")
    parser.add_argument(
        "--variant", action="append", default=[], help="only this flow variant (NN; repeatable)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case and tool")
    parser.add_argument(
        "--with-support-c",
        action="store_true",
        help="also give ADS testcasesupport/io.c (printLine & co; issue 11's baseline)",
    )
    parser.add_argument("--anchors", action="store_true", help="also run gcc -fanalyzer (& clang)")
    parser.add_argument("--json", type=Path, help="write per-case results here")
    args = parser.parse_args()
    if args.juliet is None:
        print(NEEDS)
        return 2
    variants = {v.zfill(2) for v in args.variant}
    try:
        suite = Suite(args.juliet, args.rev)
        cases, single_files = load_cases(suite, variants, args.limit)
        support = load_support(suite, args.with_support_c)
    except MissingInput as missing:
        print(missing)
        return 2
    if not cases:
        print(f"no case chosen (variants {sorted(variants)}, limit {args.limit})")
        return 2
    descriptions = {}
    for case in cases:
        match = FLOW_VARIANT.search(case.source[:2000])
        if match and case.variant not in descriptions:
            descriptions[case.variant] = match[2].decode(errors="replace").strip()
    print(f"Juliet: {suite.describe}; {single_files} single-file C cases in {CASE_DIR}/", end="")
    print("" if single_files == EXPECTED_CASES else f" (WARNING: Juliet 1.3 has {EXPECTED_CASES})")
    print(f"ADS: {ads_source()}; given the case + {', '.join(sorted(support))}")

    started = time.perf_counter()
    ads_results = run_ads(cases, support, args.jobs, args.timeout)
    wall = time.perf_counter() - started
    summary = tally(ads_results)
    print_summary("ADS", summary, wall, args.jobs)
    for label, kinds in (("only", frozenset({"UNCERTAIN"})), ("too", None)):
        judged = [judge(result, kinds) for result in ads_results]
        print(
            f"  counting UNCERTAIN findings {label}: found {sum(f for f, _ in judged)}, "
            f"false-alarm files {sum(a for _, a in judged)}"
        )
    print_errors("ADS", cases, ads_results)
    parse = sum(1 for r in ads_results if r["parse_problems"])
    if parse:
        print(f"  {parse} case(s) with parse problems (see --json)")

    anchors: dict[str, list[dict]] = {}
    summaries = {"ads": summary}
    if args.anchors:
        with tempfile.TemporaryDirectory(prefix="ads-bench-juliet-") as scratch:
            tree = on_disk(suite, cases, Path(scratch))
            tools = ["gcc"] + (["clang"] if shutil.which("clang") else [])
            for tool in tools:
                started = time.perf_counter()
                anchors[tool] = run_anchor(tool, tree, cases, args.jobs, args.timeout)
                tool_wall = time.perf_counter() - started
                summaries[tool] = tally(anchors[tool], None)
                label = "gcc -fanalyzer" if tool == "gcc" else "clang --analyze"
                print_summary(f"anchor {label}", summaries[tool], tool_wall, args.jobs)
                print_errors(tool, cases, anchors[tool], shown=3)
            if "clang" not in tools:
                print("anchor clang --analyze: not run (clang is not installed)")
    print_breakdown(
        "flow variant (_NN)", [c.variant for c in cases], ads_results, anchors, descriptions
    )
    print_breakdown(
        "functional variant (what is allocated, and how)",
        [c.functional for c in cases],
        ads_results,
        anchors,
        {},
    )
    print_good_functions(ads_results)

    if args.json is not None:
        document = {
            "juliet": suite.describe,
            "ads": ads_source(),
            "support_given_to_ads": sorted(support),
            "summary": summaries,
            "variants": descriptions,
            "cases": [
                {
                    "path": case.path,
                    "variant": case.variant,
                    "functional_variant": case.functional,
                    "ads": ads_results[i],
                    **{tool: results[i] for tool, results in anchors.items()},
                }
                for i, case in enumerate(cases)
            ],
        }
        args.json.write_text(json.dumps(document, indent=1))
        print(f"per-case results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
