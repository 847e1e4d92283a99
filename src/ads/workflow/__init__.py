"""The one orchestrator: diagnose, remediate, respond.

The CLI, the MCP server and the webhook worker all call these functions and nothing below them,
so an incident is handled the same way whoever asked.

The package loads a step's module only when the step is first used (PEP 562), so a command
pays for what it calls: ``ads analyze`` does not import the GitHub client of the PR step.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context
    from .detect import (
        RunObserver,
        make_alert_handler,
        open_watch,
        run_locally,
        runtime_alerter,
        send_change_event,
    )
    from .diagnose import analyse, changes_in_window, diagnose, diagnose_offline
    from .housekeeping import housekeeping, reclaim_leftovers, reclaim_own_leftovers
    from .incidents import (
        acknowledge_incident,
        find_incident,
        incident_ref,
        list_incidents,
        resolve_incident,
        stored_diagnosis,
    )
    from .remediate import remediate, suggest_remediation, verify_incident
    from .report import write_report
    from .respond import evaluate_escalations, respond

#: exported name → the module of this package that defines it
_EXPORTS = {
    "Context": "context",
    "RunObserver": "detect",
    "acknowledge_incident": "incidents",
    "analyse": "diagnose",
    "changes_in_window": "diagnose",
    "diagnose": "diagnose",
    "diagnose_offline": "diagnose",
    "evaluate_escalations": "respond",
    "find_incident": "incidents",
    "housekeeping": "housekeeping",
    "incident_ref": "incidents",
    "list_incidents": "incidents",
    "make_alert_handler": "detect",
    "open_watch": "detect",
    "reclaim_leftovers": "housekeeping",
    "reclaim_own_leftovers": "housekeeping",
    "remediate": "remediate",
    "resolve_incident": "incidents",
    "respond": "respond",
    "run_locally": "detect",
    "runtime_alerter": "detect",
    "send_change_event": "detect",
    "stored_diagnosis": "incidents",
    "suggest_remediation": "remediate",
    "verify_incident": "remediate",
    "write_report": "report",
}

__all__ = [
    "Context",
    "RunObserver",
    "acknowledge_incident",
    "analyse",
    "changes_in_window",
    "diagnose",
    "diagnose_offline",
    "evaluate_escalations",
    "find_incident",
    "housekeeping",
    "incident_ref",
    "list_incidents",
    "make_alert_handler",
    "open_watch",
    "reclaim_leftovers",
    "reclaim_own_leftovers",
    "remediate",
    "resolve_incident",
    "respond",
    "run_locally",
    "runtime_alerter",
    "send_change_event",
    "stored_diagnosis",
    "suggest_remediation",
    "verify_incident",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Package(types.ModuleType):
    """Keeps a step's name bound to the step: importing the submodule ``diagnose`` makes Python
    set the package's ``diagnose`` to that module, which would shadow the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
