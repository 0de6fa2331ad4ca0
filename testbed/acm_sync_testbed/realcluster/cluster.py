"""``RealCluster``: etcd, kube-apiserver, kube-controller-manager and cert-manager on loopback.

The programs are the real ones, built from pinned Go modules (``make cluster-bins``). The API
server runs with the ``RBAC,Node`` authorizers, its default admission plugins (``PodSecurity``
among them) and a service-account signing key, so the operator meets real authorization,
admission, CEL validation, garbage collection and cert-manager. There is no kubelet and no
scheduler: Pods are admitted and stay Pending, which is all the test bed needs of them.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from acm_sync_testbed.realcluster import clustersweep
from acm_sync_testbed.realcluster import pki as pki_module
from acm_sync_testbed.realcluster.bins import ClusterBins
from acm_sync_testbed.realcluster.processes import ProcessFailed, Supervised

SERVICE_CIDR = "10.96.0.0/24"
SERVICE_IP = "10.96.0.1"
CERT_MANAGER_NAMESPACE = "cert-manager"
# The controllers the test bed relies on: garbage collection (owner references), namespace
# deletion, Deployments -> ReplicaSets -> Pods (admission of the chart's Pods), and the
# service-account controllers (each namespace's default ServiceAccount, token Secrets).
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
    "replicaset-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
)
# What a node adds (RealNode): Node health and the not-ready taint (node-lifecycle), the
# kube-root-ca.crt ConfigMap every Pod's service-account volume projects, Endpoint(Slice)s
# of Services, and deletion of Pods whose node is gone.
NODE_CONTROLLERS = (
    "node-lifecycle-controller",
    "root-ca-certificate-publisher-controller",
    "endpointslice-controller",
    "pod-garbage-collector-controller",
    "taint-eviction-controller",
    "ttl-controller",
)
_START_TIMEOUT = 90.0


def free_port() -> int:
    """A free loopback port (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(
    probe: Callable[[], bool], what: str, watch: Iterable[Supervised], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in watch:
            process.check()
        if probe():
            return
        time.sleep(0.2)
    raise ProcessFailed(f"timed out after {timeout:.0f} s waiting for {what}")


class RealCluster:
    """A real control plane in a temporary directory: ``start()``, ``kubeconfig()``, ``stop()``.

    ``url`` is the API server's HTTPS URL; the kubeconfig carries the CA and an admin client
    certificate (group ``system:masters``) inline, so it works from any directory.
    """

    def __init__(
        self,
        bins: ClusterBins,
        *,
        workdir: Path | None = None,
        cert_manager: bool = True,
        crds: Iterable[Path] = (),
        port: int = 0,
        say: Callable[[str], None] | None = None,
        controllers: Iterable[str] = CONTROLLERS,
    ) -> None:
        self.bins = bins
        self.controllers = tuple(controllers)
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="acm-sync-cluster-"))
        self.with_cert_manager = cert_manager
        self.crd_paths = list(crds)
        self.say = say or (lambda _line: None)
        self.requested_port = port
        self.port = 0
        self.processes: list[Supervised] = []
        self.pki: pki_module.ClusterPki | None = None
        self.started_in = 0.0
        self.cluster_id = secrets.token_hex(6)
        self._lock: int | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API server's base URL."""
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> RealCluster:
        """Start every program and wait until the API server and the CRDs are ready."""
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _start(self) -> None:
        self._lock = clustersweep.claim(self.cluster_id, self.workdir, self._own_workdir, self.say)
        self.pki = pki_module.generate(self.workdir / "pki", SERVICE_IP)
        etcd_port, peer_port = free_port(), free_port()
        self.port = self.requested_port or free_port()
        etcd = self._run("etcd", self._etcd_args(etcd_port, peer_port))
        _wait(lambda: self._etcd_healthy(etcd_port), "etcd", [etcd], _START_TIMEOUT)
        apiserver = self._run("kube-apiserver", self._apiserver_args(etcd_port))
        _wait(self._api_ready, "kube-apiserver /readyz", [etcd, apiserver], _START_TIMEOUT)
        kubeconfig = self.write_kubeconfig(self.workdir / "admin.kubeconfig")
        self._run("kube-controller-manager", self._controller_manager_args(kubeconfig))
        self.say(f"kube-apiserver ready at {self.url}")
        if self.with_cert_manager:
            self.apply_crd_dir(self.bins.cert_manager_crds)
            self.ensure_namespace(CERT_MANAGER_NAMESPACE)
            self._run("cert-manager", self._cert_manager_args(kubeconfig))
            self.say("cert-manager controller started")
        for path in self.crd_paths:
            self.apply_crd_dir(path)

    def stop(self) -> None:
        """Stop every program (last started first) and remove the working directory."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._lock is not None:
            clustersweep.release(self._lock, self.cluster_id)
            self._lock = None

    def __enter__(self) -> RealCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def check(self) -> None:
        """Raise ProcessFailed if any program of the cluster has exited."""
        for process in self.processes:
            process.check()

    # ---- programs ----------------------------------------------------------------------

    def _run(self, name: str, args: list[str]) -> Supervised:
        program = name if name != "cert-manager" else "cert-manager-controller"
        log = self.workdir / f"{name}.log"
        env = {**os.environ, clustersweep.MARKER: self.cluster_id}
        process = Supervised(name, [str(self.bins.path(program)), *args], log, env).start()
        self.processes.append(process)
        return process

    def _etcd_args(self, port: int, peer_port: int) -> list[str]:
        client_url, peer_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
        return [
            "--name=testbed",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=testbed={peer_url}",
            # A throw-away cluster: durability is worth nothing here, fsync latency is.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_args(self, etcd_port: int) -> list[str]:
        assert self.pki is not None
        pki = self.pki
        return [
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The endpoint reconciler refuses a loopback address for the kubernetes Service;
            # nothing in the test bed routes to it (envtest runs the same way).
            "--endpoint-reconciler-type=none",
            "--authorization-mode=RBAC,Node",
            # The default admission plugins stay on (PodSecurity, ServiceAccount,
            # NamespaceLifecycle, ValidatingAdmissionPolicy, ...): nothing is disabled.
            "--profiling=false",
            "--v=1",
        ]

    def _controller_manager_args(self, kubeconfig: Path) -> list[str]:
        assert self.pki is not None
        return [
            f"--kubeconfig={kubeconfig}",
            f"--controllers={','.join(self.controllers)}",
            f"--service-account-private-key-file={self.pki.sa_key}",
            f"--root-ca-file={self.pki.ca_cert}",
            "--leader-elect=false",
            # No HTTPS endpoint: nothing scrapes it, and it would need a port of its own.
            "--secure-port=0",
            "--v=1",
        ]

    def _cert_manager_args(self, kubeconfig: Path) -> list[str]:
        return [
            f"--kubeconfig={kubeconfig}",
            f"--cluster-resource-namespace={CERT_MANAGER_NAMESPACE}",
            "--leader-elect=false",
            "--v=2",
        ]

    # ---- readiness ---------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context trusting the cluster's CA and presenting the admin certificate."""
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def _etcd_healthy(self, port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                return b'"health":"true"' in r.read()
        except OSError:
            return False

    def _api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own API server on loopback
                f"{self.url}/readyz", timeout=5, context=self.ssl_context()
            ) as response:
                return int(response.status) == 200
        except (OSError, urllib.error.HTTPError):
            return False

    # ---- clients -----------------------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig document for the admin user, with the credentials inline."""
        assert self.pki is not None

        def inline(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        name = "acm-sync-testbed"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": inline(self.pki.ca_cert),
                    },
                }
            ],
            "users": [
                {
                    "name": name,
                    "user": {
                        "client-certificate-data": inline(self.pki.admin_cert),
                        "client-key-data": inline(self.pki.admin_key),
                    },
                }
            ],
            "contexts": [
                {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
            ],
            "current-context": name,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write the admin kubeconfig to ``path`` (mode 0600: it holds a client key)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        target.chmod(0o600)
        return target

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One admin API call; (status, decoded JSON body)."""
        data = None if body is None else yaml.safe_dump(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/yaml"
        request = urllib.request.Request(  # noqa: S310 - our own API server on loopback
            f"{self.url}{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.ssl_context()) as r:  # noqa: S310
                return int(r.status), yaml.safe_load(r.read() or b"null")
        except urllib.error.HTTPError as error:
            return int(error.code), yaml.safe_load(error.read() or b"null")

    def ensure_namespace(self, name: str) -> None:
        """Create namespace ``name`` unless it exists."""
        status, body = self.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": name}}
        )  # fmt: skip
        if status not in (201, 409):
            raise ProcessFailed(f"creating namespace {name}: {status} {body}")

    def apply_crd_dir(self, directory: Path) -> list[str]:
        """Create the CRDs in ``directory`` (or one file) and wait until they are Established."""
        files = [directory] if directory.is_file() else sorted(directory.glob("*.y*ml"))
        return self.apply_crds(
            doc for path in files for doc in yaml.safe_load_all(path.read_text())
        )

    def apply_crds(self, documents: Iterable[Any]) -> list[str]:
        """Create the CustomResourceDefinitions among ``documents``; wait until Established."""
        names: list[str] = []
        served: list[str] = []
        for doc in documents:
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            status, body = self.request(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", doc
            )
            if status not in (201, 409):
                raise ProcessFailed(f"creating CRD {doc['metadata']['name']}: {status} {body}")
            names.append(doc["metadata"]["name"])
            served.append(self._list_path(doc))
        for name in names:
            _wait(
                lambda n=name: self._established(n),  # type: ignore[misc]
                f"CRD {name} to be Established",
                self.processes,
                30,
            )
        # Established is not yet servable: for a moment the new resource's watch cache is
        # initializing and a LIST answers 429 "storage is (re)initializing". A client started
        # right now (the playground's operator) would log that as an error; wait it out here.
        for path in served:
            _wait(
                lambda p=path: self.request("GET", p)[0] == 200,  # type: ignore[misc]
                f"{path} to be served",
                self.processes,
                30,
            )
        return names

    @staticmethod
    def _list_path(crd: dict[str, Any]) -> str:
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))
        return f"/apis/{spec['group']}/{version}/{spec['names']['plural']}?limit=1"

    def _established(self, name: str) -> bool:
        status, body = self.request(
            "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
        )
        if status != 200:
            return False
        conditions = (body.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
