"""Integration test kit: emulators in-process, the operator as a real subprocess, polling.

Assertions go through the official Kubernetes client (Cluster, here) and boto3 or the ACM
emulator's HTTP control API (Acm, in acmview.py), so that they do not depend on emulator
internals.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.cluster_backends import RealApi
from tests.kube.kubekit import as_dict, as_model, close, new_client
from tests.operator.acmview import Acm

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "acmcertificate.yaml"
ACM_SYNC = Path(sys.executable).with_name("acm-sync")
GROUP, VERSION, PLURAL = "acmsync.io", "v1alpha1", "acmcertificates"
T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}: last={last!r}")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aws_env(acm_url: str) -> dict[str, str]:
    """Environment for a process talking to the ACM emulator with dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACM_SYNC_"))}
    env.update(
        AWS_ENDPOINT_URL=acm_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent/acm-sync-test-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/acm-sync-test-credentials",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


class OperatorProcess:
    """``acm-sync run`` as a subprocess, logging to a file."""

    def __init__(
        self,
        kubeconfig: Path,
        acm_url: str,
        log_path: Path,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.args = [
            str(ACM_SYNC),
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--metrics-port",
            str(self.port),
            "--log-level",
            "DEBUG",
            *extra,
        ]
        self.env = {**aws_env(acm_url), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: bool = True) -> OperatorProcess:
        """Start; optionally wait until /readyz answers 200."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env
        )
        log.close()
        if wait_ready:
            wait_for(self.ready, timeout=30, what="operator readiness")
        return self

    def probe(self, path: str) -> int:
        """HTTP status of a probe endpoint (0 when unreachable)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return 0

    def ready(self) -> bool:
        """Whether /readyz says ready; raises if the process died."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited {self.process.returncode}:\n{self.log_tail()}")
        return self.probe("/readyz") == 200

    def metrics(self) -> str:
        """The /metrics text."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def log_tail(self, lines: int = 60) -> str:
        """The end of the operator's log, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (bounded); SIGKILL if it does not stop."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        """kill -9."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


class Cluster:
    """The official client on a kubeconfig, with the helpers the tests share."""

    def __init__(self, kubeconfig: Path) -> None:
        self.api = new_client(kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.created_namespaces: list[str] = []

    def install_crd(self) -> None:
        """Apply the CRDs from crds/ (the single source): AcmCertificate and AcmTarget."""
        ext = client.ApiextensionsV1Api(self.api)
        for path in sorted(CRD.parent.glob("*.yaml")):
            try:
                ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
            except client.ApiException as err:
                if err.status != 409:
                    raise
        manifest = yaml.safe_load(CRD.read_text())

        # A real API server serves a new CRD only once it is Established (the emulator at once).
        def established() -> bool:
            crd = ext.read_custom_resource_definition(manifest["metadata"]["name"])
            conditions = (crd.status.conditions if crd.status else None) or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        wait_for(established, timeout=30, what="the AcmCertificate CRD to be Established")

    def owner_tag(self, namespace: str, name: str) -> dict[str, str]:
        """The owner tag an operator without --cluster-id writes for ``namespace/name``: what
        an AWS account's owner sets on a certificate to consent to its adoption."""
        meta = self.core.read_namespace("kube-system").metadata
        assert meta is not None
        cluster_id = meta.uid
        return {"Key": "acmsync.io/owner", "Value": f"{cluster_id}/{namespace}/{name}"}

    def namespace(self, prefix: str = "t") -> str:
        """A fresh namespace."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.core.create_namespace(as_model(client.V1Namespace, {"metadata": {"name": name}}))
        self.created_namespaces.append(name)
        return name

    def remove_namespaces(self) -> None:
        """Delete the namespaces this client made, releasing their AcmCertificates first.

        A shared cluster outlives the test module: left behind, those objects would be picked
        up by the next module's operator (and synced into its own ACM emulator). Their
        finalizers are removed because this module's operator has already stopped.
        """
        for ns in self.created_namespaces:
            items = as_dict(self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL))
            for obj in items.get("items") or []:
                name = obj["metadata"]["name"]
                try:
                    self.custom.patch_namespaced_custom_object(
                        GROUP, VERSION, ns, PLURAL, name, {"metadata": {"finalizers": None}}
                    )
                    self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
                except client.ApiException as err:
                    if err.status != 404:
                        raise
            try:
                self.core.delete_namespace(ns)
            except client.ApiException as err:
                if err.status != 404:
                    raise
        self.created_namespaces.clear()

    def cert(self, ns: str, name: str) -> dict[str, Any] | None:
        """An AcmCertificate, or None."""
        try:
            return as_dict(
                self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
            )
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise

    def create_cert(self, ns: str, name: str, **spec: Any) -> dict[str, Any]:
        """Create an AcmCertificate."""
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AcmCertificate",
            "metadata": {"name": name},
            "spec": spec,
        }
        return as_dict(
            self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
        )

    def patch_cert(self, ns: str, name: str, spec: dict[str, Any]) -> None:
        """Merge-patch an AcmCertificate's spec."""
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, {"spec": spec})

    def delete_cert(self, ns: str, name: str) -> None:
        """Delete an AcmCertificate (the finalizer runs)."""
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)

    def condition(self, ns: str, name: str, ctype: str = "Ready") -> dict[str, Any]:
        """A condition of an AcmCertificate ({} when absent)."""
        obj = self.cert(ns, name) or {}
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") == ctype:
                return dict(cond)
        return {}

    def wait_reason(self, ns: str, name: str, reason: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until Ready has ``reason``; return the object."""
        wait_for(
            lambda: self.condition(ns, name).get("reason") == reason,
            timeout=timeout,
            what=f"{ns}/{name} Ready reason {reason} (now {self.condition(ns, name)})",
        )
        return self.cert(ns, name) or {}

    def events(self, ns: str) -> list[tuple[str, str, str, str]]:
        """(kind of involved object, name, reason, message) of every Event in ``ns``."""
        found: list[tuple[str, str, str, str]] = []
        for e in self.core.list_namespaced_event(ns).items:
            # Every Event the operator writes names its object and a reason.
            kind, name, reason = e.involved_object.kind, e.involved_object.name, e.reason
            assert kind is not None, e
            assert name is not None, e
            assert reason is not None, e
            found.append((kind, name, reason, e.message or ""))
        return found

    def wait_event(
        self, ns: str, reason: str, name: str | None = None, timeout: float = 20.0
    ) -> list[tuple[str, str, str, str]]:
        """Wait until an Event with ``reason`` (about ``name``, if given) exists; return all.

        The operator posts Events after it writes the status, so a test that has just seen a
        condition must wait for the matching Event rather than expect it already listed.
        """

        def probe() -> list[tuple[str, str, str, str]] | None:
            found = self.events(ns)
            hit = any(e[2] == reason and (name is None or e[1] == name) for e in found)
            return found if hit else None

        return wait_for(
            probe,
            timeout=timeout,
            what=f"an Event {reason} in {ns}" + (f" about {name}" if name else ""),
        )

    def close(self) -> None:
        """Release the client."""
        close(self.api)


@dataclass
class Env:
    """A Kubernetes API (the emulator or a real cluster) and the ACM emulator, with clients.

    ``kube`` is the emulator when the backend is ``emulator`` and None on a real API server:
    tests that need the emulator's fault hooks say so by reading it.
    """

    backend: str
    kube: KubeEmulator | None
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


def open_env(tmp: Path, backend: str, servers: Mapping[str, RealApi]) -> Generator[Env, None, None]:
    """An Env on ``backend`` (an emulator of its own, or one of ``servers``); closes after."""
    kube = KubeEmulator(bookmark_interval=1.0).start() if backend == "emulator" else None
    acm_server = AcmEmulator().start()
    try:
        kubeconfig = (
            kube.write_kubeconfig(tmp / "kubeconfig")
            if kube is not None
            else servers[backend].kubeconfig
        )
        cluster = Cluster(kubeconfig)
        cluster.install_crd()
        yield Env(backend, kube, acm_server, kubeconfig, cluster, Acm(acm_server.url), tmp)
        if kube is None:
            cluster.remove_namespaces()
        cluster.close()
    finally:
        acm_server.stop()
        if kube is not None:
            kube.stop()
