"""Parsers for git's machine-readable output, kept apart from the code that runs git.

Two formats are read, both produced by one ``git log`` call for a whole window of commits:

* metadata: ``git log -z --format=<RS>%H<NUL>%P<NUL>%an<NUL>%ae<NUL>%aI<NUL>%cI<NUL>%s --raw
  --numstat``. With ``-z`` every field, raw entry and numstat entry ends in NUL and paths are
  written verbatim (no quoting), so the stream is read token by token, by position, never by
  guessing at what a line looks like;
* patches: ``git log --format=<RS>%H -p --full-index``. Every line of a hunk starts with a space,
  ``+``, ``-`` or ``\\``, so a line starting with the record separator is always a commit and one
  starting with ``diff --git`` is always a new file.

Byte strings are decoded as UTF-8 with replacement: a Latin-1 source file or an oddly named path
must never stop a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "COMMIT_FORMAT",
    "NULL_SHA",
    "PATCH_FORMAT",
    "RECORD_SEPARATOR",
    "RawCommit",
    "RawFile",
    "attach_patches",
    "decode",
    "parse_log",
    "parse_patches",
]

RECORD_SEPARATOR = b"\x1e"
COMMIT_FORMAT = "%x1e%H%x00%P%x00%an%x00%ae%x00%aI%x00%cI%x00%s"
PATCH_FORMAT = "%x1e%H"
NULL_SHA = "0" * 40
_HEADER_FIELDS = 7
_SUBMODULE_MODE = "160000"


def decode(data: bytes) -> str:
    """Text from git's bytes; undecodable bytes become U+FFFD instead of raising."""
    return data.decode("utf-8", errors="replace")


@dataclass
class RawFile:
    """One file of a commit as ``--raw`` and ``--numstat`` describe it."""

    path: str
    status: str
    old_path: str | None = None
    old_mode: str = ""
    new_mode: str = ""
    old_blob: str | None = None
    new_blob: str | None = None
    additions: int | None = None
    deletions: int | None = None
    binary: bool = False
    diff: str = ""

    @property
    def is_submodule(self) -> bool:
        return _SUBMODULE_MODE in (self.old_mode, self.new_mode)


@dataclass
class RawCommit:
    """A commit's header fields and files, before they become an ``ads.models.Commit``."""

    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committed_at: datetime
    subject: str
    files: list[RawFile] = field(default_factory=list)


def _blob(sha: bytes) -> str | None:
    text = sha.decode("ascii")
    return None if text.strip("0") == "" else text


def _raw_entry(token: bytes, tokens: list[bytes], i: int) -> tuple[RawFile, int]:
    """``:old_mode new_mode old_sha new_sha status`` then one path (two for renames/copies)."""
    old_mode, new_mode, old_sha, new_sha, status = token[1:].split(b" ", 4)
    letter = status[:1].decode("ascii")
    if letter in ("R", "C"):
        old_path, path, i = decode(tokens[i]), decode(tokens[i + 1]), i + 2
    else:
        old_path, path, i = None, decode(tokens[i]), i + 1
    entry = RawFile(
        path=path,
        status=letter,
        old_path=old_path,
        old_mode=old_mode.decode("ascii"),
        new_mode=new_mode.decode("ascii"),
        old_blob=_blob(old_sha),
        new_blob=_blob(new_sha),
    )
    return entry, i


def _numstat_entry(token: bytes, tokens: list[bytes], i: int) -> tuple[str, int, int, int]:
    """``added<TAB>deleted<TAB>path`` or, for a rename, an empty path then the two paths."""
    added, deleted, path = token.split(b"\t", 2)
    if path == b"":
        path, i = tokens[i + 2], i + 3
    else:
        i += 1
    binary = added == b"-"
    return (
        decode(path),
        -1 if binary else int(added),
        -1 if binary else int(deleted),
        i,
    )


def parse_log(out: bytes) -> list[RawCommit]:
    """Commits from ``git log -z --format=COMMIT_FORMAT --raw --numstat`` output, newest first."""
    tokens = out.split(b"\0")
    commits: list[RawCommit] = []
    current: RawCommit | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip(b"\n")
        if token.startswith(RECORD_SEPARATOR):
            fields = [token[1:], *tokens[i + 1 : i + _HEADER_FIELDS]]
            current = RawCommit(
                sha=fields[0].decode("ascii"),
                parents=fields[1].decode("ascii").split(),
                author_name=decode(fields[2]),
                author_email=decode(fields[3]),
                authored_at=datetime.fromisoformat(fields[4].decode("ascii")),
                committed_at=datetime.fromisoformat(fields[5].decode("ascii")),
                subject=decode(fields[6]),
            )
            commits.append(current)
            i += _HEADER_FIELDS
        elif current is not None and token.startswith(b":"):
            entry, i = _raw_entry(token, tokens, i + 1)
            current.files.append(entry)
        elif current is not None and token.count(b"\t") >= 2:
            path, added, deleted, i = _numstat_entry(token, tokens, i)
            _apply_numstat(current, path, added, deleted)
        else:
            i += 1
    return commits


def _apply_numstat(commit: RawCommit, path: str, added: int, deleted: int) -> None:
    for entry in commit.files:
        if entry.path == path and entry.additions is None and not entry.binary:
            if added < 0:
                entry.binary = True
            else:
                entry.additions, entry.deletions = added, deleted
            return


def parse_patches(out: bytes) -> dict[str, list[bytes]]:
    """Per commit sha, its per-file patch sections from ``git log --format=PATCH_FORMAT -p``."""
    patches: dict[str, list[bytes]] = {}
    sections: list[bytes] | None = None
    lines: list[bytes] = []

    def close() -> None:
        if sections is not None and lines:
            sections.append(b"\n".join(lines).rstrip(b"\n") + b"\n")

    for line in out.split(b"\n"):
        if line.startswith(RECORD_SEPARATOR):
            close()
            lines = []
            sections = patches.setdefault(line[1:].strip().decode("ascii"), [])
        elif line.startswith(b"diff --git "):
            close()
            lines = [line]
        elif lines:
            lines.append(line)
    close()
    return patches


def _index_blobs(section: bytes) -> set[str]:
    """The full blob ids on a section's ``index <old>..<new>`` line (``--full-index``)."""
    for line in section.split(b"\n", 8)[:8]:
        if line.startswith(b"index "):
            ids = line.split(b" ")[1].split(b"..")
            return {blob for blob in (_blob(part) for part in ids) if blob}
    return set()


def attach_patches(commit: RawCommit, sections: list[bytes]) -> None:
    """Give each file of ``commit`` its patch section.

    git emits raw entries and patch sections from the same queue, in the same order, so they are
    paired by position. A type change (file ↔ symlink) is split into two sections; then the
    sections are matched by the blob ids on their ``index`` lines instead.
    """
    if len(sections) == len(commit.files):
        for entry, section in zip(commit.files, sections, strict=True):
            entry.diff = decode(section)
        return
    for entry in commit.files:
        blobs = {blob for blob in (entry.old_blob, entry.new_blob) if blob}
        matched = [section for section in sections if _index_blobs(section) & blobs]
        entry.diff = decode(b"".join(matched))
