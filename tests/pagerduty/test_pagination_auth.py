"""Pagination over every page, and what a wrong token gets."""

from __future__ import annotations

import httpx2
import pytest

from ads.errors import PagerDutyAuthError, PagerDutyNotFoundError
from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty


def test_pagination_returns_all_250_incidents(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    for n in range(250):
        pagerduty_client.trigger(key, f"event {n}", "bench", dedup_key=f"key-{n}")
    incidents = pagerduty_client.list_incidents()
    assert len(incidents) == 250
    assert sorted(i.number or 0 for i in incidents) == list(range(1, 251))

    with httpx2.Client(verify=local_pagerduty.ssl_context()) as http:
        page = http.get(
            f"{local_pagerduty.api_url}/incidents",
            params={"offset": 200, "limit": 100, "total": "true"},
            headers={"Authorization": f"Token token={local_pagerduty.token}"},
        ).json()
    assert (len(page["incidents"]), page["more"], page["total"]) == (50, False, 250)


def test_wrong_token_is_401_in_pagerduty_shape(local_pagerduty: LocalPagerDuty) -> None:
    with httpx2.Client(verify=local_pagerduty.ssl_context()) as http:
        response = http.get(
            f"{local_pagerduty.api_url}/incidents",
            headers={"Authorization": "Token token=not-the-token"},
        )
        missing = http.get(f"{local_pagerduty.api_url}/services")
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "Authentication failed", "code": 2006}}
    assert missing.status_code == 401


def test_facade_raises_auth_error_naming_the_host_variable(
    local_pagerduty: LocalPagerDuty, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = PagerDuty(
        "wrong-secret-token-value",
        api_url=local_pagerduty.api_url,
        events_url=local_pagerduty.events_url,
        verify=local_pagerduty.ssl_context(),
    )
    with pytest.raises(PagerDutyAuthError) as raised:
        wrong.list_incidents()
    message = str(raised.value)
    assert "token" in message and "PAGERDUTY_API_HOST" in message
    assert "wrong-secret-token-value" not in message
    assert "wrong-secret-token-value" not in caplog.text


def test_unknown_incident_is_not_found(pagerduty_client: PagerDuty) -> None:
    with pytest.raises(PagerDutyNotFoundError):
        pagerduty_client.get_incident("PNOSUCH")
