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

    python -m tests.chaos.chaos --seeds 100 --n 200     # or: make chaos SEEDS=100 N=200

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
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from tests.certkit import IssuedPem, TestCA, tls_secret
from tests.chaos.audit import REGIONS, RunResult, audit, summary, wrong_objects
from tests.chaos.faults import inject_fault, retry
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, open_env

LEASE = 3
SCENARIOS = ("kill-restart", "replicas-kill", "replicas-pause")


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
            retry(core.replace_namespaced_secret, name, self.ns, body)
        else:
            retry(core.create_namespaced_secret, self.ns, body)

    def create_objects(self) -> None:
        for name in self.names:
            self.put_secret(name, replace=False)
            tags = {"team": self.rng.choice(["web", "api", "ops"])}
            retry(
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
            retry(self.env.cluster.patch_cert, self.ns, name, spec)

    # -- faults ---------------------------------------------------------------------------

    def later(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def fault(self) -> None:
        """Inject one random fault of the kinds real AWS and Kubernetes produce."""
        kind = inject_fault(self.rng, self.env.acm_server, self.env.kube, self.later, REGIONS)
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
        return wrong_objects(self.env, self.ns, self.issued)

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
        audit(self.env, self.ns, self.issued, self.replicas, self.result)

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
