"""The seed file: the demo account loads, bad seeds fail clearly, state survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ads.errors import ConfigError
from ads.sources.pagerduty import PagerDuty
from pagerduty_local import DEMO_SEED, LocalPagerDuty, load_seed
from pagerduty_local import ConfigError as ServerConfigError


def _client(server: LocalPagerDuty) -> PagerDuty:
    return PagerDuty(
        server.token,
        api_url=server.api_url,
        events_url=server.events_url,
        verify=server.ssl_context(),
    )


def test_demo_seed_describes_the_demo_account() -> None:
    seed = load_seed()
    assert [s.name for s in seed.services] == ["ads-demo-service", "py-pages-service"]
    assert all(len(s.integrations[0].integration_key) == 32 for s in seed.services)
    [policy] = seed.escalation_policies
    assert len(policy.rules) == 2
    assert {u.github for u in seed.users} == {"alice-sre", "bob-oncall"}
    assert all(s.rotation_turn_length_seconds == 7 * 24 * 3600 for s in seed.schedules)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["services"][0].update(escalation_policy="PNOPE"), "PNOPE is not defined"),
        (lambda d: d["users"][0].pop("email"), "users.0.email"),
        (lambda d: d["schedules"][0].update(users=["PGHOST"]), "PGHOST is not defined"),
        (lambda d: d.update(colour="blue"), "colour"),
        (
            lambda d: d["services"][0]["integrations"][0].update(integration_key="short"),
            "integration_key",
        ),
    ],
)
def test_bad_seed_is_one_clear_config_error(tmp_path: Path, change: object, expected: str) -> None:
    data = yaml.safe_load(DEMO_SEED.read_text())
    change(data)  # type: ignore[operator]
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ServerConfigError) as raised:
        LocalPagerDuty(tmp_path / "state", seed=path)
    assert expected in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "state").exists()


def test_unparseable_and_missing_seed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: [unclosed\n")
    with pytest.raises(ServerConfigError, match="not valid YAML"):
        load_seed(bad)
    with pytest.raises(ServerConfigError, match="cannot read seed file"):
        load_seed(tmp_path / "missing.yaml")


def test_state_and_ca_survive_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LocalPagerDuty(state) as first:
        client = _client(first)
        client.trigger(first.routing_key("ads-demo-service"), "OOMKilled", "w", dedup_key="k")
        [incident] = client.list_incidents()
        client.add_note(incident.id, "kept")
        ca = first.ca_file
        assert ca is not None and ca.is_file()
        ca_pem = ca.read_bytes()
    with LocalPagerDuty(state) as second:
        assert second.ca_file is not None and second.ca_file.read_bytes() == ca_pem
        client = _client(second)
        [again] = client.list_incidents()
        assert (again.id, again.number) == (incident.id, 1)
        assert [n.content for n in client.list_notes(again.id)] == ["kept"]
        client.trigger(second.routing_key("ads-demo-service"), "new", "w", dedup_key="other")
        assert [i.number for i in client.list_incidents()] == [1, 2]


def test_plain_http_only_behind_the_flag(tmp_path: Path) -> None:
    with LocalPagerDuty(tmp_path / "s", insecure_http=True) as server:
        assert server.api_url.startswith("http://") and server.ca_file is None
        with pytest.raises(ConfigError, match="https://"):
            PagerDuty(server.token, api_url=server.api_url, events_url=server.events_url)
