"""The faults the chaos suite injects: the kinds real AWS and Kubernetes produce, and the
driver's own retries that ride them out."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator

T = TypeVar("T")


def inject_fault(
    rng: random.Random,
    acm: AcmEmulator,
    kube: KubeEmulator | None,
    later: Callable[[float, Callable[[], None]], None],
    regions: tuple[str, ...],
) -> str:
    """Inject one random fault and return its kind; ``later`` undoes the timed ones."""
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
        later(rng.uniform(1, 4), lambda: acm.set_rates({}))
    elif kind == "region-down":
        region = rng.choice(regions)
        acm.set_region_down(region)
        later(rng.uniform(1, 4), lambda: acm.set_region_down(region, False))
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
    return kind


def retry(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The driver's own API calls ride out the faults injected for the operator."""
    for attempt in range(30):
        try:
            return call(*args, **kwargs)
        except client.ApiException as exc:
            if exc.status not in (429, 500, 503, 504) or attempt == 29:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")
