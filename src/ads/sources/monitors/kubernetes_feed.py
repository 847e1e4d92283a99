"""List-then-watch for one Kubernetes collection, with resourceVersion bookkeeping.

This is the pattern the ``kubernetes`` client's ``Watch.stream`` documents for a watch that
misses nothing: list first and remember the list's ``resourceVersion``, watch from it, move it
with every event (BOOKMARKs included). ``410 Gone`` (the version has expired; an ERROR event or
an HTTP status) means list again; a dropped connection, a refused one or a stream that ends
means watch again from the last version seen, after a backoff for the failures. The
``timeout_seconds`` given to every watch makes the client hand all of these back to us instead
of retrying on its own, so one connection is one ``poll_once``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from ...errors import KubernetesError
from .kubernetes_pods import Json

__all__ = ["ListWatch", "WatchOutcome", "read_json", "refusal"]

GONE = 410


UNREACHABLE_NOTICES = (5, 20, 100, 500)  # failures in a row after which it is said


class WatchOutcome(StrEnum):
    """How one watch connection ended."""

    ENDED = "ended"  # server closed the stream (its timeout): watch again from the bookmark
    EXPIRED = "expired"  # 410 Gone: the bookmark is too old, list again
    DROPPED = "dropped"  # connection lost or refused: reconnect after a backoff
    STOPPED = "stopped"  # stop() was called


def refusal(exc: k8s.ApiException, what: str) -> KubernetesError:
    """One line for a refused request, with what to change."""
    hints = {
        401: "the kubeconfig's credentials were refused",
        403: "the service account needs get/list/watch on pods, events, replicasets, deployments",
        404: "check the namespace in ads.yaml",
    }
    return KubernetesError(
        f"Kubernetes API refused {what}: {exc.status} {exc.reason}", hint=hints.get(exc.status)
    )


def read_json(response: Any) -> Json:
    """The JSON body of a raw (``_preload_content=False``) response; the connection is freed."""
    try:
        data = json.loads(response.data)
    finally:
        response.release_conn()
    return data if isinstance(data, dict) else {}


class ListWatch:
    """Keep ``handle`` told of every object of one collection, across expiries and drops."""

    def __init__(
        self,
        what: str,
        list_func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        handle: Callable[[Json], object],
        *,
        notice: Callable[[str], None],
        watch_timeout: int = 300,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.what = what
        self.list_func = list_func
        self.args = args
        self.kwargs = kwargs
        self.handle = handle
        self.notice = notice
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self.resource_version: str | None = None
        self.failures = 0
        self._stopping = threading.Event()
        self._watch: k8s_watch.Watch | None = None

    def list(self) -> None:
        """List the collection, hand every item to ``handle``, and set the bookmark."""
        try:
            listing = read_json(
                self.list_func(
                    *self.args, **self.kwargs, _preload_content=False, _request_timeout=(10, 60)
                )
            )
        except k8s.ApiException as exc:
            raise refusal(exc, f"listing {self.what}") from None
        for item in listing.get("items") or []:
            if isinstance(item, dict):
                self.handle(item)
        version = (listing.get("metadata") or {}).get("resourceVersion")
        self.resource_version = str(version) if version else None

    def watch(self) -> WatchOutcome:
        """One watch connection from the bookmark until it ends, expires or drops."""
        watcher = k8s_watch.Watch()
        self._watch = watcher
        try:
            stream = watcher.stream(
                self.list_func,
                *self.args,
                **self.kwargs,
                resource_version=self.resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_timeout,
                _request_timeout=(10, self.watch_timeout + 30),
            )
            for event in stream:
                raw = event.get("raw_object") or {}
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self.handle(raw)
                version = (raw.get("metadata") or {}).get("resourceVersion")
                if version:
                    self.resource_version = str(version)  # only once handled: nothing skipped
                self.failures = 0
        except k8s.ApiException as exc:
            if exc.status == GONE:
                self.resource_version = None
                return WatchOutcome.EXPIRED
            if exc.status in (401, 403, 404):
                raise refusal(exc, f"watching {self.what}") from None
            return self._dropped(f"API server answered {exc.status} {exc.reason}")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if self._stopping.is_set():
                return WatchOutcome.STOPPED
            return self._dropped(type(exc).__name__)
        finally:
            self._watch = None
        return WatchOutcome.STOPPED if self._stopping.is_set() else WatchOutcome.ENDED

    def _dropped(self, why: str) -> WatchOutcome:
        if self.failures == 0:
            self.notice(
                f"lost the watch on {self.what} ({why}); reconnecting from resourceVersion "
                f"{self.resource_version or '(re-list)'}"
            )
        self.failures += 1
        if self.failures in UNREACHABLE_NOTICES:  # said again, plainly, while it lasts
            self.notice(
                f"the Kubernetes API server has not answered {self.failures} attempts in a row "
                f"to watch {self.what} ({why}): it cannot be reached; still retrying "
                f"every {self.backoff_delay():.0f} s (Ctrl-C to stop)"
            )
        return WatchOutcome.DROPPED

    def poll_once(self) -> WatchOutcome:
        """List if there is no bookmark, then watch one connection."""
        if self.resource_version is None:
            try:
                self.list()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                return self._dropped(type(exc).__name__)
        return self.watch()

    def backoff_delay(self) -> float:
        if self.failures == 0:
            return 0.0
        initial, ceiling = self.backoff
        return float(min(ceiling, initial * 2 ** (self.failures - 1)))

    def stop(self) -> None:
        """End the open connection now (it blocks on a socket read otherwise)."""
        self._stopping.set()
        watcher = self._watch
        if watcher is not None:
            watcher.stop()
