"""Benchmark: signed PagerDuty webhooks against ``ads serve``'s receiver on loopback.

Sends a bounded number of signed ``incident.triggered`` deliveries (many incidents, each
delivered several times) from concurrent clients to a real uvicorn server, then counts the jobs
stored. Prints requests/s, p50/p99 latency and jobs lost (must be 0). The job handler is left
idle: this measures the receiver, not the diagnosis.

Run: .venv/bin/python bench/webhook_load.py [--requests 3000] [--concurrency 32]
Goal (issue 7): ≥ 500 req/s, p99 < 100 ms, 0 jobs lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import httpx2

from ads.interfaces.http_server import BackgroundServer
from ads.interfaces.webhook import WebhookService, sign
from ads.sources.storage import Store

SECRET = "bench-secret"


def body(incident: int) -> bytes:
    return json.dumps(
        {
            "event": {
                "id": f"EV{incident}",
                "event_type": "incident.triggered",
                "resource_type": "incident",
                "occurred_at": "2026-11-25T04:00:00Z",
                "data": {
                    "id": f"PINC{incident:05d}",
                    "type": "incident",
                    "service": {"id": "PSVC", "summary": "ads-demo-service"},
                },
            }
        }
    ).encode()


async def run(url: str, total: int, concurrency: int, incidents: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n % incidents)

    async def client() -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            while not queue.empty():
                incident = queue.get_nowait()
                payload = body(incident)
                started = time.perf_counter()
                response = await http.post(
                    url,
                    content=payload,
                    headers={"x-pagerduty-signature": sign(payload, SECRET),
                             "content-type": "application/json"},
                )  # fmt: skip
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 202, response.text

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def load(url: str, total: int, concurrency: int, incidents: int) -> tuple[list[float], float]:
    started = time.perf_counter()
    latencies = asyncio.run(run(url, total, concurrency, incidents))
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--incidents", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "ads.db")
        service = WebhookService(
            store=store, secrets=[SECRET], handler=lambda job: None,
            services=lambda name: True,
        )  # fmt: skip
        with BackgroundServer(service.app()) as server:
            url = server.url + "/webhooks/pagerduty"
            # The load comes from another process, so it does not share the server's GIL.
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                latencies, elapsed = pool.apply(
                    load, (url, args.requests, args.concurrency, args.incidents)
                )
        jobs = store.jobs()
        expected = min(args.incidents, args.requests)
        deliveries = sum(j.deliveries for j in jobs)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"{len(latencies)} signed webhooks, {args.concurrency} concurrent clients: "
            f"{len(latencies) / elapsed:.0f} req/s, p50 {statistics.median(latencies) * 1000:.1f} "
            f"ms, p99 {p99 * 1000:.1f} ms"
        )
        print(
            f"jobs stored {len(jobs)} of {expected} incidents (lost: {expected - len(jobs)}), "
            f"deliveries recorded {deliveries} of {len(latencies)}"
        )


if __name__ == "__main__":
    main()
