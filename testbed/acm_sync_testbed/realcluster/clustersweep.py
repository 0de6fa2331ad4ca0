"""What a killed run leaves of its control plane, found and removed by the next cluster's start.

``RealCluster.stop()`` stops its programs, but a test run killed with SIGKILL (a CI timeout, a
Ctrl-\\ of pytest) never calls it: etcd, kube-apiserver, the controller-manager and cert-manager
run on, each in a process group of its own, holding ports, memory and a temporary directory.
Several runs may share the machine, so a leftover is recognised by its owner being gone (the
same owner lock as a node's, ``nodesweep``), never by a program's name:

- each cluster holds an exclusive ``flock`` on ``<state dir>/<id>.lock`` for its lifetime, with
  its working directory noted in the file;
- every program it starts carries ``ACM_SYNC_CLUSTER_ID=<id>`` in its environment.

The state directory is per user (the control plane runs without root).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from acm_sync_testbed.realcluster import nodesweep

MARKER = "ACM_SYNC_CLUSTER_ID"


def state_dir() -> Path:
    """Where this user's clusters keep their owner locks."""
    return Path(tempfile.gettempdir()) / f"acm-sync-clusters-{os.getuid()}"


def claim(cluster_id: str, workdir: Path, own_workdir: bool, say: Callable[[str], None]) -> int:
    """Sweep, then take cluster ``cluster_id``'s owner lock; a temporary ``workdir`` is noted
    for a later sweep."""
    if swept := sweep():
        say(f"removed the control planes of killed runs: {', '.join(swept)}")
    return nodesweep.claim(cluster_id, state_dir(), str(workdir) if own_workdir else "")


def release(fd: int, cluster_id: str) -> None:
    """Give up the lock ``claim`` returned, once the cluster has stopped."""
    nodesweep.release(fd, cluster_id, state_dir())


def sweep() -> list[str]:
    """Kill the programs of every cluster whose owner is gone, remove its temporary directory."""
    return nodesweep.sweep_dead_owners(state_dir(), _remove)


def _remove(cluster_id: str, lock: Path) -> None:
    nodesweep.kill_until_none(lambda: nodesweep.marked_processes(cluster_id, MARKER))
    workdir = nodesweep.owner_note(lock)
    # Only a directory the cluster made for itself under the temporary root, never a caller's.
    if workdir and Path(workdir).name.startswith("acm-sync-cluster-"):
        shutil.rmtree(workdir, ignore_errors=True)
