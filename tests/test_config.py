"""ads.yaml → Settings: the demo file loads, and each bad file gets one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.config import Secrets, load_settings, settings_from_dict
from ads.errors import ConfigError, UnknownServiceError
from tests.conftest import DEMO_DIR


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ads.yaml"
    path.write_text(text)
    return path


def test_demo_config_loads_with_its_limit_and_commands() -> None:
    settings = load_settings(DEMO_DIR / "ads.yaml")
    service = settings.service("ads-demo-service")
    assert service.memory_limit_bytes == 64 * 1024 * 1024
    assert service.build == "make build"
    assert service.kubernetes.deployment == "ads-demo-service"
    assert settings.repo_path(service) == DEMO_DIR.resolve()


def test_unknown_service_lists_the_known_ones() -> None:
    settings = load_settings(DEMO_DIR / "ads.yaml")
    with pytest.raises(UnknownServiceError, match=r"services in ads\.yaml: ads-demo-service"):
        settings.service("billing")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("services:\n  svc:\n    memory_limit: lots\n", "services.svc.memory_limit"),
        ("services:\n  svc:\n    sources: 7\n", "services.svc.sources"),
        ("services:\n  svc:\n    backoff: {initial_seconds: -1}\n", "initial_seconds"),
        ("services:\n  svc:\n    colour: blue\n", "services.svc.colour"),
        ("services: []\n", "'services' must map"),
        ("[1, 2]\n", "expected a mapping"),
        ("services:\n  svc: {\n", "not valid YAML at line"),
        ("service:\n  svc: {}\n", "unknown top-level key"),
    ],
)
def test_bad_file_names_the_problem(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, body))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_settings(tmp_path / "nope.yaml")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "ads.yaml"
    path.write_bytes(b"services:\n  svc:\n    repo: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)


def test_secrets_never_show_in_repr() -> None:
    secrets = Secrets.from_env(
        {"PAGERDUTY_API_TOKEN": "tok-123", "GITHUB_TOKEN": "ghp_x", "ADS_WEBHOOK_SECRETS": "a,b"}
    )
    assert secrets.pagerduty_token == "tok-123"
    assert secrets.webhook_secrets == ("a", "b")
    assert "tok-123" not in repr(secrets) and "ghp_x" not in repr(secrets)


@pytest.mark.parametrize(
    "body",
    [
        {"env_passthrough": ["GITHUB_TOKEN"]},
        {"env_passthrough": ["ADS_MCP_TOKEN"]},
        {"env_passthrough": ["ADS_WEBHOOK_SECRETS"]},
        {"env": {"PAGERDUTY_API_TOKEN": "x"}},
        {"env": {"HOME": "/root"}},
        {"env_passthrough": ["NOT A NAME"]},
    ],
)
def test_ads_secrets_cannot_be_given_to_the_service_code(body: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"services": {"svc": body}})
    assert "services.svc.env" in str(info.value) and "\n" not in str(info.value)


def test_sandbox_env_keys_load() -> None:
    settings = settings_from_dict(
        {"services": {"svc": {"env": {"MODE": "test"}, "env_passthrough": ["CC"]}}}
    )
    assert settings.service("svc").env == {"MODE": "test"}
    assert settings.service("svc").env_passthrough == ["CC"]
