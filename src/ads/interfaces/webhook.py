"""``ads serve``: PagerDuty v3 webhooks in, one job per incident, worked hands-free.

The receiver reads the body with its size limit (413 past it), checks ``X-PagerDuty-Signature``
(HMAC-SHA256 of the raw body; any of the comma-separated ``v1=`` values may match any configured
secret, compared in constant time, so secrets can be rotated without downtime) and rejects
anything unsigned or forged with 401 before reading it as JSON. A signed body is parsed with the
nesting bound of ``ads.json_input`` and validated against the accepted shape
(``webhook_events``) before any field is used: a body that is not a well-formed event is a 400
with the reason; an event type ADS does not act on is a 202, ignored. An ``incident.triggered``
for a configured service is stored as a job in SQLite and answered 202 at once — well inside
PagerDuty's 5 s.

``/jobs`` lists incident ids and error text: bound beyond loopback, it answers only requests
with ``Authorization: Bearer <ADS_MCP_TOKEN>`` (``admin_token``), and none without a token
configured. ``/healthz`` (worker alive or not) stays open for probes. A worker
thread claims jobs one at a time and calls the handler (``workflow.respond``). A job is unique per
incident, so twenty deliveries make one job; a job interrupted by a crash keeps its row and is
claimed again when its lease expires (at once, by ``housekeeping``, when its worker is gone).

A ``TemporaryError`` (PagerDuty, GitHub or the git remote out of reach, a rate limit) puts the
job back: it is retried after ``retry_seconds`` doubled per attempt, or after what the error
asks (``delay``: a ``Retry-After``, a rate limit's reset) when that is longer, capped at
``max_retry_seconds``; after ``MAX_ATTEMPTS`` attempts it fails with the last error. Any other
``AdsError`` fails the job at once. ``housekeeping`` (reclaiming what crashed runs left) runs
when the worker starts and after every job.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import AdsError, TemporaryError
from ..json_input import JsonInputError, parse_json
from ..workflow.webhooks import MAX_ATTEMPTS, Job, Store, sign, verify_signature
from .http_server import BodyTooLarge, RequestLimits, is_loopback, read_body
from .web_session import SESSION_COOKIE, valid_session
from .webhook_events import ShapeError, parse_envelope, parse_triggered

__all__ = ["MAX_REQUEST_BYTES", "WebhookService", "sign", "verify_signature"]

log = logging.getLogger("ads.webhook")

MAX_BODY_BYTES = 512 * 1024  # a webhook body; PagerDuty's own events are a few KB
MAX_REQUEST_BYTES = 1024 * 1024  # any request to ``ads serve`` (the MCP server's included)
HANDLED_EVENTS = {"incident.triggered"}  # every other well-formed event: 202, ignored


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def limits_middleware() -> Middleware:
    """Every request to ``ads serve`` at most ``MAX_REQUEST_BYTES``; clients that go away are
    one log line."""
    return Middleware(RequestLimits, max_body_bytes=MAX_REQUEST_BYTES)


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
    host: str = "127.0.0.1"  # where it is bound: beyond loopback, /jobs needs admin_token
    admin_token: str | None = None
    housekeeping: Callable[[], None] | None = None  # at start and after each job: reclaim
    retry_seconds: float = 30.0
    max_retry_seconds: float = 3600.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _worker: threading.Thread | None = None

    def app(self, extra_routes: Sequence[Route] = ()) -> Starlette:
        routes = [
            Route("/webhooks/pagerduty", self.receive, methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/jobs", self.list_jobs, methods=["GET"]),
            *extra_routes,
        ]
        return Starlette(routes=routes, middleware=[limits_middleware()])

    # -- HTTP -------------------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        """Size, signature, JSON (nesting bounded), shape — each a 4xx with its reason — then
        one job per ``incident.triggered`` of a service in ads.yaml."""
        try:
            body = await read_body(request, self.max_body)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        if not verify_signature(body, request.headers.get("x-pagerduty-signature"), self.secrets):
            log.warning(json.dumps({"event": "webhook.rejected", "reason": "bad signature"}))
            return _error(401, "missing or invalid X-PagerDuty-Signature")
        try:
            document = parse_json(body)
            event = parse_envelope(document).event
            incident = parse_triggered(event.data) if event.event_type in HANDLED_EVENTS else None
        except (JsonInputError, ShapeError) as exc:
            reason = f"not a PagerDuty v3 webhook: {exc}"
            log.warning(json.dumps({"event": "webhook.rejected", "reason": reason}))
            return _error(400, reason)
        if incident is None:
            return JSONResponse(
                {"status": "ignored", "reason": f"{event.event_type} needs no action"},
                status_code=202,
            )
        service = incident.service.summary
        if not self.services(service):
            log.info(json.dumps({"event": "webhook.ignored", "incident": incident.id,
                                 "reason": f"service {service!r} is not in ads.yaml"}))  # fmt: skip
            return JSONResponse(
                {"status": "ignored", "reason": f"service {service!r} is not in ads.yaml"},
                status_code=202,
            )
        created = await run_in_threadpool(
            self.store.enqueue_job, incident.id, event.event_type, document
        )
        log.info(json.dumps({"event": "webhook.accepted", "incident": incident.id,
                             "new_job": created}))  # fmt: skip
        return JSONResponse(
            {"status": "queued" if created else "duplicate", "incident": incident.id},
            status_code=202,
        )

    async def healthz(self, request: Request) -> Response:
        alive = self._worker is not None and self._worker.is_alive()
        return JSONResponse({"status": "ok", "worker": "running" if alive else "stopped"})

    def admin_refusal(self, request: Request) -> Response | None:
        """None if ``request`` may read admin pages; else the 401/403 that says what is needed."""
        if is_loopback(self.host):
            return None
        if not self.admin_token:
            return _error(403, f"{request.url.path} is served beyond loopback only with "
                               "ADS_MCP_TOKEN set, to requests bearing it")  # fmt: skip
        offered = request.headers.get("authorization", "").encode()
        if hmac.compare_digest(offered, f"Bearer {self.admin_token}".encode()):
            return None
        if valid_session(self.admin_token, request.cookies.get(SESSION_COOKIE)):
            return None  # a browser signed in at /login (web_session)
        return JSONResponse(
            {
                "error": "missing or wrong bearer token (Authorization: Bearer $ADS_MCP_TOKEN), "
                "or sign in at /login"
            },
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="ads"'},
        )

    async def list_jobs(self, request: Request) -> Response:
        refused = self.admin_refusal(request)
        if refused is not None:
            return refused
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
            if job.attempts >= MAX_ATTEMPTS:
                error = f"gave up after {job.attempts} attempts: {exc}"
                log.error(json.dumps({"event": "job.failed", "incident": job.incident_id,
                                      "error": error}))  # fmt: skip
                return self.store.finish_job(job, error=error)
            delay = self.retry_delay(job.attempts, exc.delay)
            log.warning(json.dumps({"event": "job.retry", "incident": job.incident_id,
                                    "error": str(exc), "delay": delay}))  # fmt: skip
            return self.store.retry_job(job, error=str(exc), delay=delay)
        except AdsError as exc:
            log.error(json.dumps({"event": "job.failed", "incident": job.incident_id,
                                  "error": str(exc)}))  # fmt: skip
            return self.store.finish_job(job, error=str(exc))
        except Exception as exc:  # a bug in ADS: record it, keep the worker alive
            log.exception("job crashed")
            return self.store.finish_job(job, error=f"internal error: {type(exc).__name__}: {exc}")
        log.info(json.dumps({"event": "job.done", "incident": job.incident_id}))
        return self.store.finish_job(job)

    def retry_delay(self, attempt: int, asked: float) -> float:
        """Seconds before attempt ``attempt + 1``: exponential backoff, or what was asked."""
        backoff = self.retry_seconds * 2 ** max(0, attempt - 1)
        return min(self.max_retry_seconds, max(backoff, asked))

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

    def _housekeeping(self) -> None:
        if self.housekeeping is None:
            return
        try:
            self.housekeeping()
        except Exception as exc:  # reclaiming is best effort: never stop the worker for it
            log.error(
                json.dumps({"event": "housekeeping.error", "error": f"{type(exc).__name__}: {exc}"})
            )

    def _run(self) -> None:
        self._housekeeping()
        while not self._stop.is_set():
            try:
                if self.work_one():
                    self._housekeeping()
                    continue
                if self.on_idle is not None:
                    self.on_idle()
            except KeyboardInterrupt as exc:  # ads.interrupts: Ctrl-C, SIGTERM, a deadline
                # The job keeps its claim and is resumed when its lease expires; nothing more
                # is done for it here, so nothing is posted after the interrupt.
                log.info(json.dumps({"event": "worker.interrupted", "reason": str(exc)}))
                return
            except Exception as exc:  # keep the worker alive: a dead worker loses every job
                log.error(
                    json.dumps({"event": "worker.error", "error": f"{type(exc).__name__}: {exc}"})
                )
            self._stop.wait(self.poll_interval)
