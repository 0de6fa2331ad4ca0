"""Engine figures against the strict ACM emulator (printed, not asserted).

1. A no-op sync of N certificates already in sync: AWS calls made (expected 0).
2. A drift sweep of 1,000 certificates in one region: ListCertificates and
   DescribeCertificate calls (expected ceil(N/1000) lists + one describe per changed one).
3. A cold sync of N certificates into 3 regions with the emulator limited to 1 import/s per
   region and the engine at its default rates, without and with 100 certificates of other
   owners per region: wall time against the N-seconds floor (target <= 1.1x), AWS calls per
   new import (target <= 1.5), achieved imports/s per region, throttling errors seen.

Run: .venv/bin/python bench/bench_engine.py
"""

from __future__ import annotations

import base64
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from acm_sync.aws.engine import Engine
from acm_sync.aws.settings import DEFAULT_RATES, AwsSettings
from acm_sync.core.model import Material
from acm_sync.core.state import DesiredState, Owner, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator

ROOT = Path(__file__).resolve().parents[1]
# Run as `python bench/bench_engine.py`: the test kits are the tests package at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.certkit import make_cert  # noqa: E402

NOOP_N = 100
SWEEP_N = 1000
SWEEP_CHANGED = 5
COLD_N = 30
COLD_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
COLD_FOREIGN = 100  # certificates of other owners per region (issue 13's figure)

_KEY = ec.generate_private_key(ec.SECP256R1())


def material(i: int) -> Material:
    """A self-signed P-256 leaf (one shared key keeps generation cheap)."""
    now = datetime.now(UTC)
    name = f"site-{i}.example.com"
    cert = make_cert(
        _KEY,
        cn=name,
        sans=(name,),
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=90),
        basic_constraints=False,
    )
    return Material(cert.pem, None, cert.key_pem())


def desired(i: int, m: Material, regions: tuple[str, ...]) -> DesiredState:
    return DesiredState(
        owner=Owner("bench", "default", f"site-{i}"),
        fingerprint=str(hash(m.certificate)),
        key_algorithm="EC_prime256v1",
        regions=regions,
    )


def settings(url: str, **overrides: object) -> AwsSettings:
    return AwsSettings(endpoint_url=url, **overrides)  # type: ignore[arg-type]


def bench_noop(acm: AcmEmulator) -> None:
    acm.reset()
    engine = Engine(settings(acm.url, rates={}, region_workers=8))
    items = [(i, material(i)) for i in range(NOOP_N)]
    with ThreadPoolExecutor(16) as pool:
        first = list(
            pool.map(lambda p: engine.sync(desired(p[0], p[1], ("us-east-1",)), p[1], {}), items)
        )
    records = [{r: o.record() for r, o in out.items()} for out in first]
    before = len(acm.calls())
    start = time.perf_counter()
    for (i, m), rec in zip(items, records, strict=True):
        engine.sync(desired(i, m, ("us-east-1",)), m, rec)
    elapsed = time.perf_counter() - start
    engine.close()
    print(
        f"no-op sync of {NOOP_N} certificates already in sync: "
        f"{len(acm.calls()) - before} AWS calls ({elapsed * 1000:.1f} ms total)"
    )


def bench_sweep(acm: AcmEmulator) -> None:
    acm.reset()
    records: list[tuple[Owner, RegionRecord]] = []
    for i in range(SWEEP_N):
        m = material(i)
        arn = acm.acm.handle(
            "us-east-1",
            "ImportCertificate",
            {
                "Certificate": base64.b64encode(m.certificate).decode(),
                "PrivateKey": base64.b64encode(m.private_key).decode(),
            },
        )["CertificateArn"]
        seen = acm.acm.handle("us-east-1", "DescribeCertificate", {"CertificateArn": arn})
        imported_at = datetime.fromtimestamp(seen["Certificate"]["ImportedAt"], UTC)
        records.append(
            (
                Owner("bench", "default", f"site-{i}"),
                # As a status written by a sync records it: what the ARN holds, InUseBy read.
                RegionRecord(
                    "us-east-1",
                    arn,
                    "fp",
                    imported_at,
                    not_after=datetime.fromtimestamp(seen["Certificate"]["NotAfter"], UTC),
                    in_use_by=(),
                ),
            )
        )
    time.sleep(1.1)  # ImportedAt has second precision: make out-of-band reimports visible
    for _owner, record in records[:2]:
        acm.acm.handle("us-east-1", "DeleteCertificate", {"CertificateArn": record.arn})
    for i, (_, record) in enumerate(records[2:SWEEP_CHANGED], start=2):
        # A renewal out of band: same name, new certificate (ACM refuses a reimport that
        # keeps none of the ARN's domain names).
        m = material(i)
        acm.acm.handle(
            "us-east-1",
            "ImportCertificate",
            {
                "CertificateArn": record.arn,
                "Certificate": base64.b64encode(m.certificate).decode(),
                "PrivateKey": base64.b64encode(m.private_key).decode(),
            },
        )
    engine = Engine(settings(acm.url))
    before = len(acm.calls())
    start = time.perf_counter()
    drifts = engine.sweep("us-east-1", records)
    elapsed = time.perf_counter() - start
    engine.close()
    calls = acm.calls()[before:]
    lists = sum(c["api"] == "ListCertificates" for c in calls)
    describes = sum(c["api"] == "DescribeCertificate" for c in calls)
    print(
        f"drift sweep of {SWEEP_N} certificates ({SWEEP_CHANGED} changed) in one region: "
        f"{lists} ListCertificates (expected {math.ceil(SWEEP_N / 1000)}), "
        f"{describes} DescribeCertificate (expected {SWEEP_CHANGED}), "
        f"{len(calls) - lists - describes} other calls, {len(drifts)} drifts found, "
        f"{elapsed:.2f} s"
    )


def seed_foreign(acm: AcmEmulator, count: int) -> None:
    """``count`` certificates per region, half tagged by acm-sync for another cluster."""
    m = material(10_000)
    for region in COLD_REGIONS:
        for n in range(count):
            owner = Owner("other-cluster", "default", f"x{n}")
            tags = owner.system_tags() if n % 2 else {"team": f"t{n}"}
            acm.acm.handle(
                region,
                "ImportCertificate",
                {
                    "Certificate": base64.b64encode(m.certificate).decode(),
                    "PrivateKey": base64.b64encode(m.private_key).decode(),
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                },
            )


def bench_cold(acm: AcmEmulator, foreign: int = 0) -> None:
    acm.reset()
    seed_foreign(acm, foreign)
    acm.set_rates({**DEFAULT_RATES, "ImportCertificate": 1.0})
    engine = Engine(settings(acm.url))  # default client-side rates
    items = [(i, material(i)) for i in range(COLD_N)]
    since = len(acm.calls())
    start = time.perf_counter()
    with ThreadPoolExecutor(COLD_N) as pool:
        outcomes = list(
            pool.map(lambda p: engine.sync(desired(p[0], p[1], COLD_REGIONS), p[1], {}), items)
        )
    wall = time.perf_counter() - start
    engine.close()
    calls = acm.calls()[since:]
    failed = sum(o.state is not RegionState.SYNCED for out in outcomes for o in out.values())
    throttled = sum(c["outcome"] == "ThrottlingException" for c in calls)
    imports = sum(c["api"] == "ImportCertificate" and c["outcome"] == "ok" for c in calls)
    by_api: dict[str, int] = {}
    for c in calls:
        by_api[c["api"]] = by_api.get(c["api"], 0) + 1
    # The floor: N imports at 1/s per region, the first at once (regions in parallel).
    floor = COLD_N - 1
    print(
        f"cold sync of {COLD_N} certificates into {len(COLD_REGIONS)} regions with {foreign} "
        f"foreign certificates each (emulator: 1 import/s per region): {wall:.1f} s wall, "
        f"{wall / floor:.2f}x the {floor} s floor (target <= 1.10x; serial regions would "
        f"take >= {COLD_N * len(COLD_REGIONS)} s)"
    )
    print(
        f"  AWS calls per new import: {len(calls) / max(imports, 1):.2f} (target <= 1.5): "
        + ", ".join(f"{api} {n}" for api, n in sorted(by_api.items()))
    )
    for region in COLD_REGIONS:
        stamps = sorted(
            c["time"]
            for c in calls
            if c["region"] == region and c["api"] == "ImportCertificate" and c["outcome"] == "ok"
        )
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else float("nan")
        print(
            f"  {region}: {len(stamps)} imports, "
            f"{(len(stamps) - 1) / span:.2f} imports/s between first and last import, "
            f"{len(stamps) / wall:.2f} imports/s over the whole wall time"
        )
    print(
        f"  throttling errors seen by the engine: {throttled}; "
        f"regions not synced at the end: {failed}"
    )


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with AcmEmulator() as acm:
        bench_noop(acm)
        bench_sweep(acm)
        bench_cold(acm)
        bench_cold(acm, COLD_FOREIGN)


if __name__ == "__main__":
    main()
