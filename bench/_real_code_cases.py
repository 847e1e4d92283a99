"""Cases for bench/real_code.py, built from real C code bases (not a benchmark itself).

- the code bases the bench knows: which part of each tree is analysed, which calls release memory
  there, which files belong to other programs;
- reading a fetched repository (bare or not) with git: the bounded tree at a revision, and the
  leak fixes in its history (``git log -p`` of commits whose message mentions a leak);
- finding, with tree-sitter-c, the release statements that sit alone on their line inside a loop
  body, and the function enclosing a line;
- the small git repository each case is analysed in: the snapshot imported 30 days before the
  incident, unrelated comment rewordings before, the case commit 3 h before the incident, and
  1–3 unrelated commits after it (``git fast-import``, then a checkout).

Nothing fetched is ever written inside the project: the repositories live in temporary
directories (or under ``--keep``).
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tree_sitter
import tree_sitter_c

# -- the code bases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeBase:
    name: str
    github: str  # owner/name: what to fetch
    service: str  # the PagerDuty service named in the incident
    include: tuple[str, ...]  # the analysed tree: globs, '*' within a directory, '**' across
    releases: frozenset[str]  # calls that release memory (scenario a, and (b)'s mining)
    other_programs: tuple[str, ...] = ()  # globs of files that are not the service's program
    exclude: tuple[str, ...] = ()  # globs left out of the analysed tree altogether
    #: not one the rules were developed against: run only when asked (``--codebases``), to
    #: check that what was built on the others holds on code it has never seen
    held_out: bool = False

    def in_tree(self, path: str) -> bool:
        return (
            path.endswith((".c", ".h"))
            and any(_glob(g).fullmatch(path) for g in self.include)
            and not any(_glob(g).fullmatch(path) for g in self.exclude)
        )

    def candidate_file(self, path: str) -> bool:
        """A .c file of the service's own program, not a test, fuzzer, benchmark or example."""
        return (
            path.endswith(".c")
            and self.in_tree(path)
            and not TESTISH.search(path)
            and not any(_glob(g).fullmatch(path) for g in self.other_programs)
        )


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _glob(pattern: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\*\*|\*)", pattern):
        out += ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
    return re.compile(out)


TESTISH = re.compile(r"(?i)test|fuzz|bench|example|demo")

CODE_BASES: dict[str, CodeBase] = {
    "redis": CodeBase(
        "redis",
        "redis/redis",
        "redis-server",
        ("src/**",),
        _names(
            "free zfree zfree_usable zlibc_free sdsfree sdsfreesplitres decrRefCount listRelease "
            "dictRelease dictReleaseIterator listReleaseIterator freeReplyObject lpFree raxFree "
            "raxStop zipmapFree"
        ),
        ("src/redis-cli.c", "src/redis-benchmark.c", "src/cli_*.c", "src/modules/**"),
    ),
    "jq": CodeBase(
        "jq",
        "jqlang/jq",
        "jq",
        ("src/**",),
        _names("free jv_free jv_mem_free block_free jvp_string_free locfile_free"),
        ("src/decNumber/**",),
    ),
    "curl": CodeBase(
        "curl",
        "curl/curl",
        "curl",
        ("lib/**", "src/**", "include/**"),  # include/curl/curl.h: CURLcode, CURLE_OK
        _names(
            "free curl_free Curl_safefree curlx_free curlx_safefree Curl_dyn_free curlx_dyn_free "
            "curl_slist_free_all Curl_bufq_free Curl_bufref_free Curl_freeaddrinfo "
            "Curl_dynhds_free Curl_llist_destroy Curl_cfree"
        ),
    ),
    "git": CodeBase(
        "git",
        "git/git",
        "git",
        ("*", "builtin/**", "compat/*.h"),
        _names(
            "free FREE_AND_NULL strbuf_release string_list_clear strvec_clear argv_array_clear "
            "commit_list_free free_commit_list oid_array_clear release_revisions oidset_clear "
            "object_array_clear"
        ),
    ),
    "haproxy": CodeBase(
        "haproxy",
        "haproxy/haproxy",
        "haproxy",
        ("src/**", "include/**"),
        _names(
            "free ha_free pool_free free_trash_chunk chunk_destroy istfree b_free "
            "release_sample_expr free_acl_cond task_destroy tasklet_free X509_free "
            "EVP_PKEY_free BIO_free SSL_free"
        ),
        exclude=("src/hlua*.c", "include/haproxy/hlua*.h"),  # the Lua binding stays out
        held_out=True,
    ),
}

# Not releases, though their names say "free" or "clear".
NOT_RELEASES = _names(
    "clearerr sdsclear ERR_clear_error FD_CLR freeMemoryIfNeeded freeMemoryIfNeededAndSafe "
    "performEvictions strbuf_reset"
)
_GENERIC_RELEASE = re.compile(r"(?i)free|release|destroy|unref|decrrefcount|_clear$|^clear_")


def is_release(name: str, codebase: CodeBase) -> bool:
    if name in NOT_RELEASES:
        return False
    return name in codebase.releases or bool(_GENERIC_RELEASE.search(name))


# -- reading a fetched repository -------------------------------------------------------------


class InputError(Exception):
    """A bench input is missing or unusable (one line, for the user)."""


def git(git_dir: Path, *args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], input=input, capture_output=True, check=False
    )
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"git {' '.join(args[:2])} failed in {git_dir}: {message[-1:]}")
    return proc.stdout


def open_repository(path: Path) -> Path:
    """The git directory of a fetched repository (a bare one, or a clone's .git)."""
    if not path.exists():
        raise InputError(f"{path} does not exist")
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--absolute-git-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(f"{path} is not a git repository")
    return Path(proc.stdout.strip())


def resolve(git_dir: Path, rev: str) -> str:
    try:
        return git(git_dir, "rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    except InputError:
        raise InputError(f"{git_dir} has no commit {rev!r}") from None


def export_tree(git_dir: Path, rev: str, codebase: CodeBase) -> dict[str, bytes]:
    """The analysed part of ``rev``'s tree: every .c/.h file the code base includes."""
    listing = git(git_dir, "ls-tree", "-r", "-z", rev).split(b"\0")
    wanted: list[tuple[str, str]] = []
    for entry in listing:
        if not entry:
            continue
        meta, _, path_bytes = entry.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        path = path_bytes.decode(errors="surrogateescape")
        if kind == "blob" and mode != "120000" and codebase.in_tree(path):
            wanted.append((path, sha))
    return dict(
        zip((p for p, _ in wanted), cat_blobs(git_dir, [s for _, s in wanted]), strict=True)
    )


def cat_blobs(git_dir: Path, shas: list[str]) -> list[bytes]:
    if not shas:
        return []
    out = git(git_dir, "cat-file", "--batch", input="".join(s + "\n" for s in shas).encode())
    blobs: list[bytes] = []
    at = 0
    for _ in shas:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        blobs.append(out[header_end + 1 : header_end + 1 + size])
        at = header_end + 1 + size + 1
    return blobs


def show(git_dir: Path, rev: str, path: str) -> bytes | None:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{rev}:{path}"], capture_output=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


# -- C syntax with tree-sitter ----------------------------------------------------------------

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))
LOOPS = frozenset({"for_statement", "while_statement", "do_statement"})


def function_name(fn: tree_sitter.Node) -> str | None:
    node = fn.child_by_field_name("declarator")
    while node is not None and node.type != "function_declarator":
        node = node.child_by_field_name("declarator")
    name = node.child_by_field_name("declarator") if node is not None else None
    if name is None or name.type != "identifier" or name.text is None:
        return None
    return name.text.decode()


def functions(source: bytes) -> Iterator[tuple[str, tree_sitter.Node]]:
    """(name, function_definition) in source order, without recursion (real code nests deep)."""
    stack = [_PARSER.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = function_name(node)
            if name is not None:
                yield name, node
            continue
        stack.extend(reversed(node.children))


def enclosing_function(source: bytes, line: int) -> str | None:
    """The function whose definition spans 1-based ``line`` (None in test-only code)."""
    for name, fn in functions(source):
        if fn.start_point.row < line <= fn.end_point.row + 1:
            return None if test_only(fn) else name
    return None


def test_only(node: tree_sitter.Node) -> bool:
    """Inside ``#ifdef REDIS_TEST``, ``#if defined(FUZZING)``… (built only for tests)."""
    parent = node.parent
    while parent is not None:
        if parent.type in ("preproc_ifdef", "preproc_if", "preproc_elif"):
            guard = parent.child_by_field_name("name") or parent.child_by_field_name("condition")
            if guard is not None and TESTISH.search((guard.text or b"").decode(errors="replace")):
                return True
        parent = parent.parent
    return False


@dataclass(frozen=True)
class LoopRelease:
    """A release statement alone on its line in a loop body, in a block with other statements."""

    file: str
    function: str
    line: int  # 1-based
    statement: str
    call: str
    argument: str
    allocated_in_loop: bool  # the loop assigns the released variable before releasing it


def loop_releases(path: str, source: bytes, codebase: CodeBase) -> list[LoopRelease]:
    lines = source.split(b"\n")
    found: list[LoopRelease] = []
    for name, fn in functions(source):
        if TESTISH.search(name) or test_only(fn):
            continue
        body = fn.child_by_field_name("body")
        stack: list[tuple[tree_sitter.Node, tree_sitter.Node | None]] = (
            [(body, None)] if body is not None else []
        )
        while stack:
            node, loop = stack.pop()
            if node.type in LOOPS:
                loop = node
            if node.type == "expression_statement" and loop is not None:
                release = _release(path, name, node, loop, lines, source, codebase)
                if release is not None:
                    found.append(release)
                continue
            stack.extend((child, loop) for child in reversed(node.children))
    return found


def _release(
    path: str,
    function: str,
    node: tree_sitter.Node,
    loop: tree_sitter.Node,
    lines: list[bytes],
    source: bytes,
    codebase: CodeBase,
) -> LoopRelease | None:
    parent = node.parent
    if parent is None or parent.type != "compound_statement" or node.named_child_count != 1:
        return None
    if sum(1 for c in parent.named_children if c.type != "comment") < 2:
        return None  # the block's only statement: deleting it would leave an empty block
    call = node.named_children[0]
    callee = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    if call.type != "call_expression" or callee is None or arguments is None:
        return None
    name = (callee.text or b"").decode()
    if callee.type != "identifier" or name not in codebase.releases:
        return None
    row = node.start_point.row
    text = (node.text or b"").decode(errors="replace").strip()
    if node.end_point.row != row or lines[row].decode(errors="replace").strip() != text:
        return None  # not alone on its line: deleting the line would take something else too
    argument = (arguments.text or b"()").decode(errors="replace")[1:-1].strip()
    before = source[loop.start_byte : node.start_byte].decode(errors="replace")
    assigned = bool(argument) and bool(
        re.search(rf"(?<![\w.>]){re.escape(argument)}\s*=(?!=)", before)
    )
    return LoopRelease(path, function, row + 1, text, name, argument, assigned)


def choose_loop_releases(
    releases: list[LoopRelease], limit: int, seed: int, per_file: int = 2
) -> list[LoopRelease]:
    """One release per function, functions drawn with ``seed``: the ones whose loop allocates
    what it releases first, at most ``per_file`` per file."""
    rng = random.Random(seed)
    by_function: dict[tuple[str, str], list[LoopRelease]] = {}
    for release in releases:
        by_function.setdefault((release.file, release.function), []).append(release)
    picks = []
    for key in sorted(by_function):
        options = by_function[key]
        preferred = [r for r in options if r.allocated_in_loop] or options
        picks.append(rng.choice(preferred))
    rng.shuffle(picks)
    picks.sort(key=lambda r: not r.allocated_in_loop)  # stable: the shuffle orders each group
    chosen: list[LoopRelease] = []
    per: dict[str, int] = {}
    for release in picks:
        if len(chosen) == limit:
            break
        if per.get(release.file, 0) < per_file:
            chosen.append(release)
            per[release.file] = per.get(release.file, 0) + 1
    return chosen


# -- real leak fixes --------------------------------------------------------------------------

MAX_ADDED = 12  # lines added by the fix inside the analysed tree
MAX_REMOVED = 8
MAX_RELEASES = 3
MAX_FILES = 2


@dataclass
class _Patch:
    sha: str
    parent: str
    when: int
    subject: str
    added: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    removed_text: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class LeakFix:
    sha: str
    parent: str
    when: int  # committer time, unix
    subject: str
    file: str  # where the release was added
    function: str
    releases: tuple[str, ...]  # the added release lines
    files: tuple[str, ...]  # every analysed .c file the fix changed (the revert restores them)


def _patches(git_dir: Path, rev: str) -> Iterator[_Patch]:
    command = ["git", f"--git-dir={git_dir}", "log", "--no-merges", "-i", "--grep=leak"]
    command += ["--diff-filter=M", "--no-renames", "-p", "-U0", "--no-color", "--no-ext-diff"]
    command += ["--format=%x01%H%x02%P%x02%ct%x02%s", rev, "--", "*.c"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    patch: _Patch | None = None
    path: str | None = None
    new_line = 0
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if line.startswith("\x01"):
            if patch is not None:
                yield patch
            sha, parents, when, subject = [*line[1:].split("\x02", 3), "", "", ""][:4]
            parent = parents.split()[0] if parents.split() else ""
            patch = _Patch(sha, parent, int(when or 0), subject)
            path = None
        elif patch is None:
            continue
        elif line.startswith("diff --git "):
            path = None
        elif line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@"):
            found = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)", line)
            new_line = int(found.group(1)) if found else 0
        elif path is None or line.startswith("--- "):
            continue
        elif line.startswith("+"):
            patch.added.setdefault(path, []).append((new_line, line[1:]))
            new_line += 1
        elif line.startswith("-"):
            patch.removed[path] = patch.removed.get(path, 0) + 1
            patch.removed_text.setdefault(path, []).append(line[1:])
    if patch is not None:
        yield patch
    proc.wait()


_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _release_line(text: str, codebase: CodeBase) -> bool:
    stripped = text.strip()
    if not stripped or stripped.startswith(("/", "*", "#")) or ";" not in stripped:
        return False
    return any(is_release(name, codebase) for name in _CALL.findall(stripped))


def _added_releases(patch: _Patch, path: str, codebase: CodeBase) -> list[tuple[int, str]]:
    """The release lines the patch adds to ``path`` that it does not just move or re-wrap: a
    release it also removes (``free(x);`` put under ``if (x)``, or re-indented) is no release
    added, and a commit made only of those fixes no leak (its revert leaks nothing)."""
    removed = [" ".join(t.split()) for t in patch.removed_text.get(path, [])]
    found = []
    for number, text in patch.added.get(path, []):
        if not _release_line(text, codebase):
            continue
        same = " ".join(text.split())
        if same in removed:
            removed.remove(same)
            continue
        found.append((number, text))
    return found


def leak_fixes(git_dir: Path, rev: str, codebase: CodeBase, limit: int, seed: int) -> list[LeakFix]:
    """Up to ``limit`` real leak fixes reachable from ``rev``, drawn with ``seed`` among the
    commits whose message mentions a leak and whose diff, inside the analysed tree, modifies at
    most 2 .c files of the service's program, adds 1–3 release calls (all in one function that
    already existed) and at most 12 lines, and removes at most 8. One fix per function."""
    candidates = _candidates(git_dir, rev, codebase)
    rng = random.Random(seed)
    rng.shuffle(candidates)
    chosen: list[LeakFix] = []
    seen: set[tuple[str, str]] = set()
    for patch, touched in candidates:
        if len(chosen) == limit:
            break
        fix = _validate(git_dir, patch, touched, codebase)
        if fix is not None and (fix.file, fix.function) not in seen:
            seen.add((fix.file, fix.function))
            chosen.append(fix)
    return chosen


def every_leak_fix(git_dir: Path, rev: str, codebase: CodeBase) -> list[LeakFix]:
    """Every leak fix reachable from ``rev`` that ``leak_fixes`` could draw: the leaks the
    project's own history confirms (a finding in one of them, at a revision before its fix, is
    a real leak whether or not it is the case's)."""
    fixes = [_validate(git_dir, patch, touched, codebase) for patch, touched in
             _candidates(git_dir, rev, codebase)]  # fmt: skip
    return [fix for fix in fixes if fix is not None]


def _candidates(git_dir: Path, rev: str, codebase: CodeBase) -> list[tuple[_Patch, list[str]]]:
    candidates: list[tuple[_Patch, list[str]]] = []
    for patch in _patches(git_dir, rev):
        if not patch.parent:
            continue
        touched = [p for p in {*patch.added, *patch.removed} if codebase.in_tree(p)]
        if not touched or len(touched) > MAX_FILES:
            continue
        if not all(codebase.candidate_file(p) for p in touched):
            continue
        added = [a for p in touched for a in patch.added.get(p, [])]
        removed = sum(patch.removed.get(p, 0) for p in touched)
        releases = [a for p in touched for a in _added_releases(patch, p, codebase)]
        if len(added) > MAX_ADDED or removed > MAX_REMOVED:
            continue
        if not 1 <= len(releases) <= MAX_RELEASES:
            continue
        candidates.append((patch, sorted(touched)))
    return candidates


def _validate(
    git_dir: Path, patch: _Patch, touched: list[str], codebase: CodeBase
) -> LeakFix | None:
    """The fix, if all its added release lines lie in one function that the parent has too."""
    places: set[tuple[str, str | None]] = set()
    lines: list[str] = []
    for path in touched:
        releases = _added_releases(patch, path, codebase)
        if not releases:
            continue
        source = show(git_dir, patch.sha, path)
        if source is None:
            return None
        for number, text in releases:
            places.add((path, enclosing_function(source, number)))
            lines.append(text.strip())
    if len(places) != 1:
        return None
    path, function = next(iter(places))
    if function is None or TESTISH.search(function):
        return None
    before = show(git_dir, patch.parent, path)
    if before is None or function not in {name for name, _ in functions(before)}:
        return None
    return LeakFix(
        patch.sha,
        patch.parent,
        patch.when,
        patch.subject,
        path,
        function,
        tuple(lines),
        tuple(touched),
    )


# -- the case repository ----------------------------------------------------------------------

AUTHORS = ("Ada Lovelace", "Grace Hopper", "Linus Dev", "Margaret Ops", "Ken Core", "Barbara Li")
_COMMENT = re.compile(rb"^(\s*/\* )(.+?)( \*/\s*)$")


@dataclass
class Commit:
    label: str  # "import", "before-1", "case", "after-2"…
    when: datetime
    message: str
    changes: Mapping[str, bytes | None]  # None: the commit deletes the file
    author: str = ""


@dataclass
class CaseRepo:
    path: Path
    shas: dict[str, str]  # label → sha
    commits: list[Commit]


def _person(name: str, when: datetime) -> bytes:
    email = name.lower().replace(" ", ".") + "@example.com"
    return f"{name} <{email}> {int(when.timestamp())} +0000\n".encode()


def reword_comment(
    files: dict[str, bytes], rng: random.Random, avoid: set[str], n: int
) -> tuple[str, bytes] | None:
    """One single-line ``/* … */`` comment of a random other .c file, reworded."""
    paths = sorted(p for p in files if p.endswith(".c") and p not in avoid)
    rng.shuffle(paths)
    for path in paths[:50]:
        lines = files[path].split(b"\n")
        comments = [i for i, line in enumerate(lines) if _COMMENT.match(line)]
        if not comments:
            continue
        index = rng.choice(comments)
        found = _COMMENT.match(lines[index])
        assert found is not None
        head, text, tail = found.groups()
        text = re.sub(rb" \(rev \d+\)$", b"", text) + f" (rev {n})".encode()
        lines[index] = head + text + tail
        return path, b"\n".join(lines)
    return None


def plan_history(
    files: dict[str, bytes],
    incident_at: datetime,
    *,
    title: str,
    case: tuple[str, dict[str, bytes]] | None,
    avoid: set[str],
    seed: int,
) -> list[Commit]:
    """import (30 days before the incident) → 3 unrelated commits (3 days to 20 h before) →
    the case commit (3 h before; none for a case that has none) → 1–3 unrelated commits
    (2 h 50 to 2 h 10 before): comment rewordings in other .c files, or a README line."""
    rng = random.Random(seed)
    current = dict(files)
    readme = f"# {title}\n\nA snapshot for ADS's bench/real_code.py.\n".encode()
    current["README.md"] = readme
    commits = [Commit("import", incident_at - timedelta(days=30), f"Import {title}", dict(current))]
    n = 0

    def unrelated(label: str, when: datetime, allow_readme: bool) -> None:
        nonlocal n
        n += 1
        if allow_readme and rng.random() < 0.3:
            current["README.md"] += f"\nNote {n}: see the release notes.\n".encode()
            changes = {"README.md": current["README.md"]}
            message = "README: add a note"
        else:
            edit = reword_comment(current, rng, avoid, n)
            if edit is None:
                current["README.md"] += f"\nNote {n}.\n".encode()
                changes, message = {"README.md": current["README.md"]}, "README: add a note"
            else:
                path, content = edit
                current[path] = content
                changes, message = {path: content}, f"{Path(path).stem}: reword a comment"
        commits.append(Commit(label, when, message, changes))

    for i, hours in enumerate((72 + rng.randint(0, 12), 48 + rng.randint(0, 12), 20)):
        unrelated(f"before-{i + 1}", incident_at - timedelta(hours=hours), False)
    if case is not None:
        message, changes = case
        current.update(changes)
        commits.append(Commit("case", incident_at - timedelta(hours=3), message, changes))
    for i in range(rng.randint(1, 3)):
        unrelated(f"after-{i + 1}", incident_at - timedelta(minutes=170 - 20 * i), True)
    for i, commit in enumerate(commits):
        commit.author = AUTHORS[(seed + i) % len(AUTHORS)]
    return commits


REAL_HISTORY_DAYS = 14
REAL_HISTORY_COMMITS = 40


def real_history(
    git_dir: Path,
    codebase: CodeBase,
    rev: str,
    incident_at: datetime,
    tree_at: Callable[[str], dict[str, bytes]],
) -> list[Commit]:
    """The project's own last commits up to ``rev`` as the window: the analysed tree as it was
    before them (imported 30 days before the incident), then each commit of ``rev``'s
    first-parent chain from the last ``REAL_HISTORY_DAYS`` days (at most
    ``REAL_HISTORY_COMMITS``) with its real subject, author and what it changed in the tree,
    its time moved so that ``rev`` lands 1 h before the incident (the spacing kept). The
    tree at the end is ``rev``'s."""
    end = int(git(git_dir, "log", "-1", "--format=%ct", rev).decode())
    listing = git(
        git_dir, "log", "--first-parent", f"--max-age={end - REAL_HISTORY_DAYS * 86400}",
        f"--max-count={REAL_HISTORY_COMMITS}", "--format=%H%x02%P%x02%ct%x02%an%x02%s", rev,
    ).decode(errors="replace")  # fmt: skip
    chain = [line.split("\x02") for line in listing.splitlines() if line]
    chain.reverse()  # oldest first
    shift = incident_at - timedelta(hours=1) - datetime.fromtimestamp(end, UTC)
    base = chain[0][1].split()[0] if chain and chain[0][1] else rev
    commits = [
        Commit("import", incident_at - timedelta(days=30), f"Import {rev[:12]}~{len(chain)}",
               dict(tree_at(base)))
    ]  # fmt: skip
    for n, (sha, parents, when, author, subject) in enumerate(chain, start=1):
        parent = parents.split()[0] if parents else None
        if parent is None:
            continue
        names = git(git_dir, "diff", "--no-renames", "--name-status", parent, sha).decode()
        changes: dict[str, bytes | None] = {}
        for row in names.splitlines():
            status, _, path = row.partition("\t")
            if not codebase.in_tree(path):
                continue
            changes[path] = None if status.startswith("D") else show(git_dir, sha, path)
        if not changes:
            changes = {"README.md": f"{rev[:12]}: {n} commits replayed\n".encode()}
        moment = datetime.fromtimestamp(int(when), UTC) + shift
        commits.append(Commit(f"real-{n}", moment, subject, changes, author or "Unknown"))
    return commits


def build_repo(target: Path, commits: list[Commit]) -> CaseRepo:
    """The commits as a git repository at ``target`` (branch main, checked out)."""
    out: list[bytes] = []
    for mark, commit in enumerate(commits, start=1):
        person = _person(commit.author, commit.when)
        out += [b"commit refs/heads/main\n", b"mark :%d\n" % mark]
        out += [b"author " + person, b"committer " + person]
        data = commit.message.encode()
        out.append(b"data %d\n%s\n" % (len(data), data))
        for path, content in sorted(commit.changes.items()):
            name = path.encode(errors="surrogateescape")
            if content is None:
                out.append(b"D %s\n" % name)
                continue
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name, len(content), content))
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True)
    marks = target / ".git" / "bench-marks"
    subprocess.run(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=target,
        input=b"".join(out),
        check=True,
    )
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=target, check=True)
    by_mark = dict(line.split() for line in marks.read_text().splitlines())
    shas = {c.label: by_mark[f":{i}"] for i, c in enumerate(commits, start=1)}
    marks.unlink()
    return CaseRepo(target, shas, commits)


def incident_document(service: str, number: int, created_at: datetime) -> dict[str, object]:
    """A saved ``GET /incidents/{id}`` body for an OOM incident of ``service``."""
    return {
        "incident": {
            "id": f"PRC{number:05d}",
            "type": "incident",
            "incident_number": number,
            "title": f"{service} OOMKilled (2Gi limit, 3 restarts)",
            "status": "triggered",
            "urgency": "high",
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service": {"id": "PSVCRC1", "type": "service_reference", "summary": service},
        }
    }
