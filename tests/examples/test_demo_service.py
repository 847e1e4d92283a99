"""The demo service is what the brief says: the leak at lines 26-27, a valid 64Mi Deployment."""

from __future__ import annotations

import yaml
from kubernetes_validate import validate

from tests.conftest import DEMO_DIR

K8S_VERSION = "1.30.0"


def test_worker_leaks_at_lines_26_and_27() -> None:
    lines = (DEMO_DIR / "worker.c").read_text().splitlines()
    assert lines[25].strip() == "char *buffer = malloc(PAYLOAD_MB * 1024 * 1024 * sizeof(char));"
    assert lines[26].strip() == "process_work(buffer);"
    assert not any("free(buffer)" in line for line in lines)


def test_deployment_validates_offline_and_limits_memory_to_64mi() -> None:
    docs = list(yaml.safe_load_all((DEMO_DIR / "infra/kubernetes/deployment.yaml").read_text()))
    assert len(docs) == 1
    deployment = docs[0]
    validate(deployment, K8S_VERSION, strict=True)
    assert deployment["metadata"]["name"] == "ads-demo-service"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Always"
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"memory": "64Mi", "cpu": "250m"}


def test_every_core_manifest_validates() -> None:
    paths = sorted((DEMO_DIR / "infra/kubernetes").glob("*.yaml"))
    validated = 0
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("apiVersion", "").startswith(("v1", "apps/", "rbac.")):
                validate(doc, K8S_VERSION, strict=True)
                validated += 1
    assert paths and validated >= 1, f"no core manifests found under {DEMO_DIR}"
