"""Fixtures: a fresh emulator per test, the official client on it, and stock kubectl.

A module that marks itself ``pytest.mark.usefixtures("backend")`` runs on every selected cluster
backend (tests/cluster_backends.py): its ``kubeconfig`` (and ``api``, ``core``, ``custom``,
``kubectl``) then point at the emulator or at the shared real cluster, and ``ns`` is where the
test may write (``default`` on its fresh emulator; a namespace of its own, also set as the
kubeconfig's context namespace, on a shared cluster).
"""

from __future__ import annotations

import http.client as http_client
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.cluster_backends import RealApi
from tests.kube.kubekit import as_model, close, new_client
from tests.playground.playkit import kubectl_binary, run_kubectl

SAMPLE_CRD = Path(__file__).with_name("sample-crd.yaml")
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator(bookmark_interval=0.2).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _backend(request: pytest.FixtureRequest) -> str:
    if "backend" not in request.fixturenames:
        return "emulator"
    return str(request.getfixturevalue("backend"))


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> Iterator[str]:
    """The namespace the test writes to (see the module docstring)."""
    backend = _backend(request)
    if backend == "emulator":
        yield "default"
        return
    servers: dict[str, RealApi] = request.getfixturevalue("real_api_servers")
    name = f"kube-{uuid.uuid4().hex[:8]}"
    api_client = new_client(servers[backend].kubeconfig)
    core_api = client.CoreV1Api(api_client)
    core_api.create_namespace(as_model(client.V1Namespace, {"metadata": {"name": name}}))
    yield name
    core_api.delete_namespace(name)
    close(api_client)


@pytest.fixture
def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The emulator's kubeconfig, or the shared cluster's with ``ns`` as context namespace."""
    backend = _backend(request)
    if backend == "emulator":
        kube: KubeEmulator = request.getfixturevalue("kube")
        return kube.write_kubeconfig(tmp_path / "kubeconfig")
    servers: dict[str, RealApi] = request.getfixturevalue("real_api_servers")
    config = yaml.safe_load(servers[backend].kubeconfig.read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = request.getfixturevalue("ns")
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


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
