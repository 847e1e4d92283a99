"""``ads demo`` after a plain ``pip install``, from a directory that is not the checkout.

Issue 13, point 1: the demo service lived only in ``examples/`` of the checkout, so an installed
ADS said "demo service not found at …/lib/python3.11/examples/ads-demo-service". Here the wheel
is built from a copy of the sources, installed into a fresh virtual environment made by the
real interpreter (not the project's .venv), and ``ads demo`` runs from an unrelated directory
with no ``PYTHONPATH``.

Offline by construction: the wheel is built without build isolation (the dev extra pins a
setuptools that builds wheels itself), installed with ``--no-index --no-deps``, and the fresh
environment finds ADS's dependencies through a ``.pth`` line naming this environment's
site-packages (appended after its own, so the installed wheel, not the checkout, is the ``ads``
that runs; the checkout's editable-install hook is not processed from there).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ads.sources.monitors import MemoryLimiter
from tests.fixtures.processes import read_until

ROOT = Path(__file__).resolve().parents[2]
BUILD_INPUTS = ("pyproject.toml", "README.md", "src", "examples")
BUILD_IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".ads")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the ADS wheel built from the current sources; its ``bin``."""
    base = tmp_path_factory.mktemp("packaged")
    source = base / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=BUILD_IGNORED)
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip"]
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, ".", cwd=source)
    (wheel,) = wheels.glob("ads-*.whl")
    venv = base / "venv"
    run(Path(sys.base_prefix) / "bin" / "python3", "-m", "venv", "--without-pip", venv, cwd=base)
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                  cwd=base).strip()  # fmt: skip
    Path(purelib, "ads-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=base)
    return venv / "bin"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ADS_"))}
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.mark.slow
@pytest.mark.cgroup
def test_demo_runs_from_the_installed_wheel_anywhere(
    installed: Path, tmp_path: Path, cgroup_limiter: MemoryLimiter
) -> None:
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    env = clean_env()
    where = run(installed / "python", "-c", "import ads; print(ads.__file__)", cwd=elsewhere,
                env=env)  # fmt: skip
    assert where.startswith(str(installed.parent)), where  # the wheel, not the checkout

    out = run(installed / "ads", "demo", "--workdir", "demo", cwd=elsewhere, env=env)

    assert "verified" in out and "worker.c" in out, out
    repo = elsewhere / "demo" / "ads-demo-service"
    branch = "ads/incident-1-fix-memory-leak"
    diff = run("git", "diff", f"main...{branch}", "--stat", cwd=repo)
    assert "worker.c | 1 +" in diff
    assert (repo / "infra" / "kubernetes" / "deployment.yaml").is_file()
    assert not (elsewhere / "examples").exists()


@pytest.mark.slow
def test_pagerduty_local_serves_alone_from_the_installed_wheel(
    installed: Path, tmp_path: Path
) -> None:
    """The ``pagerduty-local`` console script, with its demo account (package data) and
    nothing of the checkout: the lines it prints are what a client needs."""
    process = subprocess.Popen(
        [installed / "pagerduty-local", "serve", "--port", "0", "--state-dir", "pd"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        output = read_until(process, "Ctrl-C")
        script = (
            f'eval "$({installed / "pagerduty-local"} env --state-dir pd)" && '
            f"{installed / 'python'} -c 'import os, requests; print(requests.get("
            'os.environ["PAGERDUTY_API_HOST"] + "/users", headers={"Authorization": '
            '"Token token=" + os.environ["PAGERDUTY_API_TOKEN"]}).json()["users"][0]["email"])\''
        )
        email = run("bash", "-c", script, cwd=tmp_path, env=clean_env()).strip()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert "demo_seed.yaml" in output and str(installed.parent) in output, output  # the wheel's
    assert email.endswith("@example.com")


@pytest.mark.slow
def test_the_wheel_ships_the_python_demo_service(installed: Path, tmp_path: Path) -> None:
    """``ads demo --service py-pages-service`` needs its sources in the installed package."""
    code = (
        "from ads.interfaces.demo_workspace import PY_DEMO_SOURCE as s; "
        "print(sorted(p.relative_to(s).as_posix() for p in s.rglob('*') if p.is_file()))"
    )
    listed = run(installed / "python", "-c", code, cwd=tmp_path, env=clean_env())
    for name in ("pages/worker.py", "ads.yaml", "infra/kubernetes/deployment.yaml", "Makefile"):
        assert f"'{name}'" in listed, listed
