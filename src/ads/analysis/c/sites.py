"""Facts about one allocation call: how many bytes it asks for, which variable receives it, and
whether it is storage grown in place on every iteration (``items = realloc(items, ++n * size)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ads.analysis.c.flow import CalleeEffect
from ads.analysis.c.program import Function, LoopInfo, Program
from ads.analysis.c.syntax import (
    Node,
    callee_name,
    declared_name,
    line_of,
    strip_expression,
    text_of,
    walk,
)

__all__ = ["Growth", "allocation_bytes", "call_text", "find_growth", "variable_of"]

_MAX_WRAPPER_DEPTH = 6


def call_text(call: Node) -> str:
    return " ".join(text_of(call).split())


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return list(arguments.named_children) if arguments is not None else []


def allocation_bytes(
    program: Program, call: Node, bindings: dict[str, int] | None = None, _depth: int = 0
) -> int | None:
    """Bytes one execution of ``call`` allocates, folded from constants; None if not constant."""
    name = callee_name(call) or ""
    args = _arguments(call)
    fold = program.constants.evaluate

    def arg(index: int) -> int | None:
        return fold(args[index], bindings) if index < len(args) else None

    if name in ("malloc",):
        return arg(0)
    if name in ("realloc", "aligned_alloc"):
        return arg(1)
    if name in ("calloc",) or name == "reallocarray":
        first, second = (arg(0), arg(1)) if name == "calloc" else (arg(1), arg(2))
        return first * second if first is not None and second is not None else None
    if name in ("strdup", "strndup"):
        source = strip_expression(args[0]) if args else None
        if source is None or source.type != "string_literal":
            return None
        length = len(text_of(source)) - 1  # the quotes count as two, the NUL byte adds one
        limit = arg(1) if name == "strndup" else None
        return min(length, limit + 1) if limit is not None else length
    wrapper = program.wrappers.get(name)
    if wrapper is None or _depth >= _MAX_WRAPPER_DEPTH:
        return None
    bound = {
        p: v
        for p, a in zip(wrapper.params, args, strict=False)
        if (v := fold(a, bindings)) is not None
    }
    for inner in program.allocation_calls(wrapper):
        size = allocation_bytes(program, inner, bound, _depth + 1)
        if size is not None:
            return size
    return None


def variable_of(call: Node) -> str | None:
    """The variable that receives the allocation: ``char *buf = malloc(...)`` → ``buf``."""
    parent = call.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    if parent is None:
        return None
    if parent.type == "init_declarator":
        return declared_name(parent.child_by_field_name("declarator"))
    if parent.type == "assignment_expression":
        return text_of(parent.child_by_field_name("left")) or None
    if callee_name(call) in ("asprintf", "vasprintf"):
        args = _arguments(call)
        first = strip_expression(args[0]) if args else None
        if first is not None and first.type == "pointer_expression":
            return text_of(first.child_by_field_name("argument"))
    return None


@dataclass
class Growth:
    target: str
    counter: str | None
    bytes_per_iteration: int | None
    loop: LoopInfo
    reasons: list[str]


def _increment(node: Node, counter: str) -> int | None:
    """How much ``node`` adds to ``counter`` (``n++``, ``++n``, ``n += 3``), else None."""
    if node.type == "update_expression":
        argument = node.child_by_field_name("argument")
        if text_of(argument) == counter and "++" in text_of(node):
            return 1
    if node.type == "assignment_expression":
        operator = node.child_by_field_name("operator")
        left = text_of(node.child_by_field_name("left"))
        if left == counter and operator is not None and operator.type == "+=":
            right = node.child_by_field_name("right")
            return int(text_of(right)) if right is not None and text_of(right).isdigit() else 1
    return None


def _frees(program: Program, call: Node, target: str, file: str) -> bool:
    """Whether ``call`` frees ``target`` (``free(x)``, ``zfree(x)``, a repo function that frees)."""
    name = callee_name(call)
    for index, argument in enumerate(_arguments(call)):
        if text_of(strip_expression(argument)) == target:
            return program.effect(name, index, file) is CalleeEffect.FREES
    return False


def growth_target(call: Node, body: Node | None) -> tuple[str, str | None] | None:
    """For ``x = realloc(x, n)``: ``("x", None)``; for ``t = realloc(x, n); … x = t;`` (the
    usual failure-safe form): ``("x", "t")``. None when the call does not grow ``x`` in place."""
    arguments = _arguments(call)
    first = strip_expression(arguments[0]) if arguments else None
    grown = text_of(first)
    if first is None or first.type not in ("identifier", "field_expression"):
        return None
    holder = variable_of(call)
    if holder is None:
        return None
    if " ".join(holder.split()) == " ".join(grown.split()):
        return grown, None
    for node in walk(body) if body is not None else []:
        if node.type != "assignment_expression":
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if text_of(left) == grown and text_of(strip_expression(right)) == holder:
            return grown, holder
    return None


def find_growth(program: Program, fn: Function, call: Node, loop: LoopInfo | None) -> Growth | None:
    """``x = realloc(x, size)`` with ``size`` rising every iteration of an unbounded loop and
    ``x`` never freed or reset in it: memory that only grows."""
    if loop is None:
        return None
    grows = growth_target(call, fn.body)
    target, temporary = grows if grows is not None else ("", None)
    assignment = call.parent
    while assignment is not None and assignment.type != "assignment_expression":
        assignment = assignment.parent
    scope = loop.node if loop.function is fn else fn.body
    if not target or scope is None:
        return None
    if target in fn.locals and loop.shape != "infinite" and fn.body is not None:
        scope = fn.body  # a local freed after a finite loop lives only as long as the call
    for node in walk(scope):
        if node.id == call.id or node.type != "call_expression":
            pass
        elif _frees(program, node, target, fn.file):
            return None
        reset = node.type == "assignment_expression" and node.id != getattr(assignment, "id", None)
        if reset and text_of(node.child_by_field_name("left")) == target:
            moved = text_of(strip_expression(node.child_by_field_name("right")))
            if temporary is None or moved != temporary:
                return None
    args = _arguments(call)
    size_arg = args[1] if len(args) > 1 else None
    counters = [n for n in walk(size_arg) if n.type == "identifier"] if size_arg else []
    for counter_node in counters:
        counter = text_of(counter_node)
        if loop.function is not fn and counter in fn.locals:
            continue  # a local counter starts again on every call: no growth across calls
        step = sum(
            inc for n in walk(scope) if n.id != counter_node.id and (inc := _increment(n, counter))
        )
        if not step:
            continue
        fold = program.constants.evaluate
        low, high = fold(size_arg, {counter: 0}), fold(size_arg, {counter: step})
        per_iteration = high - low if low is not None and high is not None else None
        via = ""
        if loop.through_pointer and loop.function is not fn:
            via = f", which dispatches {fn.name}() through a function pointer"
        reasons = [
            f"{target} is realloc'ed to a size that grows with {counter} "
            f"(+{step} per iteration of {loop.condition}{via}) and is never freed or reset"
        ]
        return Growth(target, counter, per_iteration, loop, reasons)
    return None


def line_span(call: Node) -> tuple[int, int]:
    return line_of(call), call.end_point[0] + 1
