"""Test kit for the engine tests: settings, owners and desired states (the certificates come
from tests/certkit.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from acm_sync.aws.settings import AwsSettings
from acm_sync.core.model import Material
from acm_sync.core.state import DesiredState, Owner


def fingerprint(material: Material) -> str:
    """Changes whenever the leaf or chain changes (the tests' stand-in for the core's)."""
    return hashlib.sha256(material.certificate + (material.chain or b"")).hexdigest()


def fast_settings(url: str, **overrides: Any) -> AwsSettings:
    """No client-side rate limits and millisecond backoff, so the suite stays fast."""
    base: dict[str, Any] = {
        "rates": {},
        "max_attempts": 4,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "endpoint_url": url,
        "read_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    base.update(overrides)
    return AwsSettings(**base)


OWNER = Owner(cluster_id="c-1234", namespace="web", name="shop")


def desired_for(
    material: Material,
    regions: tuple[str, ...] = ("us-east-1",),
    *,
    owner: Owner = OWNER,
    algorithm: str = "RSA_2048",
    **fields: Any,
) -> DesiredState:
    return DesiredState(
        owner=owner,
        fingerprint=fingerprint(material),
        key_algorithm=algorithm,
        regions=regions,
        **fields,
    )
