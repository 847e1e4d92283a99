"""``ads watch`` as a process: recorded Kubernetes API in, PagerDuty incident out.

No cluster can run here: the Kubernetes side is the loopback server replaying recorded API shapes
(tests/fixtures/kubernetes.py); ``ads watch``, the official client, the outbox and the local
PagerDuty server are all real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty
from tests.fixtures.kubernetes import RecordedKubeApi, WatchSession, recorded, recorded_stream


def test_watch_pages_pagerduty_for_each_new_kill(
    tmp_path: Path, local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    config = tmp_path / "ads.yaml"
    config.write_text(
        yaml.safe_dump(
            {"services": {"ads-demo-service": {"kubernetes": {
                "namespace": "default", "deployment": "ads-demo-service", "container": "worker",
                "label_selector": "app.kubernetes.io/name=ads-demo-service"}}}}
        )
    )  # fmt: skip
    env = {
        **os.environ,
        "PAGERDUTY_API_TOKEN": local_pagerduty.token,
        "PAGERDUTY_API_HOST": local_pagerduty.api_url,
        "ADS_PAGERDUTY_CA": str(local_pagerduty.ca_file),
        "PAGERDUTY_ROUTING_KEY": local_pagerduty.routing_key("ads-demo-service"),
    }
    with RecordedKubeApi(tmp_path) as api:
        api.add_demo_owners()
        api.script.pod_lists = [recorded("podlist_initial.json")]
        api.script.watches = [WatchSession(recorded_stream("watch_session1_kill3.ndjson"))]
        proc = subprocess.Popen(
            [sys.executable, "-m", "ads", "watch", "--config", str(config),
             "--kubeconfig", str(api.kubeconfig), "--max-kill-age", "0"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                incidents = pagerduty_client.list_incidents()
                if incidents and len(pagerduty_client.get_incident(incidents[0].id).alerts) >= 2:
                    break
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    (incident,) = pagerduty_client.list_incidents()
    full = pagerduty_client.get_incident(incident.id)
    assert len(full.alerts) >= 2, out + err  # the listed kill and the watched one, one incident
    details = full.alerts[0].custom_details
    assert details["workload"] == "ads-demo-service" and details["memory_limit"] == "64Mi"
    assert details["exit_code"] == 137
    assert "Traceback" not in err
