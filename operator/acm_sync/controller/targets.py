"""AcmCertificate pairs in other accounts (spec.targets), and the AcmTarget status.

Every (target, region) pair is synced, rotated, dropped and deleted as a region of the
operator's own account is, through the engine of the target's account. Before any AWS call
each pair is checked against its AcmTarget (TargetNotFound, TargetNotAllowed,
RegionNotAllowed): a refused pair makes no call and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from acm_sync.controller import status as st
from acm_sync.controller.engine_api import EngineLike
from acm_sync.controller.kubeapi import JsonObj
from acm_sync.controller.kubeport import KubeLike
from acm_sync.core.model import Material
from acm_sync.core.reasons import QuietReason, Reason
from acm_sync.core.state import (
    DeletionPolicy,
    DesiredState,
    Owner,
    RegionOutcome,
    RegionRecord,
    RegionState,
)
from acm_sync.core.targets import (
    ASSUME_ROLE_FAILED,
    TARGET_NOT_ALLOWED,
    TARGET_NOT_FOUND,
    RoleTarget,
    TargetRef,
    TargetSpec,
    TargetSpecError,
    account_of_arn,
    pair_problem,
    parse_target,
)

log = logging.getLogger(__name__)

READY_REASON = QuietReason.ASSUMED
INVALID_SPEC = Reason.INVALID_SPEC


class TargetEnginesLike(Protocol):
    """``acm_sync.aws.targets.TargetEngines`` as the kopf layer uses it."""

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
            return TARGET_NOT_ALLOWED, "spec.targets is disabled operator-wide (targets.enabled)"
        if target in self.problems:
            return TARGET_NOT_FOUND, self.problems[target]
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


def _refused(record: RegionRecord, reason: str, message: str, retry: float) -> RegionOutcome:
    outcome = RegionOutcome.from_record(record, RegionState.BLOCKED, reason, message)
    # Nothing signals a namespace label or an AcmTarget change to this object for sure:
    # look again at the sweep interval.
    return replace(outcome, retry_after=retry)


def sync_targets(
    engines: TargetEnginesLike,
    ctx: TargetContext,
    desired: DesiredState,
    material: Material,
    refs: Iterable[TargetRef],
    records: Mapping[st.Pair, RegionRecord],
    retry_refused: float,
    pool: Executor | None = None,
) -> list[RegionOutcome]:
    """Sync every pair of ``refs``; refused pairs get their reason and make no call.

    With ``pool`` the target accounts sync side by side (each one's regions in parallel too).
    """
    outcomes: list[RegionOutcome] = []
    running: list[tuple[str, tuple[str, ...], Future[dict[str, RegionOutcome]]]] = []
    for ref in refs:
        allowed: dict[str, RegionRecord] = {}
        for region in ref.regions:
            record = records.get((ref.target, region)) or RegionRecord(region, target=ref.target)
            if problem := ctx.problem(ref.target, region):
                outcomes.append(_refused(record, *problem, retry_refused))
            else:
                allowed[region] = record
        if not allowed:
            continue
        spec = ctx.targets[ref.target]
        for region, record in allowed.items():
            if account_of_arn(record.arn) not in ("", spec.account):
                # The AcmTarget now names a role in another account: the recorded certificate
                # is out of reach (and stays where it is); import into the new account.
                allowed[region] = RegionRecord(region, target=ref.target)
        engine = engines.engine(spec.role())
        # spec.certificateArns is keyed by region: an ARN is adopted where its account is.
        adopt = {
            r: arn
            for r, arn in desired.adopt_arns.items()
            if r in allowed and account_of_arn(arn) == spec.account
        }
        pair_desired = replace(desired, regions=tuple(allowed), target=ref.target, adopt_arns=adopt)
        if pool is None:
            by_region = engine.sync(pair_desired, material, allowed)
            outcomes.extend(replace(by_region[r], target=ref.target) for r in allowed)
        else:
            future = pool.submit(engine.sync, pair_desired, material, allowed)
            running.append((ref.target, tuple(allowed), future))
    for target, regions, future in running:
        by_region = future.result()
        outcomes.extend(replace(by_region[r], target=target) for r in regions)
    return outcomes


def own_adoptions(
    adopt_arns: Mapping[str, str], refs: Iterable[TargetRef], ctx: TargetContext
) -> dict[str, str]:
    """The ARNs of spec.certificateArns to adopt in the operator's own account: all but those
    naming the account of an AcmTarget the spec uses in that region."""
    elsewhere = {
        (region, ctx.targets[ref.target].account)
        for ref in refs
        if ref.target in ctx.targets
        for region in ref.regions
    }
    return {r: arn for r, arn in adopt_arns.items() if (r, account_of_arn(arn)) not in elsewhere}


def delete_pairs(
    engines: TargetEnginesLike,
    ctx: TargetContext,
    owner: Owner,
    records: Mapping[st.Pair, RegionRecord],
) -> list[RegionOutcome]:
    """Delete the owner's certificates of target pairs (records; empty ones are looked up).

    A pair whose AcmTarget is gone cannot be reached: it stays, blocked, so that nothing is
    orphaned silently (switching deletionPolicy to Retain releases it). A pair the namespace
    may not use and that never got an ARN holds nothing of ours: done, with no call.
    """
    outcomes: list[RegionOutcome] = []
    by_target: dict[str, dict[str, RegionRecord]] = {}
    for (target, region), record in records.items():
        if not target:
            continue
        problem = ctx.problem(target, region)
        if problem is not None and not (record.arn or record.previous_arn):
            outcomes.append(
                RegionOutcome.from_record(
                    record, RegionState.SYNCED, Reason.NOT_FOUND, f"nothing to delete: {problem[1]}"
                )
            )
        elif target not in ctx.targets:
            reason, message = problem or (TARGET_NOT_FOUND, f"AcmTarget {target} is gone")
            outcomes.append(RegionOutcome.from_record(record, RegionState.BLOCKED, reason, message))
        else:
            by_target.setdefault(target, {})[region] = replace(record, target=target)
    for target, regional in sorted(by_target.items()):
        done = engines.engine(ctx.targets[target].role()).delete(owner, regional)
        outcomes.extend(replace(o, target=target) for o in done.values())
    return outcomes


def drop_pairs(
    engines: TargetEnginesLike,
    ctx: TargetContext,
    owner: Owner,
    refs: Iterable[TargetRef],
    records: Mapping[st.Pair, RegionRecord],
    policy: DeletionPolicy,
) -> list[RegionOutcome]:
    """Target pairs removed from spec.targets: deleted under Delete, forgotten under Retain."""
    wanted = {(ref.target, region) for ref in refs for region in ref.regions}
    dropped = {p: r for p, r in records.items() if p[0] and p not in wanted}
    if not dropped or policy is DeletionPolicy.RETAIN:
        return []
    results = delete_pairs(engines, ctx, owner, dropped)
    # Pairs whose deletion failed stay in the status so that it is retried.
    return [o for o in results if o.state is not RegionState.SYNCED or o.arn]


def target_status(
    obj: JsonObj, problem: str | None, account: str, now: datetime
) -> tuple[JsonObj, JsonObj]:
    """(status patch, Ready condition) of an AcmTarget after a check."""
    old = obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation")
    old_ready = st.conditions_by_type(old).get(st.READY)
    if problem is None:
        ready = st.condition(
            st.READY, "True", READY_REASON, "the role was assumed", generation, old_ready, now
        )
    else:
        reason = INVALID_SPEC if problem.startswith(INVALID_SPEC) else ASSUME_ROLE_FAILED
        ready = st.condition(st.READY, "False", reason, problem, generation, old_ready, now)
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
        return TARGET_NOT_FOUND
    account = ""
    try:
        spec = parse_target(name, obj.get("spec") or {})
    except TargetSpecError as exc:
        problem: str | None = f"{INVALID_SPEC}: {exc}"
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
