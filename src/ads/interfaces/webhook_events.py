"""The shape of a PagerDuty v3 webhook body that ``ads serve`` accepts, as pydantic models.

A correctly signed body is still data from outside: the receiver validates its shape here before
it touches a field, so a body that is not a well-formed event is a 400 with the reason, never a
500 (which PagerDuty would retry for 48 hours). Two steps, after PagerDuty's documentation
(webhooks v3, "Webhook Payload"):

- ``Envelope``: ``{"event": {...}}`` with a string ``id``, a dotted ``event_type`` and an object
  ``data``; the other event fields, when present, of their documented types. Event types ADS does
  not act on (including ones PagerDuty adds later) end here: 202, ignored.
- ``TriggeredIncident``: for ``incident.triggered``, ``data`` is an incident whose ``id`` is a
  PagerDuty id and whose ``service`` is a service reference with a ``summary`` (the name ADS
  maps through ads.yaml).

Unknown fields are allowed everywhere (PagerDuty adds fields); wrong types and missing fields
are not. Strings are bounded so that nothing oversized reaches the job store or a URL.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

__all__ = ["Envelope", "ShapeError", "TriggeredIncident", "parse_envelope", "parse_triggered"]

PagerDutyId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9]{1,64}$")]
EventType = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=128)]  # fmt: skip  # noqa: E501
ShortText = Annotated[StrictStr, Field(max_length=1024)]


class _Open(BaseModel):
    """Fields PagerDuty adds later are kept, not refused; listed fields are strictly typed."""

    model_config = ConfigDict(extra="allow", strict=True)


class Event(_Open):
    id: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    event_type: EventType
    resource_type: ShortText | None = None
    occurred_at: ShortText | None = None
    agent: dict[str, Any] | None = None
    client: dict[str, Any] | None = None
    data: dict[str, Any]


class Envelope(_Open):
    event: Event


class ServiceReference(_Open):
    id: PagerDutyId | None = None
    summary: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    type: Literal["service_reference", "service"] | None = None


class TriggeredIncident(_Open):
    id: PagerDutyId
    type: Literal["incident"] | None = None
    number: StrictInt | None = None
    title: ShortText | None = None
    service: ServiceReference


class ShapeError(ValueError):
    """The body is not a well-formed event; the message names the first field that is wrong."""


def parse_envelope(document: Any) -> Envelope:
    """The envelope of a PagerDuty v3 webhook, or ``ShapeError``."""
    return _validate(Envelope, document, "")


def parse_triggered(data: dict[str, Any]) -> TriggeredIncident:
    """``event.data`` of an ``incident.triggered``, or ``ShapeError``."""
    return _validate(TriggeredIncident, data, "event.data.")


def _validate(model: type[Any], document: Any, prefix: str) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ShapeError(_reason(exc, prefix)) from None


def _reason(exc: ValidationError, prefix: str) -> str:
    """The first error as ``event.data.service: Input should be an object`` (no input echo)."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"])[:200] or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{prefix}{where}: {first['msg']}{more}"
