"""The demo's workspace: a private git repository of the demo service with a believable history.

``ads demo`` never builds or branches inside this project's own checkout. It copies
``examples/ads-demo-service`` (shipped in the package as ``ads/interfaces/demo_service``) into the
state directory and commits it as a small history, the
way the service would have evolved: first a worker that frees its buffer and a 128Mi limit, then
a commit that "reuses" the buffer and drops the ``free`` (the bug), unrelated work, and a commit
right-sizing the limit to 64Mi. The diagnosis then has a real history to attribute the leak to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "DEMO_SOURCE",
    "PY_DEMO_SOURCE",
    "create_demo_workspace",
    "create_python_demo_workspace",
    "worker_with_eviction",
    "worker_with_free",
]

# examples/ads-demo-service, shipped inside the package (a symlink in the source tree, a copy in
# a wheel), so `ads demo` finds it however ADS was installed and wherever it is run from.
DEMO_SOURCE = Path(__file__).parent / "demo_service"
LEAK_LINE = 27  # process_work(buffer); the fixed file has free(buffer); after it
# examples/py-pages-service, shipped the same way: the Python demo (`ads demo --service
# py-pages-service`). Its history's bug is a commit that removed the page cache's eviction.
PY_DEMO_SOURCE = Path(__file__).parent / "py_demo_service"
PY_WORKER = Path("pages") / "worker.py"
PY_INSERT = "    _pages[page_id] = body\n"
PY_EVICTION = "    if len(_pages) > MAX_CACHED_PAGES:\n        _pages.popitem(last=False)\n"


def _git(repo: Path, *args: str, author: tuple[str, str], when: datetime) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
        "GIT_AUTHOR_DATE": when.isoformat(),
        "GIT_COMMITTER_DATE": when.isoformat(),
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _commit(repo: Path, message: str, author: tuple[str, str], when: datetime) -> None:
    _git(repo, "add", "-A", author=author, when=when)
    _git(repo, "commit", "-q", "-m", message, author=author, when=when)


def worker_with_free(worker: str) -> str:
    """The demo's worker.c with ``free(buffer);`` after line 27, indented like line 27: the
    fixed worker (the history's first commit, and what the fix looks like)."""
    lines = worker.splitlines(keepends=True)
    indent = lines[LEAK_LINE - 1][: len(lines[LEAK_LINE - 1]) - len(lines[LEAK_LINE - 1].lstrip())]
    return "".join([*lines[:LEAK_LINE], f"{indent}free(buffer);\n", *lines[LEAK_LINE:]])


def create_demo_workspace(
    target: Path, *, source: Path = DEMO_SOURCE, now: datetime | None = None
) -> Path:
    """Copy the demo service into ``target`` (replacing it) and commit its history; the repo."""
    if not (source / "worker.c").is_file():
        raise ConfigError(f"demo service not found at {source}")
    now = now or datetime.now(UTC)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", ".ads"))
    worker = (target / "worker.c").read_text()
    deployment_path = target / "infra" / "kubernetes" / "deployment.yaml"
    deployment = deployment_path.read_text()
    readme = target / "README.md"
    readme_text = readme.read_text() if readme.exists() else "# ads-demo-service\n"

    priya = ("Priya Patel", "priya@example.com")
    sam = ("Sam Rivera", "sam@example.com")
    (target / "worker.c").write_text(worker_with_free(worker))
    deployment_path.write_text(deployment.replace("memory: 64Mi", "memory: 128Mi"))
    readme.write_text("# ads-demo-service\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True)
    _commit(target, "Add ads-demo-service worker", priya, now - timedelta(days=3))

    (target / "worker.c").write_text(worker)
    _commit(target, "Reuse payload buffer across iterations", sam, now - timedelta(hours=2))

    readme.write_text(readme_text)
    _commit(target, "Document the worker's payload format", priya, now - timedelta(hours=1))

    deployment_path.write_text(deployment)
    _commit(target, "Right-size worker memory limit to 64Mi", sam, now - timedelta(minutes=30))
    return target


def worker_with_eviction(worker: str) -> str:
    """The Python demo's worker with the eviction its page cache had before the bad commit."""
    if PY_INSERT not in worker:
        raise ConfigError(f"the Python demo's {PY_WORKER} has no {PY_INSERT.strip()!r} line")
    return worker.replace(PY_INSERT, PY_INSERT + PY_EVICTION, 1)


def create_python_demo_workspace(
    target: Path, *, source: Path = PY_DEMO_SOURCE, now: datetime | None = None
) -> Path:
    """The Python demo's workspace: its history has a bounded page cache first, then the commit
    that removed the eviction, unrelated work, and the limit right-sized to 64Mi."""
    if not (source / PY_WORKER).is_file():
        raise ConfigError(f"Python demo service not found at {source}")
    now = now or datetime.now(UTC)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".ads"))
    worker_path = target / PY_WORKER
    worker = worker_path.read_text()
    deployment_path = target / "infra" / "kubernetes" / "deployment.yaml"
    deployment = deployment_path.read_text()
    readme = target / "README.md"
    readme_text = readme.read_text() if readme.exists() else "# py-pages-service\n"

    lena = ("Lena Okafor", "lena@example.com")
    sam = ("Sam Rivera", "sam@example.com")
    worker_path.write_text(worker_with_eviction(worker))
    deployment_path.write_text(deployment.replace("memory: 64Mi", "memory: 128Mi"))
    readme.write_text("# py-pages-service\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True)
    _commit(target, "Add py-pages-service with a bounded page cache", lena, now - timedelta(days=3))

    worker_path.write_text(worker)
    _commit(target, "Keep rendered pages cached: stop evicting hot pages", sam,
            now - timedelta(hours=2))  # fmt: skip

    readme.write_text(readme_text)
    _commit(target, "Document the page worker", lena, now - timedelta(hours=1))

    deployment_path.write_text(deployment)
    _commit(target, "Right-size worker memory limit to 64Mi", sam, now - timedelta(minutes=30))
    return target
