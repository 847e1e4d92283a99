"""The sandbox every run of a service's code goes through: builds, runs, verification, LSan.

Why: the code ADS builds and runs comes from the repository under diagnosis, that is from whoever
can push a commit, and a Makefile is a shell script. ADS holds secrets (PagerDuty, GitHub, webhook
and MCP tokens), runs as root (memory cgroups need it) and works unattended from webhooks. So no
build or run of that code may see ADS's environment, reach the network, write outside its own
tree, leave the memory cgroup it was put in, or outlive its step.

How: existing tools composed, not a sandbox of our own.

* ``bwrap`` (bubblewrap; Debian package ``bubblewrap``) makes fresh network, pid, ipc and uts
  namespaces and a mount namespace in which ``/`` is read-only (``/sys`` and every cgroup file
  included) and only the step's tree, the sandbox's home and temp dirs and what the caller grants
  (LeakSanitizer's report dir) are writable; ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are fresh
  tmpfs private to the step, so tools that hard-code ``/tmp`` work and nothing lands on the host.
  The pid namespace plus ``--die-with-parent``: when the step's first process dies, or ADS does,
  the kernel kills every process of the step.
* ``setpriv`` (util-linux) then drops to an unprivileged uid/gid that no account uses (drawn per
  sandbox from 1879048192-2147483646, the range systemd documents as unused), with no
  supplementary groups, no capabilities, and ``no_new_privs`` so no setuid binary gives root back.
* ``env -i`` with an allow-list: ``PATH``, ``LANG``/``LC_ALL``, ``HOME`` and ``TMPDIR`` (the
  sandbox's own), what ADS sets itself (``CFLAGS``, LeakSanitizer's preload) and the service's
  ``env`` / ``env_passthrough`` from ads.yaml, where ADS's own secrets are refused
  (``ads.config.is_ads_secret_name``).
* The memory cgroup is entered by a root shell *before* any of this (``MemoryCgroup.wrap``:
  ``echo $$ > cgroup.procs && exec bwrap ...``). The unprivileged process cannot write any
  ``cgroup.procs`` (root-owned, on a read-only mount), so it cannot leave; at the end of every
  step the cgroup is emptied and removed, and its ``rmdir`` only succeeds once ``cgroup.procs``
  is empty: that is the check that nothing survived.

Not chosen: ``systemd-run`` needs a running systemd (containers and CI have none); bwrap's own
``--uid`` needs a user namespace in which the sandbox is still uid 0 outside, so root-owned files
such as ``cgroup.procs`` stay writable to it; ``unshare`` alone cannot give a private ``/tmp``
without hiding the worktree that lives under it.

Ownership: the sandbox user must be able to write its tree. Trees ADS made for the purpose
(verification's temporary worktrees) are chowned to it (``adopt``) and deleted afterwards. A
user's own checkout (``ads run``) is never chowned: if ADS died between chowning and restoring it
the user's files would belong to a stranger, and a build would litter it. It is run from a
private copy (``private_copy``, without ``.git``) removed at the end. ADS never runs git inside a
tree the sandbox has written to: a planted ``.git`` would run its commands as root.

Fallbacks are never silent (``Sandbox.notice``): without bubblewrap, ``unshare`` gives the network
and pid namespaces and ``/tmp`` stays shared; without root the code runs as the user running ADS.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...config import ServiceConfig, is_ads_secret_name
from ..owner import current_owner

__all__ = [
    "UNSHARE_AS_ROOT",
    "Isolation",
    "Sandbox",
    "probe_isolation",
    "sandbox_environment",
]

SANDBOX_IDS = (1_879_048_192, 2_147_483_646)  # systemd's "unused" uid/gid range
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL")
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
# Without bubblewrap: network and pid namespaces as root, the network alone as a user.
UNSHARE_AS_ROOT = ("unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc")
UNSHARE_AS_USER = ("unshare", "--map-root-user", "--net")


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the sandbox do, probed once per process."""

    bwrap: str | None  # bubblewrap works here (namespaces, private mounts)
    unshare: tuple[str, ...] | None  # else this prefix gives network (and pid) namespaces
    drop_user: bool  # root, with setpriv: run as an unprivileged uid

    @property
    def missing(self) -> list[str]:
        """What confinement is missing here, in words for the operator."""
        gaps: list[str] = []
        if self.bwrap is None and self.unshare is None:
            gaps.append("no network namespace (the code has the network)")
        if self.bwrap is None:
            gaps.append("no private mount namespace (/tmp and /var/tmp are shared)")
        if not self.drop_user:
            gaps.append("not root, so the code runs as the user running ADS")
        return gaps


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=1)
def probe_isolation() -> Isolation:
    """Try bubblewrap, then ``unshare``, once: which confinement works on this machine."""
    root = os.geteuid() == 0
    drop_user = root and shutil.which("setpriv") is not None
    bwrap = shutil.which("bwrap")
    if bwrap is not None:
        user = [] if root else ["--unshare-user"]
        trial = [bwrap, *user, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        if not _works([*trial, "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]):
            bwrap = None
    unshare: tuple[str, ...] | None = None
    if bwrap is None:
        for prefix in (UNSHARE_AS_ROOT, UNSHARE_AS_USER) if root else (UNSHARE_AS_USER,):
            if _works([*prefix, "true"]):
                unshare = prefix
                break
    return Isolation(bwrap=bwrap, unshare=unshare, drop_user=drop_user)


def sandbox_environment(
    service: ServiceConfig | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed environment (without HOME/TMPDIR): never one of ADS's secrets."""
    source = os.environ if environ is None else environ
    env = {name: source[name] for name in PASSED_THROUGH if name in source}
    env.setdefault("PATH", DEFAULT_PATH)
    if service is not None:
        env.update({n: source[n] for n in service.env_passthrough if n in source})
        env.update(service.env)
    return {n: v for n, v in env.items() if not is_ads_secret_name(n)}


class Sandbox:
    """One unprivileged identity with its private home and temp dir, for one job's steps.

    Use it as a context manager (its directories are removed on exit); ``command`` turns a shell
    command into the confined command line that a ``MemoryCgroup.wrap`` then enters.
    """

    def __init__(
        self,
        service: ServiceConfig | None = None,
        *,
        writable: Sequence[Path] = (),
        isolation: Isolation | None = None,
    ) -> None:
        self.isolation = isolation or probe_isolation()
        if self.isolation.drop_user:
            self.uid = self.gid = random.SystemRandom().randint(*SANDBOX_IDS)
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self._env = sandbox_environment(service)
        self.root = Path(tempfile.mkdtemp(prefix=f"ads-sandbox-{current_owner().tag}-"))
        self.root.chmod(0o711)
        self.home = self.root / "home"
        self.tmp = self.root / "tmp"
        for private in (self.home, self.tmp):
            private.mkdir(mode=0o700)
            os.chown(private, self.uid, self.gid)
        self._announced = False
        self.writable = [Path(p) for p in writable]
        for path in self.writable:
            self.adopt(path)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def notice(self) -> str | None:
        """One sentence naming the confinement missing here, or ``None`` when none is."""
        gaps = self.isolation.missing
        if not gaps:
            return None
        hint = " (install bubblewrap)" if self.isolation.bwrap is None else ""
        return f"sandbox weaker here: {'; '.join(gaps)}{hint}"

    def announce(self) -> str | None:
        """``notice()`` the first time it is asked for, then ``None``: said once per sandbox."""
        if self._announced:
            return None
        self._announced = True
        return self.notice()

    # -- trees ------------------------------------------------------------------------------------

    def adopt(self, tree: Path) -> None:
        """Hand a tree ADS made for this job (never a user's) to the sandbox user."""
        if not self.isolation.drop_user:
            return
        tree = Path(tree)
        parent = tree.parent
        with contextlib.suppress(OSError):  # ADS's mkdtemp parents are 0700: let the user pass
            if parent.stat().st_uid == 0 and parent.name.startswith("ads-"):
                parent.chmod(parent.stat().st_mode | 0o711)
        os.chown(tree, self.uid, self.gid, follow_symlinks=False)
        for dirpath, dirnames, filenames in os.walk(tree):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.uid, self.gid, follow_symlinks=False)

    @contextlib.contextmanager
    def private_copy(self, checkout: Path) -> Iterator[Path]:
        """A copy of ``checkout`` (uncommitted changes included, ``.git`` left out) that the
        sandbox user owns, removed on exit: how ``ads run`` builds without touching the user's."""
        parent = Path(tempfile.mkdtemp(prefix=f"ads-run-{current_owner().tag}-"))
        parent.chmod(0o711)
        copy = parent / Path(checkout).resolve().name
        try:
            shutil.copytree(checkout, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
            self.adopt(copy)
            yield copy
        finally:
            shutil.rmtree(parent, ignore_errors=True)

    # -- the confined command ---------------------------------------------------------------------

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {**self._env, **(extra or {})}
        env.update({"HOME": str(self.home), "TMPDIR": str(self.tmp)})
        return env

    def command(
        self,
        shell_command: str,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        writable: Sequence[Path] = (),
    ) -> str:
        """A command line (for ``/bin/sh -c``, after the cgroup is entered) that runs
        ``shell_command`` in ``cwd`` confined: namespaces, read-only host, unprivileged, and
        only the allow-listed environment plus ``env``."""
        argv = [
            shutil.which("env") or "/usr/bin/env",
            "-i",
            *(f"{k}={v}" for k, v in self.environment(env).items()),
            "/bin/sh",
            "-c",
            shell_command,
        ]
        if self.isolation.drop_user:
            argv = [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
                *argv,
            ]
        cwd = Path(cwd).resolve()
        if self.isolation.bwrap is not None:
            binds = [cwd, self.home, self.tmp, *self.writable, *(Path(p) for p in writable)]
            argv = [*self._bwrap(binds, cwd), *argv]
        elif self.isolation.unshare is not None:
            # The caller starts it in ``cwd``. A shell stays the pid namespace's first process
            # and waits for the step: when that first process is SIGKILLed (an OOM kill of a
            # service that ``exec``s), util-linux 2.38's unshare cannot re-raise the signal and
            # exits 1, so the kernel's kill read as a crash and was never verified.
            argv = [*self.isolation.unshare, "/bin/sh", "-c", '"$@"; exit $?', "sh", *argv]
        return shlex.join(argv)

    def _bwrap(self, binds: Sequence[Path], cwd: Path) -> list[str]:
        assert self.isolation.bwrap is not None
        args = [self.isolation.bwrap]
        if not self.isolation.drop_user:
            args.append("--unshare-user")
        args += ["--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid"]
        args += ["--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/"]
        args += ["--dev", "/dev", "--proc", "/proc"]
        for tmpfs in PRIVATE_TMPFS:
            args += ["--perms", "01777", "--tmpfs", tmpfs]
        made: set[Path] = {Path(t) for t in PRIVATE_TMPFS}
        for path in (Path(p).resolve() for p in binds):
            for ancestor in reversed(path.parents):
                if ancestor in made or not any(ancestor.is_relative_to(t) for t in made):
                    continue  # outside the fresh tmpfs, the host's directory is seen as it is
                args += ["--perms", "0755", "--dir", str(ancestor)]
                made.add(ancestor)
            args += ["--bind", str(path), str(path)]
        args += ["--chdir", str(cwd), "--"]
        return args
