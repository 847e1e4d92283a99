"""The GitHub pull request, through PyGithub, against a GitHub double on loopback.

No GitHub is reachable here: ``github_double`` (tests/fixtures/github.py) is a real HTTP server
on 127.0.0.1 that replays GitHub's recorded REST response shapes and keeps the PRs it opened,
so these tests exercise PyGithub's real requests and our handling of GitHub's real answers.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest

from ads.actions.github_pr import (
    PullRequestResult,
    github_repo_from_remote,
    open_or_update_pull_request,
)
from ads.errors import GitHubUnavailableError, RemediationError
from tests.fixtures.github import GitHubDouble

WRITE_TOKEN = "ghp_writeTOKENforADS0000000000000000"
READ_TOKEN = "ghp_readTOKENforADS"
BRANCH = "ads/incident-42-fix-memory-leak"
TITLE = "[Incident #42] Fix memory leak in worker service"
BODY = (
    "Description:\n"
    "- Incident: https://acme.pagerduty.com/incidents/Q1ABC\n"
    "- Severity: SEV-1 (critical)\n"
    "- Root Cause: Memory leak in controller() function\n"
    "- Fix: Added free(buffer) to prevent memory leak\n"
    "- Affected Service: ads-demo-service\n"
    "- On-Call: @alice-oncall\n"
)


def open_pr(
    github: GitHubDouble,
    *,
    token: str = WRITE_TOKEN,
    repo: str | None = None,
    body: str = BODY,
    reviewers: list[str] | None = None,
    head: str = BRANCH,
) -> PullRequestResult:
    return open_or_update_pull_request(
        token,
        repo or github.repo,
        head=head,
        base="main",
        title=TITLE,
        body=body,
        reviewers=["alice-oncall"] if reviewers is None else reviewers,
        base_url=github.base_url,
        seconds_between_writes=0,  # the double has no secondary rate limit to respect
    )


def test_first_run_opens_pr_1_with_the_exact_text_and_the_oncall_as_reviewer(
    github_double: GitHubDouble,
) -> None:
    result = open_pr(github_double)

    assert (result.number, result.created, result.review_requested) == (1, True, True)
    assert result.url == f"https://github.com/{github_double.repo}/pull/1"
    assert result.notes == []
    [pull] = github_double.pulls
    assert (pull.head, pull.base, pull.title, pull.body) == (BRANCH, "main", TITLE, BODY)
    assert pull.requested_reviewers == ["alice-oncall"]
    assert all(auth.endswith(WRITE_TOKEN) for auth in github_double.authorizations)


def test_second_run_for_the_same_branch_updates_pr_1_and_opens_no_second(
    github_double: GitHubDouble,
) -> None:
    open_pr(github_double)
    again = open_pr(github_double, body=BODY + "\n## Evidence\n\n- Verification: verified\n")

    assert (again.number, again.created, again.review_requested) == (1, False, True)
    [pull] = github_double.pulls
    assert pull.body.endswith("- Verification: verified\n")
    creates = [
        r for r in github_double.requests if r == ("POST", f"/repos/{github_double.repo}/pulls")
    ]
    assert len(creates) == 1


def test_a_closed_pr_for_the_branch_is_not_reused(github_double: GitHubDouble) -> None:
    open_pr(github_double)
    github_double.pulls[0].state = "closed"

    result = open_pr(github_double)

    assert (result.number, result.created) == (2, True)
    assert [p.state for p in github_double.pulls] == ["closed", "open"]


def test_a_token_github_rejects_says_to_fix_GITHUB_TOKEN_and_never_shows_it(
    github_double: GitHubDouble,
) -> None:
    secret = "ghp_revokedTOKEN1234567890"
    with pytest.raises(RemediationError) as caught:
        open_pr(github_double, token=secret)

    text = str(caught.value)
    assert "GITHUB_TOKEN" in text and "Bad credentials" in text and "Pull requests" in text
    assert secret not in text and "\n" not in text
    assert github_double.pulls == []


def test_a_read_only_token_is_told_which_rights_it_lacks(github_double: GitHubDouble) -> None:
    with pytest.raises(RemediationError) as caught:
        open_pr(github_double, token=READ_TOKEN)

    text = str(caught.value)
    assert "GITHUB_TOKEN lacks the rights to open a pull request" in text
    assert "Resource not accessible by personal access token" in text
    assert "'Pull requests: read and write'" in text
    assert READ_TOKEN not in text
    assert github_double.pulls == []


def test_an_unknown_repository_is_named(github_double: GitHubDouble) -> None:
    with pytest.raises(RemediationError) as caught:
        open_pr(github_double, repo="acme/no-such-repo")

    assert "GitHub repository acme/no-such-repo not found" in str(caught.value)
    assert github_double.pulls == []


def test_a_reviewer_who_is_not_a_collaborator_leaves_the_pr_open_with_a_note(
    github_double: GitHubDouble,
) -> None:
    result = open_pr(github_double, reviewers=["@bob-outsider"])

    assert (result.number, result.created, result.review_requested) == (1, True, False)
    [note] = result.notes
    assert note.startswith("review request for @bob-outsider failed (GitHub 422")
    assert "may only be requested from collaborators" in note
    assert github_double.pulls[0].requested_reviewers == []


def test_the_token_user_is_not_asked_to_review_their_own_pr(github_double: GitHubDouble) -> None:
    # The recorded PR author is the token's user, octocat; GitHub refuses self-review with a 422.
    result = open_pr(github_double, reviewers=["octocat", "alice-oncall"])

    assert result.review_requested
    assert github_double.pulls[0].requested_reviewers == ["alice-oncall"]
    assert ["octocat" in n and "own pull request" in n for n in result.notes] == [True]


def test_without_an_oncall_handle_the_pr_opens_and_says_no_reviewer(
    github_double: GitHubDouble,
) -> None:
    result = open_pr(github_double, reviewers=[])

    assert (result.created, result.review_requested) == (True, False)
    assert result.notes == ["no on-call GitHub handle known: no reviewer requested"]


def test_the_default_branch_is_refused_as_head_before_asking_github(
    github_double: GitHubDouble,
) -> None:
    with pytest.raises(RemediationError, match="refusing to open a pull request from 'main'"):
        open_pr(github_double, head="main")
    assert github_double.requests == []


def test_an_unreachable_github_is_a_temporary_error_in_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GitHubUnavailableError, match="could not reach GitHub to read repository"):
        open_or_update_pull_request(
            WRITE_TOKEN,
            "acme/ads-demo-service",
            head=BRANCH,
            base="main",
            title=TITLE,
            body=BODY,
            reviewers=[],
            base_url=f"http://127.0.0.1:{port}",
            timeout=2,
        )


def test_a_spent_rate_limit_is_temporary_until_its_reset(github_double: GitHubDouble) -> None:
    reset = int(time.time()) + 600
    github_double.outages = [("rate_limited", {"X-RateLimit-Remaining": "0",
                                               "X-RateLimit-Reset": str(reset)})]  # fmt: skip
    with pytest.raises(GitHubUnavailableError, match="rate limit") as raised:
        open_pr(github_double)
    assert 590 <= raised.value.delay <= 600
    assert github_double.pulls == []
    assert open_pr(github_double).created  # once the limit is back, it just works


def test_a_secondary_rate_limit_waits_what_retry_after_says(github_double: GitHubDouble) -> None:
    github_double.outages = [("secondary_rate_limited", {"Retry-After": "90"})] * 4
    with pytest.raises(GitHubUnavailableError, match="rate limit") as raised:
        open_pr(github_double)
    assert raised.value.delay == 90


def test_github_5xx_is_retried_in_the_call_then_temporary(github_double: GitHubDouble) -> None:
    github_double.outages = [("server_error", {})]  # one 502: the quick in-call retry gets past it
    assert open_pr(github_double).created
    github_double.outages = [("server_error", {"Retry-After": "30"})] * 4
    with pytest.raises(GitHubUnavailableError, match="GitHub answered 502") as raised:
        open_pr(github_double, head="ads/incident-43-fix-memory-leak")
    assert raised.value.delay == 30


def test_the_token_never_reaches_the_logs(
    github_double: GitHubDouble, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        open_pr(github_double, reviewers=["bob-outsider"])
        with pytest.raises(RemediationError):
            open_pr(github_double, token=READ_TOKEN, head="ads/incident-43-fix-memory-leak")

    assert any("github" in r.name for r in caplog.records)  # PyGithub did log at DEBUG
    assert WRITE_TOKEN not in caplog.text and READ_TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/ads-demo-service.git", "acme/ads-demo-service"),
        ("https://github.com/acme/ads-demo-service", "acme/ads-demo-service"),
        ("https://x-access-token:ghp_abc@github.com/acme/ads.demo/", "acme/ads.demo"),
        ("git@github.com:acme/ads-demo-service.git", "acme/ads-demo-service"),
        ("ssh://git@github.com/acme/ads-demo-service.git", "acme/ads-demo-service"),
        ("ssh://git@github.com:22/acme/ads-demo-service", "acme/ads-demo-service"),
        ("git://github.com/acme/ads-demo-service.git", "acme/ads-demo-service"),
        ("https://gitlab.com/acme/ads-demo-service.git", None),
        ("git@gitlab.com:acme/ads-demo-service.git", None),
        ("/srv/git/ads-demo-service.git", None),
        ("file:///srv/git/ads-demo-service.git", None),
        ("https://github.com/acme", None),
        ("https://github.com/acme/ads/tree/main", None),
        ("https://notgithub.com/acme/ads.git", None),
    ],
)
def test_github_repo_from_remote(remote: str, expected: str | None) -> None:
    assert github_repo_from_remote(remote) == expected
