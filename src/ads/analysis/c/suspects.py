"""Change-first suspects: the releases that commits before the incident took away.

An OOM kill usually follows a change. Every commit in the window is read at the syntax level
(``c_edits``, with the program's vocabulary, so ``zfree``/``sdsfree``/``jv_free`` count as
releases like ``free``); each release it removed — and that no later commit put back — is a
suspect with its commit. The suspect is then judged by the path analysis of the *current* code:
the allocation that fills the released variable in that function is followed along every path
(``c_leaks.classify_site``, whatever the allocator is called). Confirmed, it carries two
independent kinds of support (the change and the path); refuted (the memory is still released or
kept on every path), it stays listed as a refuted suspect and never outranks the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ads.analysis.c.flow import PathState, Status, follow, initial_state
from ads.analysis.c.leaks import LEAK_ISSUE, LeakReport, classify_site
from ads.analysis.c.program import Function, LoopInfo, Program
from ads.analysis.c.sites import call_text, variable_of
from ads.analysis.c.syntax import Node, callee_name, line_of, strip_expression, text_of
from ads.analysis.languages import BULK_FILES
from ads.models import (
    Change,
    CodeEdit,
    CodeEditKind,
    Confidence,
    Finding,
    FindingKind,
    Support,
)

__all__ = ["Suspect", "change_suspects", "removed_releases"]

#: how far from a removed release the call that replaced it may be
_NEAR_LINES = 8
_LEAKS = (FindingKind.LOOP_LEAK, FindingKind.UNBOUNDED_GROWTH, FindingKind.ONE_OFF_LEAK)


@dataclass(frozen=True)
class Suspect:
    """A release that ``change`` removed from ``edit.function`` and nothing put back."""

    change: Change
    edit: CodeEdit


def _key(edit: CodeEdit) -> tuple[str, str | None, str | None]:
    return edit.file, edit.function, edit.variable


def removed_releases(changes: Sequence[Change]) -> list[Suspect]:
    """Releases removed in the window and still missing at its end (oldest change first).

    A release a later commit adds back closes the suspect; one the same commit adds does not:
    a commit that moves a release into two branches (``moved`` + ``added``) changed which
    paths it covers, and a path that takes neither branch is the leak to look for."""
    open_: dict[tuple[str, str | None, str | None], Suspect] = {}
    for change in sorted(changes, key=lambda c: c.authored_at):
        for edit in change.edits:
            if edit.kind in (CodeEditKind.REMOVED_FREE, CodeEditKind.MOVED_FREE):
                open_[_key(edit)] = Suspect(change, edit)
            elif edit.kind is CodeEditKind.ADDED_FREE:
                opened = open_.get(_key(edit))
                if opened is not None and opened.change.sha != change.sha:
                    del open_[_key(edit)]
    return list(open_.values())


def _function(report: LeakReport, edit: CodeEdit) -> Function | None:
    if edit.function is None:
        return None
    found = report.program.functions.get(edit.function, [])
    return next((fn for fn in found if fn.file == edit.file), None)


def _fills(call: Node, variable: str, program: Program) -> bool:
    """Whether ``call``'s result (or out-parameter) lands in ``variable``."""
    target = variable_of(call) or program.out_param(call)
    if target is None:
        parent = call.parent
        if parent is not None and parent.type == "init_declarator":
            target = text_of(parent.child_by_field_name("declarator")).lstrip("* ")
    return target is not None and _same_place(target, variable)


def _same_place(one: str, other: str) -> bool:
    """Whether two lvalue texts name the same place (``conf -> name`` is ``conf->name``)."""
    return "".join(one.split()) == "".join(other.split())


def _address_index(call: Node, variable: str) -> int | None:
    """Where ``call`` takes ``&variable`` (``make(&p, n)``: an out-parameter allocation the
    vocabulary did not know about), or None."""
    arguments = call.child_by_field_name("arguments")
    for index, argument in enumerate(arguments.named_children if arguments else []):
        bare = strip_expression(argument)
        if bare is None or bare.type != "pointer_expression" or bare.children[0].type != "&":
            continue
        if text_of(strip_expression(bare.child_by_field_name("argument"))) == variable:
            return index
    return None


def _address_taken(call: Node, variable: str) -> bool:
    return _address_index(call, variable) is not None


def _fills_through_address(call: Node, variable: str, fn: Function, program: Program) -> bool:
    """``make(&p, n)`` may fill ``p``; ``strbuf_release(&p)`` empties it and is no site (a
    release taken for the allocation reads as "allocated, never freed": a High false alarm
    on git's die_if_checked_out, whose two releases one commit had merged into one)."""
    index = _address_index(call, variable)
    if index is None:
        return False
    name = callee_name(call)
    return not (
        program.releases_members(name, index, fn.file) or program.releases(name, index, fn.file)
    )


def _sites(fn: Function, variable: str, before_line: int | None, program: Program) -> list[Node]:
    """Calls in ``fn`` that fill ``variable``, the one nearest before the release first."""
    sites = [
        c
        for c in fn.calls
        if _fills(c, variable, program) or _fills_through_address(c, variable, fn, program)
    ]
    if before_line is not None:
        earlier = [c for c in sites if line_of(c) <= before_line]
        later = [c for c in sites if line_of(c) > before_line]
        sites = sorted(earlier, key=line_of, reverse=True) + sorted(later, key=line_of)
    return sites


def _hours(change: Change) -> float:
    return (change.before_incident_seconds or 0.0) / 3600


def _change_line(suspect: Suspect) -> str:
    change, edit = suspect.change, suspect.edit
    verb = {CodeEditKind.MOVED_FREE: "moved", CodeEditKind.ADDED_ALLOCATION: "added"}.get(
        edit.kind, "removed"
    )
    return (
        f"change: {change.sha[:7]} {verb} {edit.call} in {edit.function}() "
        f"{_hours(change):.1f} h before the incident ({change.author}: {change.subject})"
    )


def _confirmed(suspect: Suspect, finding: Finding) -> Finding:
    support = list(dict.fromkeys([*finding.support, Support.CHANGE]))
    return finding.model_copy(
        update={
            "introduced_by": suspect.change,
            "support": support,
            "evidence": [*finding.evidence, _change_line(suspect)],
        }
    )


def _unconfirmed(
    suspect: Suspect, fn: Function, site: Node | None, report: LeakReport, why: str
) -> Finding:
    """A suspect the path analysis could not confirm: listed, but only a change's word."""
    edit = suspect.edit
    line = line_of(site) if site is not None else (edit.new_line or fn.line)
    loops = report.program.enclosing_loops(site) if site is not None else []
    in_loop = edit.in_loop or bool(loops) or fn.name in report.driven
    return Finding(
        file=fn.file,
        function=fn.name,
        line=line,
        end_line=max(line, edit.new_line or line),
        kind=FindingKind.LOOP_LEAK if in_loop else FindingKind.ONE_OFF_LEAK,
        issue=LEAK_ISSUE,
        allocation=call_text(site) if site is not None else f"{edit.variable} ({edit.call})",
        variable=edit.variable,
        evidence=[_change_line(suspect)],
        confidence=Confidence.LOW,
        reasons=[
            f"{suspect.change.sha[:7]} removed {edit.call}"
            + (" inside a loop" if edit.in_loop else ""),
            why,
        ],
        introduced_by=suspect.change,
        support=[Support.CHANGE],
        in_scope=report.program.scope.contains(fn.file),
    )


def added_allocations(changes: Sequence[Change]) -> list[Suspect]:
    """Allocations added in the window by a commit that added no release of them (an import
    of the code base is not a change of it)."""
    found = []
    for change in sorted(changes, key=lambda c: c.authored_at):
        if len(change.files) >= BULK_FILES:
            continue
        freed = {_key(e) for e in change.edits if e.kind is CodeEditKind.ADDED_FREE}
        for edit in change.edits:
            if edit.kind is CodeEditKind.ADDED_ALLOCATION and _key(edit) not in freed:
                found.append(Suspect(change, edit))
    return found


def _added_site(fn: Function, edit: CodeEdit) -> Node | None:
    """The call the commit added, in the current code: same text, nearest its line then."""
    same = [c for c in fn.calls if " ".join(text_of(c).split()) == edit.call]
    return min(same, key=lambda c: abs(line_of(c) - edit.line)) if same else None


def change_suspects(changes: Sequence[Change], report: LeakReport) -> list[Finding]:
    """One finding per release removed in the window, confirmed or not by the path analysis,
    and one per allocation added in the window that the path analysis finds leaking."""
    found: list[Finding] = []
    for suspect in added_allocations(changes):
        fn = _function(report, suspect.edit)
        site = _added_site(fn, suspect.edit) if fn is not None else None
        if fn is None or site is None:
            continue
        verdict = classify_site(report, fn, site)
        if verdict is not None and verdict.kind in _LEAKS:  # an added allocation that is fine
            found.append(_confirmed(suspect, verdict))  # is no suspect: most of them are
    for suspect in removed_releases(changes):
        edit = suspect.edit
        fn = _function(report, edit)
        if fn is None or edit.variable is None:
            continue
        sites = _sites(fn, edit.variable, edit.new_line, report.program)
        judged: Finding | None = None
        for site in sites:
            through = edit.variable if _address_taken(site, edit.variable) else None
            moved = edit.kind is CodeEditKind.MOVED_FREE
            verdict = classify_site(
                report, fn, site, out_param=through, trust_owner_flags=not moved
            )
            if verdict is not None and verdict.kind in _LEAKS:
                judged = _confirmed(suspect, verdict)
                break
        if judged is None and sites and edit.kind is CodeEditKind.REMOVED_FREE:
            judged = _overwritten(suspect, fn, sites, report)
        if judged is None and sites and edit.kind is CodeEditKind.REMOVED_FREE:
            judged = _kept_instead(suspect, fn, sites[0], report)
        if judged is None and not sites and edit.variable in fn.params:
            judged = _parameter_dropped(suspect, fn, report)
        if judged is None and edit.kind is CodeEditKind.MOVED_FREE:
            judged = _shallower_release(suspect, fn, report)
        if judged is None and edit.kind is CodeEditKind.MOVED_FREE:
            continue  # a moved release is a suspect only when the path analysis confirms it
        if judged is None:
            why = (
                f"the path analysis finds {edit.variable} released or kept on every path"
                if sites
                else f"{edit.variable} is not allocated in {fn.name}(): it comes from elsewhere"
            )
            refuted = bool(sites)  # the path analysis says the block is released or kept
            if not sites and not _mentioned(fn, edit.variable) and not _leaks_in(fn, report):
                why = f"{edit.variable} no longer appears in {fn.name}(): what it released went too"
                refuted = True
            elif not sites and (added := _release_added_beside(suspect)) is not None:
                why += (
                    f"; the same commit added {added} in {fn.name}(): the release may have "
                    "moved to another name for the block"
                )
                refuted = True
            judged = _unconfirmed(suspect, fn, sites[0] if sites else None, report, why)
            judged.refuted = refuted
        found.append(judged)
    return found


def _leaks_in(fn: Function, report: LeakReport) -> bool:
    """Whether the path analysis finds a leak in ``fn`` itself: a removed release whose
    variable is gone may still have left its block behind in another form (redis's
    genClusterDebugString, reverted: the sds went straight into sdscatsds() again)."""
    return any(
        f.file == fn.file and f.function == fn.name and f.kind in _LEAKS for f in report.findings
    )


def _mentioned(fn: Function, variable: str) -> bool:
    """Whether the current code of ``fn`` still names the variable the release named, or the
    one its member hangs from (``c`` for ``c->bpop.keys``: a struct still holds a member its
    destructor stopped mentioning, redis's freeClient)."""
    text = text_of(fn.body) if fn.body is not None else ""
    base = re.match(r"\s*([A-Za-z_$][\w$]*)", variable)
    if base is None:
        return True
    return re.search(rf"(?<![\w$]){re.escape(base.group(1))}(?![\w$])", text) is not None


def _release_added_beside(suspect: Suspect) -> str | None:
    """A release of something else the suspect's own commit added in the same function
    (``sdsfree(sparse)`` removed, ``sdsfree(o->ptr)`` added: an API that now takes the
    object): the commit moved the release to another name, which the syntax cannot tell
    from a leak. None when it added none there."""
    edit = suspect.edit
    for other in suspect.change.edits:
        if (
            other.kind is CodeEditKind.ADDED_FREE
            and other.function == edit.function
            and other.file == edit.file
            and other.variable != edit.variable
        ):
            return other.call
    return None


def _ends_at(state: PathState) -> int | None:
    """The line of the ``return`` that ended a path, from its event; None when unknown."""
    found = re.match(r"return at line (\d+)$", state.event)
    return int(found.group(1)) if found else None


def _overwritten(
    suspect: Suspect, fn: Function, sites: list[Node], report: LeakReport
) -> Finding | None:
    """The removed release emptied a place that the next statement fills again
    (``ha_free(&conf->name); conf->name = strdup(arg);`` lost its first line): now each store
    after the first overwrites the block stored before, which nothing else holds. Only for a
    member or a global: a local's earlier block has a site in the function, and the path
    analysis of that site already says whether the overwrite loses it. A call between that
    releases the place, or may (it is handed the struct), refutes the suspect: listed, never
    ranked above the evidence, and not read as a store into a container either."""
    edit = suspect.edit
    variable, removed_at = edit.variable, edit.new_line
    if (
        variable is None
        or removed_at is None
        or (variable.isidentifier() and variable in fn.locals)
    ):
        return None
    after = [site for site in sites if line_of(site) >= removed_at]
    if not after:
        return None
    site = min(after, key=line_of)
    program = report.program
    base = re.match(r"\w+", variable)
    for call in fn.calls:
        if not removed_at <= line_of(call) < line_of(site):
            continue
        released = _releases_place(call, variable, fn, program)
        if released or (
            base
            and re.search(rf"\b{base.group()}\b", text_of(call.child_by_field_name("arguments")))
        ):
            # still released before the store, or handed to a call that may (a reset helper)
            why = (
                f"{call_text(call)} at line {line_of(call)} "
                f"{'releases' if released else 'may release'} {variable} before it is stored again"
            )
            refuted = _unconfirmed(suspect, fn, site, report, why)
            refuted.refuted = True
            return refuted
    driver = report.driven.get(fn.name)
    loops = [program.loop_info(loop, fn) for loop in program.enclosing_loops(site)]
    driver = next((info for info in loops if info.unbounded), None) or driver
    line = line_of(site)
    why = (
        f"{suspect.change.sha[:7]} removed {edit.call} right before line {line} stores "
        f"into {variable} again: every call after the first loses the block stored before"
    )
    # what the path analysis adds is only that nothing between releases the place: the
    # change is the evidence, so this never claims proved growth (High)
    return _change_finding(suspect, fn, line, driver, report,
                           issue="a stored block overwritten without its release",
                           allocation=call_text(site), variable=variable, why=why)  # fmt: skip


def _shallower_release(suspect: Suspect, fn: Function, report: LeakReport) -> Finding | None:
    """The commit replaced a destructor with a plain release of the same pointer
    (``qc_stream_desc_free(stream)`` → ``pool_free(pool, stream)``): the block is still
    released, what it held is not. The destructor is told from its body — it releases what
    its argument's struct holds — and the new release does not."""
    edit = suspect.edit
    program = report.program
    removed = edit.call.split("(", 1)[0].strip()
    if not edit.variable or not removed.isidentifier():
        return None
    index = _argument_index(edit.call, edit.variable)
    if index is None or not program.releases_aggregate(removed, index, fn.file):
        return None
    near = edit.new_line or edit.line
    # where the release went: the commit's added lines sit around the removed one
    for call in sorted(fn.calls, key=lambda c: abs(line_of(c) - near)):
        name = callee_name(call)
        if abs(line_of(call) - near) > _NEAR_LINES:
            break
        if name is None or name == removed:
            continue
        arguments = call.child_by_field_name("arguments")
        for at, argument in enumerate(arguments.named_children if arguments else []):
            if not _same_place(text_of(strip_expression(argument)), edit.variable):
                continue
            if program.releases(name, at, fn.file) and not program.releases_aggregate(
                name, at, fn.file
            ):
                return _held_lost(suspect, fn, call, removed, report)
    return None


def _argument_index(call: str, variable: str) -> int | None:
    """Where ``variable`` is passed in a call's text (``f(a, v)`` → 1); None when absent."""
    inside = call.split("(", 1)[1].rsplit(")", 1)[0] if "(" in call else ""
    for index, argument in enumerate(inside.split(",")):
        if _same_place(argument, variable):
            return index
    return None


def _held_lost(
    suspect: Suspect, fn: Function, call: Node, removed: str, report: LeakReport
) -> Finding:
    edit = suspect.edit
    why = (
        f"{suspect.change.sha[:7]} replaced {edit.call} with {call_text(call)}: {removed}() "
        f"also released what {edit.variable} holds, {callee_name(call)}() only the block"
    )
    return _change_finding(suspect, fn, line_of(call), report.driven.get(fn.name), report,
                           issue="struct released without releasing what it holds",
                           allocation=f"what {edit.variable} holds ({edit.call})",
                           variable=edit.variable, why=why)  # fmt: skip


def _change_finding(
    suspect: Suspect,
    fn: Function,
    line: int,
    driver: LoopInfo | None,
    report: LeakReport,
    *,
    issue: str,
    allocation: str,
    variable: str | None,
    why: str,
) -> Finding:
    """A suspect whose evidence is the change (``Support.CHANGE`` only: Medium at most), at
    ``line`` of ``fn``; a loop leak when ``driver`` runs the function."""
    return Finding(
        file=fn.file,
        function=fn.name,
        line=line,
        end_line=line,
        kind=FindingKind.LOOP_LEAK if driver is not None else FindingKind.ONE_OFF_LEAK,
        issue=issue,
        allocation=allocation,
        variable=variable,
        evidence=[_change_line(suspect)],
        confidence=Confidence.LOW,
        reasons=[why, *([f"called on every iteration of {driver.describe()}"] if driver else [])],
        introduced_by=suspect.change,
        support=[Support.CHANGE],
        in_scope=report.program.scope.contains(fn.file),
    )


def _releases_place(call: Node, variable: str, fn: Function, program: Program) -> bool:
    """Whether ``call`` releases ``variable`` (``free(v)``) or what ``&variable`` points to."""
    arguments = call.child_by_field_name("arguments")
    name = callee_name(call)
    for index, argument in enumerate(arguments.named_children if arguments else []):
        bare = strip_expression(argument)
        if bare is None:
            continue
        if _same_place(text_of(bare), variable):
            if program.releases(name, index, fn.file):
                return True
        elif bare.type == "pointer_expression" and bare.children[0].type == "&":
            inner = text_of(strip_expression(bare.child_by_field_name("argument")))
            if _same_place(inner, variable) and program.releases_members(name, index, fn.file):
                return True
    return False


def _kept_instead(suspect: Suspect, fn: Function, site: Node, report: LeakReport) -> Finding | None:
    """The release was replaced by a store: on every path the block the commit stopped
    releasing is now kept by a container, a field or a global (``list_push(cache, item)``
    instead of ``free(item)``), once per turn of an unbounded loop. Nothing leaks by the
    book, but whatever keeps it gains one block per iteration: unbounded growth, unless the
    container evicts (which ADS does not see, so the confidence stays Medium at most)."""
    region = report.program.region(fn, site=site, out_param=report.program.out_param(site))
    outcome = follow(region, fn.body, initial_state()) if fn.body is not None else None
    if outcome is None:
        return None
    ends = [
        st
        for st in [*outcome.ret.values(), *outcome.fall.values(), *outcome.cont.values()]
        if st.status is not Status.NONE
    ]
    kept = [
        st for st in ends if st.status is Status.ESCAPED and not st.event.startswith("returned")
    ]
    if not ends or len(kept) != len(ends):
        return None
    loops = [report.program.loop_info(loop, fn) for loop in report.program.enclosing_loops(site)]
    driver = next((info for info in loops if info.unbounded), None) or report.driven.get(fn.name)
    if driver is None:
        return None
    edit = suspect.edit
    where = sorted({st.event for st in kept})
    return Finding(
        file=fn.file,
        function=fn.name,
        line=line_of(site),
        end_line=max(line_of(site), edit.new_line or line_of(site)),
        kind=FindingKind.UNBOUNDED_GROWTH,
        issue="release replaced by a store: every iteration keeps one more block",
        allocation=call_text(site),
        variable=edit.variable,
        evidence=[_change_line(suspect)],
        confidence=Confidence.MEDIUM,
        reasons=[
            f"{suspect.change.sha[:7]} removed {edit.call}; the block is now "
            f"{'; '.join(where)} on every path",
            f"this happens on every iteration of {driver.describe()}, and nothing in the "
            "function takes the block back out",
        ],
        introduced_by=suspect.change,
        # the path analysis shows the block kept, not that the keeper never evicts: the
        # change is the evidence, so this never claims proved growth (High)
        support=[Support.CHANGE],
        in_scope=report.program.scope.contains(fn.file),
    )


def _parameter_dropped(suspect: Suspect, fn: Function, report: LeakReport) -> Finding | None:
    """A release of a parameter was removed (``f(jv a) { …; jv_free(a); return …; }``): the
    function takes ownership of it, and the path analysis of the current code says on which
    paths it now returns still holding it."""
    edit = suspect.edit
    region = report.program.region(fn)
    outcome = (
        follow(region, fn.body, initial_state([edit.variable or ""], fn.line)) if fn.body else None
    )
    if outcome is None:
        return None
    held = [
        st for st in [*outcome.ret.values(), *outcome.fall.values()] if st.status is Status.OWNED
    ]
    if edit.kind is CodeEditKind.MOVED_FREE and edit.new_line is not None:
        # a moved release changed only the paths that passed where it was: a path that
        # returns before that line leaked before the commit too (curl's Curl_follow, whose
        # early error returns 311c88c did not touch)
        held = [st for st in held if (_ends_at(st) or edit.new_line) >= edit.new_line]
    if not held:
        return None
    where = sorted({st.event for st in held if st.event}) or ["the end of the function"]
    line = edit.new_line or fn.line
    driver = report.driven.get(fn.name)
    finding = Finding(
        file=fn.file,
        function=fn.name,
        line=line,
        end_line=line,
        kind=FindingKind.LOOP_LEAK if driver is not None else FindingKind.ONE_OFF_LEAK,
        issue=LEAK_ISSUE,
        allocation=f"{edit.variable} (argument of {fn.name}(), released by {edit.call})",
        variable=edit.variable,
        evidence=[_change_line(suspect)],
        confidence=Confidence.LOW,
        reasons=[
            f"{fn.name}() owns its argument {edit.variable} and no longer releases it on the "
            f"path ending at {', '.join(where)}",
            *([f"called on every iteration of {driver.describe()}"] if driver else []),
        ],
        introduced_by=suspect.change,
        support=[Support.PATH, Support.CHANGE],
        in_scope=report.program.scope.contains(fn.file),
    )
    return finding
