"""The limit-raise patch: one changed line, applies with git, still a valid Deployment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from ads.actions.mitigation import LABEL, needed_limit, propose_mitigation, raise_memory_limit
from ads.config import ServiceConfig
from ads.errors import RemediationError

MiB = 1024 * 1024
MANIFEST = "infra/kubernetes/deployment.yaml"


def apply(repo: Path, diff: str) -> None:
    subprocess.run(["git", "apply", "--check", "-"], cwd=repo, input=diff, text=True, check=True)
    subprocess.run(["git", "apply", "-"], cwd=repo, input=diff, text=True, check=True)


def test_limit_raise_changes_only_the_limit_line_and_stays_valid(
    demo_repo: Path, demo_service: ServiceConfig
) -> None:
    plan = propose_mitigation(demo_repo, demo_service, growth_bytes_per_second=0.01 * MiB, hours=2)
    # 64Mi + 0.01 MiB/s × 7200 s = 136 MiB
    assert plan.current_limit == "64Mi" and plan.proposed_limit == "136Mi"
    assert plan.viable and plan.label == LABEL == "temporary, not recommended long-term"
    assert plan.manifest == MANIFEST and plan.container == "worker"
    assert "from 64Mi to 136Mi" in plan.summary and "about 2 h" in plan.summary
    # under the PR's, note's and report's own "Mitigation" heading: no "Mitigation: Mitigation"
    assert plan.text().startswith("(temporary, not recommended long-term) raise the memory limit")
    changed = [
        line
        for line in plan.diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-              memory: 64Mi", "+              memory: 136Mi"]
    assert plan.diff.startswith(f"--- a/{MANIFEST}\n+++ b/{MANIFEST}\n")

    apply(demo_repo, plan.diff)
    patched = yaml.safe_load((demo_repo / MANIFEST).read_text())
    kubernetes_validate.validate(patched, "1.30.0", strict=True)
    resources = patched["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["memory"] == "136Mi"
    assert resources["requests"]["memory"] == "32Mi"  # the request is not the limit


def test_a_fast_leak_is_called_unmitigable(demo_repo: Path, demo_service: ServiceConfig) -> None:
    plan = propose_mitigation(demo_repo, demo_service, growth_bytes_per_second=32 * MiB)
    assert not plan.viable
    assert "cannot meaningfully mitigate" in plan.summary
    assert plan.proposed_limit == "2764864Mi"  # 64Mi + 32 MiB/s × 86400 s, said plainly
    assert "Roll back or ship the fix" in plan.summary
    # in units a reader can weigh, with the real factor (not "more than 4×")
    assert "would take 2700.1 GiB instead of 64Mi (43,201× the current limit" in plan.summary
    assert "2764864Mi" not in plan.text() and not plan.text().startswith("Mitigation")


def test_needed_limit_rounds_up_and_never_lowers() -> None:
    assert needed_limit(64 * MiB, 0.0, 24) == 64 * MiB
    assert needed_limit(64 * MiB, -5.0, 24) == 64 * MiB
    assert needed_limit(64 * MiB, 1.0, 1) == 65 * MiB  # 3600 bytes round up to 1 MiB


def test_multi_document_manifest_with_quotes_and_two_containers() -> None:
    text = (
        "# service account first\n"
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n"
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "spec:\n  selector:\n    matchLabels: {app: web}\n  template:\n"
        "    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
        "        - name: sidecar\n          image: envoy\n"
        '          resources: {limits: {memory: "128Mi"}}\n'
        "        - name: app\n          image: web\n"
        '          resources:\n            limits:\n              memory: "256Mi"  # tuned\n'
    )
    patched, old, container = raise_memory_limit(
        text, deployment="web", container="app", new_limit=512 * MiB
    )
    assert (old, container) == ("256Mi", "app")
    assert '              memory: "512Mi"  # tuned\n' in patched
    assert 'resources: {limits: {memory: "128Mi"}}' in patched
    assert len(patched.splitlines()) == len(text.splitlines())
    documents = list(yaml.safe_load_all(patched))
    kubernetes_validate.validate(documents[1], "1.30.0", strict=True)


def test_manifest_without_a_limit_is_a_clear_error() -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: app\n          image: web\n"
    )
    with pytest.raises(RemediationError, match="no memory limit for container app"):
        raise_memory_limit(text, deployment="web", container="app", new_limit=MiB)
