"""What the service builds: the files whose code runs in the OOM-killed process.

A repository holds more than the service: tests and benchmarks with their own ``main`` loops,
examples, vendored dependencies, fuzzers, docs. Their loops must not make a one-off leak look
per-iteration, and their findings must not win ties. The build says best which files are the
service (``compile_commands.json``, read by the workflow); without it, directories that by
convention hold other programs or other people's code are outside, and so are directories that
carry their own licence file (a library copied in, like jq's ``src/decNumber``), unless the
service's ``sources`` name them explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

__all__ = ["OUTSIDE_DIRECTORIES", "BuildScope", "is_licence_file"]

OUTSIDE_DIRECTORIES = frozenset(
    {"test", "tests", "testing", "testsuite", "unittest", "unittests", "example", "examples",
     "sample", "samples", "bench", "benchmark", "benchmarks", "fuzz", "fuzzing", "deps",
     "vendor", "third_party", "thirdparty", "3rdparty", "external", "contrib", "doc", "docs"}
)  # fmt: skip


_LICENCE = re.compile(
    r"(?i)^(?:(?:licen[cs]e|copying|copyright|unlicense)(?:[-._][\w.-]*)?"
    r"|[\w.-]+[-_.]licen[cs]e(?:\.(?:txt|md|html?|rst))?)$"
)
_SOURCE_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".py", ".go", ".rs", ".java", ".js", ".ts")


def is_licence_file(name: str) -> bool:
    """``LICENSE``, ``COPYING.txt``, ``ICU-license.html``: a file that says whose code sits
    beside it (never a source file that happens to be called ``license.c``)."""
    return not name.lower().endswith(_SOURCE_SUFFIXES) and bool(_LICENCE.match(name))


@dataclass(frozen=True)
class BuildScope:
    """Which analysed files are the service's own code."""

    #: files the build compiles (repo-relative), when the build told us; None: not known
    built: frozenset[str] | None = None
    #: the service's configured ``sources`` (paths under one of them are always in scope)
    explicit: tuple[str, ...] = field(default_factory=tuple)
    #: directories holding another project's code (their own licence file), when not built
    vendored: tuple[str, ...] = field(default_factory=tuple)
    #: the service's name, which tells its ``main`` from other programs' (``server.c``)
    service: str = ""
    #: files of other programs the repository builds (their own ``main``), when not built
    other_programs: frozenset[str] = frozenset()

    @classmethod
    def from_build(
        cls,
        built: Collection[str] | None,
        sources: Collection[str] = (),
        *,
        licensed: Collection[str] = (),
        analysed: Collection[str] = (),
        service: str = "",
    ) -> BuildScope:
        """``licensed``: the directories below the top that hold a licence file. Each is
        vendored code unless it holds more than half of the ``analysed`` files (then it is the
        service itself, e.g. one project of a monorepo) or a configured source is in it."""
        explicit = tuple(s.strip("/") for s in sources if s.strip("/") not in ("", "."))
        vendored = tuple(
            sorted(
                d
                for d in {d.strip("/") for d in licensed} - {""}
                if not any(s == d or s.startswith(d + "/") for s in explicit)
                and 2 * sum(1 for p in analysed if p.startswith(d + "/")) <= len(analysed)
            )
        )
        return cls(frozenset(built) if built else None, explicit, vendored, service)

    def without_programs(self, files: Collection[str]) -> BuildScope:
        """This scope less the files of other programs (found by the front end)."""
        return replace(self, other_programs=self.other_programs | frozenset(files))

    def contains(self, path: str) -> bool:
        if any(path == s or path.startswith(s + "/") for s in self.explicit):
            return True
        if self.built is not None and path.endswith(".c"):
            return path in self.built
        if path in self.other_programs or any(path.startswith(d + "/") for d in self.vendored):
            return False
        parts = PurePosixPath(path).parts
        name = parts[-1] if parts else path
        if name.startswith("test_") or name.endswith(("_test.c", "_tests.c", "-test.c")):
            return False
        return not any(part.lower() in OUTSIDE_DIRECTORIES for part in parts[:-1])

    def describe(self) -> str:
        if self.built is not None:
            return f"the {len(self.built)} C files the build compiles (compile_commands.json)"
        vendored = (
            f" (vendored: {', '.join(self.vendored[:5])}{' ...' if len(self.vendored) > 5 else ''},"
            " each with its own licence file)"
            if self.vendored
            else ""
        )
        return (
            "the repository minus tests, examples, benchmarks, fuzzers and vendored code" + vendored
        )
