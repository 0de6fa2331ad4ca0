"""The operator starts in the environment a kubelet gives the chart's pod.

Two things broke the first real pod: the Docker-link variables the kubelet injects for every
Service in the namespace (the chart's Service ``acm-sync-metrics`` defines
``ACM_SYNC_METRICS_PORT=tcp://10.96.0.114:8080``), and uid 65532 having no passwd entry (kopf
asked ``getpass.getuser()`` for its identity).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.kubeletkit import kubelet_env
from tests.operator.opkit import Env

pytestmark = pytest.mark.integration


def test_starts_and_syncs_with_service_links_and_a_uid_without_passwd_entry(env: Env) -> None:
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to run as a uid without a passwd entry"
    uid = 65532
    passwd = Path("/etc/passwd").read_text().splitlines()
    assert not any(line.split(":")[2:3] == [str(uid)] for line in passwd), (
        "this test needs a uid with no passwd entry"
    )
    process = env.operator("--no-leader-election", name="pod-env", **kubelet_env())
    # As the container runtime starts it: no USER or LOGNAME, and a uid unknown to passwd (a
    # user namespace maps it onto ours, so the files stay readable).
    for variable in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        process.env.pop(variable, None)
    process.env["HOME"] = "/"
    process.args = [unshare, "--user", f"--map-user={uid}", f"--map-group={uid}", *process.args]
    process.start()
    try:
        c = env.cluster
        ns = c.namespace()
        secret = tls_secret("web", TestCA().issue("web.example.com"))
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
        c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
        c.wait_reason(ns, "web", "Synced")
        log = process.log_path.read_text()
        assert "getpwuid" not in log
        assert "Traceback" not in log
    finally:
        assert process.stop() == 0, process.log_tail()
