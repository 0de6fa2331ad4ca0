"""The chaos suite's audit: what every region holds against what every Secret says.

Certificates per owner tag (a second one is a duplicate), the serial ACM holds against the
Secret's (a mismatch is a lost rotation), every status against ACM (Ready=Synced, the Secret's
serial, ARNs that exist and hold it; else a stale status), and key material in the logs.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.certkit import IssuedPem
from tests.chaos.faults import retry
from tests.operator.opkit import Env, OperatorProcess

REGIONS = ("us-east-1", "eu-west-1")
OWNER_TAG = "acmsync.io/owner"


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


def serial_of(text: object) -> int | None:
    """A colon-separated hex serial as a number (None when absent or unreadable)."""
    if not isinstance(text, str):
        return None
    try:
        return int(text.replace(":", ""), 16)
    except ValueError:
        return None


def wrong_objects(env: Env, ns: str, issued: dict[str, IssuedPem]) -> list[str]:
    """Objects whose status or ACM copy is not what the Secret says."""
    bad: list[str] = []
    held = {c["arn"]: c for c in env.acm_server.certificates()}
    for name in issued:
        obj = retry(env.cluster.cert, ns, name) or {}
        status: dict[str, Any] = obj.get("status") or {}
        ready = {c["type"]: c for c in status.get("conditions") or []}.get("Ready", {})
        serial = issued[name].serial
        entries = {e.get("region"): e for e in status.get("regions") or []}
        ok = (
            ready.get("reason") == "Synced"
            and serial_of((status.get("secret") or {}).get("serialNumber")) == serial
            and set(entries) == set(REGIONS)
            and all(
                e.get("arn") in held and int(held[e["arn"]]["serial"], 16) == serial
                for e in entries.values()
            )
        )
        if not ok:
            bad.append(name)
    return bad


def audit(
    env: Env,
    ns: str,
    issued: dict[str, IssuedPem],
    replicas: list[OperatorProcess],
    result: RunResult,
) -> None:
    """Duplicates, lost rotations and stale statuses across every region."""
    certs = env.acm_server.certificates()
    per_owner = Counter(
        (c["region"], c["tags"].get(OWNER_TAG, "")) for c in certs if c["tags"].get(OWNER_TAG)
    )
    result.duplicates = sum(n - 1 for n in per_owner.values() if n > 1)
    lost = 0
    for name in issued:
        serial = issued[name].serial
        for region in REGIONS:
            mine = [
                c
                for c in certs
                if c["region"] == region and c["tags"].get(OWNER_TAG, "").endswith(f"/{ns}/{name}")
            ]
            if not any(int(c["serial"], 16) == serial for c in mine):
                lost += 1
    result.lost_rotations = lost
    result.stale_statuses = len(wrong_objects(env, ns, issued))
    logs = "".join(p.log_path.read_text(errors="replace") for p in replicas)
    result.key_leaks = sum(i.key_body[:40] in logs for i in issued.values())


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
