"""Memory settings in Kubernetes manifests and their changes (pure: text in, facts out)."""

from __future__ import annotations

from pathlib import Path

from ads.analysis.manifests import (
    LimitChange,
    diff_manifests,
    limit_changes,
    parse_manifests,
    quantities_equal,
)

DEMO_DEPLOYMENT = (
    Path(__file__).resolve().parents[2]
    / "examples"
    / "ads-demo-service"
    / "infra"
    / "kubernetes"
    / "deployment.yaml"
).read_text()

MIXED = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          resources: {limits: {memory: 256Mi}}
      containers:
        - name: postgres
          resources: {limits: {memory: 1Gi}, requests: {memory: 512Mi}}
        - name: exporter
---
kind: DaemonSet
metadata: {name: agent}
spec: {template: {spec: {containers: [{name: agent, resources: {limits: {memory: 134217728}}}]}}}
---
kind: Pod
metadata: {name: debug}
spec: {containers: [{name: shell, resources: {requests: {memory: 16Mi}}}]}
---
kind: CronJob
metadata: {name: report}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: job}]}}}}}
---
just a string
---
"""


def test_demo_deployment_limit_and_request() -> None:
    scan = parse_manifests(DEMO_DEPLOYMENT)
    assert scan.problems == []
    [worker] = scan.containers
    assert (worker.workload_ref, worker.container) == ("Deployment/ads-demo-service", "worker")
    assert (worker.limit, worker.request) == ("64Mi", "32Mi")


def test_every_workload_kind_and_container_is_read_and_other_documents_ignored() -> None:
    scan = parse_manifests(MIXED)
    assert scan.problems == []
    found = {(c.workload_ref, c.container): (c.limit, c.request, c.init) for c in scan.containers}
    assert found == {
        ("StatefulSet/db", "migrate"): ("256Mi", None, True),
        ("StatefulSet/db", "postgres"): ("1Gi", "512Mi", False),
        ("StatefulSet/db", "exporter"): (None, None, False),
        ("DaemonSet/agent", "agent"): ("134217728", None, False),
        ("Pod/debug", "shell"): (None, "16Mi", False),
        ("CronJob/report", "job"): (None, None, False),
    }
    assert {c.namespace for c in scan.containers if c.workload == "db"} == {"data"}


def test_limit_lowered_from_128Mi_to_64Mi() -> None:
    old = DEMO_DEPLOYMENT.replace("memory: 64Mi", "memory: 128Mi")
    [change] = limit_changes(old, DEMO_DEPLOYMENT)
    assert change == ("Deployment/ads-demo-service", "worker", "128Mi", "64Mi")
    assert change.lowered()
    [raised] = limit_changes(DEMO_DEPLOYMENT, old)
    assert not raised.lowered()


def test_same_quantity_written_differently_is_not_a_change() -> None:
    assert limit_changes(DEMO_DEPLOYMENT, DEMO_DEPLOYMENT.replace("64Mi", "67108864")) == []
    assert quantities_equal("1Gi", "1024Mi") and not quantities_equal("1G", "1Gi")
    assert quantities_equal(None, None) and not quantities_equal(None, "1Mi")


def test_limits_set_removed_and_requests_changed() -> None:
    no_limit = DEMO_DEPLOYMENT.replace("            limits:\n              memory: 64Mi\n", "")
    assert "limits" in DEMO_DEPLOYMENT and no_limit.count("memory:") == 1
    assert limit_changes(no_limit, DEMO_DEPLOYMENT) == [
        LimitChange("Deployment/ads-demo-service", "worker", None, "64Mi")
    ]
    assert limit_changes(DEMO_DEPLOYMENT, no_limit)[0].to is None
    diff = diff_manifests(DEMO_DEPLOYMENT, DEMO_DEPLOYMENT.replace("memory: 32Mi", "memory: 16Mi"))
    assert diff.limits == [] and diff.requests == [
        LimitChange("Deployment/ads-demo-service", "worker", "32Mi", "16Mi")
    ]


def test_new_file_and_deleted_file() -> None:
    assert limit_changes(None, DEMO_DEPLOYMENT) == [
        LimitChange("Deployment/ads-demo-service", "worker", None, "64Mi")
    ]
    assert limit_changes(DEMO_DEPLOYMENT, None) == [
        LimitChange("Deployment/ads-demo-service", "worker", "64Mi", None)
    ]


def test_list_kind_is_unwrapped() -> None:
    listed = """
kind: List
items:
  - kind: Deployment
    metadata: {name: api}
    spec: {template: {spec: {containers: [{name: api, resources: {limits: {memory: 2Gi}}}]}}}
"""
    [api] = parse_manifests(listed).containers
    assert (api.workload_ref, api.limit) == ("Deployment/api", "2Gi")


def test_bad_yaml_is_a_problem_note_not_an_exception() -> None:
    broken = "kind: Deployment\nspec:\n  template: [unclosed\n"
    scan = parse_manifests(broken, source="infra/kubernetes/deployment.yaml")
    assert scan.containers == []
    [problem] = scan.problems
    assert problem.startswith("infra/kubernetes/deployment.yaml: not valid YAML at line")
    diff = diff_manifests(DEMO_DEPLOYMENT, broken, source="deployment.yaml")
    assert diff.limits == [] and diff.problems == [
        problem.replace("infra/kubernetes/deployment.yaml", "deployment.yaml (after)")
    ]
    assert limit_changes(DEMO_DEPLOYMENT, broken) == []


def test_helm_template_and_odd_shapes_do_not_raise() -> None:
    helm = "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    assert parse_manifests(helm).problems  # a template is not YAML until rendered
    odd = "kind: Deployment\nspec: {template: {spec: {containers: [42, {name: x, resources: 7}]}}}"
    [x] = parse_manifests(odd).containers
    assert (x.container, x.limit) == ("x", None)
    assert parse_manifests("").containers == [] and parse_manifests("- 1\n- 2\n").problems == []
