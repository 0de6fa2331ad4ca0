"""A killed run's node leftovers are removed by the next run; a live run's node is left alone.

A run killed with SIGKILL leaves what its node started (processes carrying the node's marker,
containers in its cgroups ``/acm-sync-node-<id>``). Here a child process plays that run: it
claims a node id, starts a marked process and puts another in the node's cgroups, and is then
SIGKILLed. ``nodesweep.sweep()`` (what every ``RealNode.start()`` runs first) must remove all
of it and nothing of the session's own live node.

    ACM_SYNC_TEST_BACKENDS=real-node .venv/bin/pytest tests/realcluster/test_node_sweep.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from acm_sync_testbed.realcluster import nodesweep
from tests.cluster_backends import RealApi
from tests.operator.opkit import wait_for

pytestmark = [pytest.mark.real_node, pytest.mark.integration]

# The killed run: claims the node id, starts a marked process and a process in the node's
# cgroups (every hierarchy, as the kubelet's containers are), reports their pids, then waits
# to be killed.
_KILLED_RUN = r"""
import json, os, subprocess, sys, time
from pathlib import Path
from acm_sync_testbed.realcluster import nodesweep
node_id = sys.argv[1]
nodesweep.claim(node_id)
env = {**os.environ, nodesweep.MARKER: node_id}
marked = subprocess.Popen(["sleep", "600"], env=env, start_new_session=True)
contained = subprocess.Popen(["sleep", "600"], start_new_session=True)
for hierarchy in Path("/sys/fs/cgroup").iterdir():
    if not (hierarchy / "cgroup.procs").exists():
        continue
    cgroup = hierarchy / f"{nodesweep.CGROUP_PREFIX}{node_id}" / "pod"
    cgroup.mkdir(parents=True)
    for knob in ("cpuset.cpus", "cpuset.mems"):
        for level in (cgroup.parent, cgroup):
            if (level / knob).exists():
                (level / knob).write_text((hierarchy / knob).read_text())
    (cgroup / "cgroup.procs").write_text(str(contained.pid))
print(json.dumps([marked.pid, contained.pid]), flush=True)
time.sleep(600)
"""


def _roots(node_id: str) -> set[Path]:
    return {c for c in nodesweep.cgroups(node_id) if c.name == nodesweep.CGROUP_PREFIX + node_id}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_runs_node_is_swept_and_a_live_one_is_not(real_node: RealApi) -> None:
    from acm_sync_testbed.realcluster.node import RealNode

    live = real_node.node
    assert isinstance(live, RealNode)
    # Its roots, one per hierarchy (what is under them comes and goes with Pods).
    live_cgroups = _roots(live.node_id)
    # Its programs (containerd, the kubelet, ...; shims come and go with Pods).
    supervised = [live.holder, *live.processes]
    live_processes = {p.process.pid for p in supervised if p is not None and p.process}
    assert live_cgroups, "the session's node has cgroups"
    assert live_processes <= nodesweep.marked_processes(live.node_id), "unmarked programs"

    node_id = f"killed{uuid.uuid4().hex[:6]}"
    run = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, node_id], stdout=subprocess.PIPE, text=True
    )
    assert run.stdout is not None
    pids = json.loads(run.stdout.readline())
    os.kill(run.pid, signal.SIGKILL)
    run.wait(10)
    left = [pid for pid in pids if _alive(pid)]
    assert left == pids, "the killed run's processes outlive it (what the sweep is for)"
    assert nodesweep.cgroups(node_id)

    try:
        swept = nodesweep.sweep()
        assert node_id in swept
        assert live.node_id not in swept
        wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=10,
                 what="the killed run's processes to be gone")  # fmt: skip
        assert nodesweep.cgroups(node_id) == []
        assert not (nodesweep.STATE_DIR / f"{node_id}.lock").exists()
        # The live node keeps everything, and its lock.
        assert _roots(live.node_id) == live_cgroups
        assert live_processes <= nodesweep.marked_processes(live.node_id)
        assert (nodesweep.STATE_DIR / f"{live.node_id}.lock").exists()
        live.check()
    finally:
        nodesweep.remove_node(node_id)
