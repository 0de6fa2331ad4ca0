"""Fixtures for the operator tests: emulators in-process, the operator as a subprocess."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The typed helpers for the kubernetes client (kubekit) live with the Kubernetes API tests, the
# examples' generator loader (playkit) with the playground tests.
# Appended, not prepended: `from conftest import Env` must keep finding this directory's conftest.
sys.path.append(str(Path(__file__).resolve().parents[1] / "kube"))
sys.path.append(str(Path(__file__).resolve().parents[1] / "playground"))

from opkit import Acm, Cluster, OperatorProcess

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator


@dataclass
class Env:
    """One Kubernetes API emulator and one ACM emulator, with clients on both."""

    kube: KubeEmulator
    acm_server: AcmEmulator
    kubeconfig: Path
    cluster: Cluster
    acm: Acm
    workdir: Path

    def operator(self, *extra: str, name: str = "operator", **env: str) -> OperatorProcess:
        """A not-yet-started ``acm-sync run`` on these emulators."""
        return OperatorProcess(
            self.kubeconfig,
            self.acm_server.url,
            self.workdir / f"{name}.log",
            *extra,
            env={"ACM_SYNC_AWS_RATES": "ImportCertificate=50", **env},
        )


def _env(tmp: Path) -> Iterator[Env]:
    kube = KubeEmulator(bookmark_interval=1.0).start()
    acm_server = AcmEmulator().start()
    try:
        kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig")
        cluster = Cluster(kubeconfig)
        cluster.install_crd()
        yield Env(kube, acm_server, kubeconfig, cluster, Acm(acm_server.url), tmp)
        cluster.close()
    finally:
        acm_server.stop()
        kube.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Emulators shared by one test module (tests use their own namespaces)."""
    yield from _env(tmp_path_factory.mktemp("operator-env"))


@pytest.fixture(scope="module")
def operator(env: Env) -> Iterator[OperatorProcess]:
    """One operator for the module: fast sweep, no leader election."""
    process = env.operator("--no-leader-election", "--sweep-interval", "2").start()
    try:
        yield process
    finally:
        process.stop()
