"""The states of one followed pointer along the paths of a C region, and their bookkeeping.

Each ``PathState`` says what became of the pointer so far on one path:

- ``owned``: still held only by local variables (a leak if the path ends like this),
- ``lost``: the last local holding it was overwritten or the value was discarded (a leak),
- ``freed``: passed to ``free`` or to one of the repo's functions that frees that argument,
- ``escaped``: returned, stored into a global / struct field / array, or handed to a function
  that keeps it — someone else owns it now, so it is not reported,
- ``uncertain``: handed to a function whose code is not in the repo,
- ``dead``: the path called ``exit``-like code and never comes back.

``Outcome`` groups the states by how their paths end (fall through, continue, break, return).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol

from ads.analysis.c.syntax import Node, WordIndex

__all__ = [
    "NORETURN",
    "CalleeEffect",
    "CalleeOracle",
    "Outcome",
    "PathState",
    "Region",
    "Status",
    "initial_state",
    "settle",
    "use",
]

NORETURN = frozenset(
    {"exit", "_exit", "_Exit", "abort", "err", "errx", "verr", "verrx", "__assert_fail",
     "longjmp", "siglongjmp", "pthread_exit", "quick_exit", "__builtin_unreachable"}
)  # fmt: skip
_MAX_STATES = 48


class Status(StrEnum):
    NONE = "none"
    OWNED = "owned"
    LOST = "lost"
    FREED = "freed"
    ESCAPED = "escaped"
    UNCERTAIN = "uncertain"
    DEAD = "dead"


class CalleeEffect(StrEnum):
    """What a called function does with one pointer argument."""

    FREES = "frees"
    MAY_FREE = "may free"
    KEEPS = "keeps"
    #: hands the pointer back as its result, or a pointer into the block (a basename, a trim):
    #: the caller still owns the block, and the result is another name for it
    RETURNS = "returns"
    USES = "uses"
    UNCERTAIN = "uncertain"


class CalleeOracle(Protocol):
    """Answers what a callee does with its argument number ``index`` (the repo's summaries)."""

    def effect(self, name: str | None, index: int, file: str) -> CalleeEffect: ...

    def never_returns(self, name: str) -> bool: ...

    @property
    def path_enders(self) -> re.Pattern[bytes]:
        """Words in source text that may end a path: jumps, ``exit``-like calls and the
        repo's own functions declared never to return (``die``)."""
        ...

    def may_end_path(self, node: Node) -> bool:
        """Whether the text of ``node`` holds one of the ``path_enders``."""
        ...

    def returns_pointer(self, name: str, file: str) -> bool:
        """Whether the repo's function ``name`` returns a pointer."""
        ...

    def releases_aggregate(self, name: str, index: int, file: str) -> bool:
        """Whether ``name`` releases what the struct its argument ``index`` points to holds."""
        ...

    def releases_members(self, name: str | None, index: int, file: str) -> bool:
        """Whether the callee releases what its pointer argument points to holds."""
        ...

    def hands_on_members(self, name: str | None, index: int, file: str) -> bool:
        """Whether the callee gives away what the struct its argument points to holds."""
        ...

    def constant(self, node: Node | None) -> int | None:
        """The value of a condition the program fixes (``#define``, ``static const``, a
        function returning a constant), or None: dead branches are not paths."""
        ...

    def repeated_conditions(self, function: Node) -> frozenset[tuple[str, str]]:
        """The preprocessor tests (kind, condition text) the function definition makes more
        than once: one build compiles all of those blocks or none."""
        ...

    def local_writes(self, function: Node) -> Mapping[str, Sequence[int]]:
        """Where each local of the function definition may change, by start byte."""
        ...

    def local_definitions(self, function: Node) -> Mapping[str, Node]:
        """The locals of the function definition given their only value where declared."""
        ...

    def flags_failure(self, name: str | None, index: int, file: str) -> bool:
        """Whether the repo's ``name`` sets ``*param`` (parameter ``index``) non-zero only
        right before returning NULL: a failure flag for its result."""
        ...


class PathState(NamedTuple):
    status: Status
    names: frozenset[str]
    last_use: int
    first_use: int
    event: str
    #: the path went through a branch taken only when an allocation of the function returned
    #: NULL: what leaks on it leaks once memory is already exhausted, never the cause of that
    allocation_failed: bool = False
    #: what the branches this path took say about locals (``c_branches``): a later test of
    #: the same local is decided by them, not taken both ways
    facts: frozenset[tuple[str, int, bool, int]] = frozenset()


def initial_state(names: Iterable[str] = (), line: int = 0) -> PathState:
    """State before the region runs: nothing held, or (for summaries) a parameter held."""
    held = frozenset(names)
    return PathState(Status.OWNED if held else Status.NONE, held, line, 0, "")


@dataclass
class Outcome:
    fall: dict[tuple[object, ...], PathState] = field(default_factory=dict)
    cont: dict[tuple[object, ...], PathState] = field(default_factory=dict)
    brk: dict[tuple[object, ...], PathState] = field(default_factory=dict)
    ret: dict[tuple[object, ...], PathState] = field(default_factory=dict)
    #: paths that left by ``goto LABEL``, waiting for the statement labelled LABEL
    jumps: dict[str, dict[tuple[object, ...], PathState]] = field(default_factory=dict)

    @staticmethod
    def add(bucket: dict[tuple[object, ...], PathState], state: PathState) -> None:
        if state.status is Status.DEAD:
            return
        key = (state.status, state.names, state.event, state.allocation_failed)
        old = bucket.get(key)
        if old is not None:
            first = min(x for x in (old.first_use, state.first_use, 10**9) if x) % 10**9
            state = state._replace(
                last_use=max(old.last_use, state.last_use),
                first_use=first,
                facts=old.facts & state.facts,  # joined paths know what both knew
            )
        if old is not None or len(bucket) < _MAX_STATES:
            bucket[key] = state

    def absorb(self, other: Outcome) -> None:
        for name in ("cont", "brk", "ret"):
            target = getattr(self, name)
            for state in getattr(other, name).values():
                self.add(target, state)
        self.take_jumps(other)

    def take_jumps(self, other: Outcome) -> None:
        for label, bucket in other.jumps.items():
            mine = self.jumps.setdefault(label, {})
            for state in bucket.values():
                self.add(mine, state)


@dataclass
class Region:
    """What is being followed: the allocation call (or a parameter) inside one function."""

    file: str
    locals: frozenset[str]
    oracle: CalleeOracle
    site: Node | None = None
    out_param: str | None = None  # asprintf(&p, ...): the allocation lands in p
    notes: list[str] = field(default_factory=list)
    #: local function pointers bound to one function (``void (*sink)(char *) = badSink;``)
    calls: dict[str, str] = field(default_factory=dict)
    #: pointer locals that stand for another local (``T **pp = &data``): ``*pp`` is ``data``
    pointees: dict[str, str] = field(default_factory=dict)
    #: locals of a union type: every member is the same storage, so ``u.a = p`` is read back
    #: as ``u.b`` (the union is followed as one holder)
    unions: frozenset[str] = frozenset()
    #: local arrays: stack storage that a heap block is never equal to
    arrays: frozenset[str] = frozenset()
    #: locals of the function assigned an allocation's result: a NULL test of one of them is
    #: the allocation-failure branch
    allocated: frozenset[str] = frozenset()
    #: ``static`` pointer variables in reach that no code releases (``c_statics``)
    static_slots: frozenset[str] = frozenset()
    #: the followed ``out_param`` is a struct local whose members hold the memory
    #: (``c_aggregates``): its address handed to repo code fills it, it does not escape
    aggregate: bool = False
    #: ``p->buf`` where the struct ``p`` points to declares ``buf`` an array: the address of
    #: that member is inside the block, so the expression carries it (sds's ``sh->buf``)
    array_members: frozenset[str] = frozenset()
    #: ``if (owns_it) free(p);`` with no else is taken to release p (the flag says who owns
    #: it). Off when a commit moved the release under that condition: then the path that
    #: skips it is exactly what the change introduced.
    trust_owner_flags: bool = True
    #: out-parameter allocators that fill their out-parameter only when they return 0
    #: (``if (config_get_string(key, &dest))``: the then-branch got nothing)
    filled_on_zero: frozenset[str] = frozenset()
    #: the other convention: filled only when they return non-zero (``TRUE``), 0 otherwise
    filled_on_nonzero: frozenset[str] = frozenset()
    #: branch-prediction hints (``__builtin_expect`` and macros such as ``likely(x)`` that
    #: only wrap it or their argument): ``if (likely(p))`` tests ``p``
    branch_hints: frozenset[str] = frozenset({"__builtin_expect"})
    #: the variable the followed out-parameter call's result went to (``rc = fill(&p)``): a
    #: test of it is a test of the call (``if (rc) return rc;``)
    status_var: str | None = None
    #: what the followed call may return as it came in (``add_slash(path)`` → ``path``):
    #: on the branch where the result equals it, no block is held
    passed_argument: str | None = None
    #: when a list, every ``return`` appends (its value, the state there): how the discovery
    #: learns which return values come with a filled out-parameter
    returns: list[tuple[Node | None, PathState]] | None = None
    #: where the function's identifiers occur (``WordIndex``): how the walk tells fast which
    #: statements mention a followed name; None leaves it to the regex on each text
    index: WordIndex | None = None
    #: the names followed → the words that stand for them (``ExpressionWalker.touches``)
    words: dict[tuple[frozenset[str], str | None], frozenset[str]] = field(
        default_factory=dict, repr=False
    )


def use(state: PathState, line: int) -> PathState:
    if state.status is not Status.OWNED:
        return state
    return state._replace(last_use=max(state.last_use, line), first_use=state.first_use or line)


def settle(state: PathState, status: Status, event: str) -> PathState:
    """Move an owned pointer to a final status. An uncertain one (handed to code outside the
    repo) can still be freed or stored later; the other statuses are decided."""
    later = state.status is Status.UNCERTAIN and status in (Status.FREED, Status.ESCAPED)
    if state.status is not Status.OWNED and not later:
        return state
    return state._replace(status=status, event=event)
