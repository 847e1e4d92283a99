"""PagerDuty's webhook v3 signatures, ADS's side: ``verify_signature`` for the receiver, and
``sign`` to play PagerDuty in tests and benches.

``X-PagerDuty-Signature`` holds one or more comma-separated ``v1=<hex HMAC-SHA256 of the raw
body>`` values, one per signing secret, so a secret can be rotated without downtime. Comparisons
are constant-time. The local PagerDuty server signs with its own copy of ``sign`` (it shares no
code with ADS); a test checks that the two agree.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["sign", "verify_signature"]


def sign(body: bytes, secret: str) -> str:
    """The ``v1=`` signature PagerDuty sends for ``body`` with ``secret``."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """True when any ``v1=`` value in ``header`` is the HMAC of ``body`` under any secret."""
    if not header or not secrets:
        return False
    offered = [p.strip() for p in header.split(",") if p.strip().startswith("v1=")]
    expected = [sign(body, secret) for secret in secrets]
    matched = False
    for candidate in offered:
        for good in expected:
            # compare_digest is constant-time; keep looping so timing does not say which matched
            matched |= hmac.compare_digest(candidate.encode(), good.encode())
    return matched
