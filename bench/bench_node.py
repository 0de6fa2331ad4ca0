"""The chart on the real node: its build, start-up and failover times, printed (never asserted).

On the test bed's real control plane and real node (kubelet, containerd, runc, CNI; the
``real-node`` backend), with the image ``make image`` built and the ACM emulator in this
process:

1. node start: control plane up, then the node registered Ready;
2. Pod start to Ready: ``helm install`` with two replicas, then each Pod's time from its
   creation (seen by polling every 0.2 s) to Ready, and from the install to both Ready;
3. rotation with a steady leader: a Secret replaced, until ACM holds the new serial;
4. failover, leader deleted: the leader Pod deleted (graceful: it releases the Lease on
   SIGTERM) and the Secret replaced at once, until ACM holds the new serial (handled by the
   other replica);
5. failover, leader killed: the leader's container SIGKILLed (``ctr tasks kill``; no Lease
   release, the standby waits the Lease out) and the Secret replaced at once, likewise.

Needs root, ``make node-bins``, ``make cluster-bins`` and ``make image``; elsewhere it says so
and exits 0.

Usage: python bench/bench_node.py [--samples 3] [--lease 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from acm_sync_testbed.emulators.acm.server import AcmEmulator  # noqa: E402
from acm_sync_testbed.realcluster import bins  # noqa: E402
from tests.cluster_backends import _start_real_node  # noqa: E402
from tests.realcluster.nodekit import (  # noqa: E402
    IMAGE_ARCHIVE,
    ChartOnNode,
    import_image,
)

CERT = "bench"


def _fmt(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    return (
        f"median {statistics.median(samples):6.2f} s  min {min(samples):6.2f} s  "
        f"max {max(samples):6.2f} s  (n={len(samples)})"
    )


def pod_start_to_ready(chart: ChartOnNode, lease: int) -> tuple[list[float], float]:
    """Install with two replicas; each Pod's first-seen -> Ready, and install -> all Ready."""
    began = time.monotonic()
    chart.install(replicas=2, lease_seconds=lease)
    seen: dict[str, float] = {}
    ready: dict[str, float] = {}
    deadline = began + 300
    while len(ready) < 2 and time.monotonic() < deadline:
        now = time.monotonic()
        for pod in chart.pods():
            seen.setdefault(pod["metadata"]["name"], now)
        for pod in chart.ready_pods():
            ready.setdefault(pod["metadata"]["name"], now)
        time.sleep(0.2)
    if len(ready) < 2:
        raise SystemExit(f"the Pods did not become Ready: {chart.describe()}")
    return [ready[name] - seen[name] for name in ready], max(ready.values()) - began


def rotation(chart: ChartOnNode) -> float:
    began = time.monotonic()
    chart.wait_in_acm(CERT, chart.put_secret(CERT))
    return time.monotonic() - began


def failover(chart: ChartOnNode, kill: bool) -> float:
    """Leader deleted (or its container killed) -> the next rotation in ACM."""
    chart.wait_ready(2)
    leader = chart.holder()
    assert leader is not None
    began = time.monotonic()
    if kill:
        pod = next(p for p in chart.pods() if p["metadata"]["name"] == leader)
        container = pod["status"]["containerStatuses"][0]["containerID"].split("//", 1)[1]
        chart.node.ctr("tasks", "kill", "--signal", "SIGKILL", container)
    else:
        chart.delete_pod(leader)
    chart.wait_in_acm(CERT, chart.put_secret(CERT), timeout=180)
    took = time.monotonic() - began
    new = chart.holder()
    if new == leader:
        raise SystemExit(f"the rotation was handled by the old leader {leader} again")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--lease", type=int, default=15, help="leaderElection.leaseDuration")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_node: needs root (a kubelet and containerd); skipped")
        return 0
    try:
        bins.find()
        bins.find_node()
    except bins.BinariesMissing as missing:
        print(f"bench_node: {missing}; skipped")
        return 0
    # What testbed/node/build.sh recorded when it built this folder: cold only where the Go
    # build cache held no more than the control plane's build (the order make test builds in).
    times = bins.find_node() / "build-times.txt"
    first = times.read_text().splitlines()[0] if times.is_file() else "not recorded"
    print(f"node programs' build: {first}")
    if not IMAGE_ARCHIVE.exists():
        print(f"bench_node: no {IMAGE_ARCHIVE} (make image); skipped")
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        began = time.monotonic()
        backend = _start_real_node(Path(tmp))
        api = next(backend)
        acm = AcmEmulator().start()
        try:
            print(f"node start (control plane + node Ready): {time.monotonic() - began:6.1f} s")
            chart = ChartOnNode(api, acm, Path(tmp) / "helm", import_image(api))
            per_pod, both = pod_start_to_ready(chart, args.lease)
            print(f"Pod start -> Ready (each Pod):            {_fmt(per_pod)}")
            print(f"helm install -> both replicas Ready:      {both:6.2f} s")
            chart.create_cert(CERT)
            chart.wait_in_acm(CERT, chart.put_secret(CERT))
            steady = [rotation(chart) for _ in range(args.samples)]
            print(f"rotation -> in ACM, steady leader:        {_fmt(steady)}")
            deleted = [failover(chart, kill=False) for _ in range(args.samples)]
            print(f"failover, leader Pod deleted -> rotation: {_fmt(deleted)}")
            killed = [failover(chart, kill=True) for _ in range(args.samples)]
            print(f"failover, leader killed -> rotation:      {_fmt(killed)}  "
                  f"(lease {args.lease} s)")  # fmt: skip
            chart.uninstall()
            chart.close()
        finally:
            acm.stop()
            backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
