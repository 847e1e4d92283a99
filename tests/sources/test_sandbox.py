"""The sandbox against a hostile service: real builds, runs, namespaces and memory cgroups.

tests/fixtures/hostile_service's build and run script dump their environment, try a TCP
connection to a loopback listener this test opens, try to write outside their tree and to leave
their memory cgroup, and leave a daemon behind. They go through ADS's real paths: the local
runtime (``ads run``) and ``verify_fix`` (build before/after, run before under LeakSanitizer,
run after).
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ads.actions.verification import verify_fix
from ads.config import ServiceConfig
from ads.errors import AdsError, BuildError
from ads.models import ReproductionMode, VerificationOutcome
from ads.sources.monitors import LocalRuntime, MemoryLimiter, detect_limiter
from ads.sources.monitors.local_runtime import RunObserver, run_build
from ads.sources.monitors.sandbox import UNSHARE_AS_ROOT, Isolation, Sandbox, probe_isolation
from tests.fixtures.demo import DEMO_DIR, DEMO_FINDING, demo_fix, git

HOSTILE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "hostile_service"
FAKE_SECRETS = {
    "PAGERDUTY_API_TOKEN": "fake-pd-token-3f1c",
    "PAGERDUTY_ROUTING_KEY": "fake-routing-key-9a2e",
    "GITHUB_TOKEN": "fake-github-token-77b0",
    "ADS_WEBHOOK_SECRETS": "fake-webhook-secret-c4d1",
    "ADS_MCP_TOKEN": "fake-mcp-token-5e6f",
}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or probe_isolation().missing != [],
    reason="the full sandbox needs root, setpriv and bubblewrap (.ci/run installs it)",
)


@pytest.fixture
def limiter() -> Iterator[MemoryLimiter]:
    """Memory cgroups under a parent of this test's own, checked empty afterwards."""
    try:
        shared = detect_limiter(allow_fallback=False)
    except AdsError as exc:
        pytest.skip(f"no writable memory cgroup here (needs root): {exc}")
    assert shared.parent is not None
    parent = shared.parent / f"test-sandbox-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    if shared.mode is ReproductionMode.CGROUP_V2:
        (parent / "cgroup.subtree_control").write_text("+memory")
    try:
        yield MemoryLimiter(shared.mode, parent)
        assert [p for p in parent.iterdir() if p.is_dir()] == [], "a cgroup was left behind"
    finally:
        for child in parent.iterdir():
            if child.is_dir():
                child.rmdir()
        parent.rmdir()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


class Hostile:
    """The hostile service in a git repository, and where its attempts are recorded."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.repo = tmp_path / "hostile-service"
        shutil.copytree(HOSTILE_DIR, self.repo)
        shutil.copy2(DEMO_DIR / "worker.c", self.repo / "worker.c")
        git(self.repo, "init", "-q", "-b", "main")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "hostile service")
        self.dump = tmp_path / "dump"
        self.outside = tmp_path / "outside"
        self.dump.mkdir()
        self.outside.mkdir()
        self.token = f"ads-hostile-{uuid.uuid4().hex[:10]}"
        self.cgroup_parent = ""  # the test's own parent of memory cgroups
        self.service = ServiceConfig.model_validate(
            {
                "name": "hostile",
                "build": "make build",
                "run": "./hostile.sh run",
                "memory_limit": "64Mi",
                "backoff": {"initial_seconds": 0.2},
                "env": {
                    "HOSTILE_PORT": str(port),
                    "HOSTILE_DUMP": str(self.dump),
                    "HOSTILE_OUTSIDE": str(self.outside),
                    "HOSTILE_TOKEN": self.token,
                },
                "env_passthrough": ["HOSTILE_PASSED"],
            }
        )

    def sandbox(self) -> Sandbox:
        # the dump directory is the one place outside its tree the service is let write to
        return Sandbox(self.service, writable=[self.dump])

    def records(self, suffix: str) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted(self.dump.glob(f"*{suffix}"))}

    def survivors(self) -> list[str]:
        """Command lines of any process on this machine that carries the service's token."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if self.token in cmdline:
                found.append(cmdline)
        return found


@pytest.fixture
def hostile(
    tmp_path: Path,
    listener: socket.socket,
    limiter: MemoryLimiter,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Hostile]:
    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOSTILE_PASSED", "listed-in-env-passthrough")
    service = Hostile(tmp_path, listener.getsockname()[1])
    assert limiter.parent is not None
    service.cgroup_parent = limiter.parent.name
    yield service
    for leftover in Path("/tmp").glob(f"{service.token}*"):
        leftover.unlink()


def assert_confined(
    hostile: Hostile, listener: socket.socket, phases: set[str], *, private_tmp: bool = True
) -> None:
    envs = hostile.records(".env")
    assert {name.split(".")[0] for name in envs} == phases, envs.keys()
    for name, dump in envs.items():
        for secret, value in FAKE_SECRETS.items():
            assert value not in dump, f"{secret}'s value reached {name}"
            assert f"{secret}=" not in dump, f"{secret} reached {name}"
        assert "HOSTILE_PASSED=listed-in-env-passthrough" in dump  # the allow-list works
        assert "HOSTILE_PORT=" in dump
    assert len(hostile.records(".net")) == len(envs)  # every step tried to connect...
    with pytest.raises(BlockingIOError):
        listener.accept()  # ...and the listener never got a connection
    assert len(hostile.records(".outside")) == len(envs)
    assert list(hostile.outside.iterdir()) == []
    assert not list(hostile.outside.parent.glob("*-beside"))
    assert not Path(f"/etc/{hostile.token}").exists()
    assert not list(Path("/root").glob(f"{hostile.token}*"))
    if private_tmp:
        assert not list(Path("/tmp").glob(f"{hostile.token}*")), "the private /tmp reached the host"
    for name, outcome in hostile.records(".cgroup").items():
        # the kernel's word, read after the attempt: still in the step's own memory cgroup
        assert f"/{hostile.cgroup_parent}/" in outcome.splitlines()[-1], (name, outcome)
    assert hostile.survivors() == []


@pytest.mark.cgroup
def test_ads_run_confines_the_hostile_build_and_run(
    hostile: Hostile, listener: socket.socket, limiter: MemoryLimiter
) -> None:
    with hostile.sandbox() as sandbox:
        runtime = LocalRuntime(hostile.service, hostile.repo, limiter=limiter, sandbox=sandbox)
        result = runtime.run(max_kills=1, duration=30)

    assert len(result.events) == 1 and result.events[0].exit_code == 137  # still OOM-killed
    assert result.git_sha and len(result.git_sha) == 40
    assert_confined(hostile, listener, {"build", "run"})
    # the user's checkout was run from a private copy: nothing built in it, nothing chowned
    assert not (hostile.repo / "build").exists()
    assert {p.stat().st_uid for p in hostile.repo.rglob("*")} == {os.getuid()}


@pytest.mark.cgroup
def test_without_bubblewrap_the_fallback_still_confines_and_says_what_is_missing(
    hostile: Hostile, listener: socket.socket, limiter: MemoryLimiter, tmp_path: Path
) -> None:
    """unshare + setpriv: network and pid namespaces, the unprivileged user, the cgroup; only
    /tmp stays shared, and the operator is told so, once."""
    fallback = Isolation(bwrap=None, unshare=UNSHARE_AS_ROOT, drop_user=True)
    for parent in (tmp_path, *tmp_path.parents):  # no private mounts: the dump dir must be
        parent.chmod(parent.stat().st_mode | 0o001)  # reachable on the host's own tree
    notices: list[str] = []

    class Notices(RunObserver):
        def notice(self, message: str) -> None:
            notices.append(message)

    sandbox = Sandbox(hostile.service, writable=[hostile.dump], isolation=fallback)
    with sandbox:
        runtime = LocalRuntime(
            hostile.service, hostile.repo, limiter=limiter, sandbox=sandbox, observers=[Notices()]
        )
        result = runtime.run(max_kills=1, duration=30)
    assert notices == [
        "sandbox weaker here: no private mount namespace (/tmp and /var/tmp are shared) "
        "(install bubblewrap)"
    ]
    assert len(result.events) == 1 and result.events[0].exit_code == 137
    assert_confined(hostile, listener, {"build", "run"}, private_tmp=False)


@pytest.mark.cgroup
def test_verification_confines_the_hostile_builds_and_runs(
    hostile: Hostile, listener: socket.socket, limiter: MemoryLimiter
) -> None:
    fix = demo_fix(hostile.repo)
    with hostile.sandbox() as sandbox:
        result = verify_fix(
            hostile.repo,
            hostile.service,
            fix,
            finding=DEMO_FINDING,
            limiter=limiter,
            sandbox=sandbox,
            duration=2.0,
        )

    assert result.outcome is VerificationOutcome.VERIFIED, result.detail
    assert "sandbox weaker" not in result.detail
    # build before and after, run before (under LeakSanitizer) and after: all confined
    assert len(hostile.records(".env")) == 4
    assert_confined(hostile, listener, {"build", "run"})


@pytest.mark.cgroup
def test_a_build_that_times_out_leaves_no_process(hostile: Hostile, limiter: MemoryLimiter) -> None:
    stuck = f"setsid -f bash -c 'exec -a {hostile.token}-daemon sleep 600'; sleep 600"
    tree = hostile.repo
    with hostile.sandbox() as sandbox:
        sandbox.adopt(tree)
        with pytest.raises(BuildError, match="took longer than 1 s"):
            run_build(stuck, tree, what="the stuck build", sandbox=sandbox, limiter=limiter,
                      name="hostile", timeout=1.0)  # fmt: skip
    assert hostile.survivors() == []
