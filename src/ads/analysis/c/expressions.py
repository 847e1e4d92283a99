"""Evaluate C expressions for one followed pointer: allocation, aliasing, stores and calls.

``ExpressionWalker.expr`` returns the new path state and whether the expression's *value* is the
followed pointer, so that assignments, returns and call arguments can say where it goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ads.analysis.c.paths import CalleeEffect, PathState, Region, Status, settle, use
from ads.analysis.c.statics import guarded_store
from ads.analysis.c.syntax import (
    Node,
    arrow_of,
    callee_name,
    identifier_pattern,
    line_of,
    strip_expression,
)
from ads.analysis.c.vocabulary import MEMORY_COPIES

__all__ = ["PATH_ENDERS", "REALLOC_FAILURE", "STATIC_STORE", "ExpressionWalker"]

REALLOC_FAILURE = "lost when realloc() fails (the old block is overwritten with NULL)"
#: how a store into a static slot that nothing releases is told (``c_statics``)
STATIC_STORE = "stored into static"
#: Words in source text that may end a path (jumps, ``exit``-like calls): text without any of
#: them, without the site and without a followed name leaves every path state as it was.
PATH_ENDERS = re.compile(
    rb"return|break|continue|goto|exit|abort|err|longjmp|unreachable|panic|Panic|assert"
)


def _live_names(states: Iterable[PathState]) -> frozenset[str]:
    """The names the states that are not dead follow."""
    if isinstance(states, list) and len(states) == 1:  # the usual case, without a union
        return states[0].names if states[0].status is not Status.DEAD else frozenset()
    return frozenset().union(*[st.names for st in states if st.status is not Status.DEAD])


def _dereferenced_name(node: Node | None) -> bool:
    """``*p`` for an identifier ``p``."""
    bare = strip_expression(node)
    if bare is None or bare.type != "pointer_expression" or bare.children[0].type != "*":
        return False
    inner = strip_expression(bare.child_by_field_name("argument"))
    return inner is not None and inner.type == "identifier"


class ExpressionWalker:
    """The expression half of the path walk (``c_flow`` adds the statements)."""

    def __init__(self, region: Region) -> None:
        self.r = region

    def expr(self, node: Node | None, st: PathState) -> tuple[PathState, bool]:
        """Evaluate ``node``; the bool says whether its value is the followed pointer."""
        if node is None or st.status is Status.DEAD:
            return st, False
        site = self.r.site
        if site is not None and node.id == site.id:
            return self._allocate(node, st)
        if node.named_child_count > 1 and self._untouched(node, st):
            return st, False
        kind = node.type
        if kind == "identifier":
            name = node.text.decode() if node.text else ""
            if name in st.names:
                return use(st, line_of(node)), True
            return st, False
        if kind in ("pointer_expression", "field_expression") and (
            self.r.pointees or self.r.unions
        ):
            held = self._holder(node)  # *pp standing for data, u.b of the union u
            if held is not None:
                if held in st.names:
                    return use(st, line_of(node)), True
                return st, False
        if kind == "field_expression" and self.r.aggregate:
            operator = node.child_by_field_name("operator")
            base = strip_expression(node.child_by_field_name("argument"))
            if (
                operator is not None
                and operator.type == "."
                and base is not None
                and base.type == "identifier"
                and (base.text or b"").decode() in st.names
            ):
                return use(st, line_of(node)), True  # res = result.keys: what the local holds
        if kind == "field_expression" and self.r.array_members:
            arrow = arrow_of(node)
            if (
                arrow is not None
                and arrow[0] in st.names
                and "->".join(arrow) in self.r.array_members
            ):
                return use(st, line_of(node)), True  # return sh->buf: inside the block
        if kind in ("parenthesized_expression", "cast_expression"):
            carried = False
            for child in node.named_children:
                st, carried = self.expr(child, st)
            return st, carried
        if kind == "assignment_expression":
            return self._assign(node, st)
        if kind == "call_expression":
            return self._call(node, st)
        if kind == "conditional_expression":
            st, _ = self.expr(node.child_by_field_name("condition"), st)
            st, left = self.expr(node.child_by_field_name("consequence"), st)
            st, right = self.expr(node.child_by_field_name("alternative"), st)
            return st, left or right
        if kind == "binary_expression":
            st, left = self.expr(node.child_by_field_name("left"), st)
            st, right = self.expr(node.child_by_field_name("right"), st)
            operator = node.child_by_field_name("operator")
            # p + n and p - n point into the block; p | 1 and t & ~1 are tag bits on it: either
            # way the value still owns the block (offset strings, tagged pointers).
            arithmetic = operator is not None and operator.type in ("+", "-", "|", "&", "^")
            return st, arithmetic and (left or right)
        if kind == "pointer_expression" and node.children and node.children[0].type == "&":
            inner = strip_expression(node.child_by_field_name("argument"))
            if inner is not None and inner.type in ("field_expression", "subscript_expression"):
                # &p->member, &p[i]: an interior pointer of the block, which the holder can
                # turn back into the block (container_of), so it carries the block; so does
                # &alloc(n)->member straight from the site (jq's jvp_array_new).
                base = inner.child_by_field_name("argument")
                st, carried = self.expr(base, st)
                return st, carried and (self._followed_base(base, st) or self._is_site(base))
        if kind == "comma_expression":
            st, _ = self.expr(node.child_by_field_name("left"), st)
            return self.expr(node.child_by_field_name("right"), st)
        if kind in ("initializer_list", "compound_literal_expression"):
            carried = False
            for child in node.named_children:
                if child.type == "initializer_pair":  # ``.name = sdsdup(name)``
                    child = child.child_by_field_name("value") or child
                st, one = self.expr(child, st)
                carried = carried or one
            if carried:
                st = settle(st, Status.ESCAPED, f"stored in an initializer at line {line_of(node)}")
            return st, False
        for child in node.named_children:
            st, _ = self.expr(child, st)
        return st, False

    def touches(self, node: Node, states: Iterable[PathState]) -> bool:
        """Whether ``node`` holds the site or a name the live ``states`` follow (as a whole
        identifier, or a pointer standing for one): a C-speed test on the source text, so that
        code that cannot reach the followed pointer is not walked; a false "maybe" only costs
        the walk."""
        if self._holds_site(node):
            return True
        words = self._words(_live_names(states))
        if not words:
            return False
        found = self.r.index.mentions(node, words) if self.r.index is not None else None
        if found is None:
            found = identifier_pattern(words).search(node.text or b"") is not None
        return found

    def _holds_site(self, node: Node | None) -> bool:
        """Whether the followed allocation call lies inside ``node``."""
        site = self.r.site
        return (
            node is not None
            and site is not None
            and node.start_byte <= site.start_byte < node.end_byte
        )

    def _words(self, names: frozenset[str]) -> frozenset[str]:
        """The words that stand for ``names`` in the source: the names, the pointers standing
        for them (``*pp`` for ``data``) and the out-parameter (computed once per name set)."""
        key = (names, self.r.out_param)
        words = self.r.words.get(key)
        if words is None:
            found = set(names)
            found.update(p for p, t in self.r.pointees.items() if t in names)
            if self.r.out_param:
                found.add(self.r.out_param)
            words = self.r.words[key] = frozenset(found)
        return words

    def _untouched(self, node: Node, st: PathState) -> bool:
        """Whether ``node`` cannot change ``st`` nor carry its pointer: it does not touch it and
        holds no word that may end the path (so the operands of a long condition are skipped)."""
        return not self.touches(node, [st]) and not self.r.oracle.may_end_path(node)

    def _holder(self, node: Node | None) -> str | None:
        """The local an lvalue denotes: ``x`` itself, ``*pp`` when ``pp`` stands for a local,
        ``u.m`` for a local union ``u``; None for anything else (fields, globals, arrays)."""
        bare = strip_expression(node)
        if bare is None:
            return None
        if bare.type == "identifier":
            return (bare.text or b"").decode()
        if bare.type == "pointer_expression" and bare.children[0].type == "*":
            inner = strip_expression(bare.child_by_field_name("argument"))
            if inner is not None and inner.type == "identifier":
                return self.r.pointees.get((inner.text or b"").decode())
            return None
        if bare.type == "field_expression" and self.r.unions:
            operator = bare.child_by_field_name("operator")
            base = strip_expression(bare.child_by_field_name("argument"))
            if (
                operator is not None
                and operator.type == "."
                and base is not None
                and base.type == "identifier"
                and (base.text or b"").decode() in self.r.unions
            ):
                return (base.text or b"").decode()
        return None

    @staticmethod
    def _followed_base(base: Node | None, st: PathState) -> bool:
        bare = strip_expression(base)
        return (
            bare is not None
            and bare.type == "identifier"
            and (bare.text or b"").decode() in st.names
        )

    def _is_site(self, node: Node | None) -> bool:
        bare = strip_expression(node)
        return bare is not None and self.r.site is not None and bare.id == self.r.site.id

    def _allocate(self, node: Node, st: PathState) -> tuple[PathState, bool]:
        arguments = node.child_by_field_name("arguments")
        for child in arguments.named_children if arguments is not None else []:
            st, _ = self.expr(child, st)
        line = line_of(node)
        if self.r.out_param is not None:
            names = frozenset({self.r.out_param})
            held = PathState(Status.OWNED, names, line, 0, "", facts=st.facts)
            if self.r.out_param not in self.r.locals:
                # make(&spec->min): the block lands in memory the caller sees, not in a local
                return settle(
                    held, Status.ESCAPED, f"stored into {self.r.out_param} at line {line}"
                ), False
            return held, False
        return PathState(Status.OWNED, frozenset(), line, 0, "", facts=st.facts), True

    def _assign(self, node: Node, st: PathState) -> tuple[PathState, bool]:
        if self._realloc_over_itself(node, st):
            event = f"{REALLOC_FAILURE} at line {line_of(node)}"
            return settle(st, Status.LOST, event), False
        st, carried = self.expr(node.child_by_field_name("right"), st)
        operator = node.child_by_field_name("operator")
        left = strip_expression(node.child_by_field_name("left"))
        line = line_of(node)
        if operator is not None and operator.type != "=":
            st, _ = self.expr(left, st)
            return st, False
        holder = self._holder(left)
        if left is not None and holder is not None:
            name = holder
            if name in self.r.locals:
                return self._bind(st, name, carried, line), carried
            if carried and name in self.r.static_slots and not guarded_store(node, name):
                event = f"{STATIC_STORE} {name} at line {line}, which nothing releases"
                return settle(st, Status.LOST, event), carried
            if carried:
                st = settle(st, Status.ESCAPED, f"stored into global {name} at line {line}")
            return st, carried
        if left is not None:
            for child in left.named_children:
                st, _ = self.expr(child, st)
        member = arrow_of(left) if self.r.aggregate else None
        if carried and member is not None and member[0] in st.names:
            return st, carried  # r->path = strdup(…) in a filler: the struct followed holds it
        if carried:
            target = (left.text or b"?").decode() if left is not None else "?"
            owned = st.status is Status.OWNED
            st = settle(st, Status.ESCAPED, f"stored into {target} at line {line}")
            if owned and _dereferenced_name(left):
                # ``*out = malloc(n)``: the slot is still followed, for a ``free(*out)`` that
                # takes the block back on a failure path (``_freed_from_slot``)
                st = st._replace(names=st.names | {" ".join(target.split())})
        return st, carried

    @staticmethod
    def _realloc_over_itself(node: Node, st: PathState) -> bool:
        """``p = realloc(p, n)``: when realloc fails it returns NULL into ``p`` and the block
        that ``p`` held is lost (CWE-401's classic). Only on failure, so never an OOM cause."""
        right = strip_expression(node.child_by_field_name("right"))
        left = strip_expression(node.child_by_field_name("left"))
        operator = node.child_by_field_name("operator")
        if right is None or left is None or right.type != "call_expression":
            return False
        if operator is None or operator.type != "=" or st.status is not Status.OWNED:
            return False
        if callee_name(right) not in ("realloc", "reallocarray"):
            return False
        arguments = right.child_by_field_name("arguments")
        first = (
            strip_expression(arguments.named_children[0])
            if arguments and arguments.named_children
            else None
        )
        name = (left.text or b"").decode()
        return (
            first is not None and left.type == "identifier" and first.text == left.text
            and name in st.names
        )  # fmt: skip

    @staticmethod
    def _bind(st: PathState, name: str, carried: bool, line: int) -> PathState:
        if carried:
            return st._replace(names=st.names | {name})
        if name not in st.names:
            return st
        st = st._replace(names=st.names - {name})
        if not st.names and st.status is Status.OWNED:
            st = st._replace(status=Status.LOST, event=f"overwritten at line {line}")
        return st

    def _aggregate_passed(
        self, st: PathState, name: str | None, index: int, label: str, line: int
    ) -> PathState:
        """``f(&v)`` for a struct local that holds memory (``c_aggregates``)."""
        oracle = self.r.oracle
        if name is not None and oracle.releases_aggregate(name, index, self.r.file):
            return settle(st, Status.FREED, f"released by {label} at line {line}")
        effect = oracle.effect(name, index, self.r.file)
        if effect is CalleeEffect.UNCERTAIN:
            return settle(st, Status.UNCERTAIN, f"handed to {label}, whose effect on it is unknown")
        if name is not None and oracle.returns_pointer(name, self.r.file):
            return settle(st, Status.ESCAPED, f"handed out by {label} at line {line}")
        if oracle.hands_on_members(name, index, self.r.file):
            return settle(st, Status.ESCAPED, f"what it holds handed on by {label} at line {line}")
        return st  # strbuf_addf(&sb, …): filled or read, still the local's to release

    def _call(self, node: Node, st: PathState) -> tuple[PathState, bool]:
        name = callee_name(node)
        name = self.r.calls.get(name, name) if name is not None else None
        if name is None:
            st, _ = self.expr(node.child_by_field_name("function"), st)
        arguments = node.child_by_field_name("arguments")
        line = line_of(node)
        handed_back = False
        for index, argument in enumerate(arguments.named_children if arguments else []):
            bare = strip_expression(argument)
            address_of = (
                bare is not None
                and bare.type == "pointer_expression"
                and bare.children[0].type == "&"
                and (strip_expression(bare.child_by_field_name("argument")) or bare).text
                in {n.encode() for n in st.names}
            )
            st, carried = self.expr(argument, st)
            label = f"{name}()" if name else "a function pointer"
            if not carried and self._freed_from_slot(argument, st, name, index):
                st = st._replace(status=Status.FREED, event=f"freed by {label} at line {line}")
                continue
            if not (carried or address_of):
                continue
            if address_of and self.r.aggregate:
                st = self._aggregate_passed(st, name, index, label, line)
                continue
            if (
                self.r.aggregate
                and name is not None
                and bare is not None
                and bare.type == "identifier"
                and self.r.oracle.releases_aggregate(name, index, self.r.file)
            ):  # a filler's own parameter handed to the release of what it holds (repo_clear)
                st = settle(st, Status.FREED, f"released by {label} at line {line}")
                continue
            if address_of and name is not None and MEMORY_COPIES.get(name) == index:
                st = settle(st, Status.ESCAPED, f"copied into memory by {label} at line {line}")
                continue
            effect = self.r.oracle.effect(name, index, self.r.file)
            if address_of and self.r.oracle.releases_members(name, index, self.r.file):
                st = settle(st, Status.FREED, f"released by {label} at line {line}")
                continue  # strbuf_release(&sb): what the local holds is given back
            if address_of and effect is CalleeEffect.USES:
                continue
            if address_of and effect is not CalleeEffect.UNCERTAIN:
                effect = CalleeEffect.KEEPS
            if effect is CalleeEffect.FREES:
                st = settle(st, Status.FREED, f"freed by {label} at line {line}")
            elif effect in (CalleeEffect.KEEPS, CalleeEffect.MAY_FREE):
                st = settle(st, Status.ESCAPED, f"handed to {label}, which {effect} it")
            elif effect is CalleeEffect.RETURNS and not address_of:
                handed_back = st.status is Status.OWNED  # base = basename(buf): base is buf
            elif effect is CalleeEffect.UNCERTAIN:
                event = f"handed to {label}, whose effect on it is unknown"
                st = settle(st, Status.UNCERTAIN, event)
        if name is not None and self.r.oracle.never_returns(name):
            st = st._replace(status=Status.DEAD)
        elif name == "assert" and self._always_fails(node):
            st = st._replace(status=Status.DEAD)  # assert(0 && "unreachable"): never returns
        return st, handed_back

    def _freed_from_slot(self, argument: Node, st: PathState, name: str | None, index: int) -> bool:
        """``*out = malloc(n); if (!read(…, *out)) { free(*out); *out = NULL; return 0; }``:
        the block was stored into memory the caller sees, then freed from there on the same
        path, so that path hands nobody anything (it is not one of the paths that fill
        ``*out``, and the caller's ``if (!fill(&p)) return`` holds nothing)."""
        if st.status is not Status.ESCAPED or not st.event.startswith("stored into "):
            return False
        slot = " ".join((argument.text or b"").decode().split())
        if not slot or not st.event.startswith(f"stored into {slot} at line "):
            return False
        return self.r.oracle.effect(name, index, self.r.file) is CalleeEffect.FREES

    def _always_fails(self, call: Node) -> bool:
        arguments = call.child_by_field_name("arguments")
        tested = arguments.named_children[0] if arguments and arguments.named_children else None
        return tested is not None and self.r.oracle.constant(tested) == 0
