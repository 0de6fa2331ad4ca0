"""The operator on the real cluster next to the emulator, printed (never asserted).

For each Kubernetes API backend (the embedded emulator, and the real kube-apiserver + etcd +
kube-controller-manager + cert-manager that ``make cluster-bins`` builds), with the ACM emulator
in this process and the operator as a real ``acm-sync run`` subprocess:

1. start to ready: the API server up, the AcmCertificate CRD served;
2. first sync: N AcmCertificates x 2 regions created at once (with their Secrets), until the
   operator counted N syncs. ACM's 1 import/s per region is lifted in the ACM emulator and in
   the operator, so the figure is the operator and the API server, not the AWS quota;
3. rotation latency: one Secret at a time replaced; the time until both regions' ARNs hold the
   new serial (polled through boto3, so it includes a few ms of polling);
4. warm restart: the operator stopped and started on that state; the time until every object
   was reconciled once, and the AWS writes it made (0 expected).

Build time of the binaries: by default the builds ``testbed/cluster/build.sh`` recorded (each
line says which tools it built; a relink with a warm Go cache takes about a minute). With
``--cold-build`` it builds every binary again with an empty Go build cache and an empty output
folder (modules stay downloaded) and prints that time: tens of minutes on 2 cores.

Usage: python bench/bench_real_cluster.py [--n 200] [--samples 41] [--backends emulator,real]
       [--cold-build]
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import boto3
import yaml
from kubernetes import client, config

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from acm_sync_testbed.realcluster import bins
from acm_sync_testbed.realcluster.cluster import RealCluster

ROOT = Path(__file__).resolve().parents[1]

# Run as `python bench/bench_real_cluster.py`: the test kits are the tests package at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.certkit import TestCA, serial_hex  # noqa: E402

CRD = ROOT / "crds" / "acmcertificate.yaml"
ACM_SYNC = Path(sys.executable).with_name("acm-sync")
REGIONS = ("us-east-1", "eu-west-1")
NS = "bench"
GROUP, VERSION, PLURAL = "acmsync.io", "v1alpha1", "acmcertificates"
UNLIMITED = {"ImportCertificate": 10_000.0}
DUMMY = "bench"  # the ACM emulator accepts any credentials


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def secret(name: str, cert: bytes, key: bytes) -> client.V1Secret:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }
    return cast(client.V1Secret, manifest)


def metric_sum(port: int, prefix: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def wait(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Operator:
    """``acm-sync run`` on a kubeconfig and the ACM emulator, restricted to the bench namespace."""

    def __init__(self, kubeconfig: Path, acm_url: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.args = [
            str(ACM_SYNC), "run", "--kubeconfig", str(kubeconfig), "--namespace", NS,
            "--metrics-port", str(self.port), "--no-leader-election", "--cluster-id", "bench",
            "--log-level", "WARNING",
        ]  # fmt: skip
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            AWS_ENDPOINT_URL=acm_url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY=DUMMY,
            AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
            ACM_SYNC_AWS_RATES="ImportCertificate=1000",
        )  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> Operator:
        with self.log.open("ab") as out:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        return self

    def syncs(self) -> float:
        assert self.process is not None
        if self.process.poll() is not None:
            raise SystemExit(f"the operator exited {self.process.returncode}; see {self.log}")
        return metric_sum(self.port, "acmsync_sync_total{")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_api(backend: str, workdir: Path) -> tuple[Path, Callable[[], None], float]:
    """Start the backend; (admin kubeconfig, stop, seconds from start to the CRD served)."""
    began = time.monotonic()
    if backend == "real":
        cluster = RealCluster(bins.find(), workdir=workdir / "cluster", crds=[CRD])
        cluster.start()
        return (
            cluster.write_kubeconfig(workdir / "kubeconfig"),
            cluster.stop,
            time.monotonic() - began,
        )
    kube = KubeEmulator().start()
    kube.create_objects([yaml.safe_load(CRD.read_text())])
    return kube.write_kubeconfig(workdir / "kubeconfig"), kube.stop, time.monotonic() - began


def run_backend(backend: str, n: int, samples: int, workdir: Path) -> dict[str, str]:
    """Every figure for one backend, as printable strings."""
    figures: dict[str, str] = {}
    workdir.mkdir(parents=True)
    kubeconfig, stop_api, ready_s = start_api(backend, workdir)
    figures["start to ready"] = f"{ready_s:.1f} s"
    acm_server = AcmEmulator(rates=UNLIMITED).start()
    # The client leaves new_client_from_config unannotated; it returns an ApiClient.
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    acm = {r: boto3.client("acm", region_name=r, endpoint_url=acm_server.url,
                           aws_access_key_id="bench", aws_secret_access_key=DUMMY)
           for r in REGIONS}  # fmt: skip
    operator = Operator(kubeconfig, acm_server.url, workdir / f"operator-{backend}.log").start()
    try:
        core.create_namespace(cast(client.V1Namespace, {"metadata": {"name": NS}}))
        wait(lambda: metric_sum(operator.port, "acmsync_") > 0, 60, "the operator's metrics")
        ca = TestCA("bench CA")
        leaves = {f"cert-{i:04d}": ca.issue(f"cert-{i:04d}.bench.example") for i in range(n)}

        def create(name: str) -> None:
            cert, key = leaves[name].cert_pem, leaves[name].key_pem
            core.create_namespaced_secret(NS, secret(name, cert, key))
            custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmCertificate",
                "metadata": {"name": name}, "spec": {"secretName": name, "regions": list(REGIONS)},
            })  # fmt: skip

        began = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, leaves))
        wait(lambda: operator.syncs() >= n, 600, f"{n} first syncs")
        first = time.monotonic() - began
        figures[f"first sync, N={n} x {len(REGIONS)} regions"] = (
            f"{first:.1f} s ({n * len(REGIONS) / first:.0f} imports/s)"
        )
        arns: dict[str, dict[str, str]] = {}
        for item in cast(
            dict[str, Any], custom.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
        )["items"]:
            regions = (item.get("status") or {}).get("regions") or []
            arns[item["metadata"]["name"]] = {r["region"]: r["arn"] for r in regions}

        latencies: list[float] = []
        for i in range(samples):
            name = f"cert-{i % n:04d}"
            leaf = ca.issue(f"{name}.bench.example")
            cert, key, serial = leaf.cert_pem, leaf.key_pem, leaf.serial
            want = serial_hex(serial)
            t0 = time.monotonic()
            core.replace_namespaced_secret(name, NS, secret(name, cert, key))

            def rotated(name: str = name, want: str = want) -> bool:
                return all(
                    acm[r].describe_certificate(CertificateArn=a)["Certificate"]["Serial"] == want
                    for r, a in arns[name].items()
                )

            wait(rotated, 30, f"the rotation of {name}")
            latencies.append((time.monotonic() - t0) * 1000)
        figures[f"rotation p50 / p99 ({samples} samples)"] = (
            f"{statistics.median(latencies):.0f} / {percentile(latencies, 99):.0f} ms"
        )

        operator.stop()
        writes_before = len(acm_server.calls())
        operator = Operator(
            kubeconfig, acm_server.url, workdir / f"operator-{backend}-2.log"
        ).start()
        wait(lambda: operator.syncs() >= n, 600, "the warm restart")
        restart = time.monotonic() - operator.started
        reads = {
            "ListCertificates",
            "DescribeCertificate",
            "ListTagsForCertificate",
            "GetCertificate",
        }
        writes = [c for c in acm_server.calls()[writes_before:] if c["api"] not in reads]
        figures[f"warm restart, N={n}"] = f"{restart:.1f} s, {len(writes)} AWS writes"
    finally:
        operator.stop()
        acm_server.stop()
        api.close()
        stop_api()
    return figures


def recorded_build_times() -> str:
    """The builds ``build.sh`` recorded for the binaries in use."""
    try:
        folder = bins.find().folder
    except bins.BinariesMissing:
        return "not built"
    record = folder / "build-times.txt"
    if not record.exists():
        return f"not recorded in {folder}"
    return record.read_text().strip()


def cold_build(workdir: Path) -> str:
    """Build every binary with an empty Go build cache into an empty folder; the time taken."""
    env = {
        **os.environ,
        "GOCACHE": str(workdir / "gocache"),
        "ACM_SYNC_CLUSTER_BINS": str(workdir / "bins"),
    }
    began = time.monotonic()
    subprocess.run([str(ROOT / "testbed" / "cluster" / "build.sh")], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return f"{time.monotonic() - began:.0f} s (empty Go build cache, modules already downloaded)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--samples", type=int, default=41)
    parser.add_argument("--backends", default="emulator,real")
    parser.add_argument("--cold-build", action="store_true", help="time a cold build too")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    print(f"builds of the real-cluster binaries recorded by build.sh:\n{recorded_build_times()}")
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-real-cluster-") as tmp:
        if args.cold_build:
            print(f"cold build of every binary: {cold_build(Path(tmp))}", flush=True)
        for backend in backends:
            try:
                results[backend] = run_backend(backend, args.n, args.samples, Path(tmp) / backend)
            except bins.BinariesMissing as error:
                print(f"{backend}: skipped: {error}")
    if not results:
        return 1
    names = list(next(iter(results.values())))
    width = max(len(n) for n in names)
    print(f"{'figure':<{width}}  " + "  ".join(f"{b:>24}" for b in results))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{results[b].get(name, '-'):>24}" for b in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
