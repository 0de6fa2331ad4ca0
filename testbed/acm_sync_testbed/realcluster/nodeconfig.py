"""The node's configuration files: containerd, CNI, kubelet, and the pause image's OCI archive.

Every path a program would otherwise take from the host (``/etc/cni``, ``/opt/cni/bin``,
``/var/lib/kubelet``, ``/var/lib/containerd``, ``/opt/containerd``, ``/var/log/pods``) is set
to the node's working directory; what cannot be set (libcni's cache in ``/var/lib/cni``, the
kubelet's ``/var/log/containers``, containerd's state in ``/run``) lands on tmpfs mounts of
the node's private mount namespace (``node.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

# The image containerd runs as each Pod's sandbox: the kubelet's default, never pulled (the
# test bed builds it from the pinned Kubernetes module's pause.c and imports it).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.2"
POD_SUBNET = "10.88.0.0/24"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
# The kubelet's cgroup-v1 tunables (pkg/kubelet/cm setupKernelTunables): global kernel
# settings, so the node's mount namespace puts writable stand-ins over them.
KUBELET_TUNABLES = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)


@dataclass(frozen=True)
class NodePaths:
    """Where the node's programs keep their state, all under one working directory."""

    workdir: Path

    @property
    def containerd_root(self) -> Path:
        return self.workdir / "containerd"

    @property
    def containerd_config(self) -> Path:
        return self.workdir / "containerd.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.workdir / "cni" / "net.d"

    @property
    def kubelet_root(self) -> Path:
        return self.workdir / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.workdir / "kubelet.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.workdir / "kubelet.kubeconfig"

    @property
    def pod_logs(self) -> Path:
        return self.workdir / "pod-logs"

    @property
    def masks(self) -> Path:
        return self.workdir / "sysctl-masks"


def _toml_str(value: str | Path) -> str:
    return json.dumps(str(value))


def containerd_config(paths: NodePaths, bins: Path) -> str:
    """containerd's config (schema version 3, containerd 2.x) for a node in its own namespace."""
    return f"""version = 3
root = {_toml_str(paths.containerd_root / "root")}
state = "/run/containerd/state"
# Snapshotters that need kernel features or headers the node does not use.
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.nri.v1.nri",
]

[grpc]
  address = {_toml_str(CONTAINERD_SOCKET)}

[plugins.'io.containerd.internal.v1.opt']
  path = {_toml_str(paths.containerd_root / "opt")}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = {_toml_str(PAUSE_IMAGE)}

[plugins.'io.containerd.cri.v1.runtime']
  # root lacks CAP_SYS_RESOURCE here: no container may ask for a lower OOM score than
  # containerd's own.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [{_toml_str(bins / "cni")}]
    conf_dir = {_toml_str(paths.cni_conf_dir)}
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = {_toml_str(bins / "runc")}
        SystemdCgroup = false
"""


def cni_config(paths: NodePaths) -> dict[str, object]:
    """One bridge network: Pods on ``cni0``, whose address is their default gateway.

    No masquerading (it needs iptables): a Pod only ever talks to the node's own addresses,
    where the forwarder listens.
    """
    return {
        "cniVersion": "1.0.0",
        "name": "acm-sync-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "isDefaultGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "dataDir": str(paths.workdir / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(paths: NodePaths, *, ca_cert: Path, cgroup_root: str) -> dict[str, object]:
    """The KubeletConfiguration: cgroup v1 with the cgroupfs driver, state in the workdir."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This machine is cgroup v1; the kubelet refuses it unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        # Every cgroup the node makes lives under this one, so stop() can remove them all.
        "cgroupRoot": cgroup_root,
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "podLogsDir": str(paths.pod_logs),
        "resolvConf": str(paths.workdir / "resolv.conf"),
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "readOnlyPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_cert)},
        },
        # The kubelet's port is only reachable inside the node's network namespace.
        "authorization": {"mode": "AlwaysAllow"},
        # A shared machine's disk and memory are not this node's to guard.
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "maxPods": 30,
        "serializeImagePulls": False,
        "nodeStatusReportFrequency": "10s",
    }  # fmt: skip


def pause_archive(pause_binary: Path) -> bytes:
    """An OCI image archive holding ``/pause`` as its entrypoint, named ``PAUSE_IMAGE``."""
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
        info = tarfile.TarInfo("pause")
        data = pause_binary.read_bytes()
        info.size, info.mode = len(data), 0o755
        layer.addfile(info, io.BytesIO(data))
    layer_bytes = layer_buf.getvalue()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer_bytes)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar", layer_bytes)],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    **_descriptor("application/vnd.oci.image.manifest.v1+json", manifest),
                    "annotations": {"io.containerd.image.name": PAUSE_IMAGE},
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        entries = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
        for blob in (layer_bytes, config, manifest):
            entries["blobs/sha256/" + _digest(blob).split(":", 1)[1]] = blob
        for name, blob in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
    return out.getvalue()


def _digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _descriptor(media_type: str, blob: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _digest(blob), "size": len(blob)}
