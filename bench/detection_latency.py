"""Detection latency: from the OOM kill to the incident (or its new alert) in local PagerDuty.

The demo worker runs under its 64Mi limit in a real memory cgroup with the local runtime, the
way ``ads demo`` runs it (``runtime_alerter`` → outbox → Events API v2 → the local PagerDuty
server), with a short CrashLoopBackOff (--backoff, default 0.1 s) so --kills kills (default 20)
take about 2 s each. A separate thread polls the server's REST API (``GET /incidents``, one
keep-alive HTTPS connection, every --poll seconds) and notes when the total alert count rises:
the first kill opens the incident, each later one adds an alert to it (same dedup_key).

For each kill: latency = first poll that sees its alert − ``OomEvent.killed_at`` (the moment
the runtime reaps the killed process). The runtime samples every 50 ms, so the kernel's SIGKILL
came at most that much earlier: the time from the last memory sample to ``killed_at`` bounds
it, and is printed. Also printed: how long the alerter's delivery took (Events API call
returned) and the mean poll round trip, which bounds the polling's own error.

Prints p50, p99 (nearest rank: with 20 kills, the largest) and max. Goal: p50 ≤ 0.5 s,
p99 ≤ 1 s.

Usage: .venv/bin/python bench/detection_latency.py [--kills 20] [--poll 0.005] [--backoff 0.1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from _common import SERVICE, local_pagerduty, median, percentile, verdict

from ads.config import load_settings
from ads.interfaces.demo_workspace import create_demo_workspace
from ads.models import MemorySample, OomEvent
from ads.sources.monitors import LocalRuntime, RunObserver, detect_limiter
from ads.workflow import Context, runtime_alerter
from pagerduty_local import LocalPagerDuty


class AlertPoller(threading.Thread):
    """Polls ``GET /incidents`` and records when the total alert count reaches each value."""

    def __init__(self, server: LocalPagerDuty, interval: float) -> None:
        super().__init__(daemon=True)
        url = urlparse(server.api_url)
        self.connection = http.client.HTTPSConnection(
            url.hostname or "127.0.0.1",
            url.port,
            context=server.ssl_context(),
        )
        self.headers = {
            "Authorization": f"Token token={server.token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        }
        self.interval = interval
        self.seen: dict[int, datetime] = {}  # alert count → when first seen
        self.polls = 0
        self.poll_seconds = 0.0
        self.stopping = threading.Event()

    def count(self) -> int:
        self.connection.request("GET", "/incidents?limit=100", headers=self.headers)
        response = self.connection.getresponse()
        body = json.loads(response.read())
        return sum(i["alert_counts"]["all"] for i in body.get("incidents", []))

    def run(self) -> None:
        known = 0
        while not self.stopping.is_set():
            started = time.perf_counter()
            total = self.count()
            now = datetime.now(UTC)
            self.polls += 1
            self.poll_seconds += time.perf_counter() - started
            for n in range(known + 1, total + 1):
                self.seen[n] = now
            known = max(known, total)
            self.stopping.wait(self.interval)


class Delivered(RunObserver):
    """After the alerter (observers run in order): when its Events API delivery returned, and
    the time since the last memory sample before each kill (the kernel killed after it)."""

    def __init__(self) -> None:
        self.at: list[datetime] = []
        self.last_sample: datetime | None = None
        self.since_sample: list[float] = []

    def sample(self, sample: MemorySample, limit: int) -> None:
        self.last_sample = datetime.now(UTC)

    def oom_killed(self, event: OomEvent) -> None:
        self.at.append(datetime.now(UTC))
        if self.last_sample is not None:
            self.since_sample.append((event.killed_at - self.last_sample).total_seconds())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between polls")
    parser.add_argument("--backoff", type=float, default=0.1, help="restart delay (s)")
    args = parser.parse_args()
    try:
        limiter = detect_limiter(allow_fallback=False)
    except Exception as exc:  # any reason means no real OOM kill here
        print(f"SKIPPED: no writable memory cgroup, so no real OOM kill ({exc})")
        return 0
    with tempfile.TemporaryDirectory(prefix="ads-bench-detection-") as tmp_name:
        tmp = Path(tmp_name)
        repo = create_demo_workspace(tmp / SERVICE)
        settings = load_settings(repo / "ads.yaml")
        settings.state_dir = tmp / "state"
        configured = settings.service(SERVICE)
        backoff = configured.backoff.model_copy(
            update={"initial_seconds": args.backoff, "max_seconds": args.backoff}
        )
        service = configured.model_copy(update={"backoff": backoff})
        with local_pagerduty(tmp / "pagerduty") as (server, client):
            ctx = Context(settings=settings, pagerduty_factory=lambda: client)
            alerter = runtime_alerter(
                ctx,
                service,
                repo,
                routing_key=server.routing_key(SERVICE),
            )
            delivered = Delivered()
            poller = AlertPoller(server, args.poll)
            poller.start()
            started = time.perf_counter()
            runtime = LocalRuntime(service, repo, limiter=limiter, observers=[alerter, delivered])
            result = runtime.run(max_kills=args.kills, duration=args.kills * 10.0)
            elapsed = time.perf_counter() - started
            deadline = time.monotonic() + 5
            while len(poller.seen) < len(result.events) and time.monotonic() < deadline:
                time.sleep(0.01)
            poller.stopping.set()
            poller.join(timeout=2)
    kills = result.events
    latencies = [
        (poller.seen[n].timestamp() - event.killed_at.timestamp())
        for n, event in enumerate(kills, start=1)
        if n in poller.seen
    ]
    sends = [(at - e.killed_at).total_seconds() for at, e in zip(delivered.at, kills, strict=False)]
    to_kill = [e.seconds_to_kill or 0.0 for e in kills]
    print(
        f"{len(kills)} OOM kills of the demo worker under {service.memory_limit} "
        f"({result.mode.value}) in {elapsed:.1f} s; median {median(to_kill):.2f} s from start to "
        f"kill; backoff {args.backoff:g} s"
    )
    print(
        f"polled GET /incidents {poller.polls} times every {args.poll * 1000:g} ms, "
        f"mean round trip {1000 * poller.poll_seconds / max(1, poller.polls):.1f} ms"
    )
    if len(latencies) < len(kills):
        print(f"MISSING: {len(kills) - len(latencies)} kill(s) never showed up in PagerDuty")
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"reap lag bound (last memory sample → killed_at): p50 "
        f"{1000 * percentile(delivered.since_sample, 50):.0f} ms, "
        f"max {1000 * max(delivered.since_sample, default=0):.0f} ms "
        "(the kernel's SIGKILL came between the two)"
    )
    print(
        f"alerter delivery (killed_at → Events API returned): p50 "
        f"{1000 * percentile(sends, 50):.0f} ms, max {1000 * max(sends, default=0):.0f} ms"
    )
    print(
        f"kill → incident/alert visible in the local server over {len(latencies)} kills: "
        f"p50 {1000 * p50:.0f} ms ({verdict(p50, 0.5)} ≤ 500 ms), "
        f"p99 {1000 * p99:.0f} ms ({verdict(p99, 1.0)} ≤ 1000 ms), "
        f"max {1000 * max(latencies, default=0):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
