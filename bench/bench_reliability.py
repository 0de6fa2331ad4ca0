"""Print the issue-14 reliability figures (never asserted): shutdown and start-up under faults.

On the embedded emulators, the operator as a real ``acm-sync run`` subprocess:

1. SIGTERM during a cold sync of N objects (imports paced at 2/s, so work is in flight):
   seconds from the signal to the exit. Target: under 2 s, no traceback.
2. Leadership lost during a cold sync (another identity takes the Lease): seconds from the
   loss being noticed (the "Leadership lost" line) to the exit. Target: under 2 s.
3. Start-up with one 500 and four 429s on the cluster-id lookup: seconds until ready, and
   whether the process survived (no restart).

Usage: python bench/bench_reliability.py [--n 30]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as `python bench/bench_reliability.py`: the test kits are imported as the tests package.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kubernetes import client  # noqa: E402

from tests.certkit import TestCA, tls_secret  # noqa: E402
from tests.kube.kubekit import as_model  # noqa: E402
from tests.operator.opkit import Env, OperatorProcess, open_env, wait_for  # noqa: E402


def _busy(env: Env, n: int, leader: bool) -> tuple[str, OperatorProcess]:
    c = env.cluster
    ca = TestCA()
    ns = c.namespace("bench")
    for i in range(n):
        name = f"svc{i}"
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret(name, ca.issue(f"{name}.example.com")))
        )
        c.create_cert(ns, name, secretName=name, regions=["us-east-1"])
    extra = (
        ("--lease-duration", "3", "--leader-election-namespace", ns)
        if leader
        else ("--no-leader-election",)
    )
    process = env.operator(
        *extra, name=f"bench-{ns}", ACM_SYNC_AWS_RATES="ImportCertificate=2"
    ).start()
    wait_for(lambda: c.condition(ns, "svc0").get("reason") == "Synced", timeout=30)
    return ns, process


def _clean(process: OperatorProcess) -> str:
    log = process.log_tail(100_000)
    return "clean" if "Traceback" not in log and "InvalidStateError" not in log else "TRACEBACK"


def sigterm(env: Env, n: int) -> str:
    _ns, process = _busy(env, n, leader=False)
    assert process.process is not None
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    code = process.process.wait(timeout=60)
    return f"{time.monotonic() - started:.2f}s (exit {code}, {_clean(process)})"


def lost_lease(env: Env, n: int) -> str:
    ns, process = _busy(env, n, leader=True)
    assert process.process is not None
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client.CoordinationV1Api(env.cluster.api).patch_namespaced_lease(
        "acm-sync-leader", ns, {"spec": {"holderIdentity": "intruder", "renewTime": now}}
    )
    noticed = wait_for(
        lambda: time.monotonic() if "Leadership lost" in process.log_tail(100_000) else None,
        timeout=30,
    )
    code = process.process.wait(timeout=60)
    return f"{time.monotonic() - noticed:.2f}s after noticing (exit {code}, {_clean(process)})"


def startup_faults(env: Env) -> str:
    assert env.kube is not None
    lookup = "/api/v1/namespaces/kube-system"
    env.kube.fail_next(1, 500, path=lookup, verb="GET")
    env.kube.fail_next(4, 429, path=lookup, verb="GET")
    started = time.monotonic()
    process = env.operator("--no-leader-election", name="bench-startup").start(wait_ready=False)
    try:
        wait_for(process.ready, timeout=120)
        return f"ready after {time.monotonic() - started:.2f}s, no restart"
    except AssertionError as exc:
        return f"FAILED: {str(exc)[:200]}"
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="acm-sync-bench-") as tmp:
        for label, run in (
            (
                f"SIGTERM during a cold sync of {args.n} (target < 2 s)",
                lambda e: sigterm(e, args.n),
            ),
            (
                f"exit after losing the Lease during a cold sync of {args.n} (target < 2 s)",
                lambda e: lost_lease(e, args.n),
            ),
            ("start-up with one 500 and four 429s on the cluster-id lookup", startup_faults),
        ):
            workdir = Path(tmp) / label.split()[0]
            workdir.mkdir()
            gen = open_env(workdir, "emulator", {})
            env = next(gen)
            try:
                print(f"{label}: {run(env)}", flush=True)
            finally:
                gen.close()


if __name__ == "__main__":
    main()
