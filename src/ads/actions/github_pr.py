"""Opening (or updating) the remediation pull request on GitHub, through PyGithub.

One PR per incident branch: when an open PR for the head branch exists, its title and body are
updated in place, so running ADS twice never opens a second PR. The on-call is then requested as
reviewer; if GitHub refuses that (the handle is not a collaborator, or is the token's own user),
the PR stays open and ``PullRequestResult.notes`` says why, because a PR without a reviewer is
still worth more to the on-call than no PR at all.

Every GitHub refusal that stops the PR becomes a one-line ``RemediationError`` naming what to fix
(the token's rights, the repository name, the branch). The token never appears in a message:
messages are built from GitHub's own ``message`` field, and scrubbed of the token regardless.

PyGithub's default pacing (a second between writes, as GitHub asks of integrations to stay clear
of secondary rate limits) is kept: a PR costs a few seconds, which is nothing next to a page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from github import Auth, Github, GithubException, GithubRetry, RateLimitExceededException
from github.PullRequest import PullRequest
from github.Repository import Repository

from ..errors import GitHubUnavailableError, RemediationError

__all__ = [
    "DEFAULT_BASE_URL",
    "PullRequestResult",
    "github_repo_from_remote",
    "open_or_update_pull_request",
    "retry_delay",
]

DEFAULT_BASE_URL = "https://api.github.com"
TOKEN_RIGHTS = (
    "give GITHUB_TOKEN 'Pull requests: read and write' and 'Contents: read' on the repository "
    "(fine-grained token) or the 'repo' scope (classic token)"
)

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_NAME = r"[A-Za-z0-9._-]+"
_PATH = re.compile(rf"^/?(?P<owner>{_OWNER})/(?P<name>{_NAME}?)(?:\.git)?/?$")
# scp-like ssh syntax that git accepts: [user@]host:owner/name(.git)
_SCP = re.compile(rf"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>{_OWNER}/{_NAME})$")

# A remediation must not sit in one call behind a rate limit or an outage: a few quick retries
# of 5xx (not sleeping on Retry-After; no waiting for a rate limit's reset inside the call), then
# GitHubUnavailableError whose delay is what GitHub asked for, and the webhook worker retries the
# job then, after the stages already done (checkpoints), doing other jobs meanwhile.
RETRY_TOTAL = 3
MAX_RATE_LIMIT_WAIT = 0.0

T = TypeVar("T")


@dataclass(frozen=True)
class PullRequestResult:
    """What happened on GitHub: the PR, whether it is new, and whether review was requested."""

    url: str
    number: int
    created: bool
    review_requested: bool
    notes: list[str] = field(default_factory=list)


def github_repo_from_remote(url: str, *, host: str = "github.com") -> str | None:
    """``"owner/name"`` for a GitHub remote URL (https, ssh, scp-like, git://); else ``None``.

    ``None`` (not an error) because a repository without a GitHub remote is normal: the PR is
    then written to a file instead. Credentials embedded in an https URL are ignored.
    """
    text = url.strip()
    scp = _SCP.match(text)
    if scp and "://" not in text:
        found_host, path = scp.group("host"), scp.group("path")
    else:
        parts = urlsplit(text)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            return None
        found_host, path = parts.hostname or "", parts.path
    if found_host.lower() not in (host, f"www.{host}"):
        return None
    match = _PATH.match(path)
    if match is None:
        return None
    name = match.group("name")
    if name.endswith(".git"):
        name = name[: -len(".git")]
    if not name or name in (".", ".."):
        return None
    return f"{match.group('owner')}/{name}"


#: GitHub asks integrations to wait a second between requests that create or change content
#: (its secondary rate limits); PyGithub spaces them so. A GitHub-shaped double need not.
SECONDS_BETWEEN_WRITES = 1.0


def open_or_update_pull_request(
    token: str,
    repo_full_name: str,
    *,
    head: str,
    base: str,
    title: str,
    body: str,
    reviewers: list[str],
    base_url: str = DEFAULT_BASE_URL,
    verify: bool | str = True,
    timeout: int = 15,
    seconds_between_writes: float = SECONDS_BETWEEN_WRITES,
) -> PullRequestResult:
    """Open the PR ``head`` → ``base`` (or update the open one), then request ``reviewers``.

    ``head`` is a branch of ``repo_full_name`` (or ``"owner:branch"`` for a fork). Raises
    ``RemediationError`` when no PR could be opened or updated; a failed review request is
    reported in ``notes`` instead, since the PR itself exists by then.
    """
    owner = _check_inputs(token, repo_full_name, head, base)
    head_label = head if ":" in head else f"{owner}:{head}"
    scrub = _Scrubber(token)
    retry = GithubRetry(
        total=RETRY_TOTAL,
        backoff_factor=0.5,
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT,
        secondary_rate_wait=MAX_RATE_LIMIT_WAIT,
        respect_retry_after_header=False,
        raise_on_status=False,  # the last answer (with its headers) reaches _github_call
    )
    client = Github(
        auth=Auth.Token(token),
        base_url=base_url,
        verify=verify,
        timeout=timeout,
        retry=retry,
        seconds_between_writes=seconds_between_writes,
    )
    try:
        repo: Repository = _github_call(
            lambda: client.get_repo(repo_full_name),
            f"read repository {repo_full_name}",
            repo_full_name,
            scrub,
        )
        existing = _github_call(
            lambda: _open_pull_for(repo, head_label, base),
            f"list pull requests of {repo_full_name}",
            repo_full_name,
            scrub,
        )
        if existing is not None:
            pull = existing
            _github_call(
                lambda: pull.edit(title=title, body=body),
                f"update pull request #{pull.number}",
                repo_full_name,
                scrub,
            )
        else:
            pull = _github_call(
                lambda: repo.create_pull(base=base, head=head, title=title, body=body),
                f"open a pull request from {head} into {base}",
                repo_full_name,
                scrub,
            )
        requested, notes = _request_review(pull, reviewers, scrub)
        return PullRequestResult(
            url=pull.html_url,
            number=pull.number,
            created=existing is None,
            review_requested=requested,
            notes=notes,
        )
    finally:
        client.close()


def _check_inputs(token: str, repo_full_name: str, head: str, base: str) -> str:
    """The repository owner, after refusing inputs that GitHub would reject less clearly."""
    if not token.strip():
        raise RemediationError("GITHUB_TOKEN is empty", hint=TOKEN_RIGHTS)
    owner, _, name = repo_full_name.partition("/")
    if not re.fullmatch(_OWNER, owner) or not re.fullmatch(_NAME, name):
        raise RemediationError(
            f"not a GitHub repository name: {repo_full_name!r}", hint="expected 'owner/name'"
        )
    branch = head.partition(":")[2] if ":" in head else head
    if not branch or branch == base:
        raise RemediationError(
            f"refusing to open a pull request from {head!r} into {base!r}",
            hint="the fix must be on its own ads/* branch",
        )
    return owner


def _open_pull_for(repo: Repository, head_label: str, base: str) -> PullRequest | None:
    """The open PR whose head is ``head_label`` ("owner:branch") into ``base``, if any."""
    for pull in repo.get_pulls(state="open", head=head_label, base=base):
        return pull
    return None


def _request_review(
    pull: PullRequest, reviewers: list[str], scrub: _Scrubber
) -> tuple[bool, list[str]]:
    """Ask the on-call to review; on refusal say so in a note and keep the PR."""
    author = (pull.user.login if pull.user else "").lower()
    wanted: list[str] = []
    notes: list[str] = []
    for handle in (r.strip().lstrip("@") for r in reviewers):
        if not handle or handle.lower() in (w.lower() for w in wanted):
            continue
        if handle.lower() == author:
            notes.append(
                f"review not requested from @{handle}: GitHub does not let the PR's author "
                "(the GITHUB_TOKEN user) review their own pull request"
            )
            continue
        wanted.append(handle)
    if not wanted:
        if not reviewers:
            notes.append("no on-call GitHub handle known: no reviewer requested")
        return False, notes
    try:
        pull.create_review_request(reviewers=wanted)
    except GithubException as exc:
        handles = ", ".join(f"@{h}" for h in wanted)
        notes.append(
            scrub(
                f"review request for {handles} failed "
                f"(GitHub {exc.status}: {_github_message(exc)}); the pull request is open, "
                "ask the on-call to review it or add them as a collaborator"
            )
        )
        return False, notes
    return True, notes


class _Scrubber:
    """Removes the token from text, whatever GitHub or a library echoed back."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, text: str) -> str:
        one_line = " ".join(text.split())
        return one_line.replace(self._token, "***") if self._token else one_line


def _github_call(call: Callable[[], T], action: str, repo: str, scrub: _Scrubber) -> T:
    """Run one PyGithub call. Refusals become RemediationError; an outage, a 5xx or a rate limit
    becomes GitHubUnavailableError with the delay GitHub asked for."""
    try:
        return call()
    except GithubException as exc:
        unavailable = _unavailable(exc, action, repo, scrub)
        if unavailable is not None:
            raise unavailable from None
        raise _remediation_error(exc, action, repo, scrub) from None
    except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
        raise GitHubUnavailableError(
            scrub(f"could not reach GitHub to {action}: {type(exc).__name__}"),
            delay=0.0,
            hint="check the network and the GitHub API URL",
        ) from None


def _unavailable(
    exc: GithubException, action: str, repo: str, scrub: _Scrubber
) -> GitHubUnavailableError | None:
    """GitHubUnavailableError for a rate limit (403/429 saying so) or a 5xx; else ``None``."""
    headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
    limited = (
        isinstance(exc, RateLimitExceededException)
        or exc.status == 429
        or (
            exc.status == 403
            and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0")
        )
    )
    if not limited and not 500 <= exc.status < 600:
        return None
    delay = retry_delay(headers)
    said = _github_message(exc)
    if limited:
        message = f"GitHub rate limit reached trying to {action} ({said})"
    else:
        message = f"GitHub answered {exc.status} trying to {action} on {repo} ({said})"
    return GitHubUnavailableError(
        scrub(message), delay=delay, hint=f"ADS retries in {delay:.0f} s" if delay else None
    )


def retry_delay(headers: dict[str, str], *, now: float | None = None) -> float:
    """Seconds GitHub asked to wait: ``Retry-After`` (seconds), else until ``X-RateLimit-Reset``
    (epoch seconds) when the limit is spent; 0 when it said neither."""
    after = headers.get("retry-after", "").strip()
    if after.isdigit():
        return float(after)
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset.isdigit() and headers.get("x-ratelimit-remaining", "0").strip() == "0":
        return max(0.0, float(reset) - (time.time() if now is None else now))
    return 0.0


def _remediation_error(
    exc: GithubException, action: str, repo: str, scrub: _Scrubber
) -> RemediationError:
    """An actionable one-line error for GitHub's answer; the 'why' comes from GitHub's message."""
    said = _github_message(exc)
    if exc.status == 401:
        message = f"GitHub rejected GITHUB_TOKEN (401 {said}) trying to {action}"
        hint = f"set GITHUB_TOKEN to a valid, unexpired token; {TOKEN_RIGHTS}"
    elif isinstance(exc, RateLimitExceededException):
        message = f"GitHub rate limit reached trying to {action} ({said})"
        hint = "wait for the limit to reset, then run ADS again"
    elif exc.status == 403:
        message = f"GITHUB_TOKEN lacks the rights to {action} on {repo} (403 {said})"
        hint = TOKEN_RIGHTS
    elif exc.status == 404:
        message = f"GitHub repository {repo} not found, or GITHUB_TOKEN cannot see it ({said})"
        hint = "check the repository's GitHub remote and that the token has access to it"
    elif exc.status == 422:
        message = f"GitHub refused to {action} on {repo} (422 {said})"
        hint = "push the fix branch to GitHub first and check that it differs from the base"
    else:
        message = f"GitHub answered {exc.status} trying to {action} on {repo} ({said})"
        hint = None
    return RemediationError(scrub(message), hint=hint)


def _github_message(exc: GithubException) -> str:
    """GitHub's own explanation: ``message`` plus the ``errors`` details of a 422."""
    data: Any = exc.data
    if not isinstance(data, dict):
        return exc.message or "no details"
    parts = [str(data.get("message") or "no details")]
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            detail = error.get("message") or " ".join(
                str(error[k]) for k in ("field", "code") if error.get(k)
            )
            if detail:
                parts.append(str(detail))
        elif error:
            parts.append(str(error))
    return ": ".join(parts)
