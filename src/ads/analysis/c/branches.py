"""Branches that test what an earlier branch of the same path already decided.

``if (n) res = malloc(n); … if (n) { use(res); free(res); } else { … }``: no path allocates
and then takes the ``else``. A walk that treats every ``if`` as an independent choice calls that
path a leak; redis has it in ``bitopCommand`` (``if (maxlen)``), ``georadiusGeneric``
(``if (returned_items)``), ``sinterGenericCommand`` (``if (!dstkey)`` then ``if (dstkey)``),
git in ``write_zip_entry`` (``method == 0`` then ``method == 8``).

A *fact* is what a taken branch says about a local: ``subject == value`` holds or does not
(``if (n)`` is ``n == 0`` not holding, ``!p`` is ``p == 0`` holding). A path carries the facts of
the branches it took. A later test of the same local is decided by them only while nothing can
have changed the local: the test comes after the deciding one in the text, and nothing between
them in the text assigns it, increments it, declares it again or takes its address. Only
locals: a global or a member can change in any call. Facts decided inside a loop do not leave
it, nor enter a next iteration (the walk follows one iteration; the local may change in the
next), and paths that join keep only the facts they share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ads.analysis.c.syntax import Node, find_all, strip_expression, text_of

__all__ = ["Fact", "Test", "decide", "read_test", "single_definitions", "writes_of"]

#: (local, value, whether ``local == value`` holds, end byte of the test that decided it)
Fact = tuple[str, int, bool, int]
#: (local, value, whether the condition is true exactly when ``local == value``)
Test = tuple[str, int, bool]


def read_test(
    condition: Node | None,
    locals_: frozenset[str],
    constant: Callable[[Node], int | None],
    defined: Mapping[str, Node] | None = None,
    writes: Mapping[str, Sequence[int]] | None = None,
) -> Test | None:
    """The condition as a test of one local against a constant: ``n``, ``!n``, ``n == C``,
    ``n != C``, ``C == n`` (``C`` anything the program fixes: a literal, an enumerator, a
    ``#define``, ``NULL``); None for any other condition. ``defined``: locals given their
    only value where declared (``int add_new = !refresh_only;``): a test of such a flag is the
    test it was given (git's ``cmd_add``)."""
    cond = strip_expression(condition)
    polarity = True
    while cond is not None and cond.type == "unary_expression" and _operator(cond) == "!":
        cond = strip_expression(cond.child_by_field_name("argument"))
        polarity = not polarity
    if cond is None:
        return None
    if cond.type == "identifier":
        name = text_of(cond)
        flag = defined.get(name) if defined is not None else None
        derived = read_test(flag, locals_, constant) if flag is not None else None
        if derived is not None and flag is not None and writes is not None:
            local, value, when = derived
            if all(at < flag.start_byte for at in writes.get(local, ())):
                # what the flag was given still holds: its local is not written after
                return local, value, when if polarity else not when
        return (name, 0, not polarity) if name in locals_ else None
    if cond.type != "binary_expression" or _operator(cond) not in ("==", "!="):
        return None
    equal = (_operator(cond) == "==") == polarity
    left = strip_expression(cond.child_by_field_name("left"))
    right = strip_expression(cond.child_by_field_name("right"))
    for tested, other in ((left, right), (right, left)):
        if tested is None or other is None or tested.type != "identifier":
            continue
        known = constant(other)
        if text_of(tested) in locals_ and known is not None:
            return text_of(tested), known, equal
    return None


def decide(
    facts: frozenset[Fact], test: Test, start: int, writes: Mapping[str, Sequence[int]]
) -> bool | None:
    """Whether the condition ``test`` (starting at byte ``start``) is true on a path that
    carries ``facts``; None when they do not decide it."""
    name, value, polarity = test
    for subject, known, holds, after in facts:
        if subject != name or after > start:
            continue
        if any(after <= at < start for at in writes.get(name, ())):
            continue  # changed since: the fact is stale
        if holds:
            return (known == value) == polarity
        if known == value:
            return not polarity
    return None


def writes_of(function: Node) -> dict[str, list[int]]:
    """Where each local of a function may change: assignments, ``++``/``--``, declarations
    and ``&name`` (handed to code that may write through it), by start byte."""
    found: dict[str, list[int]] = {}

    def note(node: Node | None) -> None:
        bare = strip_expression(node)
        if bare is not None and bare.type == "identifier":
            found.setdefault(text_of(bare), []).append(bare.start_byte)

    for node in find_all(function, "assignment_expression"):
        note(node.child_by_field_name("left"))
    for node in find_all(function, "update_expression"):
        note(node.child_by_field_name("argument"))
    for node in find_all(function, "pointer_expression"):
        if _operator(node) == "&":
            note(node.child_by_field_name("argument"))
    for node in find_all(function, "init_declarator"):
        note(node.child_by_field_name("declarator"))
    return found


def single_definitions(function: Node, writes: Mapping[str, Sequence[int]]) -> dict[str, Node]:
    """Locals whose declaration gives them their only value (nothing else writes them):
    name → that value."""
    found = {}
    for node in find_all(function, "init_declarator"):
        name_node = node.child_by_field_name("declarator")
        value = node.child_by_field_name("value")
        if name_node is None or value is None or name_node.type != "identifier":
            continue
        name = text_of(name_node)
        if len(writes.get(name, ())) == 1:
            found[name] = value
    return found


def _operator(node: Node) -> str:
    operator = node.child_by_field_name("operator")
    return operator.type if operator is not None else ""
