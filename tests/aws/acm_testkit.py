"""Test kit for the engine tests: settings, owners and desired states (the certificates come
from tests/certkit.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from acm_sync.aws.settings import AwsSettings
from acm_sync.core.model import Material
from acm_sync.core.state import DesiredState, Owner


def fingerprint(material: Material) -> str:
    """Changes whenever the leaf or chain changes (the tests' stand-in for the core's)."""
    return hashlib.sha256(material.certificate + (material.chain or b"")).hexdigest()


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials; never the user's profile, config, endpoint or role."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_ACM",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/acm-sync-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/acm-sync-test-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


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
