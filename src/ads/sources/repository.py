"""Git repositories on disk, read through git's machine-readable output.

``GitRepository`` is the one seam between ADS and a service's history: the commits in a window
(with their per-file diffs and, for text files, the whole file before and after, so the pure
analysis can parse them), ``git blame`` of one line, one file at one revision. Everything is read
with NUL-separated formats and porcelain modes (see ``git_formats``), never from output meant for
people, and a window of commits costs a fixed number of git processes however long it is: one
``git log`` for metadata, one for patches, two ``git cat-file`` for file contents.

The repository may be a sub-directory of a larger work tree (the demo service inside this
project, a service in a monorepo): paths given to and returned by ``GitRepository`` are relative
to ``path``, not to the top of the work tree (``git log --relative``); ``prefix`` /
``from_root`` name them as the rest of the world sees them (diffs, branches, PRs), relative to
``root``.

``open_repository`` also takes a git URL: the repository is cloned once into a cache directory
and fetched on later calls. Credentials in a URL are never written to messages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..analysis.scope import is_licence_file
from ..errors import RepositoryError
from ..models import Commit, FileChange
from .git_formats import (
    COMMIT_FORMAT,
    PATCH_FORMAT,
    RawCommit,
    RawFile,
    attach_patches,
    decode,
    parse_log,
    parse_patches,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "GitRepository",
    "head_sha",
    "is_git_url",
    "open_repository",
]

DEFAULT_MAX_FILE_BYTES = 1024 * 1024
_GIT_TIMEOUT = 120.0
_CLONE_TIMEOUT = 900.0
# Settings that would change git's output format are pinned, whatever the user's config says.
_PINNED_CONFIG = (
    "-c",
    "log.showSignature=false",
    "-c",
    "i18n.logOutputEncoding=UTF-8",
    "-c",
    "core.quotePath=false",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
)
_LOG_OPTIONS = ("--no-merges", "--no-color", "--no-ext-diff", "--no-textconv", "--relative", "-M")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def head_sha(repo: Path) -> str | None:
    """The commit checked out in ``repo``, or ``None`` when it is not a git work tree."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _redact(text: str) -> str:
    """``text`` with any ``user:token@`` in URLs replaced, so secrets never reach a message."""
    return _CREDENTIALS.sub("***@", text)


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in decode(stderr).splitlines() if line.strip()]
    return _redact(lines[-1]) if lines else "no message from git"


def _git_env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}


def _run_git(
    args: Sequence[str], cwd: Path, *, stdin: bytes | None = None, timeout: float = _GIT_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """Run git; ``RepositoryError`` if git is missing or hangs. The caller checks the exit code.

    Its input and output go through unnamed temporary files, not pipes: the history is read on
    a thread while the code is analysed, and a pipe wants a Python wake-up (the GIL) for every
    64 KiB chunk, which a busy analysis hands over only every few milliseconds. Reading 1,000
    redis commits took 1.5 s alone and 8 s beside the analysis through pipes; with files git
    runs on the other core undisturbed and Python reads its output once.
    """
    try:
        with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, \
                tempfile.TemporaryFile() as err:  # fmt: skip
            if stdin is not None:
                given.write(stdin)
                given.seek(0)
            proc = subprocess.run(
                ["git", *_PINNED_CONFIG, *args],
                cwd=cwd,
                stdin=given if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=_git_env(),
                timeout=timeout,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    except FileNotFoundError:
        raise RepositoryError("git is not installed", hint="install git") from None
    except subprocess.TimeoutExpired:
        raise RepositoryError(f"git {args[0]} in {cwd} took longer than {timeout:.0f} s") from None


def _git_date(moment: datetime) -> str:
    """A datetime as git reads it unambiguously (naive times are taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


class GitRepository:
    """A git work tree (or a directory inside one) that ADS reads a service's history from."""

    def __init__(self, path: Path | str, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.path = Path(path).expanduser().absolute()
        self.max_file_bytes = max_file_bytes
        if not self.path.exists():
            raise RepositoryError(f"repository path {self.path} does not exist")
        if not self.path.is_dir():
            raise RepositoryError(f"repository path {self.path} is not a directory")
        proc = _run_git(["rev-parse", "--show-toplevel"], self.path)
        if proc.returncode != 0:
            message = _last_line(proc.stderr)
            if "dubious ownership" in message:
                raise RepositoryError(
                    f"git refuses to read {self.path}: it is owned by another user",
                    hint=f"git config --global --add safe.directory {self.path}",
                )
            raise RepositoryError(f"{self.path} is not a git repository ({message})")
        self.root = Path(decode(proc.stdout).strip())

    @property
    def prefix(self) -> str:
        """Where ``path`` is inside the work tree, as git writes paths (``"sub/dir/"``), or
        ``""`` when ``path`` is the top."""
        inside = self.path.resolve().relative_to(self.root.resolve()).as_posix()
        return "" if inside == "." else f"{inside}/"

    def from_root(self, path: str) -> str:
        """``path`` (relative to ``path``) relative to the top of the work tree instead."""
        return f"{self.prefix}{path}"

    def __repr__(self) -> str:
        return f"GitRepository({str(self.path)!r})"

    def _git(self, *args: str, stdin: bytes | None = None, ok: Iterable[int] = (0,)) -> bytes:
        proc = _run_git(args, self.path, stdin=stdin)
        if proc.returncode not in ok:
            raise RepositoryError(f"git {args[0]} failed in {self.path}: {_last_line(proc.stderr)}")
        return proc.stdout

    def head_sha(self) -> str:
        """The full sha of HEAD; ``RepositoryError`` when the repository has no commit yet."""
        sha = head_sha(self.path)
        if sha is None:
            raise RepositoryError(f"repository {self.path} has no commits yet")
        return sha

    def _has_head(self) -> bool:
        return head_sha(self.path) is not None

    def default_branch(self) -> str:
        """origin's default branch for a clone, else the checked-out branch, else main/master."""
        for ref in ("refs/remotes/origin/HEAD", "HEAD"):
            out = self._git("symbolic-ref", "-q", "--short", ref, ok=(0, 1, 128)).strip()
            if out:
                return decode(out).removeprefix("origin/")
        for name in ("main", "master"):
            if self._git("rev-parse", "-q", "--verify", f"refs/heads/{name}", ok=(0, 1)).strip():
                return name
        raise RepositoryError(f"cannot tell the default branch of {self.path} (detached HEAD)")

    def is_dirty(self, *, include_untracked: bool = False) -> bool:
        """Whether files under ``path`` differ from HEAD (untracked files only if asked)."""
        untracked = "--untracked-files=normal" if include_untracked else "--untracked-files=no"
        return bool(self._git("status", "--porcelain=v1", "-z", untracked, "--", ".").strip(b"\0"))

    def commits(
        self,
        since: datetime,
        until: datetime,
        paths: Sequence[str] = (),
        *,
        rev: str = "HEAD",
        with_contents: bool = True,
    ) -> list[Commit]:
        """Non-merge commits reachable from ``rev`` committed in [since, until], newest first.

        Only commits touching ``paths`` (all of ``path`` when empty) are listed, and only those
        files are described. The window is on the commit date, the day a change landed.
        """
        window = [f"--since={_git_date(since)}", f"--until={_git_date(until)}", rev]
        return self._log(window, paths, with_contents=with_contents)

    def log_for_file(
        self, path: str, max_count: int = 20, *, rev: str = "HEAD", with_contents: bool = False
    ) -> list[Commit]:
        """The last ``max_count`` non-merge commits that changed ``path``, following renames."""
        return self._log(
            [f"--max-count={max_count}", "--follow", rev], [path], with_contents=with_contents
        )

    def _log(self, revs: list[str], paths: Sequence[str], *, with_contents: bool) -> list[Commit]:
        if not self._has_head():
            return []
        pathspec = ["--", *paths] if paths else ["--", "."]
        selection = [*_LOG_OPTIONS, *revs, *pathspec]
        meta_format = ["-z", f"--format={COMMIT_FORMAT}", "--raw", "--numstat", "--no-abbrev"]
        raw_commits = parse_log(self._git("log", *meta_format, *selection))
        if not raw_commits:
            return []
        patch_format = [f"--format={PATCH_FORMAT}", "-p", "--full-index"]
        patches = parse_patches(self._git("log", *patch_format, *selection))
        for raw in raw_commits:
            attach_patches(raw, patches.get(raw.sha, []))
        texts = self._read_texts(raw_commits) if with_contents else {}
        return [_to_commit(raw, texts, self.max_file_bytes, with_contents) for raw in raw_commits]

    def _read_texts(self, raw_commits: list[RawCommit]) -> dict[str, str]:
        """The text of every readable blob the commits point to, by blob id."""
        wanted = {
            blob
            for raw in raw_commits
            for entry in raw.files
            if not entry.binary and not entry.is_submodule
            for blob in (entry.old_blob, entry.new_blob)
            if blob
        }
        return {blob: decode(data) for blob, data in self.read_blobs(wanted).items()}

    def read_blobs(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        """Contents of blobs no larger than ``max_file_bytes``, by id, in two git processes."""
        ids = sorted(set(blob_ids))
        if not ids:
            return {}
        request = "".join(f"{blob}\n" for blob in ids).encode("ascii")
        check = "--batch-check=%(objectname) %(objecttype) %(objectsize)"
        sizes = self._git("cat-file", check, stdin=request)
        small = []
        for line in sizes.decode("ascii", errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob" and int(parts[2]) <= self.max_file_bytes:
                small.append(parts[0])
        if not small:
            return {}
        out = self._git("cat-file", "--batch", stdin="".join(f"{b}\n" for b in small).encode())
        return _parse_batch(out)

    def subject(self, rev: str) -> str:
        """The first line of ``rev``'s commit message ("" when there is no such commit)."""
        proc = _run_git(["log", "-1", "--format=%s", rev, "--"], self.path)
        return decode(proc.stdout).strip() if proc.returncode == 0 else ""

    def has_commit(self, rev: str) -> bool:
        """Whether ``rev`` names a commit in this repository."""
        proc = _run_git(["rev-parse", "-q", "--verify", f"{rev}^{{commit}}"], self.path)
        return proc.returncode == 0

    def files_at(
        self, rev: str, paths: Sequence[str] = (), suffixes: tuple[str, ...] = ()
    ) -> tuple[dict[str, bytes], list[str]]:
        """The files under ``paths`` (all when empty) at ``rev`` whose names end in
        ``suffixes``, by path, in three git processes; and the paths left out as too large."""
        specs = [p for p in paths if p not in ("", ".")]
        out = self._git("ls-tree", "-r", "-z", rev, "--", *specs)
        wanted: dict[str, str] = {}
        for record in out.split(b"\0"):
            meta, _, raw_path = record.partition(b"\t")
            parts = meta.split()
            path = decode(raw_path)
            if len(parts) == 3 and parts[1] == b"blob" and path.endswith(suffixes or ("",)):
                wanted[path] = parts[2].decode("ascii")
        blobs = self.read_blobs(wanted.values())
        files = {path: blobs[blob] for path, blob in wanted.items() if blob in blobs}
        too_large = sorted(path for path, blob in wanted.items() if blob not in blobs)
        return files, too_large

    def licensed_directories(self, rev: str) -> list[str]:
        """The directories below this one that hold a licence file at ``rev`` (``LICENSE``,
        ``COPYING``, ``ICU-license.html``…): where another project's code was copied in."""
        out = self._git("ls-tree", "-r", "-z", "--name-only", rev)
        found = set()
        for raw in out.split(b"\0"):
            directory, _, name = decode(raw).rpartition("/")
            if directory and is_licence_file(name):
                found.add(directory)
        return sorted(found)

    def show(self, rev: str, path: str) -> bytes | None:
        """The bytes of ``path`` (relative to ``path``) at ``rev``, or ``None`` if it is absent."""
        proc = _run_git(["cat-file", "blob", f"{rev}:./{path}"], self.path)
        return proc.stdout if proc.returncode == 0 else None

    def built_files(self) -> tuple[list[str] | None, str]:
        """The C files the service's build compiles, from a ``compile_commands.json`` at the
        top of the work tree or in ``build/`` (CMake, Bear, meson write one), as paths relative
        to the repository; ``(None, why)`` when there is none or it cannot be read."""
        for candidate in (self.root / "compile_commands.json",
                          self.root / "build" / "compile_commands.json"):  # fmt: skip
            if not candidate.is_file():
                continue
            try:
                entries = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                return None, f"{candidate.name} could not be read ({exc}); scope by directories"
            files: list[str] = []
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
                    continue
                directory = Path(str(entry.get("directory") or self.root))
                path = (directory / entry["file"]).resolve()
                if path.is_relative_to(self.root.resolve()):
                    files.append(path.relative_to(self.root.resolve()).as_posix())
            where = candidate.relative_to(self.root).as_posix()
            return sorted(set(files)) or None, f"scope: the {len(files)} files in {where}"
        return (
            None,
            "no compile_commands.json: tests, examples and vendored code left out by directory",
        )

    def blame_line(self, path: str, line: int, rev: str = "HEAD") -> str:
        """The sha of the commit that last changed ``line`` of ``path`` at ``rev``."""
        return self.blame_lines(path, line, line, rev)[0]

    def blame_lines(self, path: str, start: int, end: int, rev: str = "HEAD") -> list[str]:
        """For each line ``start``..``end`` of ``path`` at ``rev``, the commit that last changed it.

        Read from ``git blame --porcelain``, whose group headers are ``<sha> <orig> <final>
        [<count>]`` and whose content lines start with a TAB.
        """
        if start < 1 or end < start:
            raise RepositoryError(f"cannot blame lines {start}-{end} of {path}: not a line range")
        out = self._git("blame", "--porcelain", "-L", f"{start},{end}", rev, "--", path)
        shas: list[str] = []
        for text in out.split(b"\n"):
            if text.startswith(b"\t") or not text:
                continue
            head = text.split(b" ")
            if len(head) >= 3 and len(head[0]) == 40 and head[1].isdigit():
                shas.append(head[0].decode("ascii"))
        return shas


def _parse_batch(out: bytes) -> dict[str, bytes]:
    """Objects from ``git cat-file --batch``: ``<id> <type> <size>\\n<bytes>\\n`` each."""
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        if len(header) != 3:  # "<id> missing"
            pos = end + 1
            continue
        size = int(header[2])
        blobs[header[0].decode("ascii")] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return blobs


def _to_commit(raw: RawCommit, texts: dict[str, str], limit: int, with_contents: bool) -> Commit:
    return Commit(
        sha=raw.sha,
        parents=raw.parents,
        author_name=raw.author_name,
        author_email=raw.author_email,
        authored_at=raw.authored_at,
        committed_at=raw.committed_at,
        subject=raw.subject,
        files=[_to_file(entry, texts, limit, with_contents) for entry in raw.files],
    )


def _to_file(entry: RawFile, texts: dict[str, str], limit: int, with_contents: bool) -> FileChange:
    old_text = texts.get(entry.old_blob) if entry.old_blob else None
    new_text = texts.get(entry.new_blob) if entry.new_blob else None
    skipped = None
    if entry.is_submodule:
        skipped = "submodule"
    elif entry.binary:
        skipped = "binary file"
    elif with_contents and (
        (entry.old_blob and old_text is None) or (entry.new_blob and new_text is None)
    ):
        skipped = f"larger than {limit} bytes"
    return FileChange(
        path=entry.path,
        old_path=entry.old_path,
        status=entry.status,
        old_blob=entry.old_blob,
        new_blob=entry.new_blob,
        additions=entry.additions,
        deletions=entry.deletions,
        binary=entry.binary,
        diff=entry.diff,
        old_text=old_text,
        new_text=new_text,
        skipped=skipped,
    )


def is_git_url(spec: str) -> bool:
    """Whether ``spec`` names a remote (``https://``, ``ssh://``, ``file://``, ``git@host:``)."""
    return bool(_URL.match(spec.strip()))


def open_repository(spec: str, base_dir: Path, cache_dir: Path) -> GitRepository:
    """The repository ``spec`` names: a local path (relative to ``base_dir``) or a git URL.

    A URL is cloned into ``cache_dir`` the first time and fetched afterwards, and its work tree
    is moved to the tip of origin's default branch, unless it has local changes (then
    ``RepositoryError``: ADS never throws work away).
    """
    if not is_git_url(spec):
        path = Path(spec).expanduser()
        return GitRepository(path if path.is_absolute() else base_dir / path)
    url = spec.strip()
    name = re.sub(r"[^\w.-]", "_", url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
    target = cache_dir / f"{name or 'repo'}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
    if target.exists():
        _refresh_clone(url, target)
    else:
        _clone(url, target)
    return GitRepository(target)


def _clone(url: str, target: Path) -> None:
    """Clone into a temporary sibling and rename it, so a failed clone leaves no half a cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".clone-", dir=target.parent))
    try:
        clone = ["clone", "--quiet", "--", url, str(staging)]
        proc = _run_git(clone, target.parent, timeout=_CLONE_TIMEOUT)
        if proc.returncode != 0:
            raise RepositoryError(f"could not clone {_redact(url)}: {_last_line(proc.stderr)}")
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _refresh_clone(url: str, target: Path) -> None:
    repo = GitRepository(target)
    proc = _run_git(["fetch", "--quiet", "--prune", "origin"], target, timeout=_CLONE_TIMEOUT)
    if proc.returncode != 0:
        raise RepositoryError(f"could not fetch {_redact(url)}: {_last_line(proc.stderr)}")
    _run_git(["remote", "set-head", "origin", "--auto"], target)
    branch = repo.default_branch()
    if repo.is_dirty():
        raise RepositoryError(
            f"cached clone {target} has local changes; commit or remove them, then retry"
        )
    repo._git("checkout", "--quiet", "-B", branch, f"origin/{branch}")
