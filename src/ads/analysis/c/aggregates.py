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

A function that never releases its local is followed too, when the call that hands the address
on is one that *puts fresh memory into a member* (``fills_members``): its body stores an
allocation (or a reallocation) into ``param->member``, directly, through a macro that assigns
one to its argument (git's ``ALLOC_GROW(sb->buf, …)``), through an out-parameter allocator
(``asprintf(&p->m, …)``) or by handing ``param`` on to another such function — git's
``strbuf_addf()`` reaches ``realloc`` three calls down. That is evidence the local holds heap
memory; a type merely having a releaser somewhere is not (redis's stack string objects).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ads.analysis.c.paths import CalleeEffect
from ads.analysis.c.syntax import (
    Node,
    arrow_of,
    callee_name,
    declared_name,
    strip_expression,
    text_of,
)

if TYPE_CHECKING:
    from ads.analysis.c.program import Function, Program

__all__ = [
    "address_argument",
    "aggregate_sites",
    "assigns_allocation",
    "fills_members",
    "hands_on_members",
    "hands_to_a_release",
    "passing",
    "releases_aggregate",
    "writes_through",
]


def address_argument(argument: Node) -> str | None:
    """``&name`` → ``name`` (parentheses and casts aside); None for anything else."""
    bare = strip_expression(argument)
    if bare is None or bare.type != "pointer_expression" or bare.children[0].type != "&":
        return None
    inner = strip_expression(bare.child_by_field_name("argument"))
    return text_of(inner) if inner is not None and inner.type == "identifier" else None


def passing(fn: Function, param: str) -> Iterator[tuple[Node, int]]:
    """The calls of ``fn`` that pass ``param`` itself, with the argument's index."""
    for call in fn.calls:
        arguments = call.child_by_field_name("arguments")
        for index, argument in enumerate(arguments.named_children if arguments else []):
            if _is_name(strip_expression(argument), param):
                yield call, index


def aggregate_sites(program: Program, fn: Function) -> list[tuple[Node, str, bool]]:
    """(site, local, released here) for each struct local of ``fn`` that owns memory: a
    releaser of what it holds takes it by address on some path (``strbuf_release(&sb)``), and
    the site is the first call before that hands its address to repo code that may write
    through it (``strbuf_addf(&sb, …)``); or nothing here releases it, and the site is the
    first call that puts heap memory into it (``fills_members``). A type having a releaser
    somewhere is not evidence enough: on redis it turned stack objects
    (``initStaticStringObject(key, …)``) and read-only entries into false alarms."""
    if fn.body is None or b"&" not in (fn.body.text or b""):
        return []
    handles = program.handle_types()  # released by value (jq's ``jv``): ``c_handles``
    candidates = {n: t for n, t in _struct_locals(program, fn).items() if t not in handles}
    if not candidates:
        return []
    statics = _static_locals(fn, candidates)
    passes: dict[str, list[tuple[Node, bool, bool, int]]] = {}
    for call in fn.calls:
        name = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        for index, argument in enumerate(arguments.named_children if arguments else []):
            local = address_argument(argument)
            if local is None or local not in candidates or name is None:
                continue
            releases = program.releases_aggregate(name, index, fn.file)
            fills = not releases and writes_through(program, fn.file, name, index)
            passes.setdefault(local, []).append((call, releases, fills, index))
    sites = []
    for local, calls in passes.items():
        release_at = [c.start_byte for c, released, _, _ in calls if released]
        if not release_at:
            # never released here: a site only where a callee is seen putting heap memory in
            if local in statics or _frees_a_member(program, fn, local):
                continue  # reused across calls, or released member by member here
            allocating = [
                c
                for c, _, fills, index in calls
                if fills and program.fills_members(callee_name(c), index, fn.file)
            ]
            if allocating:
                sites.append((min(allocating, key=lambda c: c.start_byte), local, False))
            continue
        last = max(release_at)
        fillers = [
            c
            for c, _, fills, index in calls
            if fills
            and c.start_byte < last
            # ``strbuf_detach(&sb, NULL)`` hands what it holds out: where it stops owning
            and not program.hands_on_members(callee_name(c), index, fn.file)
        ]
        first = min(fillers, key=lambda c: c.start_byte, default=None)
        if first is not None:
            sites.append((first, local, True))
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


def fills_members(program: Program, file: str, name: str, index: int) -> bool:
    """Whether the repo's ``name`` (a function, or a function-like macro) puts fresh heap
    memory into a member of what its pointer parameter ``index`` points to, on some path:
    ``p->m = alloc(…)`` or ``p->m = realloc(p->m, …)``; ``M(p->m, …)`` for a macro ``M``
    that assigns one to that argument; ``asprintf(&p->m, …)``; or ``p`` handed on to another
    such function (``Program.fills_members`` caches the answers and guards recursion)."""
    callee = program.lookup(name, file)
    if callee is None and name in program.constants.macro_names:
        callee = program.macro_function(name)
    if callee is None or callee.body is None or index >= len(callee.params):
        return False
    param = callee.params[index]
    if not param:
        return False
    for assignment in callee.find("assignment_expression"):
        target = arrow_of(assignment.child_by_field_name("left"))
        right = assignment.child_by_field_name("right")
        if target is not None and target[0] == param and _allocating_value(program, right):
            return True
    for call in callee.calls:
        called = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        if called is None or arguments is None:
            continue
        for i, argument in enumerate(arguments.named_children):
            bare = strip_expression(argument)
            if bare is None:
                continue
            if _is_name(bare, param):
                if program.fills_members(called, i, callee.file):
                    return True
            elif (arrow := arrow_of(bare)) is not None and arrow[0] == param:
                if program.assigns_allocation(called, i):
                    return True
            elif _address_of_member(bare) == param and program.out_param(call):
                return True
    return False


def hands_on_members(program: Program, file: str, name: str, index: int) -> bool:
    """Whether the repo's ``name`` gives away what its pointer parameter ``index`` holds:
    it returns a member (``strbuf_detach``: ``res = sb->buf; …; return res;``), moves a member
    out (``x->name = p->buf``), or passes the parameter on to a function that does one of
    these (``s->data = strbuf_detach(buf, &size)``). The caller's struct local then holds
    nothing it must release. (A member handed to a callee that keeps it is not counted: most
    are borrowed, ``lookup(revs->repo, …)``; nor is a pointer into the struct returned,
    ``&list->items[n]``.)"""
    callee = program.lookup(name, file)
    if callee is None or callee.body is None or index >= len(callee.params):
        return False
    param = callee.params[index]
    if not param:
        return False
    read = set(_member_aliases(callee, param))  # locals holding a member: ``res = sb->buf``
    for assignment in callee.find("assignment_expression"):
        if not _member_of(assignment.child_by_field_name("right"), param):
            continue
        if _stores_outside(assignment, callee, param):
            return True
        left = strip_expression(assignment.child_by_field_name("left"))
        if _is_name(left, None):
            read.add(text_of(left))
    for returned in callee.find("return_statement") if callee.returns_pointer else ():
        value = strip_expression(returned.named_children[0]) if returned.named_children else None
        if _member_of(value, param) or (_is_name(value, None) and text_of(value) in read):
            return True  # ``return res;``: strbuf_detach hands the buffer to its caller
    return any(
        (called := callee_name(call)) is not None
        and called != name
        and program.hands_on_members(called, i, callee.file)
        for call, i in passing(callee, param)
    )


def hands_to_a_release(program: Program, file: str, name: str, index: int) -> bool:
    """Whether ``name`` passes its parameter ``index`` on to a release of what it holds
    (``merge_finalize(opt)``, ``strbuf_release(sb)`` on a failure): a filler that cleans up
    after itself on some path is not evidence the caller is left holding memory."""
    fn = program.lookup(name, file)
    if fn is None or fn.body is None or index >= len(fn.params) or not fn.params[index]:
        return False
    return any(
        (called := callee_name(call)) is not None
        and called != name
        and program.releases_aggregate(called, i, fn.file)
        for call, i in passing(fn, fn.params[index])
    )


def _stores_outside(assignment: Node, fn: Function, param: str) -> bool:
    """The assignment writes somewhere other than a local of ``fn`` (a member, ``*out``, a
    global) and other than the struct ``param`` itself: what it stores outlives the call."""
    left = strip_expression(assignment.child_by_field_name("left"))
    if left is None or (left.type == "identifier" and text_of(left) in fn.locals):
        return False
    root: Node | None = left
    while root is not None and root.type in ("field_expression", "subscript_expression"):
        root = strip_expression(root.child_by_field_name("argument"))
    # p->a = p->b: moved within the struct the caller still holds
    return not (root is not None and root.type == "identifier" and text_of(root) == param)


def assigns_allocation(program: Program, name: str, index: int) -> bool:
    """Whether the function-like macro ``name`` assigns a fresh block or a reallocation to its
    argument ``index`` itself (``#define REALLOC_ARRAY(x, n) (x) = xrealloc((x), …)``), or
    hands that argument on to a macro that does (``ALLOC_GROW``)."""
    if name not in program.constants.macro_names:
        return False
    macro = program.macro_function(name)
    if macro is None or macro.body is None or index >= len(macro.params):
        return False
    param = macro.params[index]
    for assignment in macro.find("assignment_expression"):
        left = strip_expression(assignment.child_by_field_name("left"))
        right = assignment.child_by_field_name("right")
        if _is_name(left, param) and _allocating_value(program, right):
            return True
    return any(
        (called := callee_name(call)) is not None
        and called != name
        and program.assigns_allocation(called, i)
        for call, i in passing(macro, param)
    )


def _is_name(node: Node | None, name: str | None) -> bool:
    """``node`` is an identifier (named ``name``, when given)."""
    return node is not None and node.type == "identifier" and name in (None, text_of(node))


def _allocating_value(program: Program, value: Node | None) -> bool:
    """A call that returns fresh or reallocated heap memory."""
    bare = strip_expression(value)
    if bare is None or bare.type != "call_expression":
        return False
    name = callee_name(bare)
    return name is not None and (program.allocates(name) or "realloc" in name)


def _address_of_member(node: Node) -> str | None:
    """``&p->m`` → ``p``; None for anything else."""
    if node.type != "pointer_expression" or node.children[0].type != "&":
        return None
    target = arrow_of(node.child_by_field_name("argument"))
    return target[0] if target is not None else None


def _frees_a_member(program: Program, fn: Function, local: str) -> bool:
    """Whether ``fn`` frees a member of its struct local itself (``free(r.min)``): it manages
    what the local holds by hand, which the parse of its filler's conventions decides."""
    for call in fn.calls:
        arguments = call.child_by_field_name("arguments")
        for i, argument in enumerate(arguments.named_children if arguments else []):
            bare = strip_expression(argument)
            if bare is None or bare.type != "field_expression":
                continue
            base = strip_expression(bare.child_by_field_name("argument"))
            if base is None or base.type != "identifier" or text_of(base) != local:
                continue
            if program.effect(callee_name(call), i, fn.file) is CalleeEffect.FREES:
                return True
    return False


def _static_locals(fn: Function, names: dict[str, str]) -> frozenset[str]:
    """The struct locals declared ``static``: they outlive the call, reused, not leaked."""
    found = set()
    for declaration in fn.find("declaration"):
        if not any(
            c.type == "storage_class_specifier" and text_of(c) == "static"
            for c in declaration.children
        ):
            continue
        for child in declaration.children_by_field_name("declarator"):
            declared = declared_name(child)
            if declared in names:
                found.add(declared)
    return frozenset(found)


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
    frees = fills = handed = False
    # ``struct dco *dco = state->delayed; … free(dco);``: a local read from a member stands for it
    aliases = _member_aliases(callee, param)
    for call in callee.calls:
        called = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        for i, argument in enumerate(arguments.named_children if arguments else []):
            target = arrow_of(argument)
            bare = strip_expression(argument)
            if target is None and bare is not None and bare.type == "identifier":
                if called is not None and text_of(bare) == param and called != name:
                    # handed on whole to a release of what it holds (``b_free`` → ``__b_free``)
                    handed = handed or program.releases_aggregate(called, i, callee.file)
                    continue
                target = aliases.get(text_of(bare))
            if target is None or target[0] != param or called is None:
                continue
            effect = program.effect(called, i, callee.file)
            if "realloc" in called or program.assigns_allocation(called, i):
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
    if frees or fills:
        return frees and not fills
    # handed whole to a release: a release, unless it also fills (a parser that cleans up its
    # own failure, ``zslParseLexRange``: ``zslFreeLexRange(spec); return C_ERR;``)
    return handed and not program.puts_memory_in(name, index, file)


def _member_of(value: Node | None, param: str) -> tuple[str, str] | None:
    """``param->m`` as (param, m), also as a branch of ``c ? param->m : other``; else None."""
    bare = strip_expression(value)
    if bare is not None and bare.type == "conditional_expression":
        for branch in ("consequence", "alternative"):
            found = _member_of(bare.child_by_field_name(branch), param)
            if found is not None:
                return found
        return None
    member = arrow_of(bare)
    return member if member is not None and member[0] == param else None


def _member_aliases(fn: Function, param: str) -> dict[str, tuple[str, str]]:
    """Locals declared from a member of ``param`` (``T *x = param->m;``, also ``T *x = c ?
    param->m : y;``): name → (param, m)."""
    aliases = {}
    for node in fn.find("init_declarator"):
        member = _member_of(node.child_by_field_name("value"), param)
        declared = declared_name(node)
        if member is not None and declared:
            aliases[declared] = member
    return aliases


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
