"""AcmTargets: other AWS accounts, and which (target, region) pairs an AcmCertificate may use.

Pure: the kopf layer reads the AcmTarget and the namespace's labels, and asks here whether a
pair may be synced. A refused pair gets a reason and makes no AWS call; the others go on.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acm_sync.core.reasons import Reason
from acm_sync.core.regions import validate_region
from acm_sync.core.state import TARGET_TAG

__all__ = ["TARGET_TAG"]  # re-exported: the tag belongs with the targets
OWN_ACCOUNT = ""  # the target name of the operator's own account in status and pair keys

ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/[\w+=,.@/-]{1,512}")
_TARGET_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_ACM_ARN_ACCOUNT_RE = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:(?P<account>[0-9]{12}):")


@dataclass(frozen=True, slots=True)
class RoleTarget:
    """What the AWS side needs of an AcmTarget: its name, role and external id."""

    name: str
    role_arn: str
    external_id: str | None = None

    @property
    def account(self) -> str:
        """The role's 12-digit account."""
        match = ROLE_ARN_RE.fullmatch(self.role_arn)
        return match.group("account") if match else ""


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A validated AcmTarget spec."""

    name: str
    role_arn: str
    external_id: str | None = None
    regions: frozenset[str] | None = None  # None: every region
    namespace_selector: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def account(self) -> str:
        """The 12-digit account id of the role."""
        return self.role().account

    def role(self) -> RoleTarget:
        """The part the AWS side uses (a change of it means new credentials)."""
        return RoleTarget(self.name, self.role_arn, self.external_id)


@dataclass(frozen=True, slots=True)
class TargetRef:
    """One entry of an AcmCertificate's spec.targets."""

    target: str
    regions: tuple[str, ...]


class TargetSpecError(ValueError):
    """An AcmTarget spec that cannot be used."""


def parse_target(name: str, spec: Mapping[str, Any]) -> TargetSpec:
    """Validate an AcmTarget's spec (the CRD checks the same; the emulator lacks CEL)."""
    role_arn = spec.get("roleArn")
    if not isinstance(role_arn, str) or not ROLE_ARN_RE.fullmatch(role_arn):
        raise TargetSpecError(f"spec.roleArn {role_arn!r} is not an IAM role ARN")
    external_id = spec.get("externalId")
    if external_id is not None and (not isinstance(external_id, str) or len(external_id) < 2):
        raise TargetSpecError("spec.externalId must be a string of 2 or more characters")
    raw_regions = spec.get("regions")
    regions: frozenset[str] | None = None
    if raw_regions is not None:
        if not isinstance(raw_regions, list) or not all(isinstance(r, str) for r in raw_regions):
            raise TargetSpecError("spec.regions must list region names")
        for region in raw_regions:
            if problem := validate_region(region):
                raise TargetSpecError(f"spec.regions: {problem}")
        regions = frozenset(raw_regions)
    selector = spec.get("namespaceSelector")
    if selector is not None and not isinstance(selector, Mapping):
        raise TargetSpecError("spec.namespaceSelector must be a label selector")
    return TargetSpec(name, role_arn, external_id, regions, selector)


def parse_target_refs(raw: Any) -> tuple[TargetRef, ...]:
    """spec.targets as TargetRefs; raise ValueError with a message naming the problem."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("spec.targets must be a list")
    refs: list[TargetRef] = []
    for index, item in enumerate(raw):
        where = f"spec.targets[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be an object")
        name = item.get("target")
        if not isinstance(name, str) or not _TARGET_NAME_RE.fullmatch(name):
            raise ValueError(f"{where}.target {name!r} is not an AcmTarget name")
        if any(ref.target == name for ref in refs):
            raise ValueError(f"{where}: target {name} is listed twice")
        regions = item.get("regions")
        if not isinstance(regions, list) or not regions:
            raise ValueError(f"{where}.regions must list at least one region")
        seen: list[str] = []
        for region in regions:
            problem = validate_region(region) if isinstance(region, str) else "not a string"
            if problem:
                raise ValueError(f"{where}.regions: {problem}")
            if region in seen:
                raise ValueError(f"{where}.regions: {region} is listed twice")
            seen.append(region)
        refs.append(TargetRef(name, tuple(seen)))
    return tuple(refs)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics; None (absent) and {} select everything."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key")
        operator = expression.get("operator")
        values = set(expression.get("values") or [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False  # an unknown operator selects nothing: the safe side
    return True


def role_allowed(role_arn: str, allowlist: Sequence[str]) -> bool:
    """Whether the operator may ever assume ``role_arn`` (empty allowlist: any role).

    Entries are ARNs or shell-style patterns (``arn:aws:iam::*:role/acm-sync-*``).
    """
    return not allowlist or any(fnmatch.fnmatchcase(role_arn, entry) for entry in allowlist)


def pair_problem(
    target_name: str,
    region: str,
    target: TargetSpec | None,
    namespace: str,
    namespace_labels: Mapping[str, str] | None,
) -> tuple[str, str] | None:
    """(reason, message) when the pair must not be synced, None when it may."""
    if target is None:
        return Reason.TARGET_NOT_FOUND, f"AcmTarget {target_name} does not exist"
    if namespace_labels is None or not selector_matches(
        target.namespace_selector, namespace_labels
    ):
        return (
            Reason.TARGET_NOT_ALLOWED,
            f"AcmTarget {target_name}'s namespaceSelector does not admit namespace {namespace}",
        )
    if target.regions is not None and region not in target.regions:
        allowed = ", ".join(sorted(target.regions)) or "none"
        return (
            Reason.REGION_NOT_ALLOWED,
            f"AcmTarget {target_name} may not be used for {region} (its regions: {allowed})",
        )
    return None


def account_of_arn(arn: str | None) -> str:
    """The account id in an ACM certificate ARN ('' when unknown)."""
    match = _ACM_ARN_ACCOUNT_RE.match(arn or "")
    return match.group("account") if match else ""


def parse_targets_annotation(value: str) -> tuple[TargetRef, ...]:
    """``edge=us-east-1;shared=us-west-2+eu-west-1`` as TargetRefs; raise ValueError."""
    items: list[dict[str, Any]] = []
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, regions = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not target=region[+region...]")
        items.append(
            {
                "target": name.strip(),
                "regions": [r.strip() for r in regions.split("+") if r.strip()],
            }
        )
    return parse_target_refs(items)
