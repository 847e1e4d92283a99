"""The one exception tree of ADS.

Every error a user can cause or meet is an ``AdsError``: it carries a one-line ``message`` that
names the problem and, where there is one, a ``hint`` saying what to do. The CLI, the MCP server
and the webhook worker print ``str(error)`` and exit non-zero; they never show a traceback for
these. Whether to retry is told by the branch, as in kopf: ``PermanentError`` (retrying the same
thing will fail the same way) or ``TemporaryError`` (try again after ``delay`` seconds).

    AdsError
    ├── PermanentError                   do not retry: fix the input first
    │   ├── ConfigError                  ads.yaml or environment is wrong
    │   │   └── UnknownServiceError      service not in ads.yaml (lists the ones that are)
    │   ├── RepositoryError              repo missing, not git, unreadable
    │   ├── BuildError                   the service's build command failed
    │   ├── RuntimeUnavailableError      no memory cgroup and no fallback possible
    │   ├── PagerDutyError               PagerDuty answered with an error
    │   │   ├── PagerDutyAuthError       401/403: wrong token or host
    │   │   └── PagerDutyNotFoundError   404: no such incident/service/...
    │   ├── AnalysisError                nothing analysable (no source files, no OOM signal)
    │   ├── RemediationError             patch does not apply, push rejected, PR refused
    │   ├── KubernetesError              the API server refused (401/403/404) or bad kubeconfig
    │   └── NotImplementedYetError       a documented capability that is not built yet
    └── TemporaryError(delay=)           retry later (``delay``: the least wait the far end asked)
        ├── PagerDutyUnavailableError    PagerDuty unreachable, 429 or 5xx after retries
        ├── GitHubUnavailableError       GitHub unreachable, rate-limited or 5xx
        └── RemoteUnavailableError       the git remote cannot be reached (network, 5xx, timeout)
"""

from __future__ import annotations

__all__ = [
    "AdsError",
    "AnalysisError",
    "BuildError",
    "ConfigError",
    "GitHubUnavailableError",
    "KubernetesError",
    "NotImplementedYetError",
    "PagerDutyAuthError",
    "PagerDutyError",
    "PagerDutyNotFoundError",
    "PagerDutyUnavailableError",
    "PermanentError",
    "RemediationError",
    "RemoteUnavailableError",
    "RepositoryError",
    "RuntimeUnavailableError",
    "TemporaryError",
    "UnknownServiceError",
    "excerpt",
]


class AdsError(Exception):
    """Base of every ADS error: a one-line message and an optional hint."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class PermanentError(AdsError):
    """Retrying will fail the same way; the input or the set-up must change first."""


class TemporaryError(AdsError):
    """Something outside ADS is not ready; retrying after ``delay`` seconds may succeed."""

    def __init__(self, message: str, *, delay: float = 5.0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.delay = delay


class ConfigError(PermanentError):
    """``ads.yaml`` or an environment variable is missing or wrong."""


class UnknownServiceError(ConfigError):
    """A service name that ``ads.yaml`` does not define."""

    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown service {excerpt(name)}; services in ads.yaml: {listed}")
        self.name = name
        self.known = known


class RepositoryError(PermanentError):
    """The service's repository is missing, is not a git repository, or cannot be read."""


class BuildError(PermanentError):
    """The service's build command is missing or failed."""


class RuntimeUnavailableError(PermanentError):
    """The local runtime cannot confine a process (no cgroup, no rlimit)."""


class PagerDutyError(PermanentError):
    """PagerDuty (or the local server) refused a request."""


class PagerDutyAuthError(PagerDutyError):
    """401/403 from PagerDuty: the token is wrong, lacks rights, or is for another region."""


class PagerDutyNotFoundError(PagerDutyError):
    """404 from PagerDuty: the incident, service or user does not exist."""


class PagerDutyUnavailableError(TemporaryError):
    """PagerDuty could not be reached, or kept answering 429/5xx."""


class AnalysisError(PermanentError):
    """There is nothing the diagnosis can work on (no sources, nothing parsed)."""


class RemediationError(PermanentError):
    """A fix could not be applied, pushed or proposed."""


class NotImplementedYetError(PermanentError):
    """A capability described in DESIGN.md that this version does not have yet."""


class KubernetesError(PermanentError):
    """The Kubernetes API refused a request (401/403/404), or the kubeconfig cannot be used."""


def excerpt(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, saying how long the whole was: what a
    message echoes of user input, so a 1 MB argument does not come back whole."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str | bytes) else ""
    return f"{text[:limit]}…{size}"


class GitHubUnavailableError(TemporaryError):
    """GitHub could not be reached, answered 5xx, or rate-limited the token.

    ``delay`` honours what GitHub said: ``Retry-After`` (secondary limits, 5xx) or the time until
    ``X-RateLimit-Reset`` (primary limit); 0 when it said nothing (the worker then backs off).
    """


class RemoteUnavailableError(TemporaryError):
    """``git push`` could not reach the remote (DNS, refused, timed out, a 5xx from the host)."""
