"""Benchmark: 10^5 correctly signed junk webhooks (and Events API bodies): no 5xx, no job.

Issue 12 point 6 found 82 HTTP 500s in 4,000 fuzzed, correctly signed bodies. This sends
``--bodies`` of them (default 100,000) to ``ads serve``'s webhook app — the real Starlette app
with its middleware and SQLite job store, called in-process through ASGI for throughput — and
as many to the local PagerDuty's ``POST /v2/enqueue``. Each body is a good document with one
part replaced by random JSON or a wrong type, removed, or nested up to 100,000 deep; or random
JSON; or random bytes (seeded: the same bodies every run). Prints the status codes, the 5xx
count and the jobs (incidents) made for bodies that are not well-formed — both must be 0 — and
bodies/s.

Run: .venv/bin/python bench/fuzz_webhooks.py [--bodies 100000] [--seed 12] [--enqueue 100000]
Goal (issue 12): 0 5xx, 0 jobs for invalid bodies, over >= 10^5 bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ads.interfaces.webhook import WebhookService, sign
from ads.sources.storage import Store
from pagerduty_local import create_app

SECRET = "bench-secret"
SERVICE = "ads-demo-service"
DEPTHS = [2, 30, 63, 64, 65, 200, 999, 1000, 5000, 100_000]
WEBHOOK: dict[str, Any] = {
    "event": {
        "id": "01EVENT",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-11-25T04:00:00Z",
        "agent": None,
        "data": {
            "id": "PINC001",
            "type": "incident",
            "number": 1,
            "title": "OOMKilled",
            "service": {"id": "PSVC1", "summary": SERVICE, "type": "service_reference"},
        },
    }
}


# -- junk ---------------------------------------------------------------------------------------


def random_json(rng: random.Random, budget: int = 3) -> Any:
    roll = rng.random()
    if budget <= 0 or roll < 0.55:
        return rng.choice(
            [
                None, True, False, 0, -1, 2**64, rng.randint(-(10**6), 10**6), rng.random() * 1e9,
                "", "ads-demo-service", "incident.triggered", "PINC" + str(rng.randint(0, 99)),
                "x" * rng.randint(0, 2000), "ünïcödé \u0000 \ud7ff", "../../etc/passwd",
            ]
        )  # fmt: skip
    if roll < 0.8:
        return [random_json(rng, budget - 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(["id", "summary", "service", "data", "event", "k", ""]): random_json(
            rng, budget - 1
        )
        for _ in range(rng.randint(0, 4))
    }


def paths_of(document: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            found.append((*prefix, key))
            found.extend(paths_of(value, (*prefix, key)))
    return found


def changed(document: Any, path: tuple[str, ...], value: Any, delete: bool = False) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied


def junk(rng: random.Random, valid: Any) -> tuple[Any, bytes]:
    """``(document or None, body)``: ``valid`` itself or a mutation of it, or noise."""
    kind = rng.choices(
        ["valid", "replace", "wrong type", "delete", "deep", "any json", "bytes"],
        weights=[1, 4, 4, 2, 3, 1, 1],
    )[0]
    if kind == "bytes":
        return None, rng.randbytes(rng.randint(0, 300))
    if kind == "any json":
        document = random_json(rng)
        return document, json.dumps(document).encode()
    if kind == "valid":
        return valid, json.dumps(valid).encode()
    path = rng.choice(paths_of(valid))
    if kind == "delete":
        document = changed(valid, path, None, delete=True)
    elif kind == "wrong type":
        document = changed(valid, path, rng.choice(["text", ["a", 1], 7, 1.5, True, None, {}]))
    elif kind == "replace":
        document = changed(valid, path, random_json(rng))
    else:
        depth = rng.choice(DEPTHS)
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        text = json.dumps(changed(valid, path, "__deep__"))
        body = text.replace('"__deep__"', opener * depth + "1" + closer * depth).encode()
        return (json.loads(body) if depth < 500 else None), body
    return document, json.dumps(document).encode()


# -- oracles: may this body make a job / an incident? -------------------------------------------


def triggered_incident(document: Any) -> str | None:
    """The incident id if ``document`` is an ``incident.triggered`` of the service with an id
    that could be PagerDuty's: the only bodies that may make a job."""
    try:
        event = document["event"]
        data = event["data"]
        if event["event_type"] != "incident.triggered" or data["service"]["summary"] != SERVICE:
            return None
        incident_id = data["id"]
    except (KeyError, TypeError, IndexError):
        return None
    ok = isinstance(incident_id, str) and re.fullmatch(r"[A-Za-z0-9]{1,64}", incident_id)
    return incident_id if ok else None


def acceptable_event(document: Any, routing_key: str) -> bool:
    if not isinstance(document, dict) or document.get("routing_key") != routing_key:
        return False
    action = document.get("event_action")
    if action != "trigger":
        return action in ("acknowledge", "resolve") and isinstance(document.get("dedup_key"), str)
    payload = document.get("payload")
    return (
        isinstance(payload, dict)
        and all(
            isinstance(payload.get(k), str) and payload[k].strip() for k in ("summary", "source")
        )
        and payload.get("severity") in ("critical", "error", "warning", "info")
    )


# -- in-process ASGI ----------------------------------------------------------------------------


async def post(
    app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """POST ``body`` to ``app`` as uvicorn would hand it over; the response's status and body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080), "state": {},
        "headers": [(b"content-length", str(len(body)).encode()), *headers],
    }  # fmt: skip
    sent = False
    status = 0
    answer = b""

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # the client is still there, and has sent everything
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, answer
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            answer += message.get("body", b"")

    await app(scope, receive, send)
    return status, answer


def run(
    name: str,
    total: int,
    seed: int,
    valid: Any,
    send: Callable[[bytes], Any],
    may_make: Callable[[Any], bool],
    made: Callable[[int, bytes], bool],
) -> list[Any]:
    """Send ``total`` junk bodies; print the figures; the documents that made something."""
    rng = random.Random(seed)
    statuses: Counter[int] = Counter()
    invalid_made = 0
    makers: list[Any] = []

    async def go() -> None:
        nonlocal invalid_made
        for _ in range(total):
            document, body = junk(rng, valid)
            status, answer = await send(body)
            statuses[status] += 1
            if made(status, answer):
                makers.append(document)
                if not (document is not None and may_make(document)):
                    invalid_made += 1

    started = time.perf_counter()
    asyncio.run(go())
    elapsed = time.perf_counter() - started
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
    fives = sum(count for code, count in statuses.items() if code >= 500)
    print(
        f"{name}: {total} bodies (seed {seed}) in {elapsed:.1f} s, {total / elapsed:.0f} bodies/s"
    )
    print(f"  status codes: {codes}")
    print(f"  5xx: {fives}; made for invalid bodies: {invalid_made}")
    return makers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bodies", type=int, default=100_000, help="webhook bodies")
    parser.add_argument("--enqueue", type=int, default=100_000, help="Events API bodies")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one line per rejected body would be the bench's output
    # The stores live in memory-backed /dev/shm where there is one: this measures the receiver's
    # checks, not the disk's fsync of each queued job (bench/webhook_load.py measures that path).
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        store = Store(Path(tmp) / "ads.db")
        service = WebhookService(
            store=store, secrets=[SECRET], handler=lambda job: None,
            services=lambda name: name == SERVICE,
        )  # fmt: skip
        app = service.app()

        def deliver(body: bytes) -> Any:
            signature = sign(body, SECRET).encode()
            return post(app, "/webhooks/pagerduty", body, [(b"x-pagerduty-signature", signature)])

        def queued(status: int, answer: bytes) -> bool:  # a duplicate delivery counts too
            return status == 202 and json.loads(answer)["status"] in ("queued", "duplicate")

        makers = run(
            "webhooks (ads serve)", args.bodies, args.seed, WEBHOOK, deliver,
            lambda d: triggered_incident(d) is not None, queued,
        )  # fmt: skip
        allowed = {triggered_incident(d) for d in makers}
        stray = [j.incident_id for j in store.jobs() if j.incident_id not in allowed]
        print(
            f"  jobs stored: {len(store.jobs())}, of an incident no valid body named: {len(stray)}"
        )

        pagerduty = create_app(Path(tmp) / "pd.db")
        account = pagerduty.state.pd.account
        integration = account.store.list_objects("routing_key")[0]
        routing_key = integration["id"]
        event = {
            "routing_key": routing_key, "event_action": "trigger", "dedup_key": "fuzz",
            "payload": {"summary": "OOMKilled", "source": "worker", "severity": "critical",
                        "custom_details": {"memory_limit": "64Mi", "exit_code": 137}},
        }  # fmt: skip

        def enqueue(body: bytes) -> Any:
            return post(pagerduty, "/v2/enqueue", body, [])

        run(
            "events (local PagerDuty /v2/enqueue)", args.enqueue, args.seed, event, enqueue,
            lambda d: acceptable_event(d, routing_key), lambda status, answer: status == 202,
        )  # fmt: skip


if __name__ == "__main__":
    main()
