"""The C front end: tree-sitter-c syntax, one ownership vocabulary, one path analysis.

``FRONT_END`` is what ``ads.analysis.languages`` registers for ``.c``/``.h``: it analyses the
sources (``leaks``: per allocation, every path of one iteration or call, over the program's own
summaries and vocabulary), reads a commit's edit of a file (``edits``), turns the window's
removed releases into suspects (``suspects``) and proposes the fix (``fixes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from ...models import Change, FileChange, Finding, SettingEdit
from ..languages import Analysis, EditReader, FileEdits, FrontEnd
from ..scope import BuildScope
from .edits import c_file_edits
from .fixes import FixProposal, propose_fix
from .held import HeldMemory, constant_edits, held_by_program, held_in_sources
from .leaks import LeakReport, analyze_c_sources
from .suspects import change_suspects
from .syntax import enclosing_function, parse_c
from .vocabulary import KNOWN, Vocabulary

__all__ = ["FRONT_END", "CFrontEnd"]


class CFrontEnd:
    """C and its headers."""

    name: str = "C"
    suffixes: tuple[str, ...] = (".c", ".h")

    def analyse(self, files: Sequence[tuple[str, bytes]], scope: BuildScope) -> LeakReport:
        return analyze_c_sources(files, scope=scope)

    def edit_reader(self, analysis: Analysis | None) -> EditReader:
        """Edits read in the analysed program's vocabulary (its wrappers and releasers), or in
        the C library's alone when there is no analysis."""
        vocabulary: Vocabulary = cast(LeakReport, analysis).program if analysis else KNOWN

        def read(change: FileChange) -> FileEdits:
            return c_file_edits(change, vocabulary)

        return read

    def suspects(self, changes: Sequence[Change], analysis: Analysis) -> list[Finding]:
        return change_suspects(changes, cast(LeakReport, analysis))

    def propose_fix(self, path: str, source: str, finding: Finding) -> FixProposal:
        return propose_fix(path, source, finding)

    def function_at(self, path: str, source: bytes, line: int) -> str | None:
        return enclosing_function(parse_c(source).root_node, line)

    # -- the working set (``languages.WorkingSet``): what the service holds from start-up --

    def held_memory(self, analysis: Analysis) -> HeldMemory:
        report = cast(LeakReport, analysis)
        return held_by_program(report.program, report.driven)

    def held_in(self, files: Sequence[tuple[str, bytes]], scope: BuildScope) -> HeldMemory:
        return held_in_sources(files, scope)

    def setting_edits(self, change: FileChange) -> list[SettingEdit]:
        return constant_edits(change)


FRONT_END: FrontEnd = CFrontEnd()
