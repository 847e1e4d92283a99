"""``ADS_CGROUP_ROOT`` must be a mounted memory cgroup: a plain directory limits nothing.

A user who sets it to a path that is not a cgroup (a typo, ``/nonexistent``, a temp dir) used to
get an ordinary folder with a ``memory.max`` file in it and a service growing without bound.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ads.errors import RuntimeUnavailableError
from ads.models import ReproductionMode
from ads.sources.monitors.cgroups import cgroup_root_mode, detect_limiter, mount_of

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 22 0:40 / /mnt/with\\040space rw - cgroup2 cgroup2 rw
"""


def test_the_mount_holding_a_path_is_the_deepest_one() -> None:
    memory = mount_of(Path("/sys/fs/cgroup/memory/ads/x"), MOUNTINFO)
    assert memory == (Path("/sys/fs/cgroup/memory"), "cgroup", ["rw", "memory"])
    assert mount_of(Path("/sys/fs/cgroup/memoryless"), MOUNTINFO) == (
        Path("/sys/fs/cgroup"), "tmpfs", ["rw", "mode=755"]
    )  # fmt: skip
    assert mount_of(Path("/tmp/x"), MOUNTINFO) == (Path("/"), "ext4", ["rw"])
    assert mount_of(Path("/mnt/with space/a"), MOUNTINFO) == (
        Path("/mnt/with space"), "cgroup2", ["rw"]
    )  # fmt: skip


def test_a_plain_directory_is_refused_and_nothing_is_written_into_it(tmp_path: Path) -> None:
    with pytest.raises(RuntimeUnavailableError, match="is not in a mounted cgroup") as raised:
        cgroup_root_mode(tmp_path)
    assert "ADS_CGROUP_ROOT" in str(raised.value)
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "no" / "such"
    with pytest.raises(RuntimeUnavailableError, match="does not exist"):
        cgroup_root_mode(missing)
    assert not missing.parent.exists()  # not created


def test_a_v1_hierarchy_without_the_memory_controller_is_refused(tmp_path: Path) -> None:
    fake = f"1 0 0:1 / {tmp_path} rw - cgroup cgroup rw,cpu,cpuacct\n"
    with pytest.raises(RuntimeUnavailableError, match="no memory controller"):
        cgroup_root_mode(tmp_path, fake)
    v2 = f"1 0 0:1 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
    (tmp_path / "cgroup.controllers").write_text("cpu io pids\n")
    with pytest.raises(RuntimeUnavailableError, match="without the memory controller"):
        cgroup_root_mode(tmp_path, v2)
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    assert cgroup_root_mode(tmp_path, v2) is ReproductionMode.CGROUP_V2


@pytest.mark.cgroup
def test_a_real_memory_cgroup_and_a_new_child_of_one_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        shared = detect_limiter(allow_fallback=False)
    except RuntimeUnavailableError as exc:
        pytest.skip(f"needs a writable memory cgroup: {exc}")
    assert shared.parent is not None
    child = shared.parent / f"ads-root-test-{os.getpid()}"
    monkeypatch.setenv("ADS_CGROUP_ROOT", str(child))
    try:
        limiter = detect_limiter()
        assert (limiter.mode, limiter.parent) == (shared.mode, child)
    finally:
        child.rmdir()


def test_ads_run_with_a_fake_root_is_one_line_and_runs_nothing(
    demo_repo: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "not-a-cgroup"
    fake.mkdir()
    env = {**os.environ, "ADS_CGROUP_ROOT": str(fake)}
    env.pop("PAGERDUTY_ROUTING_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ads", "run", "ads-demo-service", "--kills", "1"],
        cwd=demo_repo, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"ADS_CGROUP_ROOT={fake} is not in a mounted cgroup" in lines[0]
    assert list(fake.iterdir()) == []  # no memory.max in an ordinary folder
    assert "OOMKilled" not in proc.stdout
