"""Heap flags, worker counts and changed manifest settings, read the way the runtimes read them."""

from __future__ import annotations

from ads.analysis.hypotheses import Evidence, ManifestContainer, RuntimeHeap
from ads.analysis.manifests import parse_manifests
from ads.analysis.settings import flags_of, heap_settings, manifest_setting_edits
from ads.models import FileChange, Verdict
from tests.fixtures.causes import deployment

MiB = 1024 * 1024


def container(limit: str, **kwargs: object) -> ManifestContainer:
    text = deployment(limit, **kwargs)  # type: ignore[arg-type]
    (found,) = parse_manifests(text).containers
    return ManifestContainer("deploy.yaml", found, text)


def test_flags_take_the_forms_runtimes_accept() -> None:
    assert flags_of(["-Xms64m -Xmx512m", "--workers", "8", "--max-old-space-size=96"]) == {
        "-Xms": "64m",
        "-Xmx": "512m",
        "--workers": "8",
        "--max-old-space-size": "96",
    }


def test_heap_settings_from_env_and_args() -> None:
    jvm = container("256Mi", env={"JAVA_OPTS": "-XX:MaxRAMPercentage=95"}).container
    (setting,) = heap_settings(jvm)
    assert setting.heap_bytes == int(256 * MiB * 0.95)
    node = container("64Mi", args=["node", "--max-old-space-size=96", "app.js"]).container
    assert [s.heap_bytes for s in heap_settings(node)] == [96 * MiB]
    go = container("64Mi", env={"GOMEMLIMIT": "128MiB"}).container
    assert [s.heap_bytes for s in heap_settings(go)] == [128 * MiB]


def test_a_heap_inside_the_limit_is_rejected_and_workers_times_held_is_not() -> None:
    fits = Evidence(containers=[container("256Mi", env={"JAVA_OPTS": "-Xmx128m"})])
    assert RuntimeHeap().judge(fits, []).verdict is Verdict.REJECTED
    workers = Evidence(held=20 * MiB, containers=[container("64Mi", args=["--workers", "4"])])
    judged = RuntimeHeap().judge(workers, [])
    assert judged.verdict is Verdict.SUPPORTED
    assert "4 workers × ≥ 20.0 MiB each" in judged.reasons[0]


def test_a_changed_limit_and_env_var_carry_their_new_lines() -> None:
    old = deployment("128Mi", env={"CACHE_MB": "16"})
    new = deployment("32Mi", env={"CACHE_MB": "96"})
    diff = "".join(
        f"+{line}\n" if line not in old.splitlines() else f" {line}\n" for line in new.splitlines()
    )
    change = FileChange(path="deploy.yaml", status="M", diff="@@ -1 +1 @@\n" + diff,
                        old_text=old, new_text=new)  # fmt: skip
    edits = {(e.kind, e.name): e for e in manifest_setting_edits(change)}
    limit = edits["limit", "worker"]
    assert (limit.from_, limit.to, limit.text) == ("128Mi", "32Mi", "memory: 32Mi")
    assert limit.line == new.splitlines().index("              memory: 32Mi") + 1
    cache = edits["env", "CACHE_MB"]
    assert (cache.from_, cache.to) == ("16", "96") and cache.text == 'value: "96"'
