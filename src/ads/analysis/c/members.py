"""Destructors that forget a member: the struct is released, a block it owns is not.

A member is *owned* when some function of the program stores a fresh allocation into it
(``n->slaves = zmalloc(...)``, ``e->name = strdup(s)``). A *destructor* of that struct type is a
function that releases its pointer parameter of the type (``zfree(n)``). When nothing in the
program ever releases that member, a destructor that releases the struct without handing the
member on — itself or in a helper it passes the struct to — leaks it every time an object is
destroyed
(redis's ``freeClusterNode()`` and ``n->slaves``; git's ``close_pack_revindex()`` and
``p->revindex``). The path analysis of allocation sites cannot see this: the block escaped into
the struct where it was allocated, correctly, and is lost only where the struct dies.

Conservative on purpose: a member released anywhere in the program, a member the destructor
passes or moves anywhere, or a struct it hands to code whose body is not in the repository,
counts as handled; a member that points to the struct's own type (``next``) is a link of a list
or tree, released by whoever walks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ads.analysis.c.aggregates import passing
from ads.analysis.c.flow import CalleeEffect
from ads.analysis.c.program import Function, LoopInfo, Program
from ads.analysis.c.syntax import (
    Node,
    arrow_of,
    callee_name,
    find_all,
    line_of,
    strip_expression,
    text_of,
)
from ads.models import Confidence, Finding, FindingKind, Support

__all__ = ["forgotten_members"]

MEMBER_ISSUE = "struct released without releasing a member it owns"
_HELPER_DEPTH = 3


@dataclass(frozen=True)
class _Owner:
    """Where a member gets its fresh block: ``function`` stores ``call`` into it at ``line``."""

    function: Function
    line: int
    call: str


def _owned_members(
    program: Program, functions: list[Function]
) -> dict[tuple[str, str], list[_Owner]]:
    owned: dict[tuple[str, str], list[_Owner]] = {}
    for fn in functions:
        if fn.body is None:
            continue
        types: dict[str, str] | None = None
        for node in fn.find("assignment_expression"):
            target = arrow_of(node.child_by_field_name("left"))
            value = strip_expression(node.child_by_field_name("right"))
            if target is None or value is None or value.type != "call_expression":
                continue
            if not program.allocates(callee_name(value)):
                continue
            types = types if types is not None else fn.pointer_types
            kind = types.get(target[0])
            if kind:
                owned.setdefault((kind, target[1]), []).append(
                    _Owner(fn, line_of(node), text_of(value))
                )
    return owned


def _defined_types(fn: Function) -> frozenset[str]:
    """Struct and typedef names a ``.c`` file defines itself: a second program in the repo
    (redis-benchmark.c's own ``clusterNode``) may reuse a name for another type."""
    root = fn.node
    while root.parent is not None:
        root = root.parent
    names = set()
    for node in root.named_children:
        if node.type == "type_definition":
            names.add(text_of(node.child_by_field_name("declarator")))
        elif node.type == "struct_specifier" and node.child_by_field_name("body") is not None:
            names.add(text_of(node.child_by_field_name("name")))
    return frozenset(names)


def _owners_seen_by(fn: Function, kind: str, owners: list[_Owner]) -> list[_Owner]:
    """The owners that fill the same type as ``fn`` sees: a ``.c`` file that defines the type
    itself shares it with no other file."""

    def private(file: str, of: Function) -> bool:
        return not file.endswith(".h") and kind in _defined_types(of)

    if private(fn.file, fn):
        return [owner for owner in owners if owner.function.file == fn.file]
    return [o for o in owners if not private(o.function.file, o.function)]


#: callee name → the calls of it, with their caller: who calls a destructor, found at once
_CallIndex = dict[str, list[tuple[Function, Node]]]


def _calls_by_callee(functions: list[Function]) -> _CallIndex:
    index: _CallIndex = {}
    for fn in functions:
        for call, name in zip(fn.calls, fn.callees, strict=True):
            if name is not None:
                index.setdefault(name, []).append((fn, call))
    return index


def _constructors(program: Program, calls: _CallIndex, destructor: Function) -> set[str] | None:
    """The repo functions whose result is what callers hand to ``destructor`` (``c =
    createFakeClient(); … freeFakeClient(c);``); None when some caller's object comes from
    elsewhere (a lookup, a parameter, anything but a fresh allocation), so every owner
    counts."""
    found: set[str] = set()
    for fn, call in calls.get(destructor.name, []):
        argument = _first_argument(call)
        made = [
            callee_name(value)
            for node in fn.find("assignment_expression")
            if " ".join(text_of(node.child_by_field_name("left")).split()) == argument
            and (value := strip_expression(node.child_by_field_name("right"))) is not None
            and value.type == "call_expression"
        ]
        if not made or not all(program.allocates(name) for name in made):
            return None  # an object found by a lookup: any owner may have filled it
        found |= {name for name in made if name}
    return found or None


def _released_param(program: Program, fn: Function, param: str) -> Node | None:
    """The call of ``fn`` that releases the parameter itself (``zfree(n)``), if any."""
    for call, index in passing(fn, param):
        name = callee_name(call)
        releases = bool(name) and program.effect(name, 0, fn.file) is CalleeEffect.FREES
        if index == 0 and name != fn.name and releases:
            return call
    return None


def _handed_on(node: Node) -> bool:
    """Whether the value of ``p->member`` (the node) goes somewhere: a call's argument (also
    as ``&p->member``), or the right side of an assignment or initialiser. Reading through it
    (``p->slaves[j]->slaveof = NULL``) or overwriting it is not releasing it."""
    parent = node.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        node, parent = parent, parent.parent
    if (
        parent is not None
        and parent.type == "pointer_expression"
        and parent.children[0].type == "&"
    ):
        node, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type == "argument_list":
        return True
    if parent.type == "assignment_expression":
        return parent.child_by_field_name("right") == node
    return parent.type == "init_declarator" and parent.child_by_field_name("value") == node


def _grown_in_place(call: Node, target: tuple[str, str]) -> bool:
    parent = call.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    return (
        parent is not None
        and parent.type == "assignment_expression"
        and arrow_of(parent.child_by_field_name("left")) == target
    )


def _released_members(
    program: Program, functions: list[Function]
) -> dict[tuple[str, str], set[str]]:
    """(type, member) → the functions that pass it to a release (``dictRelease(c->channels)``,
    ``zfree(n->slaves)`` in a reset helper)."""
    released: dict[tuple[str, str], set[str]] = {}
    for fn in functions:
        types: dict[str, str] | None = None
        for call, name in zip(fn.calls, fn.callees, strict=True):
            arguments = call.child_by_field_name("arguments")
            for index, argument in enumerate(arguments.named_children if arguments else []):
                target = arrow_of(argument)
                if target is None or name is None:
                    continue
                effect = program.effect(name, index, fn.file)
                if effect not in (CalleeEffect.FREES, CalleeEffect.MAY_FREE):
                    continue
                if _grown_in_place(call, target):
                    continue  # p->items = realloc(p->items, n): the member is kept, resized
                types = types if types is not None else fn.pointer_types
                kind = types.get(target[0])
                if kind:
                    released.setdefault((kind, target[1]), set()).add(fn.name)
    return released


def _callers_release_first(calls: _CallIndex, destructor: Function, releasers: set[str]) -> bool:
    """Whether every call of ``destructor(x)`` comes with a call of a member releaser on the
    same ``x`` in the same caller (``freeFakeClientArgv(c); … freeFakeClient(c);``). With no
    call by name in sight (a callback), the releasers elsewhere get the benefit of the doubt."""
    for fn, call in calls.get(destructor.name, []):
        argument = _first_argument(call)
        covered = any(
            callee_name(other) in releasers and _first_argument(other) == argument
            for other in fn.calls
        )
        if not covered:
            return False
    return True


def _first_argument(call: Node) -> str:
    arguments = call.child_by_field_name("arguments")
    first = arguments.named_children[0] if arguments and arguments.named_children else None
    return " ".join(text_of(strip_expression(first)).split())


def _reaches_members(program: Program, fn: Function, param: str, depth: int = 0) -> bool:
    """Whether ``fn`` reads a member through ``param`` (``param->x``), itself or in a function
    it hands ``param`` to (``raxFree(r)`` → ``raxFreeWithCallback(r, NULL)``): a destructor
    of its own, unlike a plain release (``zfree(ptr)``) that only frees the block."""
    if any(
        (arrow := arrow_of(node)) is not None and arrow[0] == param
        for node in find_all(fn.body, "field_expression")
    ):
        return True
    if depth >= _HELPER_DEPTH:
        return False
    for call, index in passing(fn, param):
        name = callee_name(call)
        helper = program.lookup(name, fn.file) if name else None
        if helper is None or helper is fn or index >= len(helper.params):
            continue
        if _reaches_members(program, helper, helper.params[index], depth + 1):
            return True
    return False


def _handles(program: Program, fn: Function, param: str, member: str, depth: int) -> bool:
    """Whether ``fn`` hands ``param->member`` on, or hands ``param`` to code that may."""
    for node in find_all(fn.body, "field_expression"):
        if arrow_of(node) == (param, member) and _handed_on(node):
            return True
    if depth >= _HELPER_DEPTH:
        return True  # too deep to tell: benefit of the doubt
    for call, index in passing(fn, param):
        name = callee_name(call)
        if name is None:
            return True  # a function pointer: cannot tell
        helper = program.lookup(name, fn.file) or program.macro_function(name)
        parameter = helper.params[index] if helper and index < len(helper.params) else None
        if program.effect(name, index, fn.file) is CalleeEffect.FREES:
            if helper is None or parameter is None:
                continue  # the release of the struct itself (free, zfree)
            if not _reaches_members(program, helper, parameter):
                continue
            return True  # another destructor: that one answers for the member
        if helper is None:
            return True  # outside code: cannot tell
        if helper is fn or parameter is None or helper.body is None:
            continue
        if _handles(program, helper, parameter, member, depth + 1):
            return True
    return False


def forgotten_members(program: Program, driven: dict[str, LoopInfo]) -> list[Finding]:
    """A finding per destructor and owned member it never releases (see the module doc)."""
    functions = [fn for fn in program.all_functions() if program.scope.contains(fn.file)]
    owned = _owned_members(program, functions)
    if not owned:
        return []
    released = _released_members(program, functions)
    calls = _calls_by_callee(functions)
    kinds = {kind for kind, _ in owned}
    findings: list[Finding] = []
    for fn in functions:
        if fn.body is None or not fn.params:
            continue
        types = {name: kind for name, kind in fn.pointer_types.items() if name in fn.params}
        for param, kind in types.items():
            if kind not in kinds:
                continue
            release = _released_param(program, fn, param)
            if release is None:
                continue
            makers = _constructors(program, calls, fn)
            links = program.constants.link_fields(kind)
            for (owner_kind, member), all_owners in sorted(owned.items()):
                if owner_kind != kind or member in links:
                    continue  # another kind, or a list's link (jq's dtoa Bigint->next)
                owners = [o for o in _owners_seen_by(fn, kind, all_owners) if o.function is not fn]
                if makers is not None:  # only what the objects' constructors fill
                    owners = [o for o in owners if o.function.name in makers]
                if not owners:
                    continue
                owner = owners[0]
                if _handles(program, fn, param, member, 0):
                    continue
                releasers = released.get((kind, member), set()) - {fn.name}
                if releasers and _callers_release_first(calls, fn, releasers):
                    continue
                findings.append(_finding(fn, param, kind, member, owner, release, driven))
    return findings


def _finding(
    fn: Function,
    param: str,
    kind: str,
    member: str,
    owner: _Owner,
    release: Node,
    driven: dict[str, LoopInfo],
) -> Finding:
    line = line_of(release)
    loop = driven.get(fn.name)
    per_object = loop is not None and loop.unbounded
    reasons = [
        f"{fn.name}() releases {param} (a {kind}) at line {line} but never its member "
        f"{member}, which {owner.function.name}() fills with a fresh block at "
        f"{owner.function.file}:{owner.line}",
    ]
    if per_object and loop is not None:
        reasons.append(f"objects are destroyed on every iteration of {loop.describe()}")
    return Finding(
        file=fn.file,
        function=fn.name,
        line=line,
        end_line=line,
        kind=FindingKind.LOOP_LEAK if per_object else FindingKind.ONE_OFF_LEAK,
        issue=MEMBER_ISSUE,
        allocation=f"{param}->{member} = {' '.join(owner.call.split())}",
        variable=f"{param}->{member}",
        evidence=[
            f"member {member} of {kind} owned since {owner.function.file}:{owner.line}",
            f"release of the struct at {fn.file}:{line}: {' '.join(text_of(release).split())}",
        ],
        confidence=Confidence.LOW,
        reasons=reasons,
        support=[Support.PATH],
        score=(0.9 if per_object else 0.2),
        in_scope=True,
    )
