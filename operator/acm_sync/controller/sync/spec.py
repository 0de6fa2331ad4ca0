"""Reading an AcmCertificate's spec and its Secret into what the engine needs.

Everything here is decided before any AWS call: invalid input must never reach ACM.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code, Finding
from acm_sync.core.model import Analysis
from acm_sync.core.reasons import Reason
from acm_sync.core.regions import region_of_arn, validate_region
from acm_sync.core.roots import NO_PRIVATE_ROOTS, PrivateRoots
from acm_sync.core.state import DeletionPolicy, KeyChangePolicy
from acm_sync.core.tags import validate_tags
from acm_sync.core.targets import TargetRef, parse_target_refs

TLS_SECRET_TYPE = "kubernetes.io/tls"  # noqa: S105 - a type name, not a password

CLOUDFRONT_REGION = "us-east-1"  # the only region whose certificates CloudFront uses


# A Kubernetes object name (DNS-1123 subdomain): what a Secret can be called.
DNS_SUBDOMAIN = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)


class SpecError(Exception):
    """The spec cannot be acted on; ``reason`` is the Ready condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class CertSpec:
    """A validated AcmCertificate spec."""

    secret_name: str
    regions: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    adopt_arns: Mapping[str, str] = field(default_factory=dict)
    on_key_change: KeyChangePolicy = KeyChangePolicy.BLOCK
    # Other accounts (AcmTargets) and the regions wanted in each.
    targets: tuple[TargetRef, ...] = ()

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (target, region) pair asked for: the operator's own account is target ""."""
        own = tuple(("", r) for r in self.regions)
        return own + tuple((t.target, r) for t in self.targets for r in t.regions)


def relevant_warnings(findings: Sequence[Finding], regions: Sequence[str]) -> tuple[Finding, ...]:
    """The core's warnings that matter for these regions (CloudFront uses us-east-1 only)."""
    return tuple(
        f
        for f in findings
        if f.code is not Code.CLOUDFRONT_INCOMPATIBLE or CLOUDFRONT_REGION in regions
    )


def is_suspended(body: Mapping[str, Any]) -> bool:
    """Whether ``spec.suspend`` pauses every AWS call for the object."""
    return (body.get("spec") or {}).get("suspend") is True


def deletion_policy_of(body: Mapping[str, Any]) -> DeletionPolicy:
    """The deletion policy, read leniently: anything but ``Delete`` retains (the safe side)."""
    value = (body.get("spec") or {}).get("deletionPolicy")
    return DeletionPolicy.DELETE if value == DeletionPolicy.DELETE.value else DeletionPolicy.RETAIN


def parse_spec(
    spec: Mapping[str, Any],
    *,
    allowed_regions: frozenset[str] = frozenset(),
    adoption_enabled: bool = True,
) -> CertSpec:
    """Validate ``spec`` the way the CRD does, plus the operator-wide rules; raise SpecError."""
    secret_name = spec.get("secretName")
    if not isinstance(secret_name, str) or not secret_name:
        raise SpecError(Reason.INVALID_SPEC, "spec.secretName is required")
    if not DNS_SUBDOMAIN.fullmatch(secret_name):
        # The CRD's pattern says the same; checked here too, since the name goes into the
        # path of a GET (../../other-namespace/secrets/x must never reach the API server).
        raise SpecError(
            Reason.INVALID_SPEC, f"spec.secretName {secret_name[:80]!r} is not a DNS-1123 subdomain"
        )
    raw_regions = spec.get("regions")
    if raw_regions is None:
        raw_regions = []
    try:
        targets = parse_target_refs(spec.get("targets"))
    except ValueError as exc:
        raise SpecError(Reason.INVALID_SPEC, str(exc)) from None
    if not isinstance(raw_regions, list) or not (raw_regions or targets):
        raise SpecError(
            Reason.INVALID_REGION,
            "spec.regions must list at least one region (or use spec.targets)",
        )
    regions: list[str] = []
    for region in raw_regions:
        problem = validate_region(region) if isinstance(region, str) else "not a string"
        if problem:
            raise SpecError(Reason.INVALID_REGION, f"spec.regions: {problem}")
        if region in regions:
            raise SpecError(Reason.INVALID_REGION, f"spec.regions: {region} is listed twice")
        regions.append(region)
    if allowed_regions:
        everywhere = dict.fromkeys([*regions, *(r for t in targets for r in t.regions)])
        refused = [r for r in everywhere if r not in allowed_regions]
        if refused:
            raise SpecError(
                Reason.REGION_NOT_ALLOWED,
                f"region(s) {', '.join(refused)} not allowed by this operator "
                f"(allowed: {', '.join(sorted(allowed_regions))})",
            )
    tags = spec.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise SpecError(Reason.INVALID_TAGS, "spec.tags must map strings to strings")
    problems = validate_tags(tags, with_targets=bool(targets))
    if problems:
        raise SpecError(Reason.INVALID_TAGS, "; ".join(problems))
    arns = spec.get("certificateArns") or {}
    if not isinstance(arns, dict):
        raise SpecError(Reason.INVALID_SPEC, "spec.certificateArns must map regions to ARNs")
    if arns and not adoption_enabled:
        raise SpecError(
            Reason.ADOPTION_DISABLED,
            "spec.certificateArns is refused: adoption is disabled operator-wide",
        )
    target_regions = {r for t in targets for r in t.regions}
    for region, arn in arns.items():
        # An ARN is adopted in the account it names: the operator's own, or a target's.
        if region not in regions and region not in target_regions:
            raise SpecError(
                Reason.INVALID_SPEC,
                f"spec.certificateArns names {region}, which is not in spec.regions "
                "(nor in spec.targets)",
            )
        arn_region = region_of_arn(arn) if isinstance(arn, str) else None
        if arn_region is None:
            raise SpecError(
                Reason.INVALID_SPEC, f"spec.certificateArns[{region}] is not an ACM ARN"
            )
        if arn_region != region:
            raise SpecError(
                Reason.ARN_REGION_MISMATCH,
                f"spec.certificateArns[{region}] is a certificate in {arn_region}, not {region}",
            )
    try:
        deletion = DeletionPolicy(spec.get("deletionPolicy") or DeletionPolicy.RETAIN.value)
        key_change = KeyChangePolicy(spec.get("onKeyChange") or KeyChangePolicy.BLOCK.value)
    except ValueError as exc:
        raise SpecError(Reason.INVALID_SPEC, str(exc)) from None
    return CertSpec(
        secret_name=secret_name,
        regions=tuple(regions),
        tags=dict(tags),
        deletion_policy=deletion,
        adopt_arns=dict(arns),
        on_key_change=key_change,
        targets=targets,
    )


def _decode(data: Mapping[str, Any], key: str) -> bytes | None:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        # Undecodable data is reported by the core as NotPEM; keep the bytes non-empty.
        return b"\x00"


def analyze_secret(
    secret: Mapping[str, Any] | None,
    *,
    now: datetime,
    expiry_warning_days: int,
    private_roots: PrivateRoots = NO_PRIVATE_ROOTS,
) -> Analysis:
    """Run the certificate core over a Secret's data; raise SpecError for a missing/wrong Secret."""
    if secret is None:
        raise SpecError(Reason.SECRET_NOT_FOUND, "the Secret does not exist")
    secret_type = secret.get("type")
    if secret_type != TLS_SECRET_TYPE:
        raise SpecError(
            Reason.NOT_TLS_SECRET, f"the Secret has type {secret_type!r}, not {TLS_SECRET_TYPE!r}"
        )
    data = secret.get("data") or {}
    cert = _decode(data, "tls.crt") or b""
    key = _decode(data, "tls.key")
    ca = _decode(data, "ca.crt")
    return analyze(
        cert,
        key,
        ca,
        now=now,
        expiry_warning_days=expiry_warning_days,
        private_roots=private_roots,
    )
