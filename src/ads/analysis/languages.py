"""The language seam: what the workflow asks of a language, and which languages there are.

The workflow never names a language. For a service it asks the front ends whose file types the
service's sources have: analyse these files (findings, what could not be read, the program's own
vocabulary), read one commit's edit of one file at the syntax level (removed releases, added
allocations, raised sizes), turn the window's edits into change-first suspects, propose a fix.
C is the first front end (``ads.analysis.c``); the next language plugs in by implementing
``FrontEnd`` and adding its module to ``FRONT_END_MODULES`` — the orchestrator stays as it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, runtime_checkable

from ..models import Change, CodeEdit, CodeEditKind, FileChange, Finding, SettingEdit
from .scope import BuildScope

__all__ = [
    "BULK_FILES",
    "FRONT_END_MODULES",
    "Analysis",
    "EditReader",
    "FileEdits",
    "FixProposal",
    "FrontEnd",
    "Held",
    "WorkingSet",
    "front_end_for",
    "front_ends",
    "merge_suspects",
    "suffixes",
]

#: Modules that each define ``FRONT_END``, one per language.
FRONT_END_MODULES = ("ads.analysis.c", "ads.analysis.python")
#: A commit touching this many files at once is an import (or a mass reformat), not a change
#: of the code: its edits are not read at the syntax level and it introduces no suspect.
BULK_FILES = 20


@dataclass
class FileEdits:
    """What one file's change did: notes for people, edits for attribution, functions touched."""

    path: str
    notes: list[str] = field(default_factory=list)
    edits: list[CodeEdit] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    def add(self, edit: CodeEdit, note: str) -> None:
        self.edits.append(edit)
        self.notes.append(note)

    def of_kind(self, kind: CodeEditKind) -> list[CodeEdit]:
        return [e for e in self.edits if e.kind is kind]


#: Reads one commit's change of one file (the front end's, bound to an analysis).
EditReader = Callable[[FileChange], FileEdits]


class Analysis(Protocol):
    """A front end's analysis of a service's sources."""

    findings: list[Finding]
    parse_problems: list[str]
    skipped: list[str]
    allocator_wrappers: list[str]
    damaged: set[tuple[str, str]]
    #: what the analysis decided about the service's scope (other programs it left out)
    scope_notes: list[str]


class FixProposal(Protocol):
    """A front end's fix for one finding: a unified diff when it can place one, else advice."""

    @property
    def path(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def diff(self) -> str | None: ...

    @property
    def suggestion(self) -> str | None: ...

    @property
    def has_patch(self) -> bool: ...


class FrontEnd(Protocol):
    """One language: its file types and the four things the workflow asks of it."""

    name: str
    suffixes: tuple[str, ...]

    def analyse(self, files: Sequence[tuple[str, bytes]], scope: BuildScope) -> Analysis: ...

    def edit_reader(self, analysis: Analysis | None) -> EditReader: ...

    def suspects(self, changes: Sequence[Change], analysis: Analysis) -> list[Finding]: ...

    def propose_fix(self, path: str, source: str, finding: Finding) -> FixProposal: ...

    def function_at(self, path: str, source: bytes, line: int) -> str | None:
        """The innermost function of ``source`` holding ``line``, by the name findings use
        (how a run-time probe names the function of a frame it traced); None outside any."""
        ...


class Held(Protocol):
    """Memory a service allocates once at start-up and keeps (a lower bound, in bytes)."""

    @property
    def bytes(self) -> int: ...

    def lines(self) -> list[str]: ...


@runtime_checkable
class WorkingSet(Protocol):
    """Optional for a front end: what the service holds from start-up, and which size
    constants a commit changed. The limit-lowered and size-raised hypotheses use it; a
    language without it leaves those judged on the manifests and the incident alone."""

    def held_memory(self, analysis: Analysis) -> Held: ...

    def held_in(self, files: Sequence[tuple[str, bytes]], scope: BuildScope) -> Held: ...

    def setting_edits(self, change: FileChange) -> list[SettingEdit]: ...


@lru_cache(maxsize=1)
def front_ends() -> tuple[FrontEnd, ...]:
    """Every registered front end (imported on first use: tree-sitter loads only then)."""
    return tuple(importlib.import_module(m).FRONT_END for m in FRONT_END_MODULES)


def front_end_for(path: str) -> FrontEnd | None:
    """The front end for a file, by its type; None when no language reads it."""
    return next((f for f in front_ends() if path.endswith(f.suffixes)), None)


def merge_suspects(findings: list[Finding], suspects: list[Finding]) -> list[Finding]:
    """``findings`` with each suspect replacing the finding at the same site (or added)."""
    by_site = {(s.file, s.line): s for s in suspects}
    merged = [by_site.pop((f.file, f.line), f) for f in findings]
    return [*by_site.values(), *merged]


def suffixes() -> tuple[str, ...]:
    """The file types some front end reads."""
    return tuple(s for f in front_ends() for s in f.suffixes)
