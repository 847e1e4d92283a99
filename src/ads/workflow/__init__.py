"""The one orchestrator: diagnose, remediate, respond.

The CLI, the MCP server and the webhook worker all call these functions and nothing below them,
so an incident is handled the same way whoever asked.
"""

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
