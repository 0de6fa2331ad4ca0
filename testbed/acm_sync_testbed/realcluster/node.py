"""``RealNode``: a kubelet, containerd, runc and CNI in namespaces of their own, for a RealCluster.

The machine's network, kernel settings, cgroup mounts and firewall belong to the machine. The
node therefore runs in a mount and a network namespace of its own (``unshare``), held open by
one idle process:

- its network has only a loopback (with the node's addresses) and the CNI bridge ``cni0`` the
  Pods hang off; ``netforward`` carries Pod traffic for the API server (``10.96.0.1:443``, the
  ``kubernetes`` Service) and for anything ``expose()``d to the host's loopback;
- in its mount namespace ``/run``, ``/var/lib`` and ``/var/log`` are fresh tmpfs (containerd's
  state, libcni's cache, Pod network namespaces, ``/var/log/containers``), ``/proc/sys`` is
  read-only but for this namespace's own ``net/`` subtree, and the kubelet's global tunables
  are writable files standing in for the real entries;
- every cgroup it makes is under ``/acm-sync-node-<id>``, removed by ``stop()``.

``stop()`` leaves nothing: no process, mount, namespace or cgroup. A run killed before it could
stop its node is cleaned up by the next ``start()`` (``nodesweep``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from acm_sync_testbed.realcluster import nodeconfig, nodesweep, pki
from acm_sync_testbed.realcluster.cluster import RealCluster, _wait
from acm_sync_testbed.realcluster.nodeconfig import NodePaths
from acm_sync_testbed.realcluster.processes import ProcessFailed, Supervised

NODE_NAME = "acm-sync-node"
API_ADDRESS = "10.96.0.1"  # the kubernetes Service's ClusterIP: Pods' in-cluster config uses it
HOST_ADDRESS = "10.89.0.1"  # where Pods reach an expose()d host port
NODE_IP = "10.89.0.2"
_CGROUP_FS = Path("/sys/fs/cgroup")

# Runs inside the new namespaces, then becomes the idle process that holds them.
_SETUP = r"""
set -eu
masks=$1; ready=$2; shift 2
ip link set lo up
for address in "$@"; do ip addr add "$address/32" dev lo; done
mount -t tmpfs -o mode=755 node-run /run
mount -t tmpfs -o mode=755 node-var-lib /var/lib
mount -t tmpfs -o mode=755 node-var-log /var/log
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
for entry in $(cd "$masks" && find . -type f); do
    mount --bind "$masks/$entry" "/proc/sys/$entry"
done
touch "$ready"
exec sleep infinity
"""


class RealNode:
    """One node of ``cluster``: ``start()``, ``import_image()``, ``expose()``, ``stop()``."""

    def __init__(self, cluster: RealCluster, bins: Path, *, workdir: Path | None = None) -> None:
        self.cluster = cluster
        self.bins = bins
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="acm-sync-node-"))
        self.paths = NodePaths(self.workdir)
        self.node_id = uuid.uuid4().hex[:8]
        self.cgroup_root = f"/{nodesweep.CGROUP_PREFIX}{self.node_id}"
        self._lock: int | None = None
        self.holder: Supervised | None = None
        self.processes: list[Supervised] = []
        self.exposed: dict[int, tuple[str, int]] = {}
        # The host's values of the kubelet's tunables before the node started.
        self.host_tunables: dict[str, str] = {}
        self.started_in = 0.0

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> RealNode:
        """Start the namespaces, containerd, kube-scheduler and the kubelet; wait for Ready."""
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _start(self) -> None:
        swept = nodesweep.sweep()
        if swept:
            self.cluster.say(f"removed what killed runs left of nodes {', '.join(swept)}")
        self._lock = nodesweep.claim(self.node_id)
        for path in ("/run", "/var/lib", "/var/log"):
            if self.workdir.resolve().is_relative_to(path):
                raise ProcessFailed(f"the node's workdir may not be under {path}: {self.workdir}")
        self._write_configs()
        self._make_cgroup_root()
        ready = self.workdir / "namespaces.ready"
        self.holder = Supervised(
            "node-namespaces",
            ["unshare", "--mount", "--net", "--propagation", "private", "--", "sh", "-c",
             _SETUP, "setup", str(self.paths.masks), str(ready),
             API_ADDRESS, HOST_ADDRESS, NODE_IP],
            self.workdir / "node-namespaces.log",
            self._env(),
        ).start()  # fmt: skip
        _wait(ready.exists, "the node's namespaces", [self.holder], 30)
        self._forward(f"{API_ADDRESS}:443", self.cluster.port)
        containerd = self._run_inside("containerd", ["--config", str(self.paths.containerd_config)])
        socket = self.in_node(nodeconfig.CONTAINERD_SOCKET)
        _wait(socket.exists, "containerd's socket", [containerd], 60)
        pause = self.workdir / "pause.oci.tar"
        pause.write_bytes(nodeconfig.pause_archive(self.bins / "pause"))
        self.import_image(pause)
        self._run_host("kube-scheduler", self._scheduler_args())
        kubelet = self._run_inside("kubelet", self._kubelet_args())
        _wait(self._node_ready, f"node {NODE_NAME} to be Ready", [containerd, kubelet], 120)
        self.cluster.say(f"node {NODE_NAME} Ready")

    def stop(self) -> None:
        """Stop everything the node started and remove what it made; idempotent."""
        kubelet = [p for p in self.processes if p.name == "kubelet"]
        for process in kubelet:
            process.stop()
        self._kill_cgroups()
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.holder is not None:
            self._kill_namespace_members()
            self.holder.stop()
            self.holder = None
        try:
            self._remove_cgroups()
        finally:
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if self._lock is not None:
            nodesweep.release(self._lock, self.node_id)
            self._lock = None

    def check(self) -> None:
        """Raise ProcessFailed if any program of the node has exited."""
        for process in [*([self.holder] if self.holder else []), *self.processes]:
            process.check()

    # ---- for tests ---------------------------------------------------------------------

    def in_node(self, path: str) -> Path:
        """``path`` as the node's programs see it (through the holder's mount namespace)."""
        return Path(f"/proc/{self._holder_pid()}/root") / path.lstrip("/")

    def ctr(self, *args: str, timeout: float = 300) -> str:
        """``ctr`` in the Kubernetes namespace of the node's containerd; its stdout."""
        result = subprocess.run(
            [*self._nsenter(), str(self.bins / "ctr"), "--address",
             nodeconfig.CONTAINERD_SOCKET, "--namespace", "k8s.io", *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ProcessFailed(f"ctr {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def import_image(self, archive: Path) -> list[str]:
        """Load an OCI/Docker image archive into the node's containerd; the names it holds."""
        before = set(self.image_names())
        self.ctr("images", "import", "--all-platforms", str(archive))
        return sorted(set(self.image_names()) - before) or sorted(before)

    def image_names(self) -> list[str]:
        """The image names the node's containerd holds."""
        return [line for line in self.ctr("images", "list", "--quiet").splitlines() if line]

    def expose(self, host_port: int) -> tuple[str, int]:
        """Make the host's 127.0.0.1:``host_port`` reachable from Pods; (address, port)."""
        if host_port not in self.exposed:
            self._forward(f"{HOST_ADDRESS}:{host_port}", host_port)
            self.exposed[host_port] = (HOST_ADDRESS, host_port)
        return self.exposed[host_port]

    def kubelet_get(self, path: str) -> str:
        """GET ``path`` from the kubelet's HTTPS port (inside the node's network namespace),
        as the cluster admin; e.g. ``/metrics/probes``."""
        assert self.cluster.pki is not None
        # The kubelet's serving certificate is self-signed and the port is reachable from this
        # namespace only: the client authenticates, the server is not verified.
        script = (
            "import ssl, sys, urllib.request as r\n"
            "c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
            "c.check_hostname = False\n"
            "c.verify_mode = ssl.CERT_NONE\n"
            "c.load_cert_chain(sys.argv[2], sys.argv[3])\n"
            "sys.stdout.write(r.urlopen(sys.argv[1], context=c, timeout=10).read().decode())\n"
        )
        pki_ = self.cluster.pki
        result = subprocess.run(
            [*self._nsenter(), sys.executable, "-c", script,
             f"https://127.0.0.1:10250{path}", str(pki_.admin_cert), str(pki_.admin_key)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ProcessFailed(f"kubelet GET {path}: {result.stderr.strip()[-500:]}")
        return result.stdout

    def run_in_network(self, name: str, argv: list[str]) -> Supervised:
        """Start ``argv`` in the node's network namespace (only), supervised with the node's."""
        netns = ["nsenter", f"--target={self._holder_pid()}", "--net", "--"]
        process = Supervised(name, [*netns, *argv], self.workdir / f"{name}.log", self._env())
        self.processes.append(process.start())
        return process

    def http_get(self, url: str) -> str:
        """GET ``url`` from inside the node's network namespace (as a Pod on it would)."""
        script = "import sys, urllib.request as r; print(r.urlopen(sys.argv[1]).read().decode())"
        result = subprocess.run(
            [*self._nsenter(), sys.executable, "-c", script, url],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ProcessFailed(f"GET {url}: {result.stderr.strip()[-500:]}")
        return result.stdout

    def pod_log(self, namespace: str, pod: str, container: str) -> str:
        """The log of ``container``'s latest run in Pod ``namespace/pod`` (read from disk)."""
        runs = sorted(self.paths.pod_logs.glob(f"{namespace}_{pod}_*/{container}/*.log"))
        return runs[-1].read_text(errors="replace") if runs else ""

    # ---- programs ----------------------------------------------------------------------

    def _holder_pid(self) -> int:
        if self.holder is None or self.holder.process is None:
            raise ProcessFailed("the node's namespaces are not started")
        return self.holder.process.pid

    def _nsenter(self) -> list[str]:
        return ["nsenter", f"--target={self._holder_pid()}", "--mount", "--net", "--"]

    def _env(self) -> dict[str, str]:
        # containerd finds containerd-shim-runc-v2 on PATH; the marker lets the next run find
        # this node's programs if this one is killed (containerd hands it on to the shims).
        return {
            **os.environ,
            "PATH": f"{self.bins}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            nodesweep.MARKER: self.node_id,
        }

    def _run_inside(self, name: str, args: list[str]) -> Supervised:
        argv = [*self._nsenter(), str(self.bins / name), *args]
        process = Supervised(name, argv, self.workdir / f"{name}.log", self._env()).start()
        self.processes.append(process)
        return process

    def _run_host(self, name: str, args: list[str]) -> Supervised:
        argv = [str(self.bins / name), *args]
        process = Supervised(name, argv, self.workdir / f"{name}.log", self._env()).start()
        self.processes.append(process)
        return process

    def _forward(self, listen: str, host_port: int) -> None:
        name = f"netforward-{listen.replace(':', '-')}"
        log = self.workdir / f"{name}.log"
        process = Supervised(
            name,
            [sys.executable, "-m", "acm_sync_testbed.realcluster.netforward",
             f"--netns=/proc/{self._holder_pid()}/ns/net",
             f"{listen}=127.0.0.1:{host_port}"],
            log,
            self._env(),
        ).start()  # fmt: skip
        self.processes.append(process)
        _wait(lambda: "forwarding" in process.log_tail(), name, [process], 30)

    def _scheduler_args(self) -> list[str]:
        return [
            f"--kubeconfig={self.cluster.workdir / 'admin.kubeconfig'}",
            "--leader-elect=false",
            "--secure-port=0",
            "--v=1",
        ]

    def _kubelet_args(self) -> list[str]:
        return [
            f"--config={self.paths.kubelet_config}",
            f"--kubeconfig={self.paths.kubelet_kubeconfig}",
            f"--root-dir={self.paths.kubelet_root}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
            "--v=1",
        ]

    def _write_configs(self) -> None:
        assert self.cluster.pki is not None
        paths = self.paths
        for directory in (paths.containerd_root, paths.cni_conf_dir, paths.kubelet_root,
                          paths.pod_logs, paths.masks):  # fmt: skip
            directory.mkdir(parents=True, exist_ok=True)
        paths.containerd_config.write_text(nodeconfig.containerd_config(paths, self.bins))
        (paths.cni_conf_dir / "10-acm-sync-node.conflist").write_text(
            json.dumps(nodeconfig.cni_config(paths), indent=2)
        )
        (paths.workdir / "resolv.conf").write_text("# the test bed's Pods resolve no names\n")
        config = nodeconfig.kubelet_config(
            paths, ca_cert=self.cluster.pki.ca_cert, cgroup_root=self.cgroup_root
        )
        paths.kubelet_config.write_text(yaml.safe_dump(config))
        for entry in nodeconfig.KUBELET_TUNABLES:
            mask = paths.masks / entry
            mask.parent.mkdir(parents=True, exist_ok=True)
            self.host_tunables[entry] = Path("/proc/sys", entry).read_text()
            mask.write_text(self.host_tunables[entry])
        cert, key = pki.issue_client(
            self.cluster.pki, self.workdir / "pki", f"system:node:{NODE_NAME}", "system:nodes"
        )
        kubeconfig = self.cluster.kubeconfig()
        kubeconfig["clusters"][0]["cluster"]["server"] = f"https://{API_ADDRESS}:443"
        kubeconfig["users"][0]["user"] = {
            "client-certificate": str(cert), "client-key": str(key)
        }  # fmt: skip
        paths.kubelet_kubeconfig.write_text(yaml.safe_dump(kubeconfig))
        paths.kubelet_kubeconfig.chmod(0o600)

    # ---- readiness and cleanup ---------------------------------------------------------

    def node(self) -> dict[str, Any] | None:
        """The Node object, or None before the kubelet registered it."""
        status, body = self.cluster.request("GET", f"/api/v1/nodes/{NODE_NAME}")
        return body if status == 200 else None

    def _node_ready(self) -> bool:
        node = self.node()
        conditions = ((node or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def _make_cgroup_root(self) -> None:
        """The kubelet wants its cgroupRoot to exist in every hierarchy; a new cpuset cgroup
        has no CPUs or memory nodes until given its parent's."""
        for hierarchy in _CGROUP_FS.iterdir():
            if not (hierarchy / "cgroup.procs").exists():
                continue
            top = hierarchy / self.cgroup_root.lstrip("/")
            top.mkdir(exist_ok=True)
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if (top / knob).exists():
                    (top / knob).write_text((hierarchy / knob).read_text())

    def _cgroup_dirs(self) -> list[Path]:
        return nodesweep.cgroups(self.node_id, _CGROUP_FS)

    def _kill_cgroups(self) -> None:
        nodesweep.kill_contained(self.node_id, _CGROUP_FS)

    def _kill_namespace_members(self) -> None:
        """SIGKILL every process left in the node's mount namespace (containerd's shims)."""
        holder = self._holder_pid()
        try:
            namespace = os.readlink(f"/proc/{holder}/ns/mnt")
        except OSError:
            return
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != holder:
                try:
                    if os.readlink(entry / "ns" / "mnt") == namespace:
                        _kill(int(entry.name))
                except OSError:
                    continue

    def _remove_cgroups(self) -> None:
        deadline = time.monotonic() + 10
        while (left := self._cgroup_dirs()) and time.monotonic() < deadline:
            for cgroup in left:
                with contextlib.suppress(OSError):
                    cgroup.rmdir()
            time.sleep(0.1)
        if left:
            raise ProcessFailed(f"cgroups of the node still busy: {[str(p) for p in left]}")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
