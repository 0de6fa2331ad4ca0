"""Fixtures: a fresh emulator per test, the official client on it, and stock kubectl."""

from __future__ import annotations

import http.client as http_client
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubekit import close, new_client
from kubernetes import client

# The kubectl runner (run_kubectl) is shared with the playground tests, in their kit.
sys.path.append(str(Path(__file__).resolve().parents[1] / "playground"))

from playkit import kubectl_binary, run_kubectl

from acm_sync_testbed.emulators.kube.server import KubeEmulator

SAMPLE_CRD = Path(__file__).with_name("sample-crd.yaml")
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator(bookmark_interval=0.2).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api_client = new_client(kubeconfig)
    try:
        yield api_client
    finally:
        close(api_client)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    """Run stock kubectl against the emulator with default flags; never raises on failure."""
    kubectl_binary()  # fail at setup, not at the first call, when kubectl is missing

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        # HOME too: kubectl must not read or write the user's ~/.kube.
        return run_kubectl(
            kubeconfig, *args, cache=tmp_path / "kube-cache", stdin=stdin, home=tmp_path
        )

    return run


Http = Callable[..., tuple[int, dict[str, str], bytes]]


@pytest.fixture
def http(kube: KubeEmulator) -> Http:
    """One raw HTTP exchange with the emulator: ``http(method, path, body, headers)``."""

    def exchange(
        method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http_client.HTTPConnection(kube.host, kube.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    return exchange
