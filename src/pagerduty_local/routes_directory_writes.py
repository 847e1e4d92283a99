"""REST v2 directory writes and the directory reads that go with them: services, users (contact
methods, notification rules), teams (members), schedules (users, overrides), escalation
policies, priorities, change events, integrations and technical service dependencies.

Each create checks what PagerDuty checks (a name, unique where PagerDuty wants it unique, the
objects it refers to) and answers 201 with the object; an update changes only the fields given;
a delete answers 204, and deleting what others still refer to (a policy a service uses) is a 400
as on PagerDuty. Objects made here are kept across restarts, beside the seed's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .account import new_id, reference
from .http import ApiError, Server, api_route, ok, page_params, read_json, time_param
from .oncall import format_time

__all__ = ["routes"]

Doc = dict[str, Any]
_ROLES = {"admin", "limited_user", "observer", "owner", "read_only_user", "restricted_access",
          "read_only_limited_user", "user"}  # fmt: skip
_TEAM_ROLES = {"observer", "responder", "manager"}


def _get(server: Server, kind: str, object_id: str) -> Doc:
    found = server.account.store.get_object(kind, object_id)
    if found is None:
        raise ApiError.not_found()
    return found


def _wrapped(body: Doc, key: str) -> Doc:
    """``{"user": {...}}`` as PagerDuty documents it (a bare object is accepted too)."""
    inner = body.get(key, body)
    if not isinstance(inner, dict):
        raise ApiError.invalid(f"{key} must be an object")
    return inner


def _name(given: Doc, kind: str, server: Server, *, current: str | None = None) -> str:
    name = given.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError.invalid("Name can't be blank")
    for other in server.account.store.list_objects(kind):
        if other["name"].lower() == name.strip().lower() and other["id"] != current:
            raise ApiError.invalid("Name has already been taken")
    return name.strip()[:255]


def _refs(server: Server, given: Any, kind: str, what: str) -> list[Doc]:
    if given is None:
        return []
    if not isinstance(given, list):
        raise ApiError.invalid(f"{what} must be a list")
    refs = []
    for item in given:
        object_id = item.get("id") if isinstance(item, dict) else item
        found = server.account.store.get_object(kind, str(object_id))
        if found is None:
            raise ApiError.invalid(f"{what}: {object_id!r} not found")
        refs.append(reference(kind, found["id"], found["name"]))
    return refs


def _put(server: Server, kind: str, doc: Doc) -> None:
    server.account.store.put_object(kind, doc, position=1000)


def _delete(server: Server, kind: str, object_id: str) -> Response:
    if not server.account.store.delete_object(kind, object_id):
        raise ApiError.not_found()
    return Response(status_code=204)


# services -------------------------------------------------------------------------------
def _policy_ref(server: Server, given: Any) -> Doc:
    policy_id = given.get("id") if isinstance(given, dict) else None
    policy = server.account.store.get_object("escalation_policy", str(policy_id))
    if policy is None:
        raise ApiError.invalid("Escalation policy can't be blank and must exist")
    return reference("escalation_policy", policy["id"], policy["name"])


async def create_service(request: Request, server: Server) -> Response:
    given = _wrapped(await read_json(request), "service")
    service_id = new_id()
    now = format_time(server.account.now())
    service = {
        **reference("service", service_id, _name(given, "service", server)),
        "type": "service",
        "name": _name(given, "service", server),
        "description": str(given.get("description") or ""),
        "auto_resolve_timeout": given.get("auto_resolve_timeout"),
        "acknowledgement_timeout": given.get("acknowledgement_timeout"),
        "created_at": now,
        "updated_at": now,
        "status": "active",
        "escalation_policy": _policy_ref(server, given.get("escalation_policy")),
        "teams": _refs(server, given.get("teams"), "team", "teams"),
        "integrations": [],
        "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        "alert_creation": "create_alerts_and_incidents",
        "alert_grouping_parameters": {"type": None},
    }
    _put(server, "service", service)
    return ok({"service": service}, server, status=201)


async def update_service(request: Request, server: Server) -> Response:
    service = _get(server, "service", request.path_params["id"])
    given = _wrapped(await read_json(request), "service")
    if "name" in given and given["name"] is not None:
        service["name"] = _name(given, "service", server, current=service["id"])
        service["summary"] = service["name"]
    if given.get("description") is not None:
        service["description"] = str(given["description"])
    if given.get("escalation_policy") is not None:
        service["escalation_policy"] = _policy_ref(server, given["escalation_policy"])
    if given.get("teams") is not None:
        service["teams"] = _refs(server, given["teams"], "team", "teams")
    if given.get("status") is not None:
        if given["status"] not in ("active", "warning", "critical", "maintenance", "disabled"):
            raise ApiError.invalid("status is not a service status")
        service["status"] = given["status"]
    service["updated_at"] = format_time(server.account.now())
    _put(server, "service", service)
    return ok({"service": service}, server)


async def delete_service(request: Request, server: Server) -> Response:
    return _delete(server, "service", request.path_params["id"])


async def get_integration(request: Request, server: Server) -> Response:
    service = _get(server, "service", request.path_params["id"])
    for integration in service.get("integrations", []):
        if integration["id"] == request.path_params["integration_id"]:
            keys = [
                k
                for k in server.account.store.list_objects("routing_key")
                if k["integration_id"] == integration["id"]
            ]
            body = {
                **integration,
                "type": "events_api_v2_inbound_integration",
                "name": integration["summary"],
                "service": reference("service", service["id"], service["name"]),
                "created_at": service["created_at"],
                "integration_key": keys[0]["id"] if keys else None,
            }
            return ok({"integration": body}, server)
    raise ApiError.not_found()


async def technical_dependencies(request: Request, server: Server) -> Response:
    """A service's technical dependencies: none are recorded on this account."""
    _get(server, "service", request.path_params["id"])
    return ok({"relationships": []}, server)


# users ----------------------------------------------------------------------------------
def _email(given: Doc, server: Server, current: str | None = None) -> str:
    email = given.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) < 6:
        raise ApiError.invalid("Email is not a valid email address")
    for other in server.account.store.list_objects("user"):
        if other["email"].lower() == email.lower() and other["id"] != current:
            raise ApiError.invalid("Email has already been taken")
    return email


def _role(given: Doc, default: str) -> str:
    role = given.get("role") or default
    if role not in _ROLES:
        raise ApiError.invalid(f"Role must be one of {', '.join(sorted(_ROLES))}")
    return str(role)


async def create_user(request: Request, server: Server) -> Response:
    given = _wrapped(await read_json(request), "user")
    user_id = new_id("PU")
    name = given.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError.invalid("Name can't be blank")
    email = _email(given, server)
    user = {
        **reference("user", user_id, name.strip()),
        "type": "user",
        "name": name.strip(),
        "email": email,
        "time_zone": str(given.get("time_zone") or "UTC"),
        "color": "purple",
        "role": _role(given, "user"),
        "avatar_url": "https://secure.gravatar.com/avatar/0.png",
        "description": str(given.get("description") or ""),
        "invitation_sent": True,
        "job_title": str(given.get("job_title") or ""),
        "teams": [],
        "contact_methods": [
            {
                "id": f"{user_id}E",
                "type": "email_contact_method_reference",
                "summary": "Default",
                "self": f"/users/{user_id}/contact_methods/{user_id}E",
                "html_url": None,
            }
        ],
        "notification_rules": [],
    }
    _put(server, "user", user)
    return ok({"user": user}, server, status=201)


async def update_user(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    given = _wrapped(await read_json(request), "user")
    if given.get("name") is not None:
        if not isinstance(given["name"], str) or not given["name"].strip():
            raise ApiError.invalid("Name can't be blank")
        user["name"] = user["summary"] = given["name"].strip()
    if given.get("email") is not None:
        user["email"] = _email(given, server, current=user["id"])
    if given.get("role") is not None:
        user["role"] = _role(given, user["role"])
    for key in ("time_zone", "description", "job_title", "color"):
        if given.get(key) is not None:
            user[key] = str(given[key])
    _put(server, "user", user)
    return ok({"user": user}, server)


async def delete_user(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    for schedule in server.account.store.list_objects("schedule"):
        if any(u["id"] == user["id"] for u in schedule.get("users", [])):
            raise ApiError.invalid(f"The user is on schedule {schedule['name']}; remove them first")
    return _delete(server, "user", user["id"])


def email_method(user: Doc) -> Doc:
    return {
        "id": f"{user['id']}E",
        "type": "email_contact_method",
        "summary": "Default",
        "self": f"/users/{user['id']}/contact_methods/{user['id']}E",
        "label": "Default",
        "address": user["email"],
        "send_short_email": False,
    }


def _notification_rule(user: Doc) -> Doc:
    method = email_method(user)
    return {
        "id": f"{user['id']}N",
        "type": "assignment_notification_rule",
        "summary": "0 minutes: channel email",
        "self": f"/users/{user['id']}/notification_rules/{user['id']}N",
        "start_delay_in_minutes": 0,
        "contact_method": {k: method[k] for k in ("id", "summary", "self")}
        | {"type": "email_contact_method_reference"},
        "urgency": "high",
    }


async def get_contact_method(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    method = email_method(user)
    if request.path_params["method_id"] != method["id"]:
        raise ApiError.not_found()
    return ok({"contact_method": method}, server)


async def list_notification_rules(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    return ok({"notification_rules": [_notification_rule(user)]}, server)


async def get_notification_rule(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    rule = _notification_rule(user)
    if request.path_params["rule_id"] != rule["id"]:
        raise ApiError.not_found()
    return ok({"notification_rule": rule}, server)


# teams ----------------------------------------------------------------------------------
async def create_team(request: Request, server: Server) -> Response:
    given = _wrapped(await read_json(request), "team")
    team_id = new_id("PT")
    name = _name(given, "team", server)
    team = {
        **reference("team", team_id, name),
        "type": "team",
        "name": name,
        "description": str(given.get("description") or ""),
        "default_role": given.get("default_role") or "manager",
    }
    _put(server, "team", team)
    return ok({"team": team}, server, status=201)


async def update_team(request: Request, server: Server) -> Response:
    team = _get(server, "team", request.path_params["id"])
    given = _wrapped(await read_json(request), "team")
    if given.get("name") is not None:
        team["name"] = team["summary"] = _name(given, "team", server, current=team["id"])
    if given.get("description") is not None:
        team["description"] = str(given["description"])
    _put(server, "team", team)
    return ok({"team": team}, server)


async def delete_team(request: Request, server: Server) -> Response:
    team = _get(server, "team", request.path_params["id"])
    for user in server.account.store.list_objects("user"):
        if any(t["id"] == team["id"] for t in user.get("teams", [])):
            user["teams"] = [t for t in user["teams"] if t["id"] != team["id"]]
            server.account.store.put_object("user", user, position=1000)
    return _delete(server, "team", team["id"])


async def list_team_members(request: Request, server: Server) -> Response:
    team = _get(server, "team", request.path_params["id"])
    page = page_params(request)
    members = [
        {"user": reference("user", u["id"], u["name"]), "role": u.get("team_roles", {}).get(
            team["id"], "manager")}
        for u in server.account.store.list_objects("user")
        if any(t["id"] == team["id"] for t in u.get("teams", []))
    ]  # fmt: skip
    return ok(page.slice("members", members), server)


async def add_team_member(request: Request, server: Server) -> Response:
    team = _get(server, "team", request.path_params["id"])
    user = _get(server, "user", request.path_params["user_id"])
    body = await read_json(request) if request.headers.get("content-length", "0") != "0" else {}
    role = body.get("role") or "manager"
    if role not in _TEAM_ROLES:
        raise ApiError.invalid("role must be observer, responder or manager")
    if not any(t["id"] == team["id"] for t in user.get("teams", [])):
        user.setdefault("teams", []).append(reference("team", team["id"], team["name"]))
    user.setdefault("team_roles", {})[team["id"]] = role
    server.account.store.put_object("user", user, position=1000)
    return Response(status_code=204)


async def remove_team_member(request: Request, server: Server) -> Response:
    team = _get(server, "team", request.path_params["id"])
    user = _get(server, "user", request.path_params["user_id"])
    user["teams"] = [t for t in user.get("teams", []) if t["id"] != team["id"]]
    user.get("team_roles", {}).pop(team["id"], None)
    server.account.store.put_object("user", user, position=1000)
    return Response(status_code=204)


# schedules ------------------------------------------------------------------------------
def _layers(server: Server, given: Any, schedule_id: str) -> tuple[list[Doc], list[Doc]]:
    if not isinstance(given, list) or not given:
        raise ApiError.invalid("schedule_layers must be a non-empty list")
    layers: list[Doc] = []
    everyone: list[Doc] = []
    for n, layer in enumerate(given, start=1):
        if not isinstance(layer, dict):
            raise ApiError.invalid("each schedule layer must be an object")
        users = _refs(
            server, [u.get("user") if isinstance(u, dict) else u for u in layer.get("users") or []],
            "user", "schedule_layers.users",
        )  # fmt: skip
        if not users:
            raise ApiError.invalid("a schedule layer needs users")
        try:
            start = format_time(datetime.fromisoformat(str(layer.get("start"))))
            virtual = format_time(
                datetime.fromisoformat(str(layer.get("rotation_virtual_start") or start))
            )
        except ValueError:
            raise ApiError.invalid("start and rotation_virtual_start must be times") from None
        length = layer.get("rotation_turn_length_seconds")
        if not isinstance(length, int) or isinstance(length, bool) or length < 3600:
            raise ApiError.invalid("rotation_turn_length_seconds must be at least 3600")
        layers.append(
            {
                "id": f"{schedule_id}L{n}",
                "name": str(layer.get("name") or f"Layer {n}"),
                "start": start,
                "end": None,
                "rotation_virtual_start": virtual,
                "rotation_turn_length_seconds": length,
                "users": [{"user": u} for u in users],
                "restrictions": [],
            }
        )
        everyone.extend(u for u in users if u["id"] not in {e["id"] for e in everyone})
    return layers, everyone


async def create_schedule(request: Request, server: Server) -> Response:
    given = _wrapped(await read_json(request), "schedule")
    schedule_id = new_id("PS")
    name = _name(given, "schedule", server)
    layers, users = _layers(server, given.get("schedule_layers"), schedule_id)
    schedule = {
        **reference("schedule", schedule_id, name),
        "type": "schedule",
        "name": name,
        "description": str(given.get("description") or ""),
        "time_zone": str(given.get("time_zone") or "UTC"),
        "users": users,
        "escalation_policies": [],
        "teams": _refs(server, given.get("teams"), "team", "teams"),
        "schedule_layers": layers,
    }
    _put(server, "schedule", schedule)
    return ok({"schedule": schedule}, server, status=201)


async def update_schedule(request: Request, server: Server) -> Response:
    schedule = _get(server, "schedule", request.path_params["id"])
    given = _wrapped(await read_json(request), "schedule")
    if given.get("name") is not None:
        schedule["name"] = schedule["summary"] = _name(
            given, "schedule", server, current=schedule["id"]
        )
    for key in ("description", "time_zone"):
        if given.get(key) is not None:
            schedule[key] = str(given[key])
    if given.get("schedule_layers") is not None:
        schedule["schedule_layers"], schedule["users"] = _layers(
            server, given["schedule_layers"], schedule["id"]
        )
    _put(server, "schedule", schedule)
    return ok({"schedule": schedule}, server)


async def delete_schedule(request: Request, server: Server) -> Response:
    schedule = _get(server, "schedule", request.path_params["id"])
    for policy in server.account.store.list_objects("escalation_policy"):
        if any(t["id"] == schedule["id"] for r in policy["escalation_rules"] for t in r["targets"]):
            raise ApiError.invalid(
                f"The schedule is used by escalation policy {policy['name']}; change it first"
            )
    return _delete(server, "schedule", schedule["id"])


async def schedule_users(request: Request, server: Server) -> Response:
    schedule = _get(server, "schedule", request.path_params["id"])
    users = [server.account.store.get_object("user", u["id"]) for u in schedule["users"]]
    return ok({"users": [u for u in users if u is not None]}, server)


async def list_overrides(request: Request, server: Server) -> Response:
    schedule = _get(server, "schedule", request.path_params["id"])
    since, until = time_param(request, "since"), time_param(request, "until")
    overrides = [
        o
        for o in schedule.get("overrides", [])
        if (since is None or o["end"] > format_time(since))
        and (until is None or o["start"] < format_time(until))
    ]
    return ok({"overrides": overrides}, server)


async def create_overrides(request: Request, server: Server) -> Response:
    """``{"overrides": [...]}`` (or one ``{"override": ...}``): the list form is answered with a
    list of ``{"status": 201, "override": …}``, one per override, as PagerDuty answers it."""
    schedule = _get(server, "schedule", request.path_params["id"])
    body = await read_json(request)
    given = body.get("overrides", [body["override"]] if "override" in body else None)
    if not isinstance(given, list) or not given:
        raise ApiError.invalid("overrides must be a non-empty list")
    created = []
    for item in given:
        if not isinstance(item, dict):
            raise ApiError.invalid("each override must be an object")
        (user,) = _refs(server, [item.get("user")], "user", "override.user")
        try:
            start = datetime.fromisoformat(str(item.get("start")))
            end = datetime.fromisoformat(str(item.get("end")))
        except ValueError:
            raise ApiError.invalid("override start and end must be times") from None
        if end <= start:
            raise ApiError.invalid("override end must be after its start")
        override = {
            "id": new_id("PO"),
            "start": format_time(start),
            "end": format_time(end),
            "user": user,
        }
        schedule.setdefault("overrides", []).append(override)
        created.append({"status": 201, "override": override})
    _put(server, "schedule", schedule)
    if "override" in body and "overrides" not in body:
        return ok({"override": created[0]["override"]}, server, status=201)
    return ok(created, server, status=201)


async def delete_override(request: Request, server: Server) -> Response:
    schedule = _get(server, "schedule", request.path_params["id"])
    kept = [o for o in schedule.get("overrides", []) if o["id"] != request.path_params["oid"]]
    if len(kept) == len(schedule.get("overrides", [])):
        raise ApiError.not_found()
    schedule["overrides"] = kept
    _put(server, "schedule", schedule)
    return Response(status_code=204)


# escalation policies --------------------------------------------------------------------
def _rules(server: Server, given: Any, policy_id: str) -> list[Doc]:
    if not isinstance(given, list) or not given:
        raise ApiError.invalid("escalation_rules must be a non-empty list")
    rules = []
    for level, rule in enumerate(given, start=1):
        if not isinstance(rule, dict):
            raise ApiError.invalid("each escalation rule must be an object")
        delay = rule.get("escalation_delay_in_minutes", 30)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 1:
            raise ApiError.invalid("escalation_delay_in_minutes must be a positive integer")
        targets = []
        for target in rule.get("targets") or []:
            kind = str(target.get("type", "")) if isinstance(target, dict) else ""
            if kind not in ("user_reference", "schedule_reference", "user", "schedule"):
                raise ApiError.invalid("rule targets must be users or schedules")
            name = kind.removesuffix("_reference")
            targets.extend(_refs(server, [target], name, "escalation_rules.targets"))
        if not targets:
            raise ApiError.invalid("each escalation rule needs targets")
        rules.append(
            {"id": f"{policy_id}R{level}", "escalation_delay_in_minutes": delay, "targets": targets}
        )
    return rules


async def create_policy(request: Request, server: Server) -> Response:
    given = _wrapped(await read_json(request), "escalation_policy")
    policy_id = new_id("PE")
    name = _name(given, "escalation_policy", server)
    loops = given.get("num_loops", 0)
    if not isinstance(loops, int) or isinstance(loops, bool) or not 0 <= loops <= 9:
        raise ApiError.invalid("num_loops must be from 0 to 9")
    policy = {
        **reference("escalation_policy", policy_id, name),
        "type": "escalation_policy",
        "name": name,
        "description": str(given.get("description") or ""),
        "num_loops": loops,
        "on_call_handoff_notifications": "if_has_services",
        "escalation_rules": _rules(server, given.get("escalation_rules"), policy_id),
        "services": [],
        "teams": _refs(server, given.get("teams"), "team", "teams"),
    }
    _put(server, "escalation_policy", policy)
    return ok({"escalation_policy": policy}, server, status=201)


async def update_policy(request: Request, server: Server) -> Response:
    policy = _get(server, "escalation_policy", request.path_params["id"])
    given = _wrapped(await read_json(request), "escalation_policy")
    if given.get("name") is not None:
        policy["name"] = policy["summary"] = _name(
            given, "escalation_policy", server, current=policy["id"]
        )
    if given.get("description") is not None:
        policy["description"] = str(given["description"])
    if given.get("escalation_rules") is not None:
        policy["escalation_rules"] = _rules(server, given["escalation_rules"], policy["id"])
    if given.get("num_loops") is not None:
        if not isinstance(given["num_loops"], int) or not 0 <= given["num_loops"] <= 9:
            raise ApiError.invalid("num_loops must be from 0 to 9")
        policy["num_loops"] = given["num_loops"]
    _put(server, "escalation_policy", policy)
    return ok({"escalation_policy": policy}, server)


async def delete_policy(request: Request, server: Server) -> Response:
    policy = _get(server, "escalation_policy", request.path_params["id"])
    for service in server.account.store.list_objects("service"):
        if service["escalation_policy"]["id"] == policy["id"]:
            raise ApiError.invalid(
                f"The escalation policy is used by service {service['name']}; change it first"
            )
    return _delete(server, "escalation_policy", policy["id"])


# priorities, change events --------------------------------------------------------------
async def list_priorities(request: Request, server: Server) -> Response:
    page = page_params(request)
    return ok(page.slice("priorities", server.account.priorities()), server)


async def get_priority(request: Request, server: Server) -> Response:
    """A priority by id (PagerDuty lists them only; this is what their ``self`` leads to)."""
    for priority in server.account.priorities():
        if priority["id"] == request.path_params["id"]:
            return ok({"priority": priority}, server)
    raise ApiError.not_found()


async def get_change_event(request: Request, server: Server) -> Response:
    event = server.account.store.get_change_event(request.path_params["id"])
    if event is None:
        raise ApiError.not_found()
    return ok({"change_event": event}, server)


routes = [
    Route("/services", api_route(create_service), methods=["POST"]),
    Route("/services/{id}", api_route(update_service), methods=["PUT"]),
    Route("/services/{id}", api_route(delete_service), methods=["DELETE"]),
    Route(
        "/services/{id}/integrations/{integration_id}",
        api_route(get_integration),
        methods=["GET"],
    ),
    Route(
        "/service_dependencies/technical_services/{id}",
        api_route(technical_dependencies),
        methods=["GET"],
    ),
    Route("/users", api_route(create_user), methods=["POST"]),
    Route("/users/{id}", api_route(update_user), methods=["PUT"]),
    Route("/users/{id}", api_route(delete_user), methods=["DELETE"]),
    Route(
        "/users/{id}/contact_methods/{method_id}", api_route(get_contact_method), methods=["GET"]
    ),
    Route("/users/{id}/notification_rules", api_route(list_notification_rules), methods=["GET"]),
    Route(
        "/users/{id}/notification_rules/{rule_id}",
        api_route(get_notification_rule),
        methods=["GET"],
    ),
    Route("/teams", api_route(create_team), methods=["POST"]),
    Route("/teams/{id}", api_route(update_team), methods=["PUT"]),
    Route("/teams/{id}", api_route(delete_team), methods=["DELETE"]),
    Route("/teams/{id}/members", api_route(list_team_members), methods=["GET"]),
    Route("/teams/{id}/users/{user_id}", api_route(add_team_member), methods=["PUT"]),
    Route("/teams/{id}/users/{user_id}", api_route(remove_team_member), methods=["DELETE"]),
    Route("/schedules", api_route(create_schedule), methods=["POST"]),
    Route("/schedules/{id}", api_route(update_schedule), methods=["PUT"]),
    Route("/schedules/{id}", api_route(delete_schedule), methods=["DELETE"]),
    Route("/schedules/{id}/users", api_route(schedule_users), methods=["GET"]),
    Route("/schedules/{id}/overrides", api_route(list_overrides), methods=["GET"]),
    Route("/schedules/{id}/overrides", api_route(create_overrides), methods=["POST"]),
    Route("/schedules/{id}/overrides/{oid}", api_route(delete_override), methods=["DELETE"]),
    Route("/escalation_policies", api_route(create_policy), methods=["POST"]),
    Route("/escalation_policies/{id}", api_route(update_policy), methods=["PUT"]),
    Route("/escalation_policies/{id}", api_route(delete_policy), methods=["DELETE"]),
    Route("/priorities", api_route(list_priorities), methods=["GET"]),
    Route("/priorities/{id}", api_route(get_priority), methods=["GET"]),
    Route("/change_events/{id}", api_route(get_change_event), methods=["GET"]),
]
