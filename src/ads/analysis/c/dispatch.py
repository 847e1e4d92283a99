"""Which loop runs which function value: slots matched between stores and pointer calls.

A function the code uses as a value is stored somewhere — a struct member (``.proc =
getCommand``, ``fe->rfileProc = proc``, the second entry of a ``{"add", cmd_add}`` table row)
or a parameter (``for_each_ref(show_ref, &data)``) — and a call through a pointer reads from
somewhere: ``c->cmd->proc(c)`` reads a ``proc`` member, ``fn(ref, cb_data)`` reads the
parameter ``fn``. A loop that calls through ``proc`` runs what was stored into a ``proc``
member, not every function whose address the code takes: naming that loop as the one that
dispatches ``cmd_mv()`` when it only calls ``opts->print_item`` was a false statement in the
diagnosis, and it made every handler of a code base a per-iteration suspect.

Where the code's data flow is not followed (a value handed to a library function, kept in a
local, returned, an array of pointers), the value's slot is ``ANY``: it is taken as run by any
dispatching loop, as before, so a handler registered through a path this module does not read
still counts. A pointer call whose source is not read is ``ANY`` the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from ads.analysis.c.syntax import (
    definition_of,
    function_declarator,
    function_name,
    strip_expression,
    text_of,
)

if TYPE_CHECKING:
    from ads.analysis.c.program import Function, LoopInfo, Program

__all__ = ["ANY", "Dispatch", "Slot", "call_slots", "parameter_slot"]


@dataclass(frozen=True)
class Slot:
    """Where a function value is kept: a struct member by name (``field``), a function's
    parameter (``param``, named ``function#index``), or somewhere not followed (``any``)."""

    kind: str
    name: str = ""


ANY = Slot("any")


def parameter_slot(function: str, index: int) -> Slot:
    return Slot("param", f"{function}#{index}")


def _field(name: str) -> Slot:
    return Slot("field", name)


def _called_expression(call: Node) -> Node | None:
    """What a call calls, without parentheses and ``*`` (``(*fp)(x)`` calls ``fp``)."""
    node = strip_expression(call.child_by_field_name("function"))
    while node is not None and node.type == "pointer_expression" and node.children[0].type == "*":
        node = strip_expression(node.child_by_field_name("argument"))
    return node


def _read_slot(node: Node | None, fn: Function, *, _depth: int = 0) -> set[Slot]:
    """The slots an expression that yields a function pointer reads from."""
    node = strip_expression(node)
    if node is None:
        return {ANY}
    if node.type == "field_expression":
        return {_field(text_of(node.child_by_field_name("field")))}
    if node.type == "subscript_expression":  # handlers[i], x->ops[i]: the array's slot
        base = strip_expression(node.child_by_field_name("argument"))
        if base is not None and base.type == "field_expression":
            return {_field(text_of(base.child_by_field_name("field")))}
        return {ANY}
    if node.type == "identifier":
        name = text_of(node)
        if name in fn.params:
            return {parameter_slot(fn.name, fn.params.index(name))}
        if name in fn.locals and _depth < 2:
            return _local_sources(name, fn, _depth)
    return {ANY}


def _local_sources(name: str, fn: Function, depth: int) -> set[Slot]:
    """What a local function pointer was set from (``proc = c->cmd->proc; … proc(c)``)."""
    found: set[Slot] = set()
    for node in fn.find("init_declarator"):
        declarator = node.child_by_field_name("declarator")
        if declarator is not None and _declared(declarator) == name:
            value = node.child_by_field_name("value")
            if value is not None:
                found |= _read_slot(value, fn, _depth=depth + 1)
    for node in fn.find("assignment_expression"):
        left = strip_expression(node.child_by_field_name("left"))
        if left is not None and left.type == "identifier" and text_of(left) == name:
            found |= _read_slot(node.child_by_field_name("right"), fn, _depth=depth + 1)
    return found or {ANY}


def _declared(declarator: Node) -> str:
    node: Node | None = declarator
    while node is not None and node.type not in ("identifier", "field_identifier"):
        if node.type == "parenthesized_declarator":
            node = node.named_children[0] if node.named_children else None
        else:
            node = node.child_by_field_name("declarator")
    return text_of(node)


def call_slots(call: Node, fn: Function) -> set[Slot]:
    """The slots a call through a pointer in ``fn`` reads the called function from."""
    return _read_slot(_called_expression(call), fn)


def _stored_slots(value: Node, program: Program) -> set[Slot]:
    """Where a function value (an identifier captured as a value) is stored."""
    node = value
    while node.parent is not None and node.parent.type in (
        "cast_expression",
        "parenthesized_expression",
        "pointer_expression",  # &handler
    ):
        node = node.parent
    parent = node.parent
    if parent is None:
        return {ANY}
    if parent.type == "initializer_pair":
        designators = parent.children_by_field_name("designator")
        last = designators[-1] if designators else None
        if last is not None and last.type == "field_designator":
            return {_field(text_of(last.named_children[0]) if last.named_children else "")}
        return {ANY}
    if parent.type == "initializer_list":
        return _positional_slot(node, parent, program)
    if parent.type == "argument_list":
        call = parent.parent
        callee = strip_expression(call.child_by_field_name("function") if call else None)
        known = callee is not None and text_of(callee) in program.functions
        if callee is not None and callee.type == "identifier" and known:
            index = [c.id for c in parent.named_children if c.type != "comment"].index(node.id)
            return {parameter_slot(text_of(callee), index)}
        return {ANY}  # a library function, a macro or a pointer: not followed
    if parent.type == "assignment_expression":
        left = strip_expression(parent.child_by_field_name("left"))
        if left is not None and left.type == "field_expression":
            return {_field(text_of(left.child_by_field_name("field")))}
        if left is not None and left.type == "subscript_expression":
            base = strip_expression(left.child_by_field_name("argument"))
            if base is not None and base.type == "field_expression":
                return {_field(text_of(base.child_by_field_name("field")))}
    return {ANY}


def _positional_slot(value: Node, braces: Node, program: Program) -> set[Slot]:
    """The member a positional table entry lands in: ``{"add", cmd_add, RUN_SETUP}`` in
    ``struct cmd_struct commands[]`` is the second member of ``struct cmd_struct``."""
    levels = 0
    node: Node | None = braces
    while node is not None and node.type == "initializer_list":
        levels += 1
        node = node.parent
        if node is not None and node.type == "initializer_pair":
            return {ANY}  # .ops = { … }: a nested member's layout, not followed
    if node is None or node.type not in ("init_declarator", "compound_literal_expression"):
        return {ANY}
    if node.type == "init_declarator":
        arrays, declarator = 0, node.child_by_field_name("declarator")
        while declarator is not None and declarator.type == "array_declarator":
            arrays += 1
            declarator = declarator.child_by_field_name("declarator")
        declaration = node.parent
        kind = declaration.child_by_field_name("type") if declaration is not None else None
    else:
        arrays = 0
        descriptor = node.child_by_field_name("type")
        kind = descriptor.child_by_field_name("type") if descriptor is not None else None
    if levels != arrays + 1 or kind is None:
        return {ANY}  # an array of pointers, or a member of a nested struct
    members = program.constants.member_names(kind)
    entries = [c for c in braces.named_children if c.type != "comment"]
    if members is None or any(c.type == "initializer_pair" for c in entries):
        return {ANY}
    index = [c.id for c in entries].index(value.id)
    if index >= len(members) or members[index] is None:
        return {ANY}
    return {_field(members[index] or "")}


class Dispatch:
    """The slots of every function value the service's files use, computed once; ``loops``
    answers, for the functions driven so far, which values a driven pointer call runs."""

    def __init__(self, program: Program, values: dict[str, list[Node]]) -> None:
        self._program = program
        functions: dict[str, set[Slot]] = {}
        parameters: dict[Slot, set[Slot]] = {}
        # most captured identifiers are plain variables: only a function's name or some
        # function's parameter can carry a function value
        carriers = set(program.functions)
        carriers.update(p for fn in program.all_functions() for p in fn.params if p)
        for file, nodes in sorted(values.items()):
            own = program.scope.contains(file)
            for value in nodes:
                name = text_of(value)
                if name not in carriers:
                    continue
                definition = definition_of(value)
                holder = _function_at(program, definition) if definition is not None else None
                if holder is not None and name in holder.params:
                    slot = parameter_slot(holder.name, holder.params.index(name))
                    parameters.setdefault(slot, set()).update(_stored_slots(value, program))
                elif (
                    own
                    and name in program.functions
                    and name != "main"  # dladdr(main, …): the entry point runs once
                    and (holder is None or name not in holder.locals)
                ):
                    functions.setdefault(name, set()).update(_stored_slots(value, program))
        #: function name → every slot its value may be read from
        self.slots = {name: _closure(found, parameters) for name, found in functions.items()}
        self._pointer_calls: list[tuple[Function, LoopInfo | None, int, set[Slot]]] | None = None

    def loops(self, driven: dict[str, LoopInfo]) -> dict[str, LoopInfo]:
        """Each function value not in ``driven`` that a pointer call of the service runs in
        an unbounded loop (or in a function ``driven`` holds): the loop."""
        program = self._program
        #: slot → (the loop, how many arguments the call passes)
        dispatchers: dict[Slot, list[tuple[LoopInfo, int]]] = {}
        for fn, own_loop, count, slots in self._calls():
            loop = own_loop or driven.get(fn.name)
            if loop is None:
                continue
            for slot in slots:
                dispatchers.setdefault(slot, []).append((loop, count))
        everywhere = [entry for entries in dispatchers.values() for entry in entries]
        found: dict[str, LoopInfo] = {}
        for name, held in sorted(self.slots.items()):
            if name in driven:
                continue
            takes = [_arity(fn) for fn in program.functions.get(name, [])]
            if ANY in held:
                matched = _fitting(everywhere, takes)
            else:  # where it was stored is known: a call reading there is the better answer
                known = [entry for slot in held for entry in dispatchers.get(slot, ())]
                matched = _fitting(known, takes) or _fitting(dispatchers.get(ANY, []), takes)
            loop = _first_loop(matched)
            if loop is not None:
                found[name] = loop
        return found

    def _calls(self) -> list[tuple[Function, LoopInfo | None, int, set[Slot]]]:
        """Each pointer call of the service's code (computed once; only which functions are
        driven changes between rounds): its function, the outermost unbounded loop around it
        in that function, how many arguments it passes, and the slots it reads."""
        if self._pointer_calls is None:
            program, found = self._program, []
            for fn in program.all_functions():
                if not program.scope.contains(fn.file):
                    continue
                for call in _pointer_calls(fn):
                    loops = [program.loop_info(loop, fn) for loop in program.enclosing_loops(call)]
                    unbounded = [info for info in loops if info.unbounded]
                    arguments = call.child_by_field_name("arguments")
                    count = arguments.named_child_count if arguments is not None else 0
                    own = unbounded[-1] if unbounded else None
                    found.append((fn, own, count, call_slots(call, fn)))
            self._pointer_calls = found
        return self._pointer_calls


def _function_at(program: Program, definition: Node) -> Function | None:
    for fn in program.functions.get(function_name(definition) or "", []):
        if fn.node.id == definition.id:
            return fn
    return None


def _closure(slots: set[Slot], parameters: dict[Slot, set[Slot]]) -> set[Slot]:
    """``slots`` with every slot a parameter among them passes its value on to."""
    found = set(slots)
    pending = [s for s in slots if s.kind == "param"]
    while pending:
        for onward in parameters.get(pending.pop(), ()):
            if onward not in found:
                found.add(onward)
                if onward.kind == "param":
                    pending.append(onward)
    return found


def _pointer_calls(fn: Function) -> Iterator[Node]:
    """The calls in ``fn`` through a pointer: not by a function's name, nor through a local
    bound to one function."""
    for node, name in zip(fn.calls, fn.callees, strict=True):
        if name is not None and (name not in fn.locals or name in fn.pointer_targets):
            continue
        yield node


def _arity(fn: Function) -> tuple[int, bool]:
    """How many arguments ``fn`` takes, and whether it takes more (``...``)."""
    declarator = function_declarator(fn.node)
    params = declarator.child_by_field_name("parameters") if declarator is not None else None
    listed = [c for c in params.named_children if c.type != "comment"] if params else []
    variadic = any(c.type == "variadic_parameter" for c in listed)
    fixed = [c for c in listed if c.type == "parameter_declaration"]
    if (
        len(fixed) == 1
        and fixed[0].child_by_field_name("declarator") is None
        and text_of(fixed[0].child_by_field_name("type")) == "void"
    ):
        fixed = []  # f(void)
    return len(fixed), variadic or params is None


def _fitting(entries: list[tuple[LoopInfo, int]], takes: list[tuple[int, bool]]) -> list[LoopInfo]:
    """The loops of the pointer calls among ``entries`` that can call a function taking one of
    ``takes`` (a static function can be defined in several files)."""
    return [loop for loop, count in entries if any(_fits(t, count) for t in takes)]


def _fits(takes: tuple[int, bool], count: int) -> bool:
    """Whether a call passing ``count`` arguments can call a function taking ``takes``: a
    call through a prototyped pointer passes exactly the parameters its function has."""
    fixed, more = takes
    return count == fixed or (more and count >= fixed)


def _first_loop(loops: list[LoopInfo]) -> LoopInfo | None:
    """The service's event loop (``for (;;)``, ``while (!stop)``) rather than a list walk that
    calls a callback per element; then the first in the code, for a deterministic answer."""
    if not loops:
        return None
    shape = {"infinite": 0, "flag": 1}
    return min(loops, key=lambda info: (shape.get(info.shape, 2), info.function.file, info.line))
