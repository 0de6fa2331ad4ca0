"""The chaos suite: the operator under kill -9, paused leaders and injected faults, then audited.

Each run (one seed) builds fresh emulators, N AcmCertificates in two regions, and goes through
a cold sync and a mass rotation. During each phase, at moments the seed picks, it injects faults
(ACM: lost answers, 5xx after commit, 5xx, latency, throttling, a region down; Kubernetes: 500s
and 429s aimed at status patches, Secret reads or anything, dropped watches, 410 Gone) and hits
the operator with one of: kill -9 and restart (one replica), kill -9 of the leader (two
replicas), or SIGSTOP of the leader for two Leases then SIGCONT (two replicas).

At the end it audits every region: certificates per owner tag (a second one is a duplicate), the
serial ACM holds against the Secret's (a mismatch is a lost rotation), and every status against
ACM (Ready=Synced, the Secret's serial, ARNs that exist and hold it; else a stale status). The
convergence time is from the last fault to the moment every object was correct.

    python tests/chaos/chaos.py --seeds 100 --n 200     # or: make chaos SEEDS=100 N=200

Seeded (the scenario, fault kinds, counts and moments come from the seed) and bounded (each
phase waits at most --timeout seconds to converge; what has not converged is counted, never
waited for). Timing on a loaded machine still varies, so a seed replays the same plan, not the
same interleaving.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client

from tests.certkit import IssuedPem, TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, open_env

REGIONS = ("us-east-1", "eu-west-1")
LEASE = 3
SCENARIOS = ("kill-restart", "replicas-kill", "replicas-pause")
OWNER_TAG = "acmsync.io/owner"
T = TypeVar("T")


@dataclass
class RunResult:
    """The audit of one seed."""

    seed: int
    scenario: str
    duplicates: int = 0
    lost_rotations: int = 0
    stale_statuses: int = 0
    key_leaks: int = 0
    converged: bool = False
    convergence: float = 0.0  # seconds from the last fault to every object correct
    faults: list[str] = field(default_factory=list)


class Chaos:
    """One seed's run on a fresh Env."""

    def __init__(self, env: Env, seed: int, n: int, timeout: float) -> None:
        self.env = env
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = n
        self.timeout = timeout
        self.scenario = SCENARIOS[seed % len(SCENARIOS)]
        self.ns = env.cluster.namespace(f"chaos{seed}")
        self.names = [f"app{i}" for i in range(n)]
        self.ca = TestCA()
        self.issued: dict[str, IssuedPem] = {}
        self.replicas: list[OperatorProcess] = []
        self.result = RunResult(seed, self.scenario)
        self.last_fault = time.monotonic()
        self._timers: list[threading.Timer] = []
        self._spawned = 0

    # -- operators ------------------------------------------------------------------------

    def spawn(self) -> OperatorProcess:
        self._spawned += 1
        process = self.env.operator(
            "--lease-duration",
            str(LEASE),
            "--leader-election-namespace",
            self.ns,
            "--sweep-interval",
            "5",
            name=f"chaos{self.seed}-{self._spawned}",
            ACM_SYNC_AWS_RATES="ImportCertificate=20",
        ).start(wait_ready=False)
        self.replicas.append(process)
        return process

    def live(self) -> list[OperatorProcess]:
        return [p for p in self.replicas if p.process is not None and p.process.poll() is None]

    def leader(self) -> OperatorProcess | None:
        for process in self.live():
            try:
                if "acmsync_leader 1.0" in process.metrics():
                    return process
            except OSError:
                continue
        return None

    def keep_replicas(self) -> None:
        """What a Deployment does: replace replicas that exited (lost Lease, killed)."""
        wanted = 1 if self.scenario == "kill-restart" else 2
        while len(self.live()) < wanted:
            self.spawn()

    # -- objects --------------------------------------------------------------------------

    def put_secret(self, name: str, replace: bool) -> None:
        issued = self.ca.issue(f"{name}.example.com")
        self.issued[name] = issued
        body = as_model(client.V1Secret, tls_secret(name, issued))
        core = self.env.cluster.core
        if replace:
            _retry(core.replace_namespaced_secret, name, self.ns, body)
        else:
            _retry(core.create_namespaced_secret, self.ns, body)

    def create_objects(self) -> None:
        for name in self.names:
            self.put_secret(name, replace=False)
            tags = {"team": self.rng.choice(["web", "api", "ops"])}
            _retry(
                self.env.cluster.create_cert,
                self.ns,
                name,
                secretName=name,
                regions=list(REGIONS),
                tags=tags,
            )

    def rotate(self) -> None:
        for name in self.names:
            self.put_secret(name, replace=True)
        # Tag changes too (a null removes the key: RemoveTagsFromCertificate).
        for name in self.rng.sample(self.names, k=max(1, self.n // 5)):
            team = self.rng.choice(["web", "api", None])
            spec = {"tags": {"team": team, "rotated": "yes"}}
            _retry(self.env.cluster.patch_cert, self.ns, name, spec)

    # -- faults ---------------------------------------------------------------------------

    def later(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def fault(self) -> None:
        """Inject one random fault of the kinds real AWS and Kubernetes produce."""
        rng, acm, kube = self.rng, self.env.acm_server, self.env.kube
        count = rng.randint(1, 3)
        writes = [None, "ImportCertificate:new", "ImportCertificate:reimport"]
        writes += ["AddTagsToCertificate", "RemoveTagsFromCertificate"]
        kinds = ["lost", "5xx-after-commit", "5xx", "latency", "throttle", "region-down"]
        if kube is not None:
            kinds += ["kube-5xx", "kube-429-status", "kube-5xx-secret", "watch-drop", "410"]
        kind = rng.choice(kinds)
        if kind == "lost":
            acm.lose_responses(count, api=rng.choice(writes))
        elif kind == "5xx-after-commit":
            acm.fail_after_commit(count, api=rng.choice(writes))
        elif kind == "5xx":
            acm.fail_next(count, api=rng.choice([None, "ImportCertificate", "ListCertificates"]))
        elif kind == "latency":
            acm.add_latency(count * 3, rng.uniform(0.2, 1.5), api=rng.choice(writes))
        elif kind == "throttle":
            acm.set_rates({"ImportCertificate": 2, "ListCertificates": 2})
            self.later(rng.uniform(1, 4), lambda: acm.set_rates({}))
        elif kind == "region-down":
            region = rng.choice(REGIONS)
            acm.set_region_down(region)
            self.later(rng.uniform(1, 4), lambda: acm.set_region_down(region, False))
        elif kube is not None:
            if kind == "kube-5xx":
                kube.fail_next(count, rng.choice([500, 503]))
            elif kind == "kube-429-status":
                kube.fail_next(count * 3, 429, path="/status", verb="PATCH")
            elif kind == "kube-5xx-secret":
                kube.fail_next(count, 500, path="/secrets/", verb="GET")
            elif kind == "watch-drop":
                kube.drop_watches()
            else:
                kube.compact()
                kube.drop_watches()
        self.result.faults.append(kind)
        self.last_fault = time.monotonic()

    def disrupt(self) -> None:
        """The scenario's blow, at a random moment of the phase."""
        leader = self.leader()
        if leader is None or leader.process is None:
            return
        if self.scenario == "replicas-pause":
            pid = leader.process.pid
            os.kill(pid, signal.SIGSTOP)
            time.sleep(2 * LEASE + self.rng.uniform(0, 1))
            os.kill(pid, signal.SIGCONT)
            self.result.faults.append("pause")
        else:
            leader.kill()
            self.result.faults.append("kill-9")
        self.last_fault = time.monotonic()

    def phase(self, start: Callable[[], None]) -> None:
        """Start the work, then faults and the blow at seeded moments, then converge."""
        start()
        moments = sorted(self.rng.uniform(0.05, 2.0) for _ in range(self.rng.randint(1, 3)))
        blow = self.rng.uniform(0.1, 2.0)
        began = time.monotonic()
        done_blow = False
        for moment in moments:
            if not done_blow and blow <= moment:
                time.sleep(max(0.0, blow - (time.monotonic() - began)))
                self.disrupt()
                done_blow = True
            time.sleep(max(0.0, moment - (time.monotonic() - began)))
            self.fault()
        if not done_blow:
            time.sleep(max(0.0, blow - (time.monotonic() - began)))
            self.disrupt()
        self.converge()

    # -- audit ----------------------------------------------------------------------------

    def wrong(self) -> list[str]:
        """Objects whose status or ACM copy is not what the Secret says."""
        bad: list[str] = []
        held = {c["arn"]: c for c in self.env.acm_server.certificates()}
        for name in self.names:
            obj = _retry(self.env.cluster.cert, self.ns, name) or {}
            status: dict[str, Any] = obj.get("status") or {}
            ready = {c["type"]: c for c in status.get("conditions") or []}.get("Ready", {})
            serial = self.issued[name].serial
            entries = {e.get("region"): e for e in status.get("regions") or []}
            ok = (
                ready.get("reason") == "Synced"
                and _serial((status.get("secret") or {}).get("serialNumber")) == serial
                and set(entries) == set(REGIONS)
                and all(
                    e.get("arn") in held and int(held[e["arn"]]["serial"], 16) == serial
                    for e in entries.values()
                )
            )
            if not ok:
                bad.append(name)
        return bad

    def converge(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.keep_replicas()
            if not self.wrong():
                self.result.converged = True
                self.result.convergence = max(
                    self.result.convergence, time.monotonic() - self.last_fault
                )
                return
            time.sleep(0.5)
        self.result.converged = False

    def audit(self) -> None:
        """Duplicates, lost rotations and stale statuses across every region."""
        certs = self.env.acm_server.certificates()
        per_owner = Counter(
            (c["region"], c["tags"].get(OWNER_TAG, "")) for c in certs if c["tags"].get(OWNER_TAG)
        )
        self.result.duplicates = sum(n - 1 for n in per_owner.values() if n > 1)
        lost = 0
        for name in self.names:
            serial = self.issued[name].serial
            for region in REGIONS:
                mine = [
                    c
                    for c in certs
                    if c["region"] == region
                    and c["tags"].get(OWNER_TAG, "").endswith(f"/{self.ns}/{name}")
                ]
                if not any(int(c["serial"], 16) == serial for c in mine):
                    lost += 1
        self.result.lost_rotations = lost
        self.result.stale_statuses = len(self.wrong())
        logs = "".join(p.log_path.read_text(errors="replace") for p in self.replicas)
        self.result.key_leaks = sum(i.key_body[:40] in logs for i in self.issued.values())

    def run(self) -> RunResult:
        try:
            self.create_objects()
            self.phase(self.keep_replicas)
            self.phase(self.rotate)
            self.env.acm_server.acm.faults.clear()
            self.env.acm_server.set_rates({})
            self.audit()
        finally:
            for timer in self._timers:
                timer.cancel()
            for process in self.replicas:
                if process.process is not None and process.process.poll() is None:
                    os.kill(process.process.pid, signal.SIGCONT)
                process.stop(timeout=10)
        return self.result


def _retry(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The driver's own API calls ride out the faults injected for the operator."""
    for attempt in range(30):
        try:
            return call(*args, **kwargs)
        except client.ApiException as exc:
            if exc.status not in (429, 500, 503, 504) or attempt == 29:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def _serial(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(text.replace(":", ""), 16)
    except ValueError:
        return None


def run_seeds(seeds: list[int], n: int, timeout: float, workdir: Path) -> list[RunResult]:
    """One fresh pair of emulators per seed (nothing carries over between runs)."""
    results = []
    for seed in seeds:
        tmp = workdir / f"seed-{seed}"
        tmp.mkdir(parents=True, exist_ok=True)
        env_gen = open_env(tmp, "emulator", {})
        env = next(env_gen)
        try:
            results.append(Chaos(env, seed, n, timeout).run())
        finally:
            env_gen.close()
    return results


def summary(results: list[RunResult], n: int) -> str:
    """The figures the issue asks for, one per line."""
    times = [r.convergence for r in results if r.converged]
    lines = [
        f"runs: {len(results)} (N={n} objects x {len(REGIONS)} regions each)",
        f"scenarios: {dict(Counter(r.scenario for r in results))}",
        f"faults injected: {sum(len(r.faults) for r in results)}",
        f"duplicates: {sum(r.duplicates for r in results)}",
        f"lost rotations: {sum(r.lost_rotations for r in results)}",
        f"stale statuses: {sum(r.stale_statuses for r in results)}",
        f"key material in logs: {sum(r.key_leaks for r in results)}",
        f"not converged within the bound: {sum(not r.converged for r in results)}",
    ]
    if times:
        lines.append(
            "convergence after the last fault: "
            f"median {statistics.median(times):.1f}s, max {max(times):.1f}s"
        )
    for r in results:
        if r.duplicates or r.lost_rotations or r.stale_statuses or r.key_leaks or not r.converged:
            lines.append(f"  seed {r.seed} ({r.scenario}): {r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``make chaos``: run the seeds, print the figures, exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (runs)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=30, help="AcmCertificates per run")
    parser.add_argument("--timeout", type=float, default=90.0, help="bound per phase (s)")
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    with tempfile.TemporaryDirectory(prefix="acm-sync-chaos-") as tmp:
        results = run_seeds(seeds, args.n, args.timeout, Path(tmp))
    print(summary(results, args.n))
    bad = any(
        r.duplicates or r.lost_rotations or r.stale_statuses or r.key_leaks or not r.converged
        for r in results
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
