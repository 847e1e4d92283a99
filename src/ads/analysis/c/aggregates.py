"""Local aggregates that own memory: a struct on the stack whose members a callee fills.

``struct strbuf sb = STRBUF_INIT; strbuf_addf(&sb, …); … strbuf_release(&sb);`` and
``zlexrangespec range; zslParseLexRange(a, b, &range); … zslFreeLexRange(&range);``: the local
itself is not heap memory, but the members the callees put in it are, and the function owes
their release. When the function hands the local's address to a releaser of what it holds on
some path, ADS knows the local owns memory; the first call that hands its address to the repo's
code before that is where it starts to (the *site*), and the path walk follows the local from
there like an out-parameter allocation: ``R(&v)`` releases it, a call that returns a pointer
made from it (``strbuf_detach(&sb, NULL)``) hands the memory on, other repo calls only fill or
read it, and a path that ends still holding it leaks what it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ads.analysis.c.paths import CalleeEffect
from ads.analysis.c.syntax import (
    Node,
    arrow_of,
    callee_name,
    strip_expression,
    text_of,
)

if TYPE_CHECKING:
    from ads.analysis.c.program import Function, Program

__all__ = ["address_argument", "aggregate_sites", "releases_aggregate", "writes_through"]


def address_argument(argument: Node) -> str | None:
    """``&name`` → ``name`` (parentheses and casts aside); None for anything else."""
    bare = strip_expression(argument)
    if bare is None or bare.type != "pointer_expression" or bare.children[0].type != "&":
        return None
    inner = strip_expression(bare.child_by_field_name("argument"))
    return text_of(inner) if inner is not None and inner.type == "identifier" else None


def aggregate_sites(program: Program, fn: Function) -> list[tuple[Node, str]]:
    """(site, local) for each struct local of ``fn`` that owns memory: a releaser of what it
    holds takes it by address on some path (``strbuf_release(&sb)``). The site is the first call
    before that hands its address to repo code that may write through it (``strbuf_addf(&sb,
    …)``). A type having a releaser somewhere is not evidence enough: on redis it turned stack
    objects (``initStaticStringObject(key, …)``) and read-only entries into false alarms."""
    if fn.body is None or b"&" not in (fn.body.text or b""):
        return []
    candidates = _struct_locals(program, fn)
    if not candidates:
        return []
    passes: dict[str, list[tuple[Node, bool, bool]]] = {}
    for call in fn.calls:
        name = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        for index, argument in enumerate(arguments.named_children if arguments else []):
            local = address_argument(argument)
            if local is None or local not in candidates or name is None:
                continue
            releases = program.releases_aggregate(name, index, fn.file)
            fills = not releases and writes_through(program, fn.file, name, index)
            passes.setdefault(local, []).append((call, releases, fills))
    sites = []
    for local, calls in passes.items():
        release_at = [c.start_byte for c, released, _ in calls if released]
        if not release_at:
            continue
        last = max(release_at)
        fillers = [c for c, _, fills in calls if fills and c.start_byte < last]
        first = min(fillers, key=lambda c: c.start_byte, default=None)
        if first is not None:
            sites.append((first, local))
    return sites


def writes_through(program: Program, file: str, name: str, index: int) -> bool:
    """Whether the repo's ``name`` takes parameter ``index`` as a non-const pointer."""
    callee = program.lookup(name, file)
    if callee is None:
        return False
    declarator = callee.node.child_by_field_name("declarator")
    while declarator is not None and declarator.type == "pointer_declarator":
        declarator = declarator.child_by_field_name("declarator")
    parameters = declarator.child_by_field_name("parameters") if declarator else None
    declared = [
        p for p in (parameters.named_children if parameters else [])
        if p.type == "parameter_declaration"
    ]  # fmt: skip
    if index >= len(declared):
        return False
    return not any(
        c.type == "type_qualifier" and text_of(c) == "const" for c in declared[index].children
    )


def releases_aggregate(program: Program, file: str, name: str, index: int) -> bool:
    """Whether ``name`` is a release of what its argument ``index`` holds: its own body frees a
    member of that parameter (``free(r->min)``, ``sdsfree(spec->max)``) and puts no fresh block
    into one (a constructor that cleans up when it fails is a filler, not a release)."""
    callee = program.lookup(name, file)
    if callee is None:
        callee = program.macro_function(name)
    if callee is None or index >= len(callee.params) or not callee.params[index]:
        return False
    param = callee.params[index]
    frees = fills = False
    for call in callee.calls:
        called = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        for i, argument in enumerate(arguments.named_children if arguments else []):
            target = arrow_of(argument)
            if target is None or target[0] != param or called is None:
                continue
            effect = program.effect(called, i, callee.file)
            if called in ("realloc", "reallocarray"):
                fills = True
            elif effect in (CalleeEffect.FREES, CalleeEffect.MAY_FREE):
                frees = True
    for assignment in callee.find("assignment_expression"):
        target = arrow_of(assignment.child_by_field_name("left"))
        value = strip_expression(assignment.child_by_field_name("right"))
        if (
            target is not None
            and target[0] == param
            and value is not None
            and value.type == "call_expression"
            and program.allocates(callee_name(value))
        ):
            fills = True
    return frees and not fills


def _struct_locals(program: Program, fn: Function) -> dict[str, str]:
    """Locals declared with a struct (or typedef'd struct) type, not as pointers or arrays:
    name → the type's name (``struct strbuf sb`` → ``strbuf``)."""
    names: dict[str, str] = {}
    for declaration in fn.find("declaration"):
        kind = declaration.child_by_field_name("type")
        if kind is None or kind.type not in ("struct_specifier", "type_identifier"):
            continue
        if text_of(kind) in program.constants.pointer_types:
            continue  # ``sds s``: a typedef'd pointer, followed as a pointer
        named = kind.child_by_field_name("name") if kind.type == "struct_specifier" else kind
        type_name = text_of(named)
        for child in declaration.children_by_field_name("declarator"):
            node: Node | None = child
            if child.type == "init_declarator":
                node = child.child_by_field_name("declarator")
            if node is not None and node.type == "identifier" and text_of(node) not in fn.params:
                names[text_of(node)] = type_name
    return names
