"""Where the test bed's real programs are: the folder ``make cluster-bins`` prints last.

The binaries are built from the pinned Go modules in ``testbed/cluster/`` (never downloaded
prebuilt); this module only finds them and says what to run when they are missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "ACM_SYNC_CLUSTER_BIN_DIR"
LINK_NAME = ".cluster-bins"
BUILD_HINT = "make cluster-bins"
PROGRAMS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "cert-manager-controller",
    "helm",
    "promtool",
)


class BinariesMissing(RuntimeError):
    """The real-cluster binaries are not built; the message says what to run."""


@dataclass(frozen=True)
class ClusterBins:
    """The folder of built programs, with a path for each."""

    folder: Path

    def path(self, program: str) -> Path:
        """The path of ``program`` (one of PROGRAMS)."""
        return self.folder / program

    @property
    def cert_manager_crds(self) -> Path:
        """cert-manager's CRDs, copied from the same module version as its controller."""
        return self.folder / "cert-manager-crds"


def _candidates(explicit: Path | None) -> list[Path]:
    if explicit is not None:
        return [explicit]
    found: list[Path] = []
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]))
    # The build leaves a link in the checkout it ran from; look in the working directory and
    # above it, so any subdirectory of a checkout finds it.
    here = Path.cwd().resolve()
    found.extend(parent / LINK_NAME for parent in (here, *here.parents))
    return found


def missing_programs(folder: Path) -> list[str]:
    """The programs (and the CRD folder) that ``folder`` lacks."""
    missing = [p for p in PROGRAMS if not os.access(folder / p, os.X_OK)]
    if not (folder / "cert-manager-crds").is_dir():
        missing.append("cert-manager-crds/")
    return missing


def find_program(program: str, explicit: Path | None = None) -> Path | None:
    """One built program (``helm``, ``promtool``, ...) from the first folder that has it."""
    for folder in _candidates(explicit):
        if os.access(folder / program, os.X_OK):
            return (folder / program).resolve()
    return None


def find(explicit: Path | None = None) -> ClusterBins:
    """The built binaries; raises BinariesMissing with what to run when there are none."""
    tried = _candidates(explicit)
    for folder in tried:
        if folder.is_dir() and not missing_programs(folder):
            return ClusterBins(folder.resolve())
    if explicit is not None:
        raise BinariesMissing(
            f"{explicit} does not hold the real-cluster programs "
            f"(missing: {', '.join(missing_programs(explicit))}); run `{BUILD_HINT}` in the "
            "acm-sync checkout and pass the folder it prints last"
        )
    raise BinariesMissing(
        "the real cluster's programs (etcd, kube-apiserver, kube-controller-manager, "
        "cert-manager, helm, promtool) are not built yet: run "
        f"`{BUILD_HINT}` in the acm-sync checkout (needs Go; builds them from pinned modules), "
        f"or set {ENV_VAR} to the folder it prints last"
    )


NODE_ENV_VAR = "ACM_SYNC_NODE_BIN_DIR"
NODE_LINK_NAME = ".node-bins"
NODE_BUILD_HINT = "make node-bins"
NODE_PROGRAMS = (
    "kubelet",
    "kube-scheduler",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
    "pause",
    "cni/bridge",
    "cni/host-local",
    "cni/loopback",
    "cni/portmap",
)


def find_node(explicit: Path | None = None) -> Path:
    """The folder of the node's programs (``make node-bins``); BinariesMissing if not built."""
    candidates = [explicit] if explicit is not None else []
    if explicit is None and os.environ.get(NODE_ENV_VAR):
        candidates.append(Path(os.environ[NODE_ENV_VAR]))
    if explicit is None:
        here = Path.cwd().resolve()
        candidates.extend(parent / NODE_LINK_NAME for parent in (here, *here.parents))
    for folder in candidates:
        if folder.is_dir() and all(os.access(folder / p, os.X_OK) for p in NODE_PROGRAMS):
            return folder.resolve()
    raise BinariesMissing(
        "the node's programs (kubelet, kube-scheduler, containerd, runc, CNI plugins) are not "
        f"built: run `{NODE_BUILD_HINT}` (needs Go and libseccomp-dev), or set {NODE_ENV_VAR} "
        "to the folder it prints last"
    )
