"""What ``ads serve``'s webhook receiver uses below the workflow, named in one place.

The receiver (``interfaces.webhook``) is transport only: it checks PagerDuty's signature
(``verify_signature``; ``sign`` plays PagerDuty in tests), queues one ``Job`` per incident in
ADS's ``Store`` (the one ``Context.store`` opens) and hands claimed jobs to ``respond``. These are
re-exported from ``sources`` so that the interfaces import nothing below ``ads.workflow``.
"""

from __future__ import annotations

from ..sources.pagerduty.signatures import sign, verify_signature
from ..sources.storage import MAX_ATTEMPTS, Job, Store

__all__ = ["MAX_ATTEMPTS", "Job", "Store", "sign", "verify_signature"]
