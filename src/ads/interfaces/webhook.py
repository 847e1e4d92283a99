"""``ads serve``: PagerDuty v3 webhooks in, one job per incident, worked hands-free.

The receiver checks ``X-PagerDuty-Signature`` (HMAC-SHA256 of the raw body; any of the
comma-separated ``v1=`` values may match any configured secret, compared in constant time, so
secrets can be rotated without downtime), rejects anything unsigned or forged with 401 before
reading it as JSON, limits the body size, stores an ``incident.triggered`` for a configured
service as a job in SQLite and answers 202 at once — well inside PagerDuty's 5 s. A worker
thread claims jobs one at a time and calls the handler (``workflow.respond``). A job is unique per
incident, so twenty deliveries make one job; a job interrupted by a crash keeps its row and is
claimed again when its lease expires.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import AdsError, TemporaryError
from ..workflow.webhooks import Job, Store, sign, verify_signature

__all__ = ["WebhookService", "sign", "verify_signature"]

log = logging.getLogger("ads.webhook")

MAX_BODY_BYTES = 512 * 1024
HANDLED_EVENTS = {"incident.triggered"}
KNOWN_EVENTS = {
    "incident.acknowledged", "incident.annotated", "incident.conference_bridge.updated",
    "incident.custom_field_values.updated", "incident.delegated", "incident.escalated",
    "incident.incident_type.changed", "incident.priority_updated", "incident.reassigned",
    "incident.reopened", "incident.resolved", "incident.responder.added",
    "incident.responder.replied", "incident.status_update_published", "incident.triggered",
    "incident.unacknowledged", "incident.workflow.completed", "incident.workflow.started",
    "service.created", "service.deleted", "service.updated", "pagey.ping",
}  # fmt: skip


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@dataclass
class WebhookService:
    """The Starlette app plus its job worker."""

    store: Store
    secrets: Sequence[str]
    handler: Callable[[Job], None]
    services: Callable[[str], bool]
    max_body: int = MAX_BODY_BYTES
    poll_interval: float = 0.2
    lease_seconds: float = 300.0
    on_idle: Callable[[], None] | None = None  # e.g. evaluate escalation rules between jobs
    _stop: threading.Event = field(default_factory=threading.Event)
    _worker: threading.Thread | None = None

    def app(self, extra_routes: Sequence[Route] = ()) -> Starlette:
        routes = [
            Route("/webhooks/pagerduty", self.receive, methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/jobs", self.list_jobs, methods=["GET"]),
            *extra_routes,
        ]
        return Starlette(routes=routes)

    # -- HTTP -------------------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return _error(413, f"body larger than {self.max_body} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body:
                return _error(413, f"body larger than {self.max_body} bytes")
        if not verify_signature(body, request.headers.get("x-pagerduty-signature"), self.secrets):
            log.warning(json.dumps({"event": "webhook.rejected", "reason": "bad signature"}))
            return _error(401, "missing or invalid X-PagerDuty-Signature")
        try:
            envelope = json.loads(body)
            event = envelope["event"]
            event_type = str(event["event_type"])
            data = event.get("data") or {}
        except (ValueError, KeyError, TypeError):
            return _error(400, "body is not a PagerDuty v3 webhook (no event.event_type)")
        if event_type not in KNOWN_EVENTS:
            return _error(400, f"unknown event type {event_type!r}")
        if event_type not in HANDLED_EVENTS:
            return JSONResponse({"status": "ignored", "reason": f"{event_type} needs no action"},
                                status_code=202)  # fmt: skip
        incident_id = data.get("id") if isinstance(data, dict) else None
        service = (data.get("service") or {}).get("summary") if isinstance(data, dict) else None
        if not isinstance(incident_id, str) or not incident_id:
            return _error(400, "incident.triggered without event.data.id")
        if not isinstance(service, str) or not self.services(service):
            log.info(json.dumps({"event": "webhook.ignored", "incident": incident_id,
                                 "reason": f"service {service!r} is not in ads.yaml"}))  # fmt: skip
            return JSONResponse(
                {"status": "ignored", "reason": f"service {service!r} is not in ads.yaml"},
                status_code=202,
            )
        created = await run_in_threadpool(self.store.enqueue_job, incident_id, event_type, envelope)
        log.info(json.dumps({"event": "webhook.accepted", "incident": incident_id,
                             "new_job": created}))  # fmt: skip
        return JSONResponse(
            {"status": "queued" if created else "duplicate", "incident": incident_id},
            status_code=202,
        )

    async def healthz(self, request: Request) -> Response:
        alive = self._worker is not None and self._worker.is_alive()
        return JSONResponse({"status": "ok", "worker": "running" if alive else "stopped"})

    async def list_jobs(self, request: Request) -> Response:
        jobs = [
            {"incident": j.incident_id, "status": j.status, "attempts": j.attempts,
             "deliveries": j.deliveries, "error": j.error}
            for j in await run_in_threadpool(self.store.jobs)
        ]  # fmt: skip
        return JSONResponse({"jobs": jobs})

    # -- worker -----------------------------------------------------------------------------------

    def work_one(self) -> bool:
        """Claim and work one job; ``False`` when there was none.

        While the handler runs, its lease is renewed every third of the lease, so a long job is
        not handed to another worker; a crashed worker stops renewing and the job is resumed.
        """
        job = self.store.claim_job(self.lease_seconds)
        if job is None:
            return False
        log.info(json.dumps({"event": "job.started", "incident": job.incident_id,
                             "attempt": job.attempts}))  # fmt: skip
        done = threading.Event()

        def keep_lease() -> None:
            while not done.wait(self.lease_seconds / 3):
                if not self.store.renew_lease(job, self.lease_seconds):
                    return

        renewer = threading.Thread(target=keep_lease, name="ads-lease", daemon=True)
        renewer.start()
        try:
            outcome = self._run_handler(job)
        finally:
            done.set()
            renewer.join()
        if not outcome:
            log.warning(json.dumps({"event": "job.lost", "incident": job.incident_id}))
        return True

    def _run_handler(self, job: Job) -> bool:
        """Run the handler and record what happened; ``False`` if the claim was lost meanwhile."""
        try:
            self.handler(job)
        except TemporaryError as exc:
            log.warning(json.dumps({"event": "job.retry", "incident": job.incident_id,
                                    "error": str(exc), "delay": exc.delay}))  # fmt: skip
            return self.store.retry_job(job, error=str(exc), delay=exc.delay)
        except AdsError as exc:
            log.error(json.dumps({"event": "job.failed", "incident": job.incident_id,
                                  "error": str(exc)}))  # fmt: skip
            return self.store.finish_job(job, error=str(exc))
        except Exception as exc:  # a bug in ADS: record it, keep the worker alive
            log.exception("job crashed")
            return self.store.finish_job(job, error=f"internal error: {type(exc).__name__}: {exc}")
        log.info(json.dumps({"event": "job.done", "incident": job.incident_id}))
        return self.store.finish_job(job)

    def start_worker(self) -> None:
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name="ads-worker", daemon=True)
        self._worker.start()

    def stop_worker(self, timeout: float | None = None) -> None:
        """Stop taking jobs and wait for the current one to finish (its builds, runs and
        worktrees are cleaned up by the job itself; a daemon thread cut off would leave them)."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.work_one():
                    continue
                if self.on_idle is not None:
                    self.on_idle()
            except Exception as exc:  # keep the worker alive: a dead worker loses every job
                log.error(
                    json.dumps({"event": "worker.error", "error": f"{type(exc).__name__}: {exc}"})
                )
            self._stop.wait(self.poll_interval)
