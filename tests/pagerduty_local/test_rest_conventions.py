"""What every REST answer carries, as a PagerDuty client reads it: Bearer or Token auth, an
``x-request-id``, the rate-limit headers, and a 429 in PagerDuty's shape past the limit."""

from __future__ import annotations

from pathlib import Path

import httpx2

from pagerduty_local import LocalPagerDuty


def test_bearer_and_token_auth_both_work_and_each_answer_has_a_request_id(
    local_pagerduty: LocalPagerDuty,
) -> None:
    with httpx2.Client(base_url=local_pagerduty.api_url, verify=local_pagerduty.ssl_context()) as h:
        token = h.get("/users", headers={"Authorization": f"Token token={local_pagerduty.token}"})
        bearer = h.get("/users", headers={"Authorization": f"Bearer {local_pagerduty.token}"})
        wrong = h.get("/users", headers={"Authorization": "Bearer nope"})
        page = h.get("/web/incidents")
    assert token.status_code == bearer.status_code == 200
    assert token.json()["users"] == bearer.json()["users"]
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 2006
    ids = {r.headers.get("x-request-id") for r in (token, bearer, wrong, page)}
    assert None not in ids and len(ids) == 4  # one per request


def test_past_the_rate_limit_is_429_in_pagerduty_shape(tmp_path: Path) -> None:
    with (
        LocalPagerDuty(tmp_path / "pd", rate_limit=3) as server,
        httpx2.Client(
            base_url=server.api_url,
            verify=server.ssl_context(),
            headers={"Authorization": f"Token token={server.token}"},
        ) as http,
    ):
        answers = [http.get("/services") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
    assert 0 < int(answers[-1].headers["ratelimit-reset"]) <= 60
    assert answers[-1].json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
