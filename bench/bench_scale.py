"""Scale benchmark (issue 13): N AcmCertificates x 3 regions on one replica, printed beside targets.

Kubernetes API emulator and strict ACM emulator in this process, the operator as a real
``acm-sync run`` subprocess. For each N (default 1,000 / 5,000 / 10,000):

1. RSS bare: the operator on an empty namespace, once ready.
2. Seeding without a cold sync: certificates imported into the ACM emulator in-process (rate
   limits lifted), Secrets and AcmCertificates written into the Kubernetes emulator's store with
   the status the operator writes, the finalizer and kopf's last-handled-configuration (built by
   kopf's own storage), as a cluster looks after a while. Then ACM's documented rates apply.
3. Warm restart: time until every object was reconciled, CPU, RSS, Kubernetes requests by verb
   and AWS calls meanwhile; then rotations while idle, and new imports into a region already
   holding 100 certificates of other owners.
4. A second warm restart with one rotation a second during its backlog (of objects late in the
   listing), then one sweep: the peak RSS (VmHWM) of both processes.

Once per run: the cold sync of N=200 new objects x 3 regions (100 foreign certificates in each
region, ACM's 1 import/s per region in place) against its floor of N seconds.

Usage: python bench/bench_scale.py [--sizes 1000,5000,10000] [--cold-n 200] [--quick]
       [--operator-log-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scalekit import (
    ACMCERTS,
    FOREIGN_REGION,
    REGIONS,
    SECRETS,
    Cluster,
    Operator,
    acmcert_doc,
    emulators,
    quiet,
    secret_doc,
    seed_foreign,
    seed_synced,
)

from acm_sync.aws.settings import DEFAULT_RATES

# Figure name -> target as printed (the names are what tests/test_bench_scale.py checks).
TARGETS = {
    "rss_bare_mb": "< 80 MB",
    "rss_after_warm_restart_mb": "",
    "rss_per_object_kb": "< 5 KB",
    "rss_growth_per_object_kb": "< 5 KB",
    "rss_peak_mb": "< 200 MB at N=10000",
    "warm_restart_s": "< 20 s at N=10000",
    "warm_restart_cpu_s": "",
    "warm_restart_kube_requests": "",
    "warm_restart_per_object_gets": "0",
    "warm_restart_aws_calls": "0",
    "aws_calls_per_new_import_foreign": "<= 1.5",
    "rotation_idle_p50_ms": "< 300 ms",
    "rotation_idle_p99_ms": "< 1000 ms",
    "rotation_backlog_p50_ms": "< 300 ms",
    "rotation_backlog_p99_ms": "< 1000 ms",
    "cold_sync_s": "<= 1.1 x floor",
    "cold_sync_aws_calls_per_import": "<= 1.5",
}
_LIMITS = {  # for "met" / "NOT met"; None: no target of its own (context)
    "rss_bare_mb": 80.0,
    "rss_per_object_kb": 5.0,
    "rss_growth_per_object_kb": 5.0,
    "warm_restart_per_object_gets": 0.0,
    "warm_restart_aws_calls": 0.0,
    "aws_calls_per_new_import_foreign": 1.5,
    "rotation_idle_p50_ms": 300.0,
    "rotation_idle_p99_ms": 1000.0,
    "rotation_backlog_p50_ms": 300.0,
    "rotation_backlog_p99_ms": 1000.0,
    "cold_sync_aws_calls_per_import": 1.5,
}


def show(
    name: str, value: float, unit: str = "", note: str = "", limit: float | None = None
) -> None:
    """One figure beside its target (``limit`` overrides the table, e.g. one set per N)."""
    limit = limit if limit is not None else _LIMITS.get(name)
    if value != value:  # NaN: not measured
        verdict = "not measured"
    elif limit is None:
        verdict = ""
    else:
        verdict = (
            "met"
            if (value <= limit if limit == 0 or "<=" in TARGETS[name] else value < limit)
            else "NOT met"
        )
    target = f"target {TARGETS[name]}" if TARGETS[name] else ""
    print(f"  {name:<40} {value:>10.1f} {unit:<4} {target:<26} {verdict:<8} {note}".rstrip())


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rotations(
    cluster: Cluster, names: list[str], keep_going: Any, spacing: float = 1.1
) -> list[float]:
    """Rotate ``names`` one per ``spacing`` s while ``keep_going()``; latency of each in ms.

    Latency: from the Secret's update to the end of the last region's ImportCertificate of
    that object (in-process emulators' time included). Spaced past ACM's 1 import/s per region.
    """
    pending: dict[str, float] = {}  # name -> t0
    done: dict[str, set[str]] = {}
    latencies: list[float] = []
    mark = len(cluster.acm.acm.calls())
    next_at, queue = time.monotonic(), list(names)
    deadline = None
    while queue or pending:
        if queue and time.monotonic() >= next_at:
            if not keep_going():
                queue.clear()
            else:
                name = queue.pop(0)
                pending[name], done[name] = time.time(), set()
                cluster.rotate(name)
                next_at += spacing
        calls = cluster.acm.acm.calls()
        for call in calls[mark:]:
            for name, t0 in list(pending.items()):
                if (
                    call.api == "ImportCertificate"
                    and call.outcome == "ok"
                    and call.time >= t0
                    and call.arn in cluster.arns[name]
                ):
                    done[name].add(call.arn)
                    if done[name] == cluster.arns[name]:
                        latencies.append((call.time - t0) * 1000)
                        del pending[name]
        mark = len(calls)
        if not queue and deadline is None:
            deadline = time.monotonic() + 60
        if deadline is not None and time.monotonic() > deadline:
            print(f"  ({len(pending)} rotation(s) not reimported within 60 s: left out)")
            break
        time.sleep(0.01)
    return latencies


def new_imports(cluster: Cluster, k: int, prefix: str) -> float:
    """Create ``k`` AcmCertificates in the foreign region at once; AWS calls per import there."""
    mark = len(cluster.acm.acm.calls())
    for i in range(k):
        name = f"{prefix}-{i:03d}"
        cert = cluster.ca.issue(f"{name}.bench.example")
        cluster.create(SECRETS, secret_doc(name, cert, cluster.ca.key_pem))
        cluster.create(ACMCERTS, acmcert_doc(name, (FOREIGN_REGION,)))
    deadline = time.monotonic() + 120 + 2 * k
    while time.monotonic() < deadline:
        ours = [c for c in cluster.acm.acm.calls()[mark:] if c.region == FOREIGN_REGION]
        if sum(1 for c in ours if c.api == "ImportCertificate" and c.outcome == "ok") >= k:
            break
        time.sleep(0.1)
    quiet(cluster)
    ours = [c for c in cluster.acm.acm.calls()[mark:] if c.region == FOREIGN_REGION]
    return len(ours) / k


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {
        key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)
    }


def run_size(n: int, quick: bool, logs: Path, foreign: int) -> tuple[float, float]:
    """Every per-N figure, on fresh emulators; returns (RSS after the warm restart, peak) in kB."""
    print(f"\nN = {n} AcmCertificates x {len(REGIONS)} regions")
    with (
        tempfile.TemporaryDirectory(prefix="acm-sync-scale-") as tmp,
        emulators(Path(tmp)) as cluster,
    ):
        log = logs / f"operator-n{n}.log"
        with Operator(cluster, log) as op:
            op.wait(lambda: op._get("/readyz")[0] == 200, 120, "readiness")
            time.sleep(2)
            bare_kb = op.proc_kb("VmRSS")

        t = time.monotonic()
        seed_foreign(cluster, (FOREIGN_REGION,), foreign)
        seed_synced(cluster, n)
        cluster.acm.acm.set_rates(dict(DEFAULT_RATES))  # ACM's documented rates from here on
        print(f"  (seeded in {time.monotonic() - t:.0f}s)")

        # The first start on the seeded state (statuses as a full pass writes them: a restart
        # already), then the measured one.
        kube_before = cluster.kube.requests.snapshot()
        with Operator(cluster, log) as op:
            first_s = op.wait(lambda: op.synced() >= n, 60 + n / 10, "first start's reconciles")
            quiet(cluster)
        writes = delta(cluster.kube.requests.snapshot(), kube_before)
        print(
            f"  (first start on the seeded state: every object reconciled after {first_s:.1f}s; "
            f"{writes.get('patch acmcertificates/status', 0)} status writes, "
            f"{writes.get('patch acmcertificates', 0)} other object writes)"
        )

        kube_before, mark = cluster.kube.requests.snapshot(), len(cluster.acm.acm.calls())
        with Operator(cluster, log) as op:
            restart_s = op.wait(lambda: op.synced() >= n, 60 + n / 10, "warm restart's reconciles")
            cpu_s = op.cpu_s()
            quiet(cluster)
            rss_kb = op.proc_kb("VmRSS")
            kube = delta(cluster.kube.requests.snapshot(), kube_before)
            aws = len(cluster.acm.acm.calls()) - mark
            names = sorted(cluster.arns)
            step = max(1, len(names) // 23)
            idle = rotations(cluster, names[::step][: 3 if quick else 21], lambda: True)
            per_import = new_imports(cluster, 2 if quick else 10, "new")
            peak_kb = op.proc_kb("VmHWM")

        # Rotations during a restart's backlog, of objects late in the listing; then one sweep.
        sweep_interval = max(10.0, round(restart_s + 10))
        kube_before, mark = cluster.kube.requests.snapshot(), len(cluster.acm.acm.calls())
        with Operator(cluster, log, sweep_interval=sweep_interval) as op:

            def watching() -> bool:
                seen = delta(cluster.kube.requests.snapshot(), kube_before)
                return bool(seen.get("watch secrets") and seen.get("watch acmcertificates"))

            op.wait(watching, 120 + n / 10, "the operator's watches")
            backlog = rotations(
                cluster, names[::-1][: 3 if quick else 30], lambda: op.synced() < n, spacing=1.05
            )
            op.wait(lambda: op.synced() >= n, 60 + n / 10, "the backlog's end")

            def swept() -> bool:
                lists = {
                    c.region for c in cluster.acm.acm.calls()[mark:] if c.api == "ListCertificates"
                }
                return set(REGIONS) <= lists

            try:
                op.wait(swept, sweep_interval + 120, "a sweep")
            except TimeoutError as exc:
                print(f"  ({exc}: the peak below may miss the sweep's)")
            quiet(cluster)
            peak_kb = max(peak_kb, op.proc_kb("VmHWM"))

    gets = sum(v for k, v in kube.items() if k in ("get acmcertificates", "get secrets"))
    show("rss_bare_mb", bare_kb / 1024, "MB")
    show("rss_after_warm_restart_mb", rss_kb / 1024, "MB")
    show("rss_per_object_kb", (rss_kb - bare_kb) / n, "KB", "(after warm restart - bare) / N")
    show("rss_peak_mb", peak_kb / 1024, "MB", "VmHWM: restart, rotations, imports, one sweep",
         limit=200.0 if n >= 10_000 else None)  # fmt: skip
    show("warm_restart_s", restart_s, "s", "process start -> every object reconciled",
         limit=20.0 if n >= 10_000 else None)  # fmt: skip
    show("warm_restart_cpu_s", cpu_s, "s", f"{cpu_s / n * 1000:.1f} ms per object")
    show("warm_restart_kube_requests", sum(kube.values()), "", json.dumps(kube, sort_keys=True))
    show("warm_restart_per_object_gets", gets, "", "GET of one AcmCertificate or Secret")
    show("warm_restart_aws_calls", aws)
    show(
        "aws_calls_per_new_import_foreign",
        per_import,
        "",
        f"{foreign} foreign certificates in {FOREIGN_REGION}",
    )
    for lane, values in (("idle", idle), ("backlog", backlog)):
        note = f"{len(values)} samples"
        show(f"rotation_{lane}_p50_ms", percentile(values, 50), "ms", note)
        show(f"rotation_{lane}_p99_ms", percentile(values, 99), "ms", note)
    return rss_kb, peak_kb


def cold_sync(n: int, logs: Path, foreign: int) -> None:
    """N new objects x 3 regions, 100 foreign certificates per region, 1 import/s per region."""
    print(f"\nCold sync: N = {n} new AcmCertificates x {len(REGIONS)} regions, "
          f"{foreign} foreign certificates per region")  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="acm-sync-scale-") as tmp,
        emulators(Path(tmp)) as cluster,
    ):
        seed_foreign(cluster, REGIONS, foreign)
        for i in range(n):
            name = f"cold-{i:04d}"
            cluster.create(
                SECRETS,
                secret_doc(name, cluster.ca.issue(f"{name}.bench.example"), cluster.ca.key_pem),
            )
            cluster.create(ACMCERTS, acmcert_doc(name, REGIONS))
        cluster.acm.acm.set_rates(dict(DEFAULT_RATES))
        mark = len(cluster.acm.acm.calls())
        with Operator(cluster, logs / "operator-cold.log") as op:
            wanted = n * len(REGIONS)

            def imported() -> bool:
                return (
                    sum(
                        1
                        for c in cluster.acm.acm.calls()[mark:]
                        if c.api == "ImportCertificate" and c.outcome == "ok"
                    )
                    >= wanted
                )

            took = op.wait(imported, 3 * n + 180, "every import")
            quiet(cluster)
            calls = len(cluster.acm.acm.calls()) - mark
    show("cold_sync_s", took, "s", f"floor {n} s (1 import/s per region); {took / n:.2f} x floor",
         limit=1.1 * n)  # fmt: skip
    show("cold_sync_aws_calls_per_import", calls / wanted, "", f"{calls} calls, {wanted} imports")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000,10000", help="comma-separated N")
    parser.add_argument(
        "--cold-n", type=int, default=200, help="cold-sync N (default 200; 0: skip it)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small N, few samples (the test's mode)"
    )
    parser.add_argument("--operator-log-dir", type=Path, help="keep the operators' logs here")
    args = parser.parse_args()
    sizes = [20] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    cold_n = 5 if args.quick else args.cold_n
    foreign = 10 if args.quick else 100  # certificates of other owners per region
    with tempfile.TemporaryDirectory(prefix="acm-sync-scale-logs-") as tmp:
        logs = args.operator_log_dir or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        print(f"acm-sync scale benchmark: {os.cpu_count()} CPUs, figures beside issue 13's targets")
        rss = {n: run_size(n, args.quick, logs, foreign) for n in sizes}
        if len(rss) > 1:
            # The per-object cost without the fixed part: the slope between consecutive sizes.
            print("\nRSS growth between sizes")
            ordered = sorted(rss)
            for small, large in itertools.pairwise(ordered):
                for i, what in ((0, "after_warm_restart"), (1, "peak")):
                    show(
                        "rss_growth_per_object_kb",
                        (rss[large][i] - rss[small][i]) / (large - small),
                        "KB",
                        f"{what}, N={small} -> {large}",
                    )
        if cold_n:
            cold_sync(cold_n, logs, foreign)
    return 0


if __name__ == "__main__":
    sys.exit(main())
