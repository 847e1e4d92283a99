"""PagerDuty's REST description (../shared/reference/pagerduty-openapi/), repaired where it
contradicts itself so that no real object can validate (``SPEC_DEFECTS``, the smallest repair
each); the OpenAPI contract test and the Schemathesis run both read it through ``repaired``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SPEC_DEFECTS", "repaired"]


def _one_of_as_any_of(node: dict[str, Any]) -> None:
    node["anyOf"] = node.pop("oneOf")


def _listed_with_200(node: dict[str, Any]) -> None:
    node["200"] = node.pop("201")


def _acknowledge_type(node: dict[str, Any]) -> None:
    node["properties"]["type"]["enum"] = ["acknowledge_log_entry"]


# Where PagerDuty's published description contradicts itself, so no real object can validate.
SPEC_DEFECTS: list[tuple[tuple[str | int, ...], Callable[[dict[str, Any]], None]]] = [
    # NagiosChannel/APIChannel/...: no required field, no discriminator → every channel matches all
    (("components", "schemas", "Channel"), _one_of_as_any_of),
    # the two alternatives share all properties and require none
    (
        ("components", "schemas", "Service", "allOf", 1, "properties", "alert_grouping_parameters"),
        _one_of_as_any_of,
    ),
    # LogEntry's own enum says acknowledge_log_entry (PagerDuty's real type); this says otherwise
    (("components", "schemas", "AcknowledgeLogEntry", "allOf", 1), _acknowledge_type),
    # listing a schedule's overrides is described as answering 201; PagerDuty answers 200
    (("paths", "/schedules/{id}/overrides", "get", "responses"), _listed_with_200),
]


def repaired(path: Path) -> dict[str, Any]:
    """The description in ``path`` with ``SPEC_DEFECTS`` repaired."""
    spec: dict[str, Any] = json.loads(path.read_text())
    for where, fix in SPEC_DEFECTS:
        node: Any = spec
        for key in where:
            node = node[key]
        fix(node)
    return spec
