"""Operator benchmarks, printed (never asserted): rotation latency, warm restart, memory.

What it measures, on the embedded emulators (Kubernetes API and strict ACM in this process,
the operator as a real ``acm-sync run`` subprocess):

1. Setup: N AcmCertificates in 3 regions, already synced (certificates imported into the ACM
   emulator with acm-sync's tags, status records written), as a cluster looks after a while.
2. Warm restart: the operator starts on that state (after a first start whose writes, kopf's
   bookkeeping included, have all landed). Printed: AWS writes and list calls it made,
   and the time until every object was reconciled.
3. Rotation latency: one Secret at a time is rotated; the time from the Secret update to the
   last region's ImportCertificate, minus the ACM emulator's own time on those calls.
   Samples are spaced past ACM's 1 import/s per region, which the operator respects.
   Printed: p50/p90/p99/max against the targets (p50 < 300 ms, p99 < 1 s), and for every
   sample over 1 s where its time went (first ACM call, reads, imports), to tell the operator's
   own delays from the machine's.
4. Operator RSS with N Secrets and with --rss-n Secrets in the watched namespace.

Usage: python bench/bench_operator.py [--n 1000] [--samples 101] [--rss-n 10000]
       [--operator-log PATH] [--operator-log-level INFO]
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import boto3
import yaml
from kubernetes import client, config

from acm_sync.controller.sync.statusfields import format_precise_time
from acm_sync.core.analyze import analyze
from acm_sync.core.state import Owner
from acm_sync.core.tags import tags_hash
from acm_sync_testbed.emulators.acm.backend import StrictAcm
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator

ROOT = Path(__file__).resolve().parents[1]

# Run as `python bench/bench_operator.py`: the test kits are the tests package at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.certkit import TestCA  # noqa: E402

READS = ("ListCertificates", "DescribeCertificate", "ListTagsForCertificate", "GetCertificate")
DUMMY = "bench"  # the emulators accept any credentials
ACM_SYNC = Path(sys.executable).with_name("acm-sync")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
NS = "bench"
CLUSTER = "bench"
GROUP, VERSION, PLURAL = "acmsync.io", "v1alpha1", "acmcertificates"

# Time the emulator spends inside each call, to subtract it from the operator's latency.
_EMULATOR_TIME: list[tuple[float, float, str, str, str | None]] = []  # start, end, region, api, arn
_original_handle = StrictAcm.handle


def _timed_handle(
    self: StrictAcm,
    region: str,
    api: str,
    params: dict[str, Any],
    handler: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    start = time.time()
    try:
        return _original_handle(self, region, api, params, handler)
    finally:
        arn = (
            params.get("CertificateArn") if isinstance(params.get("CertificateArn"), str) else None
        )
        _EMULATOR_TIME.append((start, time.time(), region, api, arn))


StrictAcm.handle = _timed_handle  # type: ignore[method-assign]


def v1_secret(manifest: dict[str, Any]) -> client.V1Secret:
    """A Secret manifest where the client declares the model.

    Its API methods run pydantic's validate_call, which builds the model from the dict.
    """
    return cast(client.V1Secret, manifest)


def secret(name: str, cert: bytes, key: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(),
                 "tls.key": base64.b64encode(key).decode()},
    }  # fmt: skip


def percentile(values: list[float] | list[int], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synced_count(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("acmsync_sync_total{")
    )


def setup(n: int, api: Any, acm_url: str, ca: TestCA) -> dict[str, dict[str, str]]:
    """N synced AcmCertificates: Secrets, certificates in ACM, status records."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_namespace(cast(client.V1Namespace, {"metadata": {"name": NS}}))
    clients = {
        r: boto3.client("acm", region_name=r, endpoint_url=acm_url,
                        aws_access_key_id="bench", aws_secret_access_key=DUMMY)
        for r in REGIONS
    }  # fmt: skip

    def one(i: int) -> tuple[str, dict[str, str]]:
        name = f"cert-{i:05d}"
        leaf = ca.issue(f"{name}.bench.example")
        cert, key = leaf.cert_pem, leaf.key_pem
        facts = analyze(cert, key, now=datetime.now(UTC)).facts
        assert facts is not None
        owner = Owner(CLUSTER, NS, name)
        tags = owner.system_tags()
        records, arns = [], {}
        for region in REGIONS:
            arn = clients[region].import_certificate(
                Certificate=cert, PrivateKey=key,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )["CertificateArn"]  # fmt: skip
            imported = clients[region].describe_certificate(CertificateArn=arn)["Certificate"][
                "ImportedAt"
            ]
            arns[region] = arn
            records.append({
                "region": region, "arn": arn, "fingerprint": facts.fingerprint,
                "importedAt": format_precise_time(imported), "state": "Synced",
                "reason": "Synced", "message": "set up by the benchmark",
                "lastSyncTime": format_precise_time(datetime.now(UTC)), "tagsHash": tags_hash(tags),
                "serialNumber": facts.serial,
                "notAfter": facts.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            })  # fmt: skip
        core.create_namespaced_secret(NS, v1_secret(secret(name, cert, key)))
        custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmCertificate",
            "metadata": {"name": name}, "spec": {"secretName": name, "regions": list(REGIONS)},
        })  # fmt: skip
        not_after = facts.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        # The status layout the operator writes: the Secret's facts under status.secret, what
        # each region's ARN holds in its entry, the soonest notAfter ACM serves on top.
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, name, {"status": {
            "observedGeneration": 1, "notAfter": not_after, "regions": records,
            "secret": {
                "fingerprint": facts.fingerprint, "serialNumber": facts.serial,
                "notBefore": facts.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notAfter": not_after, "domains": list(facts.domains),
                "keyAlgorithm": facts.key_algorithm,
            },
        }})  # fmt: skip
        return name, arns

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, range(n)))


QUIET_S = 2.0  # no object written for this long: the operator has settled


def settled(kube: KubeEmulator, n: int, port: int, deadline: float) -> None:
    """Wait until ``n`` syncs are counted and no object was written for ``QUIET_S``.

    Our count alone is not enough: after our reconciles kopf still writes its own bookkeeping
    annotation to every object it had not seen before, and a rotation during that backlog
    measures the backlog (seconds on a busy machine), not the rotation.
    """
    last_rv, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        rv = kube.store.rv
        if rv != last_rv:
            last_rv, quiet_since = rv, time.monotonic()
        if synced_count(port) >= n and time.monotonic() - quiet_since >= QUIET_S:
            return
        time.sleep(0.05)


def warm_restart(
    label: str,
    n: int,
    port: int,
    acm: AcmEmulator,
    kube: KubeEmulator,
    before: int,
    started: float,
    pid: int,
) -> None:
    """Wait until every object was reconciled once; print what it cost in AWS calls."""
    deadline = time.monotonic() + 300
    while synced_count(port) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    ready_s = time.monotonic() - started
    settled(kube, n, port, deadline)
    settled_s = time.monotonic() - started - QUIET_S
    calls = acm.calls()[before:]
    writes = [c for c in calls if c["api"] not in READS]
    lists = [c for c in calls if c["api"] == "ListCertificates"]
    print(
        f"{label}: {n} synced AcmCertificates in {len(REGIONS)} regions: "
        f"{len(writes)} AWS writes, {len(lists)} list calls, {len(calls)} AWS calls in all; "
        f"every object reconciled {ready_s:.1f}s after process start, "
        f"last object write (kopf's bookkeeping included) at {settled_s:.1f}s"
    )
    print(f"operator RSS with {n} Secrets (+{n} AcmCertificates): {rss_mb(pid):.0f} MB")


TARGET_P50_MS, TARGET_P99_MS, OUTLIER_MS = 300, 1000, 1000


def rotation_latency(
    samples: int, api: Any, ca: TestCA, arns: dict[str, dict[str, str]], started: float
) -> None:
    """Rotate one Secret at a time; time until every region's ImportCertificate is done."""
    core = client.CoreV1Api(api)
    names = sorted(arns)
    latencies: list[float] = []
    raw: list[float] = []
    outliers: list[str] = []
    slowest = (0.0, "")
    for i in range(samples):
        name = names[(i * 7919) % len(names)]
        leaf = ca.issue(f"{name}.bench.example")
        cert, key = leaf.cert_pem, leaf.key_pem
        targets = set(arns[name].values())
        # Only this sample's calls are scanned: the emulators share this process (and its
        # GIL) with the polling, so scanning the setup's thousands of calls every 2 ms would
        # slow the very calls being timed.
        mark = len(_EMULATOR_TIME)
        t0 = time.time()
        core.replace_namespaced_secret(name, NS, v1_secret(secret(name, cert, key)))
        done: dict[str, float] = {}
        limit = time.monotonic() + 30
        while len(done) < len(targets) and time.monotonic() < limit:
            for start, end, _region, api_name, arn in _EMULATOR_TIME[mark:]:
                if api_name == "ImportCertificate" and arn in targets and start >= t0:
                    done[arn] = end
            time.sleep(0.002)
        if len(done) < len(targets):
            print(f"  sample {i}: not every region reimported within 30s")
            continue
        t_end = max(done.values())
        # Regions run in parallel: the emulator's share is its time on the slowest region.
        emulator = max(
            sum(
                e - s
                for s, e, _r, _a, arn in _EMULATOR_TIME[mark:]
                if arn == t and t0 <= s <= t_end
            )
            for t in targets
        )
        raw.append(t_end - t0)
        latencies.append(t_end - t0 - emulator)
        if len(latencies) > 1 and latencies[-1] > slowest[0]:
            slowest = (latencies[-1], f"sample {i}, +{t0 - started:.1f}s after operator start")
        if latencies[-1] * 1000 > OUTLIER_MS:
            outliers.append(explain(i, t0, t_end, targets, started))
        time.sleep(1.1)  # ACM allows 1 import/s per region; the operator waits for it
    if not latencies:
        return
    # The first rotation after the restart pays for the engine's cold start (boto3 clients,
    # first connections per region): printed on its own, not mixed into the percentiles.
    print(
        f"first rotation after the restart (cold engine): {latencies[0] * 1000:.0f} ms, "
        "emulator time subtracted"
    )
    ms = [round(v * 1000) for v in latencies[1:]] or [round(latencies[0] * 1000)]
    p50, p90, p99 = (percentile(ms, p) for p in (50, 90, 99))
    print(
        f"rotation -> every region reimported ({len(ms)} samples after the first, N={len(names)}, "
        f"{len(REGIONS)} regions), emulator time subtracted: p50 {p50:.0f} ms, "
        f"p90 {p90:.0f} ms, p99 {p99:.0f} ms, max {max(ms)} ms ({slowest[1]}) "
        f"(raw p50 {percentile(raw, 50) * 1000:.0f} ms, mean {statistics.mean(raw) * 1000:.0f} ms)"
    )
    print(
        f"  target p50 < {TARGET_P50_MS} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}; "
        f"target p99 < {TARGET_P99_MS} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}; "
        f"{len(outliers)} sample(s) over {OUTLIER_MS} ms"
    )
    for line in outliers:
        print(line)


def explain(i: int, t0: float, t_end: float, targets: set[str], started: float) -> str:
    """Where a slow sample's time went, from the emulator's call log (operator-side gaps)."""
    calls = sorted((s, e, api, arn) for s, e, _r, api, arn in _EMULATOR_TIME if t0 <= s <= t_end)
    first = calls[0][0] - t0 if calls else float("nan")
    ours = [c for c in calls if c[3] in targets]
    steps = ", ".join(f"{api}@{(s - t0) * 1000:.0f}ms" for s, _e, api, _arn in ours)
    others = len(calls) - len(ours)
    return (
        f"  slow sample {i} at {datetime.fromtimestamp(t0, UTC):%H:%M:%S.%f}, "
        f"+{t0 - started:.1f}s since operator start: "
        f"{(t_end - t0) * 1000:.0f} ms; first ACM call after {first * 1000:.0f} ms; "
        f"{steps}; {others} other ACM call(s) meanwhile"
    )


def memory_with_more_secrets(total: int, n: int, api: Any, pid: int) -> None:
    """Add plain TLS Secrets up to ``total``; print the operator's RSS once it settles."""
    core = client.CoreV1Api(api)
    filler = TestCA("bench CA").issue("filler.bench.example")
    cert, key = filler.cert_pem, filler.key_pem
    body = secret("x", cert, key)

    def create(i: int) -> None:
        core.create_namespaced_secret(
            NS, v1_secret({**body, "metadata": {"name": f"filler-{i:05d}"}})
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(total - n)))
    readings: list[float] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        readings.append(rss_mb(pid))
        if len(readings) >= 4 and max(readings[-4:]) - min(readings[-4:]) < 1:
            break
        time.sleep(0.5)
    print(f"operator RSS with {total} Secrets (+{n} AcmCertificates): {readings[-1]:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="AcmCertificates (default 1000)")
    parser.add_argument(
        "--samples",
        type=int,
        default=101,
        help="rotations to time: the first after the restart, then the ones in the percentiles "
        "(default 101, about 2 min)",
    )
    parser.add_argument(
        "--rss-n", type=int, default=10000, help="Secrets for the second RSS figure"
    )
    parser.add_argument(
        "--operator-log", type=Path, help="keep the operator's log here (default: discarded)"
    )
    parser.add_argument("--operator-log-level", default="WARNING", help="default WARNING")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY=DUMMY)
    with tempfile.TemporaryDirectory(prefix="acm-sync-bench-") as tmp:
        kube = KubeEmulator().start()
        acm = AcmEmulator().start()
        kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")
        # The client leaves new_client_from_config unannotated; it returns an ApiClient.
        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        client.ApiextensionsV1Api(api).create_custom_resource_definition(
            yaml.safe_load((ROOT / "crds" / "acmcertificate.yaml").read_text())
        )
        ca = TestCA("bench CA")
        t = time.monotonic()
        arns = setup(args.n, api, acm.url, ca)
        took = time.monotonic() - t
        print(f"setup: {args.n} AcmCertificates x {len(REGIONS)} regions, synced, in {took:.1f}s")

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACM_SYNC_"))}
        env.update(AWS_ENDPOINT_URL=acm.url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY=DUMMY,
                   AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
        profile = os.environ.get("BENCH_PROFILE")
        runner = (
            [sys.executable, "-m", "cProfile", "-o", profile, "-m", "acm_sync"]
            if profile
            else [str(ACM_SYNC)]
        )
        command = [
            *runner, "run", "--kubeconfig", str(kubeconfig), "--no-leader-election",
            "--cluster-id", CLUSTER, "--namespace", NS, "--metrics-port", str(port),
            "--log-level", args.operator_log_level,
        ]  # fmt: skip
        log = (args.operator_log or Path(tmp) / "operator.log").open("wb")
        try:
            # First start: the objects are new to this operator (kopf records that it has seen
            # them); then the measured warm restart, as after a rollout.
            for label in ("first start on the synced state", "warm restart"):
                before = len(acm.calls())
                started = time.monotonic()
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                warm_restart(label, args.n, port, acm, kube, before, started, process.pid)
                if label != "warm restart":
                    process.terminate()
                    process.wait(30)
            started_wall = time.time() - (time.monotonic() - started)
            rotation_latency(args.samples, api, ca, arns, started_wall)
            if args.rss_n > args.n:
                memory_with_more_secrets(args.rss_n, args.n, api, process.pid)
        finally:
            process.terminate()
            process.wait(30)
            log.close()
            api.close()
            acm.stop()
            kube.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
