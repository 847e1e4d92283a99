"""How fast ``ads`` starts: the median wall time of ``ads --help`` against ``python -c pass``.

Both run as processes of the same interpreter (the project's virtualenv), alternating, so a
busy moment of the machine hits both alike. Printed: each median, the difference (what ADS adds
to Python's own start-up) and the ratio; the goal is a median of ``ads --help`` ≤ 0.2 s. Also
``ads analyze --help`` (a command's own help, which must not load its dependencies either).

Usage: .venv/bin/python bench/cli_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GOAL_SECONDS = 0.2


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    ads = str(BIN / "ads")
    if not Path(ads).exists():
        sys.exit(f"error: {ads} not found; run `make test` or `make demo` first to build .venv")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "ads --help": [ads, "--help"],
        "ads analyze --help": [ads, "analyze", "--help"],
    }
    for command in commands.values():  # warm the file cache once
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(wall(command))
    base = statistics.median(times["python -c pass"])
    print(f"median of {args.runs} runs each (alternating):")
    for name, values in times.items():
        median = statistics.median(values)
        extra = f"  (+{median - base:.3f} s over Python, ×{median / base:.1f})" if base else ""
        print(f"  {name:<20} {median:.3f} s{extra if name != 'python -c pass' else ''}")
    help_median = statistics.median(times["ads --help"])
    verdict = "meets" if help_median <= GOAL_SECONDS else "MISSES"
    print(f"goal: ads --help ≤ {GOAL_SECONDS} s → {verdict} ({help_median:.3f} s)")


if __name__ == "__main__":
    main()
