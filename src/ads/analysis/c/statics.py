"""Static pointer slots that nothing releases: a block stored there is never given back.

A block stored into a global normally escapes: whoever reads the global may release it, so
the path walk stops following it. A ``static`` variable is different: only its own file (or, for
a function's ``static`` local, its own function) can reach it, so ADS can read every use. When
no use releases it — no release call takes it, directly or through a local copy
(``char *data = slot; free(data);``) — and nothing hands it on where a release could happen
(``&slot``, ``return slot``, a call that keeps it), the block stored there is lost: when the slot
is overwritten (a leak per store when stores repeat: ``last = strdup(msg);`` per request), or
when the program ends. A store guarded by the slot's own null check (``if (!cache) cache =
malloc(n);``) fills it once and is not a leak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ads.analysis.c.paths import CalleeEffect
from ads.analysis.c.syntax import (
    Node,
    callee_name,
    declarators,
    declared_name,
    find_all,
    identifier_pattern,
    strip_expression,
    text_of,
)

if TYPE_CHECKING:
    from ads.analysis.c.program import Function, Program

__all__ = ["guarded_store", "static_pointers", "unreleased_slots"]

#: where a use of the slot is only a read: compared, tested, dereferenced, measured
_READS = frozenset(
    {"binary_expression", "unary_expression", "field_expression", "subscript_expression",
     "parenthesized_expression", "condition_clause", "cast_expression"}
)  # fmt: skip


_STATEMENTS = frozenset({"if_statement", "while_statement", "expression_statement"})


def static_pointers(declaration: Node) -> list[str]:
    """The names a ``static T *name;`` declaration declares (pointers only, not functions)."""
    if not any(
        c.type == "storage_class_specifier" and text_of(c) == "static" for c in declaration.children
    ):
        return []
    names = []
    for declarator in declarators(declaration):
        node = declarator
        if node.type == "init_declarator":
            node = node.child_by_field_name("declarator") or node
        if node.type != "pointer_declarator":
            continue
        if any(n.type == "function_declarator" for n in find_all(node, "function_declarator")):
            continue
        name = declared_name(node)
        if name:
            names.append(name)
    return names


def unreleased_slots(program: Program, fn: Function) -> frozenset[str]:
    """The static pointer slots ``fn`` can store into that no code in their scope releases."""
    slots: set[str] = set()
    for name in program.statics.get(fn.file, ()):
        if name in fn.locals:
            continue  # shadowed by a local of the same name
        key = (fn.file, name)
        if key not in program.static_verdicts:
            scope = program.functions_in(fn.file)
            program.static_verdicts[key] = any(_may_release(program, g, name) for g in scope)
        if not program.static_verdicts[key]:
            slots.add(name)
    for declaration in fn.find("declaration"):
        for name in static_pointers(declaration):
            if not _may_release(program, fn, name):
                slots.add(name)
    return frozenset(slots)


def guarded_store(assignment: Node, name: str) -> bool:
    """Whether the store sits under a condition on the slot itself (lazy initialisation)."""
    node = assignment.parent
    pattern = identifier_pattern(frozenset({name}))
    while node is not None and node.type != "function_definition":
        if node.type in ("if_statement", "conditional_expression"):
            condition = node.child_by_field_name("condition")
            if condition is not None and pattern.search(condition.text or b""):
                return True
        node = node.parent
    return False


def _may_release(program: Program, fn: Function, name: str) -> bool:
    """Whether some use of ``name`` in ``fn`` releases it or hands it where it may be."""
    body = fn.body
    if body is None or identifier_pattern(frozenset({name})).search(body.text or b"") is None:
        return False
    copies: set[str] = set()
    uses = (node for node in find_all(body, "identifier") if text_of(node) == name)
    if any(_use(program, fn, node, copies) for node in uses):
        return True
    return any(_hands_on(program, fn, copy) for copy in copies)


def _use(program: Program, fn: Function, node: Node, copies: set[str]) -> bool:
    """True when this use of the slot may release it; copies into locals are collected."""
    child, parent = node, node.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        child, parent = parent, parent.parent
    if parent is None:
        return True
    kind = parent.type
    if kind == "assignment_expression":
        if parent.child_by_field_name("left") == child:
            return False  # a store into the slot
        left = strip_expression(parent.child_by_field_name("left"))
        if left is not None and left.type == "identifier" and text_of(left) in fn.locals:
            copies.add(text_of(left))
            return False
        return True  # copied into another global or a field: someone else may release it
    if kind == "init_declarator":
        target = declared_name(parent.child_by_field_name("declarator"))
        if target:
            copies.add(target)
            return False
        return True
    if kind == "argument_list":
        return _argument_may_release(program, fn, parent, child)
    if kind == "pointer_expression" and parent.children and parent.children[0].type == "&":
        return True  # &slot: released through the pointer, perhaps
    # read (compared, tested, dereferenced), or else returned, in an initializer, anything
    # else: then it may be released elsewhere
    return not (kind in _READS or kind in _STATEMENTS)


def _argument_may_release(program: Program, fn: Function, arguments: Node, arg: Node) -> bool:
    call = arguments.parent
    if call is None or call.type != "call_expression":
        return True
    index = next((i for i, a in enumerate(arguments.named_children) if a == arg), -1)
    name = callee_name(call)
    if name is None or index < 0:
        return True
    return program.effect(name, index, fn.file) is not CalleeEffect.USES


def _hands_on(program: Program, fn: Function, copy: str) -> bool:
    """Whether the local copy of the slot reaches a call that does not only read it, or leaves
    the function (``return data``, a store)."""
    for call in fn.calls:
        arguments = call.child_by_field_name("arguments")
        for index, argument in enumerate(arguments.named_children if arguments else []):
            bare = strip_expression(argument)
            if bare is None or bare.type != "identifier" or text_of(bare) != copy:
                continue
            name = callee_name(call)
            if name is None or program.effect(name, index, fn.file) is not CalleeEffect.USES:
                return True
    pattern = identifier_pattern(frozenset({copy}))
    for node in fn.find("return_statement"):
        if pattern.search(node.text or b""):
            return True
    for node in fn.find("assignment_expression"):
        right = node.child_by_field_name("right")
        if right is not None and pattern.search(right.text or b""):
            return True
    return False
