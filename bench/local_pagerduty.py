"""Figures for the local PagerDuty server on loopback (HTTPS, its own CA). (Named so as not to
shadow the ``pagerduty_local`` package when run as a script.)

  * events/s accepted by ``POST /v2/enqueue`` (trigger with a dedup_key, through PagerDuty's own
    ``EventsApiV2Client``), with 10k incidents stored: first the events that open incidents, then
    triggers repeating an open dedup_key (each adds an alert);
  * p50/p99 latency of ``GET /incidents/{id}`` (``RestApiV2Client``) over random incidents.

Run: ``.venv/bin/python bench/local_pagerduty.py [--incidents 10000] [--lookups 2000]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pagerduty
from pagerduty_local import LocalPagerDuty


def _events_client(server: LocalPagerDuty) -> pagerduty.EventsApiV2Client:
    return pagerduty.EventsApiV2Client(
        server.routing_key("ads-demo-service"),
        base_url=server.events_url,
        verify=server.ssl_context(),
    )


def _trigger(client: pagerduty.EventsApiV2Client, key: str) -> None:
    client.trigger(
        f"OOMKilled {key}",
        "bench",
        dedup_key=key,
        payload={"timestamp": "2026-01-01T00:00:00Z"},
        custom_details={"exit_code": 137, "memory_limit": "64Mi"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10000)
    parser.add_argument("--dedup-events", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    # no rate limit: the figures are the server's throughput, not PagerDuty's 960 requests a minute
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalPagerDuty(Path(tmp), rate_limit=10**9) as server,
    ):
        client = _events_client(server)
        started = time.perf_counter()
        for n in range(args.incidents):
            _trigger(client, f"oomkilled/bench/{n}")
        opened = time.perf_counter() - started
        print(
            f"new-incident triggers: {args.incidents} in {opened:.1f} s = "
            f"{args.incidents / opened:.0f} events/s (1 client)"
        )

        keys = [
            f"oomkilled/bench/{random.randrange(args.incidents)}" for _ in range(args.dedup_events)
        ]
        started = time.perf_counter()
        for key in keys:
            _trigger(client, key)
        took = time.perf_counter() - started
        print(
            f"dedup triggers (alert added): {len(keys)} in {took:.2f} s = "
            f"{len(keys) / took:.0f} events/s (1 client, {args.incidents} incidents stored)"
        )

        clients = [_events_client(server) for _ in range(args.threads)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(lambda i: _trigger(clients[i % args.threads], keys[i]), range(len(keys))))
        took = time.perf_counter() - started
        print(
            f"dedup triggers: {len(keys)} in {took:.2f} s = {len(keys) / took:.0f} events/s "
            f"({args.threads} clients in parallel)"
        )

        rest = pagerduty.RestApiV2Client(
            server.token, base_url=server.api_url, verify=server.ssl_context()
        )
        ids = [i["id"] for i in rest.iter_all("/incidents", params={"limit": 100})]
        assert len(ids) == args.incidents, len(ids)
        latencies = []
        for _ in range(args.lookups):
            incident_id = random.choice(ids)
            started = time.perf_counter()
            rest.rget(f"/incidents/{incident_id}")
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"GET /incidents/{{id}} with {len(ids)} incidents stored, {args.lookups} requests: "
            f"p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms"
        )


if __name__ == "__main__":
    main()
