"""Follow one pointer through a region of C code along every path: freed, escaped, or leaked.

The region is one loop iteration (the body of the innermost loop holding the allocation) or one
function body. The walk is over the syntax tree, statement by statement; ``if``/``switch`` split
the set of path states, ``continue``/``break``/``return`` end paths, calls to ``exit``-like
functions drop them. The states (owned, lost, freed, escaped, uncertain) are in ``c_paths``;
the expressions (allocation, aliasing, stores, calls) in ``c_expressions``.

Null checks refine paths (after ``if (!p) continue;`` the ``continue`` path holds nothing), so
the usual allocation-failure handling is not mistaken for a leak.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

from ads.analysis.c.aggregates import address_argument
from ads.analysis.c.branches import Fact, Test, decide, read_test
from ads.analysis.c.expressions import ExpressionWalker
from ads.analysis.c.paths import (
    NORETURN,
    CalleeEffect,
    CalleeOracle,
    Outcome,
    PathState,
    Region,
    Status,
    initial_state,
    settle,
)
from ads.analysis.c.syntax import (
    Node,
    callee_name,
    declared_name,
    definition_of,
    find_all,
    line_of,
    strip_expression,
    text_of,
    walk,
)

__all__ = [
    "NORETURN",
    "CalleeEffect",
    "CalleeOracle",
    "PathState",
    "Region",
    "Status",
    "follow",
    "initial_state",
    "pointer_test",
]


# Statements never skipped: jump targets, and preprocessor branches (they split paths).
_NEVER_INERT = frozenset({"labeled_statement", "case_statement"})


class _Walker(ExpressionWalker):
    """The statement half of the path walk: sequences, branches, loops and jumps."""

    def __init__(self, region: Region) -> None:
        super().__init__(region)
        self._function: Node | None = None
        #: per block being walked: the held names its declarations declared again
        self._shadowed: list[set[str]] = []

    def _definition(self, node: Node) -> Node | None:
        """The function definition being walked (found from any node in it, once)."""
        if self._function is None:
            self._function = definition_of(node)
        return self._function

    def block(self, nodes: Iterable[Node], states: Iterable[PathState]) -> Outcome:
        out = Outcome()
        current = list(states)
        for node in nodes:
            if node.type == "labeled_statement":  # paths that jumped here join the others
                label = text_of(node.child_by_field_name("label"))
                jumped = out.jumps.pop(label, {}).values()
                # only forward gotos get here, and ``_loop`` cut what a loop they left
                # decided: the facts still hold (``if (out) *out = p; … fail: if (out)``)
                current += list(jumped)
            if not current:
                if not out.jumps:
                    break
                continue  # a later statement may be the label a goto went to
            if node.type == "comment":
                continue
            if self._inert(node, current):
                continue  # cannot touch the followed pointer nor end a path: skip the walk
            step = self.stmt(node, current)
            out.absorb(step)
            current = list(step.fall.values())
        for state in current:
            Outcome.add(out.fall, state)
        return out

    def _inert(self, node: Node, states: list[PathState]) -> bool:
        """Whether ``node`` leaves every state as it is: it holds neither the allocation site
        nor a name the paths follow, nor anything that can end a path. Checked on the source
        bytes (C-speed searches: a substring test for the path enders, a whole-word regex for
        the names, so ``p`` is not found in ``printf``); a false "maybe" only costs the walk."""
        if node.type in _NEVER_INERT:
            return False
        if self.touches(node, states):
            return False
        allocated = any(st.status not in (Status.NONE, Status.DEAD) for st in states)
        # Before the allocation every path holds nothing: a path that ends there (``return``,
        # ``break``) ends holding nothing, which no verdict counts, so only the site matters.
        return not allocated or not self.r.oracle.may_end_path(node)

    def stmt(self, node: Node | None, states: list[PathState]) -> Outcome:
        if node is None:
            out = Outcome()
            for st in states:
                Outcome.add(out.fall, st)
            return out
        kind = node.type
        handler = _HANDLERS.get(kind)
        if handler is not None:
            result: Outcome = handler(self, node, states)
            return result
        out = Outcome()
        for st in states:
            for child in node.named_children:
                st, carried = self.expr(child, st)
                if carried and kind == "expression_statement" and not st.names:
                    st = settle(st, Status.LOST, f"value discarded at line {line_of(node)}")
            Outcome.add(out.fall, st)
        return out

    def _s_compound_statement(self, node: Node, states: list[PathState]) -> Outcome:
        self._shadowed.append(set())
        try:
            inner = self.block(node.named_children, states)
        finally:
            shadowed = self._shadowed.pop()
        if not shadowed:
            return inner
        # the block declared its own variable named like one the paths hold: that one was
        # hidden from the declaration on, and is back once the block is left
        again = frozenset(shadowed)
        out = Outcome()
        for name in ("fall", "cont", "brk", "ret"):
            for st in getattr(inner, name).values():
                Outcome.add(getattr(out, name), _in_scope_again(st, again))
        for label, bucket in inner.jumps.items():
            for st in bucket.values():
                Outcome.add(out.jumps.setdefault(label, {}), _in_scope_again(st, again))
        return out

    def _s_labeled_statement(self, node: Node, states: list[PathState]) -> Outcome:
        return self.block(node.named_children[1:], states)

    def _s_preproc_ifdef(self, node: Node, states: list[PathState]) -> Outcome:
        """``#ifdef``/``#if``/``#elif``/``#else`` inside a body: each branch is a possible path;
        without an ``#else`` the code may also be compiled out."""
        skip = {
            c.id for f in ("name", "condition", "alternative") if (c := node.child_by_field_name(f))
        }
        statements = [c for c in node.named_children if c.id not in skip]
        out = self.block(statements, states)
        alternative = node.child_by_field_name("alternative")
        if alternative is not None:
            other = self.stmt(alternative, states)
            out.absorb(other)
            for st in other.fall.values():
                Outcome.add(out.fall, st)
        elif node.type != "preproc_else" and not self._repeated_condition(node):
            for st in states:
                Outcome.add(out.fall, st)
        return out

    def _repeated_condition(self, node: Node) -> bool:
        """Whether another ``#ifdef`` of the same function tests the same thing (jq's
        ``#ifdef __APPLE__`` around the ``strdup`` and again around its ``free``): one build
        compiles both or neither, so the block is followed as compiled in, not as two
        independent choices."""
        condition = node.child_by_field_name("name") or node.child_by_field_name("condition")
        function = definition_of(node)
        if condition is None or function is None:
            return False
        key = (node.type, " ".join(text_of(condition).split()))
        return key in self.r.oracle.repeated_conditions(function)

    _s_preproc_if = _s_preproc_ifdef
    _s_preproc_elif = _s_preproc_ifdef
    _s_preproc_elifdef = _s_preproc_ifdef
    _s_preproc_else = _s_preproc_ifdef

    def _s_declaration(self, node: Node, states: list[PathState]) -> Outcome:
        out = Outcome()
        for st in states:
            for declarator in node.children_by_field_name("declarator"):
                if declarator.type != "init_declarator":
                    continue
                name = declared_name(declarator.child_by_field_name("declarator"))
                st, carried = self.expr(declarator.child_by_field_name("value"), st)
                if name and name in st.names and len(self._shadowed) > 1:
                    # ``{ iter *di = …; }`` in a block nested in one holding the outer ``di``:
                    # another variable; the outer one is hidden from here to the block's end
                    self._shadowed[-1].add(name)
                    st = st._replace(names=st.names - {name})
                if name and name in self.r.locals:
                    st = self._bind(st, name, carried, line_of(declarator))
                elif carried:
                    st = settle(st, Status.ESCAPED, f"stored into static {name}")
            Outcome.add(out.fall, st)
        return out

    def _s_return_statement(self, node: Node, states: list[PathState]) -> Outcome:
        out = Outcome()
        line = line_of(node)
        for st in states:
            value = node.named_children[0] if node.named_children else None
            st, carried = self.expr(value, st)
            if carried and st.status is Status.OWNED:  # an uncertain pointer stays uncertain
                st = settle(st, Status.ESCAPED, f"returned at line {line}")
            if self.r.returns is not None:
                self.r.returns.append((value, st))
            Outcome.add(out.ret, st._replace(event=st.event or f"return at line {line}"))
        return out

    def _s_continue_statement(self, node: Node, states: list[PathState]) -> Outcome:
        out = Outcome()
        for st in states:
            Outcome.add(
                out.cont, st._replace(event=st.event or f"continue at line {line_of(node)}")
            )
        return out

    def _s_break_statement(self, node: Node, states: list[PathState]) -> Outcome:
        out = Outcome()
        for st in states:
            Outcome.add(out.brk, st._replace(event=st.event or f"break at line {line_of(node)}"))
        return out

    def _s_goto_statement(self, node: Node, states: list[PathState]) -> Outcome:
        """Forward gotos are followed to their label in an enclosing block (``block``)."""
        out = Outcome()
        bucket = out.jumps.setdefault(text_of(node.child_by_field_name("label")), {})
        for st in states:
            Outcome.add(bucket, st)
        return out

    @staticmethod
    def _mentions(node: Node | None, st: PathState) -> bool:
        names = {n.encode() for n in st.names}
        return (
            any(n.type == "identifier" and n.text in names for n in walk(node)) if node else False
        )

    def _failed_out_param_call(self, condition: Node | None) -> tuple[bool, bool]:
        """(then-branch allocated nothing, else-branch allocated nothing) for the followed
        out-parameter call tested by ``condition``: ``if (asprintf(&p, ...) < 0)`` /
        ``== -1``, and for an allocator that fills only when it returns 0, ``if (f(&p))`` /
        ``!= 0`` (then: nothing) and ``if (!f(&p))`` / ``== 0`` (else: nothing)."""
        zero = self._zero_test(condition)
        if zero is not None:
            if (callee_name(self.r.site) if self.r.site else "") in self.r.filled_on_nonzero:
                return (zero, not zero)  # split_str(…) returns TRUE when it filled
            return (not zero, zero)
        failed = self._failed_by_sign(condition)
        return failed == "then", failed == "else"

    def _zero_test(self, condition: Node | None) -> bool | None:
        """For a call that fills only on 0 (or only on non-zero): True when ``condition`` holds
        exactly when it returned 0, False when exactly when it did not, None when it is not
        such a test."""
        cond = strip_expression(condition)
        site = self.r.site
        if self.r.out_param is None or site is None or cond is None:
            return None
        if (callee_name(site) or "") not in self.r.filled_on_zero | self.r.filled_on_nonzero:
            return None
        zero = False
        if cond.type == "unary_expression" and cond.children[0].type == "!":
            cond, zero = strip_expression(cond.child_by_field_name("argument")), True
        elif cond.type == "binary_expression":
            operator = cond.child_by_field_name("operator")
            if operator is None or operator.type not in ("==", "!="):
                return None
            if self.r.oracle.constant(cond.child_by_field_name("right")) != 0:
                return None
            cond = strip_expression(cond.child_by_field_name("left"))
            zero = operator.type == "=="
        if cond is not None and cond.type == "assignment_expression":
            cond = strip_expression(cond.child_by_field_name("right"))
        return zero if self._is_the_call(cond) else None

    def _is_the_call(self, node: Node | None) -> bool:
        """``node`` is the followed call, or the variable its result was assigned to."""
        site = self.r.site
        if node is None or site is None:
            return False
        if node.id == site.id:
            return True
        status = self.r.status_var
        return status is not None and node.type == "identifier" and text_of(node) == status

    def _failed_by_sign(self, condition: Node | None) -> str | None:
        """Which branch runs when the followed call failed by its sign (``asprintf(&p, …) < 0``
        or ``== -1``: "then"; ``>= 0``, ``> -1`` or ``!= -1``: "else"), or None."""
        cond = strip_expression(condition)
        site = self.r.site
        if self.r.out_param is None or site is None or cond is None:
            return None
        if cond.type != "binary_expression":
            return None
        left = strip_expression(cond.child_by_field_name("left"))
        operator = cond.child_by_field_name("operator")
        right = text_of(cond.child_by_field_name("right")).replace(" ", "")
        if left is not None and left.type == "assignment_expression":
            left = strip_expression(left.child_by_field_name("right"))
        if not self._is_the_call(left) or operator is None:
            return None
        if self.r.aggregate and operator.type == "!=":
            # zslParseLexRange(a, b, &range) != C_OK: it failed and filled nothing
            return (
                "then" if self.r.oracle.constant(cond.child_by_field_name("right")) == 0 else None
            )
        test = (operator.type, right)
        if test in (("<", "0"), ("==", "-1"), ("<=", "-1")):
            return "then"
        if test in ((">=", "0"), (">", "-1"), ("!=", "-1")):
            return "else"
        return None

    def _null_checked(self, condition: Node | None, st: PathState) -> tuple[bool, bool]:
        """(then-branch holds NULL, else-branch holds NULL) for ``if (!p)`` / ``if (p)`` forms."""
        cond = strip_expression(condition)
        if cond is None:
            return False, False
        operator = (
            cond.child_by_field_name("operator") if cond.type == "binary_expression" else None
        )
        if operator is not None and operator.type == "&&":
            right = cond.child_by_field_name("right")
            if self._holds_site(right):
                # ``if (name && fill(name, &v))``: the call runs only when the left holds, so
                # either branch says what the call's own test would (the else-branch where
                # it never ran holds nothing either)
                null_then, null_else = self._null_checked(right, st)
                failed_then, failed_else = self._failed_out_param_call(right)
                return null_then or failed_then, null_else or failed_else
            # ``if (!rc && p) { …; free(p); }``: the else-branch runs when some conjunct is
            # false, and each false conjunct says the block is not there
            conjuncts = [cond.child_by_field_name("left"), right]
            return False, all(
                self._null_checked(c, st)[1] or self._failed_out_param_call(c)[1] for c in conjuncts
            )
        if operator is not None and operator.type == "||":
            # ``if (a == -1 || (p = load()) == NULL)``: the allocation is in the right operand,
            # so on the then-branch either it never ran or it gave NULL
            right = cond.child_by_field_name("right")
            if self._holds_site(right):
                return self._null_checked(right, st)[0], False
            # ``if (!p || rc)``: each alternative says the block is not there (NULL, or the
            # call that fills it failed), so the then-branch holds nothing
            alternatives = [cond.child_by_field_name("left"), right]
            return all(
                self._null_checked(a, st)[0] or self._failed_out_param_call(a)[0]
                for a in alternatives
            ), False
        test = pointer_test(cond)
        if test is None or test[0] not in st.names:
            return False, False
        return (True, False) if test[1] else (False, True)

    def _allocation_failed(self, condition: Node | None) -> bool:
        """Whether the then-branch runs only when an allocation of the function gave NULL:
        ``if (!a)``, ``if (a == NULL || b == NULL)``, ``if (n && b == NULL)``, where ``a`` and
        ``b`` were assigned allocations (every alternative of an ``||`` must be such a test)."""
        cond = strip_expression(condition)
        if cond is None or not self.r.allocated:
            return False
        operator = (
            cond.child_by_field_name("operator") if cond.type == "binary_expression" else None
        )
        if operator is not None and operator.type in ("||", "&&"):
            left = self._allocation_failed(cond.child_by_field_name("left"))
            right = self._allocation_failed(cond.child_by_field_name("right"))
            return (left and right) if operator.type == "||" else (left or right)
        test = pointer_test(cond)
        return test is not None and test[1] and test[0] in self.r.allocated

    def _passed_back(self, condition: Node | None, st: PathState) -> str | None:
        """Which branch of ``q == arg`` / ``q != arg`` holds no block ("then", "else" or None)
        when ``q`` holds what a pass-through wrapper returned and ``arg`` is what it may have
        handed back: ``if (with_slash != path) free(with_slash);``."""
        cond = strip_expression(condition)
        given = self.r.passed_argument
        if given is None or st.status is not Status.OWNED or cond is None:
            return None
        operator = (
            cond.child_by_field_name("operator") if cond.type == "binary_expression" else None
        )
        if operator is None or operator.type not in ("==", "!="):
            return None
        sides = [strip_expression(cond.child_by_field_name(f)) for f in ("left", "right")]
        texts = [" ".join(text_of(side).split()) if side is not None else "" for side in sides]
        held = [side is not None and side.type == "identifier" and t in st.names
                for side, t in zip(sides, texts, strict=True)]  # fmt: skip
        if not ((held[0] and texts[1] == given) or (held[1] and texts[0] == given)):
            return None
        return "then" if operator.type == "==" else "else"

    def _stack_comparison(self, condition: Node | None, st: PathState) -> str | None:
        """Which branch of ``p == q`` / ``p != q`` cannot run while ``p`` holds the heap
        block ("then", "else" or None): ``q`` a local array (sds's ``if (buf != staticbuf)
        s_free(buf);`` always frees a block it allocated), or a pointer that got its last
        value before the allocation and is no name of it (``if (copy != str) free(copy);``
        after ``copy = is_sds ? str : dup(str)``). Through ``&&`` and ``||``: ``if (v != buf
        && v != orig) free(v);``."""
        cond = strip_expression(condition)
        if st.status is not Status.OWNED or cond is None or cond.type != "binary_expression":
            return None
        operator = cond.child_by_field_name("operator")
        if operator is not None and operator.type in ("&&", "||"):
            left = self._stack_comparison(cond.child_by_field_name("left"), st)
            right = self._stack_comparison(cond.child_by_field_name("right"), st)
            # A && B cannot be true when either cannot be, nor false when neither can be
            decisive, both = ("then", "else") if operator.type == "&&" else ("else", "then")
            if decisive in (left, right):
                return decisive
            return both if left == right == both else None
        if operator is None or operator.type not in ("==", "!="):
            return None
        sides = [strip_expression(cond.child_by_field_name(f)) for f in ("left", "right")]
        names = [text_of(s) if s is not None and s.type == "identifier" else "" for s in sides]
        held = [n in st.names for n in names]
        if not any(held):
            return None
        other = names[1] if held[0] else names[0]
        if other not in self.r.arrays and not self._older_pointer(other, st):
            return None
        return "then" if operator.type == "==" else "else"

    def _older_pointer(self, name: str, st: PathState) -> bool:
        """A local (or parameter) that is no name of the followed block, that nothing writes
        at or after the allocation site, and that the allocating call cannot hand back: it
        cannot hold the block."""
        site = self.r.site
        if not name or name in st.names or name not in self.r.locals or site is None:
            return False
        if name == self.r.passed_argument:
            return False  # add_slash(path) may return path itself (``_passed_back``)
        function = self._definition(site)
        if function is None:
            return False
        writes = self.r.oracle.local_writes(function).get(name, ())
        return all(at < site.start_byte for at in writes)

    def _failure_flagged(self, node: Node, condition: Node | None) -> tuple[bool, bool]:
        """(then-branch holds nothing, else-branch holds nothing) for a test of the flag the
        followed call sets when it fails: ``int bad = 0; p = make(n, &bad); if (bad) return;``
        where ``make`` sets ``*flag`` non-zero only right before returning NULL, and nothing
        else writes ``bad``."""
        test = pointer_test(condition)
        site = self.r.site
        if test is None or site is None or self.r.out_param is not None:
            return False, False
        flag, when_zero = test
        arguments = site.child_by_field_name("arguments")
        indexes = [
            i
            for i, argument in enumerate(arguments.named_children if arguments else [])
            if address_argument(argument) == flag
        ]
        if len(indexes) != 1 or flag not in self.r.locals:
            return False, False
        function = self._definition(node)
        if function is None or not self._zero_until(function, flag, site):
            return False, False
        if not self.r.oracle.flags_failure(callee_name(site), indexes[0], self.r.file):
            return False, False
        return (not when_zero, when_zero)

    def _zero_until(self, function: Node, flag: str, site: Node) -> bool:
        """The local ``flag`` is declared ``= 0`` and only the call ``site`` writes it after."""
        defined = [
            d
            for d in find_all(function, "init_declarator")
            if text_of(d.child_by_field_name("declarator")) == flag
        ]
        value = defined[0].child_by_field_name("value") if len(defined) == 1 else None
        if value is None or self.r.oracle.constant(value) != 0:
            return False
        declared = defined[0].start_byte
        writes = self.r.oracle.local_writes(function).get(flag, ())
        return all(at == declared or site.start_byte <= at < site.end_byte for at in writes)

    def _s_if_statement(self, node: Node, states: list[PathState]) -> Outcome:
        out = Outcome()
        condition = unhinted(node.child_by_field_name("condition"), self.r.branch_hints)
        fixed = self.r.oracle.constant(condition)
        then_states, else_states = [], []
        failure_branch = self._allocation_failed(condition)
        test = self._test_of_a_local(node, condition)
        for st in states:
            st, _ = self.expr(condition, st)
            if st.status is Status.DEAD:
                continue
            (then_st, else_st), taken = (
                self._branches_given_facts(st, condition, test),
                (True, True),
            )
            if then_st is None or else_st is None:  # the facts decide it: one branch only
                taken = then_st is not None, else_st is not None
                then_st = else_st = st
            null_then, null_else = self._null_checked(condition, st)
            flagged_then, flagged_else = self._failure_flagged(node, condition)
            null_then, null_else = null_then or flagged_then, null_else or flagged_else
            failed_then, failed_else = self._failed_out_param_call(condition)
            null_then, null_else = null_then or failed_then, null_else or failed_else
            passed_back = self._passed_back(condition, st)
            null_then, null_else = (
                null_then or passed_back == "then",
                null_else or (passed_back == "else"),
            )
            impossible = self._stack_comparison(condition, st)
            if impossible != "then" and taken[0]:
                nothing = then_st._replace(status=Status.NONE, names=frozenset())
                held = then_st._replace(allocation_failed=True) if failure_branch else then_st
                then_states.append(nothing if null_then and st.status is Status.OWNED else held)
            if impossible != "else" and taken[1]:
                nothing = else_st._replace(status=Status.NONE, names=frozenset())
                else_states.append(nothing if null_else and st.status is Status.OWNED else else_st)
        if fixed is not None:  # a constant condition: the other branch is dead code
            then_states, else_states = (then_states, []) if fixed else ([], else_states)
        then_out = self.stmt(node.child_by_field_name("consequence"), then_states)
        out.absorb(then_out)
        alternative = node.child_by_field_name("alternative")
        if alternative is not None:
            else_out = self.block(alternative.named_children, else_states)
        else:
            else_out = Outcome()
            released = (Status.FREED, Status.ESCAPED)
            freed = self.r.trust_owner_flags and any(
                st.status in released for st in then_out.fall.values()
            )
            for st in else_states:
                if freed and st.status is Status.OWNED and not self._mentions(condition, st):
                    # ``if (owns_it) free(p);``: the condition says who owns p, and a
                    # path-insensitive walk cannot correlate it with where p came from, so the
                    # path that skips the free is not called a leak.
                    st = settle(st, Status.ESCAPED, f"released when {text_of(condition)}")
                Outcome.add(else_out.fall, st)
        out.absorb(else_out)
        for st in [*then_out.fall.values(), *else_out.fall.values()]:
            Outcome.add(out.fall, st)
        return out

    def _loop(self, node: Node, states: list[PathState], infinite: bool) -> Outcome:
        out = Outcome()
        entered = []
        for st in states:
            for part in ("initializer", "condition"):
                st, _ = self.expr(node.child_by_field_name(part), st)
            entered.append(st)
        condition = node.child_by_field_name("condition")
        # the body stands for every iteration: what was decided before may change in one
        known = frozenset.intersection(*(st.facts for st in entered)) if entered else frozenset()
        inside = []
        steady = self._unwritten_in(node)
        for st in entered:
            st = st._replace(facts=frozenset(f for f in st.facts if steady(f[0])))
            # ``while ((argv = parse()) == NULL) { …; return; }``: the body runs only while
            # the pointer is NULL, so there it holds nothing
            null_inside = condition is not None and self._null_checked(condition, st)[0]
            owned = st.status is Status.OWNED
            inside.append(
                st._replace(status=Status.NONE, names=frozenset()) if null_inside and owned else st
            )
        body = self.stmt(node.child_by_field_name("body"), inside)
        for bucket in body.jumps.values():
            for key, st in bucket.items():  # a goto out of the loop: as a path leaving it
                bucket[key] = st._replace(facts=_before(st, node) | known)
        out.take_jumps(body)
        for st in body.ret.values():
            Outcome.add(out.ret, st)
        leaving = list(body.brk.values())
        if not infinite:
            # A loop whose body frees or stores the pointer is taken to run at least once: the
            # zero-iteration path is how naive analysers raise false alarms on fill-in loops.
            outs = [*body.fall.values(), *body.cont.values(), *body.brk.values()]
            settles = any(st.status in (Status.FREED, Status.ESCAPED) for st in outs)
            skipped = [st for st in entered if not (settles and st.status is Status.OWNED)]
            leaving += [*skipped, *body.fall.values(), *body.cont.values()]
        for st in leaving:
            # a fact decided inside the loop stays there; one all entering paths had holds
            # after it (a write in the loop lies between, in the text, and makes it stale)
            Outcome.add(out.fall, _left_loop(st._replace(facts=_before(st, node) | known)))
        return out

    def _unwritten_in(self, loop: Node) -> Callable[[str], bool]:
        """Whether no statement of ``loop`` writes a local: what a path decided about it
        before the loop holds in every iteration and on the paths that leave it (a goto out
        to the cleanup: ``if (out) *out = p; for (…) if (bad) goto fail; … fail: if (out)``)."""
        function = self._definition(loop)
        writes = self.r.oracle.local_writes(function) if function is not None else {}
        span = range(loop.start_byte, loop.end_byte)
        return lambda name: (
            function is not None and not any(at in span for at in writes.get(name, ()))
        )

    def _test_of_a_local(
        self, node: Node, condition: Node | None
    ) -> tuple[Test, Mapping[str, Sequence[int]]] | None:
        """The if's condition as a test of a local (``c_branches``), with where the function's
        locals change; None for another condition, or outside a function definition."""
        function = self._definition(node)
        if function is None:
            return None
        writes = self.r.oracle.local_writes(function)
        defined = self.r.oracle.local_definitions(function)
        test = read_test(condition, self.r.locals, self.r.oracle.constant, defined, writes)
        return (test, writes) if test is not None else None

    def _branches_given_facts(
        self,
        st: PathState,
        condition: Node | None,
        test: tuple[Test, Mapping[str, Sequence[int]]] | None,
    ) -> tuple[PathState | None, PathState | None]:
        """The path's state entering the then- and else-branch; None for a branch that the
        facts it carries rule out. A test they do not decide becomes a fact on each branch."""
        if test is None or condition is None:
            return st, st
        (name, value, holds), writes = test
        decided = decide(st.facts, (name, value, holds), condition.start_byte, writes)
        if decided is not None:
            return (st, None) if decided else (None, st)
        end = condition.end_byte
        return (
            st._replace(facts=st.facts | {(name, value, holds, end)}),
            st._replace(facts=st.facts | {(name, value, not holds, end)}),
        )

    def _s_while_statement(self, node: Node, states: list[PathState]) -> Outcome:
        return self._loop(node, states, _constant_true(node.child_by_field_name("condition")))

    def _s_for_statement(self, node: Node, states: list[PathState]) -> Outcome:
        condition = node.child_by_field_name("condition")
        return self._loop(node, states, condition is None or _constant_true(condition))

    def _s_do_statement(self, node: Node, states: list[PathState]) -> Outcome:
        return self._loop(node, states, _constant_true(node.child_by_field_name("condition")))

    def _s_switch_statement(self, node: Node, states: list[PathState]) -> Outcome:
        out = Outcome()
        entered = []
        for st in states:
            st, _ = self.expr(node.child_by_field_name("condition"), st)
            entered.append(st)
        body = node.child_by_field_name("body")
        cases = [c for c in (body.named_children if body else []) if c.type == "case_statement"]
        has_default = any(c.children and c.children[0].type == "default" for c in cases)
        taken = self._constant_case(node, cases)
        if taken is not None:  # a constant switch enters one case, or skips the body
            has_default = taken < len(cases)
        current: list[PathState] = []
        for index, case in enumerate(cases):
            value = case.child_by_field_name("value")
            statements = [c for c in case.named_children if value is None or c.id != value.id]
            enters = entered if taken is None or index == taken else []
            step = self.block(statements, [*current, *enters])
            out.take_jumps(step)
            for st in step.brk.values():
                Outcome.add(out.fall, _left_loop(st))
            for name in ("cont", "ret"):
                for st in getattr(step, name).values():
                    Outcome.add(getattr(out, name), st)
            current = list(step.fall.values())
        for st in [*current, *([] if has_default else entered)]:
            Outcome.add(out.fall, st)
        return out

    def _constant_case(self, node: Node, cases: list[Node]) -> int | None:
        """``switch (6)``: the index of the case a constant condition enters, else None."""
        fixed = self.r.oracle.constant(node.child_by_field_name("condition"))
        if fixed is None:
            return None
        default = None
        for index, case in enumerate(cases):
            value = case.child_by_field_name("value")
            if value is None:
                default = index
            elif self.r.oracle.constant(value) == fixed:
                return index
        return default if default is not None else len(cases)


def _in_scope_again(state: PathState, names: frozenset[str]) -> PathState:
    """A path leaving a block that shadowed ``names``: the outer variables it held are back."""
    if state.status in (Status.NONE, Status.DEAD):
        return state
    return state._replace(names=state.names | names)


#: statement kind → its ``_Walker._s_<kind>`` handler, looked up without building the name
_HANDLERS: dict[str, Callable[[_Walker, Node, list[PathState]], Outcome]] = {
    name.removeprefix("_s_"): handler
    for name, handler in vars(_Walker).items()
    if name.startswith("_s_")
}


def _before(st: PathState, loop: Node) -> frozenset[Fact]:
    """The facts of ``st`` decided before ``loop`` (one decided inside stays there)."""
    return frozenset(f for f in st.facts if f[3] < loop.start_byte)


def _left_loop(state: PathState) -> PathState:
    """A path that left a loop (or switch) is no longer ending at its break/continue."""
    if state.event.startswith(("break at", "continue at")):
        return state._replace(event="")
    return state


def unhinted(cond: Node | None, hints: frozenset[str]) -> Node | None:
    """The condition a branch-prediction hint wraps: ``unlikely(p == NULL)`` →
    ``p == NULL``, ``__builtin_expect(!!(p), 1)`` → ``p`` (the hint changes no value)."""
    bare = strip_expression(cond)
    while bare is not None and bare.type == "call_expression" and callee_name(bare) in hints:
        arguments = bare.child_by_field_name("arguments")
        if arguments is None or not arguments.named_children:
            break
        bare = strip_expression(arguments.named_children[0])
        while (
            bare is not None
            and bare.type == "unary_expression"
            and bare.children[0].type == "!"
            and (inner := strip_expression(bare.child_by_field_name("argument"))) is not None
            and inner.type == "unary_expression"
            and inner.children[0].type == "!"
        ):
            bare = strip_expression(inner.child_by_field_name("argument"))  # !!(x) is x
        cond = bare
    return cond


def pointer_test(cond: Node | None, *, deref: bool = False) -> tuple[str, bool] | None:
    """(the pointer variable, whether the condition holds when it is NULL) for ``p``,
    ``!p``, ``p == NULL`` / ``p != NULL`` (or a number), the same written ``NULL == p`` (curl's
    house style) and ``(p = f()) == NULL``; with ``deref`` also ``*out`` in those forms
    (named ``*out``); None for any other condition."""
    cond = strip_expression(cond)
    when_null = False
    if cond is not None and cond.type == "unary_expression" and cond.children[0].type == "!":
        cond, when_null = strip_expression(cond.child_by_field_name("argument")), True
    elif cond is not None and cond.type == "binary_expression":
        operator = cond.child_by_field_name("operator")
        left = strip_expression(cond.child_by_field_name("left"))
        right = strip_expression(cond.child_by_field_name("right"))
        if operator is None or operator.type not in ("==", "!=") or left is None or right is None:
            return None
        if _null_constant(left) and not _null_constant(right):
            left, right = right, left
        if not _null_constant(right):
            return None
        cond, when_null = left, operator.type == "=="
    if cond is not None and cond.type == "assignment_expression":
        cond = strip_expression(cond.child_by_field_name("left"))
    if deref and cond is not None and cond.type == "pointer_expression":
        inner = strip_expression(cond.child_by_field_name("argument"))
        if cond.children[0].type == "*" and inner is not None and inner.type == "identifier":
            return f"*{text_of(inner)}", when_null
    if cond is None or cond.type != "identifier" or cond.text is None:
        return None
    return cond.text.decode(), when_null


def _null_constant(node: Node) -> bool:
    return node.type in ("null", "number_literal") or (node.text or b"") == b"NULL"


def _constant_true(condition: Node | None) -> bool:
    cond = strip_expression(condition)
    if cond is None:
        return True
    if cond.type == "true":
        return True
    return cond.type == "number_literal" and (cond.text or b"0").rstrip(b"uUlL") not in (
        b"0",
        b"0x0",
    )


_RECURSION_LIMIT = 20_000


def follow(region: Region, body: Node, start: PathState) -> Outcome:
    """Run ``body`` (a statement, usually a compound one) from ``start``; outcomes per exit.

    The walk recurses per nested statement, so real code (else-if chains of hundreds of
    branches) needs more than CPython's default 1000 frames; Python-to-Python calls do not use
    the C stack, so the limit is raised for the walk. Deeper still, the pointer's fate there is
    unknown: the path ends *uncertain*, never a crash and never a guess.
    """
    previous = sys.getrecursionlimit()
    if previous < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    try:
        out = _Walker(region).stmt(body, [start])
        for label, bucket in out.jumps.items():  # a goto backwards or out of the region
            for st in bucket.values():
                event = f"goto {label} (not followed)"
                Outcome.add(out.ret, settle(st, Status.ESCAPED, event))
        out.jumps.clear()
        return out
    except RecursionError:
        out = Outcome()
        event = f"nested too deeply to follow (from line {line_of(body)})"
        Outcome.add(out.ret, settle(start, Status.UNCERTAIN, event))
        return out
    finally:
        sys.setrecursionlimit(previous)
