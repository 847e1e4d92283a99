"""When a run-time probe takes its next snapshot: as memory climbs, and now and then.

Both probes (LeakSanitizer for native code, tracemalloc for Python) snapshot when the charged
memory first crosses 30, 50, 70 and 85 % of the limit, so there are several snapshots before any
OOM kill however fast the growth, and at least every ``interval`` seconds for slow growth;
``first_after`` seconds of warm-up may come before the first.
"""

from __future__ import annotations

import time

__all__ = ["SnapshotSchedule"]


class SnapshotSchedule:
    THRESHOLDS = (0.3, 0.5, 0.7, 0.85)

    def __init__(self, interval: float = 1.0, first_after: float = 0.0) -> None:
        self.interval = interval
        self.first_after = first_after
        self._crossed = 0
        self._last = self._started = 0.0

    def restart(self) -> None:
        """A new process of the run: thresholds count again from zero."""
        self._crossed = 0
        self._last = self._started = time.monotonic()

    def due(self, held: int, limit: int) -> bool:
        """Whether a sample of ``held`` bytes under ``limit`` calls for a snapshot now."""
        now = time.monotonic()
        if now - self._started < self.first_after:
            return False
        crossed = sum(1 for t in self.THRESHOLDS if held >= t * limit)
        if crossed > self._crossed or now - self._last >= self.interval:
            self._crossed = max(crossed, self._crossed)
            return True
        return False

    def taken(self) -> None:
        self._last = time.monotonic()
