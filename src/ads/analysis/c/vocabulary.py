"""One vocabulary of C ownership: which calls hand out heap memory and which take it back.

The C library's own names are known here; everything else is discovered from the code base by
``c_program.Program`` (wrappers that return fresh memory, possibly at an offset; functions that
release an argument, possibly at an offset, by dropping a reference count, or by releasing what
the argument holds). The leak analysis and the commit reader both ask a ``Vocabulary``, so a
``zfree(buf)`` that a commit deleted is seen exactly when the analysis knows ``zfree`` releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BASE_ALLOCATORS",
    "BASE_RELEASERS",
    "KNOWN",
    "MEMORY_COPIES",
    "OUT_PARAM_ALLOCATORS",
    "NamedVocabulary",
    "Vocabulary",
]

#: Calls whose result is fresh heap memory the caller must free.
BASE_ALLOCATORS = frozenset(
    {"malloc", "calloc", "realloc", "reallocarray", "strdup", "strndup", "wcsdup",
     "asprintf", "vasprintf", "aligned_alloc", "memalign", "valloc", "pvalloc",
     "posix_memalign", "open_memstream", "scandir"}
)  # fmt: skip
# Not here: getline/getdelim, which grow the caller's buffer in place (a loop reusing it holds
# one buffer, not one per iteration), like ``p = realloc(p, n)``.
#: Allocators that store the memory through a pointer argument (index) instead of returning it.
OUT_PARAM_ALLOCATORS = {
    "asprintf": 0, "vasprintf": 0, "posix_memalign": 0, "open_memstream": 0, "scandir": 1,
}  # fmt: skip
#: Memory copies (name → index of the source argument): ``memcpy(slot, &p, sizeof p)`` stores
#: the pointer ``p`` itself into memory, as an assignment would (rax keeps its values so).
MEMORY_COPIES = {"memcpy": 1, "memmove": 1, "mempcpy": 1, "bcopy": 0}
#: Calls that release their first argument.
BASE_RELEASERS = frozenset({"free", "cfree"})


class Vocabulary(Protocol):
    """What a call does with memory, as far as the analysed code base tells."""

    def allocates(self, name: str | None) -> bool: ...

    def releases(self, name: str | None, index: int, file: str) -> bool: ...

    def releases_members(self, name: str | None, index: int, file: str) -> bool: ...

    def releases_members_by_macro(self, name: str | None, index: int, file: str) -> bool: ...

    def fills(self, name: str | None, index: int) -> bool:
        """Whether ``name`` allocates into what its argument ``index`` points to."""
        ...


@dataclass(frozen=True)
class NamedVocabulary:
    """A vocabulary of names only, for when no program was read (a commit described alone)."""

    allocators: frozenset[str] = BASE_ALLOCATORS
    releasers: frozenset[str] = BASE_RELEASERS

    def allocates(self, name: str | None) -> bool:
        return name is not None and name in self.allocators

    def releases(self, name: str | None, index: int, file: str) -> bool:
        return name is not None and name in self.releasers and index == 0

    def releases_members(self, name: str | None, index: int, file: str) -> bool:
        return False  # only the program's own code says what a struct's release frees

    def releases_members_by_macro(self, name: str | None, index: int, file: str) -> bool:
        return False

    def fills(self, name: str | None, index: int) -> bool:
        return False


KNOWN = NamedVocabulary()
