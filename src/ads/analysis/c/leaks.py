"""Find memory leaks in a repo's C code and say how each can (or cannot) exhaust memory.

``analyze_c_sources`` takes the C files as ``(path, bytes)`` pairs and returns a ``LeakReport``:
per allocation (``malloc`` & co and the repo's own allocator wrappers) it follows the pointer along
every path of one loop iteration or one function call (``c_flow``), with the repo's functions
summarised (``c_program``), and classifies the allocation as a per-iteration leak in an unbounded
loop, unbounded growth, a one-off leak, uncertain (handed to code outside the repo), or fine.

It is pure: no files are opened, no programs run. What could not be read is reported, not hidden:
``parse_problems`` (the caller lowers its confidence) and ``skipped`` (binary, non-UTF-8, huge).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from ads.analysis.c.aggregates import aggregate_sites
from ads.analysis.c.constants import ConstantTable
from ads.analysis.c.expressions import REALLOC_FAILURE, STATIC_STORE
from ads.analysis.c.flow import PathState, Status, follow, initial_state
from ads.analysis.c.handles import unreleased_handles
from ads.analysis.c.macros import attribute_macros, rewrite_for_parse
from ads.analysis.c.members import forgotten_members
from ads.analysis.c.paths import Outcome
from ads.analysis.c.program import Function, LoopInfo, Program
from ads.analysis.c.programs import other_program_files
from ads.analysis.c.sites import allocation_bytes, call_text, find_growth, variable_of
from ads.analysis.c.syntax import (
    Node,
    callee_name,
    error_lines,
    line_of,
    parse_c,
    strip_expression,
    text_of,
    walk,
)
from ads.analysis.scope import BuildScope
from ads.models import Confidence, Finding, FindingKind, Support

__all__ = ["LEAK_ISSUE", "LeakReport", "analyze_c_sources", "classify_site"]

LEAK_ISSUE = "memory allocation without corresponding free"
GROWTH_ISSUE = "allocation grown on every iteration and never shrunk"
UNCERTAIN_ISSUE = "allocation handed to code outside the repo; whether it is freed is unknown"
DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024
_KIND_WEIGHT = {
    FindingKind.LOOP_LEAK: 0.9,
    FindingKind.UNBOUNDED_GROWTH: 0.8,
    FindingKind.UNCERTAIN: 0.3,
    FindingKind.ONE_OFF_LEAK: 0.2,
}
_CONFIDENCE_WEIGHT = {Confidence.HIGH: 0.09, Confidence.MEDIUM: 0.05, Confidence.LOW: 0.0}
_LEAKING = (Status.OWNED, Status.LOST)


@dataclass
class LeakReport:
    """Findings (most likely to exhaust memory first) and what could not be analysed."""

    findings: list[Finding] = field(default_factory=list)
    parse_problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    allocator_wrappers: list[str] = field(default_factory=list)
    files_analyzed: int = 0
    lines_analyzed: int = 0
    #: the analysed code as one program: the vocabulary (what allocates, what releases) that
    #: the commit reader and the change-first suspects ask, and the loops that drive functions.
    program: Program = field(default_factory=lambda: Program(ConstantTable()))
    #: (file, function) pairs where the parser failed inside the function: only findings in
    #: those are weakened by a parse problem (real code's macros break lines everywhere)
    damaged: set[tuple[str, str]] = field(default_factory=set)
    driven: dict[str, LoopInfo] = field(default_factory=dict)
    #: what was decided about the service's scope (the files of other programs left out)
    scope_notes: list[str] = field(default_factory=list)


def as_utf8(data: bytes) -> bytes:
    """``data`` with each byte that is not UTF-8 replaced by ``?``, one byte for one: old code
    bases keep Latin-1 in comments and strings (curl's ``cookie.c``), and the analysis reads
    their code, not those bytes; every line and column stays where it was."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="ads-one-byte").encode("utf-8")
    return data


def _one_byte(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "?" * (error.end - error.start), error.end


codecs.register_error("ads-one-byte", _one_byte)


def _admit(path: str, data: bytes, max_file_bytes: int) -> str | None:
    """Why a file is skipped, or None when it is analysable C text."""
    if len(data) > max_file_bytes:
        return (
            f"{path}: skipped, {len(data)} bytes is over the {max_file_bytes}-byte limit "
            "(huge files are usually generated)"
        )
    if b"\0" in data:
        return f"{path}: skipped, binary content (NUL bytes)"
    head = data[:2048].lower()
    if len(data) > 256 * 1024 and (b"do not edit" in head or b"automatically generated" in head):
        return f"{path}: skipped, generated code ({len(data)} bytes, marked as generated)"
    return None


def analyze_c_sources(
    files: Iterable[tuple[str, bytes]],
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    scope: BuildScope | None = None,
) -> LeakReport:
    """Leak findings for the given C files (paths as they should appear in findings).

    ``scope`` says which files are the service's own code; the default leaves out tests,
    examples and vendored code by their directories.
    """
    report = LeakReport()
    program = report.program
    program.scope = scope or BuildScope()
    files = list(files)
    attributes = attribute_macros(data for _, data in files)
    trees = []
    for path, data in files:
        reason = _admit(path, data, max_file_bytes)
        if reason is not None:
            report.skipped.append(reason)
            continue
        data = as_utf8(data)
        tree = parse_c(data, partial(rewrite_for_parse, macros=attributes))
        trees.append(tree)
        report.files_analyzed += 1
        report.lines_analyzed += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        lines = error_lines(tree.root_node)
        if lines:
            shown = ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")
            report.parse_problems.append(
                f"{path}: the C parser could not read line(s) {shown}; results for it are partial"
            )
        program.add_file(path, tree.root_node)
        if lines:
            report.damaged |= {
                (fn.file, fn.name)
                for fn in program.functions_in(path)
                if any(fn.line <= n <= fn.node.end_point[0] + 1 for n in lines)
            }
    others = other_program_files(program, program.scope.service)
    if others:
        program.scope = program.scope.without_programs(others)
        listed = sorted(others)
        report.scope_notes.append(
            "scope: left out as other programs (their own main()): "
            + ", ".join(listed[:5])
            + (" ..." if len(listed) > 5 else "")
        )
    program.discover_wrappers()
    report.allocator_wrappers = sorted(program.wrappers)
    driven = report.driven = program.driving_loops()
    for fn in program.all_functions():
        for call in program.allocation_calls(fn):
            finding = _classify(program, fn, call, driven.get(fn.name))
            if finding is not None:
                report.findings.append(finding)
        for call, local, released_here in aggregate_sites(program, fn):
            finding = _classify(
                program, fn, call, driven.get(fn.name), local,
                aggregate=True, released_here=released_here,
            )  # fmt: skip
            if finding is not None:
                report.findings.append(finding)
    report.findings += forgotten_members(program, driven)
    report.findings += unreleased_handles(program, driven)
    report.findings.sort(
        key=lambda f: (-f.score, -_rate(f), f.file, f.line),
    )
    return report


def classify_site(
    report: LeakReport,
    fn: Function,
    call: Node,
    out_param: str | None = None,
    *,
    trust_owner_flags: bool = True,
) -> Finding | None:
    """The path analysis of one call site as an allocation, whatever the callee is called:
    how the change-first suspects confirm (a finding) or refute (None) a removed release.
    ``out_param``: the allocation lands in that variable (``file2string(&buf, f)``);
    ``trust_owner_flags=False`` when a commit moved the release under a condition."""
    return _classify(
        report.program, fn, call, report.driven.get(fn.name), out_param,
        trust_owner_flags=trust_owner_flags,
    )  # fmt: skip


def _rate(finding: Finding) -> float:
    return float(finding.bytes_per_iteration or 0) * (finding.iterations_per_second or 1.0)


def _outliving(loop_body: Node, names: frozenset[str]) -> frozenset[str]:
    """Names not declared inside the loop body: they keep their value into the next iteration."""
    inside = set()
    for node in walk(loop_body):
        if node.type in ("init_declarator", "declaration"):
            for child in node.named_children:
                if child.type in ("identifier", "pointer_declarator"):
                    inside.add((child.text or b"").decode().lstrip("* "))
    return frozenset(n for n in names if n not in inside)


def _classify(
    program: Program,
    fn: Function,
    call: Node,
    driver: LoopInfo | None,
    out_param: str | None = None,
    *,
    trust_owner_flags: bool = True,
    aggregate: bool = False,
    released_here: bool = True,
) -> Finding | None:
    loops = [program.loop_info(loop, fn) for loop in program.enclosing_loops(call)]
    unbounded = next((loop for loop in loops if loop.unbounded), None) or driver
    growth = find_growth(program, fn, call, unbounded) if program.is_growth_site(call) else None
    if growth is not None:
        return _finding(
            program, fn, call, FindingKind.UNBOUNDED_GROWTH, growth.loop, growth.reasons,
            Confidence.HIGH if growth.loop.shape == "infinite" else Confidence.MEDIUM,
            bytes_per_iteration=growth.bytes_per_iteration, end_line=line_of(call),
        )  # fmt: skip
    # Not growth (or realloc from NULL, which is a plain allocation): the new block is
    # followed like any other; realloc's own release of the old one is its argument's business.
    region = program.region(
        fn,
        site=call,
        out_param=out_param or program.out_param(call),
        aggregate=aggregate,
    )
    region.trust_owner_flags = trust_owner_flags
    if fn.body is None:
        return None
    scope = loops[0].node.child_by_field_name("body") if loops else fn.body
    if scope is None:
        return None
    outcome = follow(region, scope, initial_state())
    if loops and _not_really_a_loop(program, loops[0], outcome):
        # for (i = 0; i < 1; i++) or while (1) { ...; break; }: the body runs once, so the
        # pointer's fate is decided after the loop, in the rest of the function.
        loops, scope = [], fn.body
        outcome = follow(region, scope, initial_state())
    iteration_ends = [*outcome.fall.values(), *outcome.cont.values()] if loops else []
    exit_ends = list(outcome.ret.values()) + ([] if loops else list(outcome.fall.values()))
    if loops and (
        any(st.status is Status.OWNED for st in outcome.brk.values())
        or _carried_out(loops[0], scope, iteration_ends)
    ):
        # A path leaves the loop by ``break`` still holding the block, or a bounded loop
        # carries it into the next iteration (``p = realloc(p, …)``) and so out of its last
        # one: its fate is decided in the rest of the function (freed after the loop, or lost
        # when the function returns early).
        whole = follow(region, fn.body, initial_state())
        exit_ends += [*whole.ret.values(), *whole.fall.values()]
    if loops:
        iteration_ends = _second_iteration(program, fn, scope, iteration_ends)
    ends = [st for st in iteration_ends + exit_ends if st.status is not Status.NONE]
    iter_leaks = [st for st in iteration_ends if st.status in _LEAKING]
    exit_leaks = [st for st in exit_ends if st.status in _LEAKING]
    leaks = iter_leaks + exit_leaks
    uncertain = [st for st in ends if st.status is Status.UNCERTAIN]
    if not leaks and not uncertain:
        return None
    if not released_here and not leaks:
        return None  # a struct local nothing here releases: an unknown callee is no finding
    unconditional = bool(leaks) and len(leaks) == len(ends)
    end_line = max([line_of(call), *(st.last_use for st in leaks or uncertain)])
    reasons: list[str] = []
    if not leaks:
        kind, loop, confidence = FindingKind.UNCERTAIN, unbounded, Confidence.LOW
        reasons.append(f"the pointer is {uncertain[0].event}; ADS cannot tell whether it is freed")
        if unbounded is not None:
            reasons.append(f"this happens on every iteration of {unbounded.describe()}")
        return _finding(program, fn, call, kind, loop, reasons, confidence, end_line=end_line,
                        states=uncertain)  # fmt: skip
    if all(st.event.startswith(REALLOC_FAILURE) or st.allocation_failed for st in leaks):
        lost = (
            leaks[0].event
            if leaks[0].event.startswith(REALLOC_FAILURE)
            else (f"lost on the path where another allocation returned NULL ({leaks[0].event})")
        )
        reasons.append(f"the block is {lost}: a leak on allocation failure only, "
                       "not an OOM cause")  # fmt: skip
        return _finding(program, fn, call, FindingKind.ONE_OFF_LEAK, None, reasons,
                        Confidence.LOW, end_line=end_line, states=leaks)  # fmt: skip
    loop = None
    if iter_leaks and loops and loops[0].unbounded:
        loop = loops[0]
    elif iter_leaks and unbounded is not None:
        loop = unbounded
    elif exit_leaks and driver is not None:
        loop = driver
    where = _where(unconditional, leaks)
    if loop is not None:
        kind = FindingKind.LOOP_LEAK
        # a handler reached through a function pointer runs when its entry is dispatched,
        # not on every turn of the loop: never the strong case
        strong = (
            unconditional
            and loop.shape in ("infinite", "flag")
            and not uncertain
            and not loop.through_pointer
        )
        confidence = Confidence.HIGH if strong else Confidence.MEDIUM
        via = "" if loop.function is fn else f" (reaches {fn.name}() through calls)"
        if loop.through_pointer and loop.function is not fn:
            via = f" (dispatches {fn.name}() through a function pointer)"
        reasons.append(f"{where} in {loop.condition}{via}, no free or escape on "
                       f"{'any path' if unconditional else 'that path'}")  # fmt: skip
        if loop.shape != "infinite":
            reasons.append(f"the loop runs until its condition changes ({loop.shape}-driven)")
    else:
        kind = FindingKind.ONE_OFF_LEAK
        confidence = Confidence.MEDIUM if unconditional else Confidence.LOW
        if all(st.event.startswith(STATIC_STORE) for st in leaks):
            # stored once into a static: still reachable until exit, lost only if stored again
            confidence = Confidence.LOW
        bounded = f" in a {loops[0].shape} loop" if loops else ""
        reasons.append(f"{where}{bounded}; it runs a bounded number of times, so it is not an "
                       "OOM cause on its own")  # fmt: skip
    if region.aggregate:  # what a struct local holds: the members are the repo's guess
        confidence = Confidence.LOW
        if released_here:
            reasons.append(f"the memory is what the struct local {region.out_param} holds (its "
                           f"members), released elsewhere in {fn.name}() by address")  # fmt: skip
        else:
            reasons.append(f"the memory is what the struct local {region.out_param} holds: "
                           f"{callee_name(call)}() puts heap memory into its members, and "
                           f"{fn.name}() never releases it")  # fmt: skip
    slots = sorted({st.event for st in leaks if st.event.startswith(STATIC_STORE)})
    if slots:  # "no escape": the global it went to is a static nothing releases
        reasons.append(f"the block is {slots[0]}: each store loses the block stored before")
    if uncertain:
        reasons.append(f"on other paths the pointer is {uncertain[0].event}")
    finding = _finding(program, fn, call, kind, loop, reasons, confidence, end_line=end_line,
                       states=leaks)  # fmt: skip
    if any(st.status is Status.FREED for st in ends):
        finding.released_elsewhere = True
        finding.reasons.append(f"{fn.name}() releases the block on its other paths: it owns it")
    return finding


def _carried_out(loop: LoopInfo, body: Node, iteration_ends: list[PathState]) -> bool:
    """Whether a loop that ends holds the block after it: it is bounded and some iteration
    ends with the block in a variable declared outside the body."""
    return not loop.unbounded and any(
        st.status is Status.OWNED and _outliving(body, st.names) for st in iteration_ends
    )


def _not_really_a_loop(program: Program, loop: LoopInfo, outcome: Outcome) -> bool:
    """A loop whose body runs once: a constant trip count of one, ``do { … } while (0)`` (the
    idiom that lets ``break`` skip to the shared clean-up), or every path that holds the
    pointer leaves by ``break``."""
    if loop.node.type == "for_statement":
        trips = _constant_trips(program, loop.node)
        if trips == 1:
            return True
    if loop.node.type == "do_statement":
        condition = strip_expression(loop.node.child_by_field_name("condition"))
        if program.constants.evaluate(condition) == 0:
            return True
    held = [*outcome.fall.values(), *outcome.cont.values()]
    leaving = [st for st in outcome.brk.values() if st.status is not Status.NONE]
    return bool(leaving) and all(st.status is Status.NONE for st in held)


def _constant_trips(program: Program, loop: Node) -> int | None:
    """``for (i = 0; i < 1; i++)``: 1. None unless start, bound and step are constants."""
    init = loop.child_by_field_name("initializer")
    condition = strip_expression(loop.child_by_field_name("condition"))
    update = loop.child_by_field_name("update")
    if init is None or condition is None or update is None:
        return None
    if condition.type != "binary_expression" or "++" not in text_of(update):
        return None
    operator = condition.child_by_field_name("operator")
    counter = text_of(condition.child_by_field_name("left"))
    bound = program.constants.evaluate(condition.child_by_field_name("right"))
    start_node = init.child_by_field_name("right") or init.child_by_field_name("value")
    if init.type == "declaration":
        declarators = init.children_by_field_name("declarator")
        start_node = declarators[0].child_by_field_name("value") if declarators else None
    start = program.constants.evaluate(start_node)
    if not counter or bound is None or start is None or operator is None:
        return None
    if operator.type == "<":
        return max(0, bound - start)
    if operator.type == "<=":
        return max(0, bound - start + 1)
    return None


def _where(unconditional: bool, leaks: list[PathState]) -> str:
    if unconditional:
        return "unconditional allocation"
    events = sorted({st.event for st in leaks if st.event})
    if not events:
        return "allocation leaked on some paths only (others free or keep it)"
    return "allocation leaked only on the path ending at " + ", ".join(events)


def _second_iteration(
    program: Program, fn: Function, body: Node, ends: list[PathState]
) -> list[PathState]:
    """Re-run the next iteration for pointers held in variables that outlive the iteration: a
    ``free(p)`` at the top of the next iteration (or a cache filled once) is not a leak."""
    result = []
    for st in ends:
        keep = _outliving(body, st.names) if st.status is Status.OWNED else frozenset()
        if not keep:
            result.append(st)
            continue
        region = program.region(fn)
        # the next iteration: what this one's branches decided may have changed since
        outcome = follow(region, body, st._replace(names=keep, event="", facts=frozenset()))
        again = [*outcome.fall.values(), *outcome.cont.values(), *outcome.brk.values()]
        for nxt in again:
            if nxt.status is Status.LOST:
                result.append(st._replace(status=Status.LOST, event=nxt.event))
            elif nxt.status is not Status.OWNED:
                result.append(nxt._replace(last_use=st.last_use))
            else:
                result.append(st._replace(status=Status.ESCAPED, event="kept across iterations"))
    return result


def _finding(
    program: Program,
    fn: Function,
    call: Node,
    kind: FindingKind,
    loop: LoopInfo | None,
    reasons: list[str],
    confidence: Confidence,
    *,
    end_line: int,
    bytes_per_iteration: int | None = None,
    states: list[PathState] | None = None,
) -> Finding:
    line = line_of(call)
    if kind is not FindingKind.UNBOUNDED_GROWTH:
        bytes_per_iteration = allocation_bytes(program, call)
    rate = None
    if loop is not None and loop.seconds_per_iteration:
        rate = round(1.0 / loop.seconds_per_iteration, 6)
    evidence = [f"allocation at {fn.file}:{line}: {call_text(call)}"]
    if loop is not None:
        evidence.append(f"loop: {loop.describe()} in {loop.function.name}()")
    if bytes_per_iteration is not None:
        evidence.append(f"{bytes_per_iteration} bytes ({bytes_per_iteration / 2**20:.2f} MiB) "
                        "per iteration")  # fmt: skip
    if rate is not None and loop is not None:
        evidence.append(f"{rate:g} iterations/s from the sleeps in the loop")
    uses = [st.first_use for st in states or [] if st.first_use]
    if end_line > line:
        evidence.append(f"last use of the pointer on the leaking path: line {end_line}")
    score = _KIND_WEIGHT[kind] + _CONFIDENCE_WEIGHT[confidence]
    return Finding(
        file=fn.file,
        function=fn.name,
        line=line,
        end_line=end_line,
        kind=kind,
        issue={
            FindingKind.UNBOUNDED_GROWTH: GROWTH_ISSUE,
            FindingKind.UNCERTAIN: UNCERTAIN_ISSUE,
        }.get(kind, LEAK_ISSUE),
        allocation=call_text(call),
        variable=variable_of(call),
        bytes_per_iteration=bytes_per_iteration,
        iterations_per_second=rate,
        loop_line=loop.line if loop is not None else None,
        use_line=min(uses) if uses else None,
        evidence=evidence,
        confidence=confidence,
        reasons=reasons,
        score=round(score, 3),
        support=[] if kind is FindingKind.UNCERTAIN else [Support.PATH],
        in_scope=program.scope.contains(fn.file),
        main_loop=loop is not None and loop.shape in ("infinite", "flag"),
    )
