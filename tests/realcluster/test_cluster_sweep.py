"""A killed run's control plane is stopped by the next cluster's start; a live one is left alone.

A test run killed with SIGKILL never calls ``RealCluster.stop()``: etcd and kube-apiserver run
on in process groups of their own, with their temporary directory. Here a child process plays
that run: it starts a cluster, reports the programs' pids and its working directory, and is
SIGKILLed. ``clustersweep.sweep()`` (what every ``RealCluster.start()`` runs first) must stop
those programs and remove the directory, and leave the session's own live cluster serving.

    ACM_SYNC_TEST_BACKENDS=real .venv/bin/pytest tests/realcluster/test_cluster_sweep.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from acm_sync_testbed.realcluster import clustersweep
from tests.cluster_backends import RealApi
from tests.kube.kubekit import new_client
from tests.operator.opkit import wait_for

pytestmark = [pytest.mark.integration]

# The killed run: a control plane without cert-manager (nothing here needs it), its programs'
# pids and working directory on stdout, then a wait to be killed.
_KILLED_RUN = r"""
import json, sys, time
from pathlib import Path
from acm_sync_testbed.realcluster import bins
from acm_sync_testbed.realcluster.cluster import RealCluster
cluster = RealCluster(bins.find(Path(sys.argv[1])), cert_manager=False).start()
print(json.dumps({"pids": [p.process.pid for p in cluster.processes],
                  "workdir": str(cluster.workdir), "id": cluster.cluster_id}), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has stopped; only its parent (gone: init) has yet to reap it.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_runs_control_plane_is_stopped_and_its_directory_removed(
    real_backend: RealApi,
) -> None:
    bin_dir = str(real_backend.cluster.bins.folder)  # type: ignore[attr-defined]
    run = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, bin_dir],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert run.stdout is not None
    line = run.stdout.readline()
    assert line, f"the killed run did not start its cluster (exit {run.wait()})"
    left = json.loads(line)
    run.send_signal(signal.SIGKILL)
    run.wait()
    pids, workdir = left["pids"], Path(left["workdir"])
    # What makes the sweep necessary: the killed run's programs outlive it.
    assert all(_alive(pid) for pid in pids), "the programs died with their run"
    assert workdir.is_dir()

    swept = clustersweep.sweep()

    assert left["id"] in swept
    wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=20)
    assert not workdir.exists()
    assert not (clustersweep.state_dir() / f"{left['id']}.lock").exists()
    # The session's own cluster holds its lock: untouched, still serving.
    api = client.CoreV1Api(new_client(real_backend.kubeconfig))
    assert api.list_namespace().items
