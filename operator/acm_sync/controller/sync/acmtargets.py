"""AcmCertificate pairs in other accounts (spec.targets), and the AcmTarget status.

Every (target, region) pair is synced, rotated, dropped and deleted as a region of the
operator's own account is, through the engine of the target's account. Before any AWS call
each pair is checked against its AcmTarget (TargetNotFound, TargetNotAllowed,
RegionNotAllowed): a refused pair makes no call and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from acm_sync.controller.platform.engine_api import EngineLike
from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.platform.kubeport import KubeLike
from acm_sync.controller.sync import statusfields as st
from acm_sync.core.reasons import ConditionType, QuietReason, Reason
from acm_sync.core.state import (
    RegionOutcome,
)
from acm_sync.core.targets import (
    RoleTarget,
    TargetSpec,
    TargetSpecError,
    account_of_arn,
    pair_problem,
    parse_target,
)

log = logging.getLogger(__name__)


class TargetEnginesLike(Protocol):
    """``acm_sync.aws.target_engines.TargetEngines`` as the kopf layer uses it."""

    def engine(self, target: RoleTarget) -> EngineLike:
        """The engine of ``target``'s account."""
        ...

    def check(self, target: RoleTarget) -> str | None:
        """Assume the role now: None when it worked, else AWS's reason."""
        ...

    def current(self) -> Sequence[tuple[RoleTarget, EngineLike]]:
        """The target engines in use (for the sweep)."""
        ...

    def forget(self, name: str) -> None:
        """Drop a deleted AcmTarget's engine and credentials."""
        ...

    def close(self) -> None:
        """Stop every target engine's threads (shutdown)."""
        ...


class TargetUsers:
    """Which AcmCertificates name which AcmTarget (their last reconcile's spec.targets)."""

    def __init__(self) -> None:
        self._users: dict[str, set[tuple[str, str]]] = {}

    def note(self, key: tuple[str, str], spec: Mapping[str, Any]) -> list[str]:
        """Record the AcmTargets ``spec`` names for ``key``; return their names."""
        names = [
            t["target"]
            for t in spec.get("targets") or []
            if isinstance(t, dict) and isinstance(t.get("target"), str)
        ]
        self.forget(key)
        for name in names:
            self._users.setdefault(name, set()).add(key)
        return names

    def forget(self, key: tuple[str, str]) -> None:
        """``key`` is gone."""
        for users in self._users.values():
            users.discard(key)

    def of(self, name: str) -> list[tuple[str, str]]:
        """The AcmCertificates whose last reconcile named AcmTarget ``name``."""
        return sorted(self._users.get(name, ()))


@dataclass(frozen=True, slots=True)
class TargetContext:
    """What one reconcile knows about the AcmTargets it names and its namespace."""

    namespace: str
    enabled: bool = True
    targets: Mapping[str, TargetSpec] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)  # name -> why it is unusable
    namespace_labels: Mapping[str, str] | None = None

    def problem(self, target: str, region: str) -> tuple[str, str] | None:
        """(reason, message) when the pair must make no AWS call."""
        if not self.enabled:
            return (
                Reason.TARGET_NOT_ALLOWED,
                "spec.targets is disabled operator-wide (targets.enabled)",
            )
        if target in self.problems:
            return Reason.TARGET_NOT_FOUND, self.problems[target]
        return pair_problem(
            target, region, self.targets.get(target), self.namespace, self.namespace_labels
        )


def load_context(
    kube: KubeLike, namespace: str, names: Iterable[str], *, enabled: bool
) -> TargetContext:
    """Read the named AcmTargets and the namespace's labels (blocking: the kube pool)."""
    wanted = sorted(set(names))
    if not wanted or not enabled:
        return TargetContext(namespace, enabled)
    targets: dict[str, TargetSpec] = {}
    problems: dict[str, str] = {}
    for name in wanted:
        obj = kube.get_acmtarget(name)
        if obj is None:
            continue
        try:
            targets[name] = parse_target(name, obj.get("spec") or {})
        except TargetSpecError as exc:
            problems[name] = f"AcmTarget {name} cannot be used: {exc}"
    labels = kube.namespace_labels(namespace)
    return TargetContext(namespace, enabled, targets, problems, labels)


def target_status(
    obj: JsonObj, problem: str | None, account: str, now: datetime
) -> tuple[JsonObj, JsonObj]:
    """(status patch, Ready condition) of an AcmTarget after a check."""
    old = obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation")
    old_ready = st.conditions_by_type(old).get(ConditionType.READY)
    if problem is None:
        ready = st.condition(
            ConditionType.READY,
            "True",
            QuietReason.ASSUMED,
            "the role was assumed",
            generation,
            old_ready,
            now,
        )
    else:
        reason = (
            Reason.INVALID_SPEC
            if problem.startswith(Reason.INVALID_SPEC)
            else Reason.ASSUME_ROLE_FAILED
        )
        ready = st.condition(
            ConditionType.READY, "False", reason, problem, generation, old_ready, now
        )
    new: JsonObj = {"lastChecked": st.format_time(now), "conditions": [ready]}
    if account:
        new["account"] = account
    if generation is not None:
        new["observedGeneration"] = generation
    return st.merge_patch(old, new), ready


def check_target(kube: KubeLike, engines: TargetEnginesLike, name: str, now: datetime) -> str:
    """Assume an AcmTarget's role and write its status (blocking); returns the Ready reason."""
    obj = kube.get_acmtarget(name)
    if obj is None:
        engines.forget(name)
        return Reason.TARGET_NOT_FOUND
    account = ""
    try:
        spec = parse_target(name, obj.get("spec") or {})
    except TargetSpecError as exc:
        problem: str | None = f"{Reason.INVALID_SPEC}: {exc}"
    else:
        account = spec.account
        problem = engines.check(spec.role())
    patch, ready = target_status(obj, problem, account, now)
    if patch:
        kube.patch_acmtarget_status(name, patch)
    if problem is not None:
        log.warning("AcmTarget %s: %s", name, problem)
    return str(ready["reason"])


def account_of_outcome(outcome: RegionOutcome, accounts: Mapping[str, str] | None) -> str:
    """The account of a pair: from its ARN, else its AcmTarget's role ('' when unknown)."""
    return account_of_arn(outcome.arn) or (accounts or {}).get(outcome.target, "")


class _NoTargets:
    """Stands in when the operator runs without target engines: every pair is refused."""

    def engine(self, target: RoleTarget) -> EngineLike:
        raise AssertionError("unreachable: the context refuses every pair")

    def check(self, target: RoleTarget) -> str | None:
        return "spec.targets is disabled operator-wide"

    def current(self) -> list[tuple[RoleTarget, EngineLike]]:
        return []

    def forget(self, name: str) -> None:
        return None

    def close(self) -> None:
        return None


NO_TARGETS: TargetEnginesLike = _NoTargets()
