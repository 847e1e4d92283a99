"""Benchmark: how fast the local runtime reproduces an OOM kill, and what sampling costs.

Prints:
- time from start to the first OOM kill of the demo worker under 64Mi (over N runs);
- sampling overhead: the worker alone (its own loop timing, in a cgroup with a limit high enough
  never to kill) vs under ``LocalRuntime`` sampling every 50 ms, as a ratio of iterations done
  in the same wall time.

Run: .venv/bin/python bench/oom_reproduction.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ads.config import ServiceConfig
from ads.sources.monitors import LocalRuntime, RunObserver, detect_limiter

DEMO = Path(__file__).resolve().parents[1] / "examples" / "ads-demo-service"


class CountIterations(RunObserver):
    def __init__(self) -> None:
        self.lines = 0

    def output(self, line: str) -> None:
        if "iteration" in line:
            self.lines += 1


def service(limit: str, run: str = "./build/worker") -> ServiceConfig:
    return ServiceConfig.model_validate(
        {
            "name": "bench-worker",
            "build": "make build",
            "run": run,
            "memory_limit": limit,
            "backoff": {"initial_seconds": 0},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--window", type=float, default=3.0, help="seconds per overhead run")
    args = parser.parse_args()
    limiter = detect_limiter()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "svc"
        shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("build"))
        subprocess.run(["make", "-s", "build"], cwd=repo, check=True)

        to_kill = []
        for _ in range(args.runs):
            result = LocalRuntime(service("64Mi"), repo, limiter=limiter).run(
                max_kills=1, duration=30, build=False
            )
            event = result.events[0]
            assert event.seconds_to_kill is not None
            to_kill.append(event.seconds_to_kill)
        print(f"mode: {limiter.mode.value}")
        print(
            f"start → first OOM kill (64Mi, {args.runs} runs): "
            f"median {statistics.median(to_kill):.3f} s, min {min(to_kill):.3f} s, "
            f"max {max(to_kill):.3f} s"
        )

        # Overhead: the worker alone (no cgroup, no sampling) vs under the runtime sampling
        # every 50 ms, in the same window; iterations done and the runtime's own CPU time.
        alone = subprocess.Popen(["./build/worker"], cwd=repo, stdout=subprocess.PIPE, text=True)
        time.sleep(args.window)
        alone.kill()
        out, _ = alone.communicate()
        alone_iterations = out.count("iteration")
        sampled = CountIterations()
        cpu_start = time.process_time()
        result = LocalRuntime(
            service("4Gi"), repo, limiter=limiter, observers=[sampled], sample_interval=0.05
        ).run(duration=args.window, build=False)
        cpu = time.process_time() - cpu_start
        print(
            f"sampling overhead over {args.window:.0f} s: worker alone {alone_iterations} "
            f"iterations, under ads run {sampled.lines} (ratio "
            f"{sampled.lines / max(1, alone_iterations):.2f}); {len(result.samples)} samples "
            f"cost the runtime {cpu / result.duration * 100:.1f} % of one core"
        )


if __name__ == "__main__":
    main()
