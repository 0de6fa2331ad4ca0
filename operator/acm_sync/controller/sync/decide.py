"""Decide: the reconcile's pure step (no I/O, no clock, no engine).

- :data:`PROOF_POLICIES`: the named policies, each giving one reason a full pass is needed;
  when none has one the status proves the object in sync, and the pass reads no Secret,
  analyses nothing and calls no engine (:func:`verified_by_status`);
- :func:`verdict_of`, :func:`next_run`: from the engine's outcomes to Ready and what the
  work queue does next; :func:`with_annotation_problem`: Ready of a generated object whose
  Secret's annotations cannot be used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync import spec as specs
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.statuslayout import is_packed, unpack
from acm_sync.controller.watch.view import SecretFacts
from acm_sync.core.findings import Code as FindingCode
from acm_sync.core.findings import Finding
from acm_sync.core.model import CertificateFacts
from acm_sync.core.reasons import ConditionType, Reason
from acm_sync.core.state import DeletionPolicy, RegionOutcome, RegionState


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one pass produced, before it is turned into a status."""

    verdict: st.Verdict
    outcomes: list[RegionOutcome] | None  # None: no AWS call was made (invalid input)
    facts: CertificateFacts | None
    retry: float | None = None
    # Certificates deleted or left in ACM because their region left spec.regions.
    notices: list[nt.Notice] = field(default_factory=list)
    # Warnings about the Secret's certificate; None when it could not be read.
    warnings: tuple[Finding, ...] | None = None
    wanted: int = 0  # (account, region) pairs the spec asks for
    accounts: dict[str, str] | None = None  # target -> account (for entries without an ARN)
    # The content hash of the Secret whose facts these are (None: keep the recorded one).
    content_hash: str | None = None
    # The acmsync.io/resync-requested-at value this pass answered (status.lastResync).
    resync: str | None = None
    # The engine raised (a bug, not an AWS error): the pass backs off like a failed one.
    crashed: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the proof policies look at: the object, its unpacked status and the Secret's
    facts as the watch showed them, the clock and the operator's settings."""

    obj: Mapping[str, Any]
    status: Mapping[str, Any]
    secret: SecretFacts | None
    now: datetime
    expiry_warning_days: int
    allowed_regions: frozenset[str]
    adoption_enabled: bool

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.obj.get("spec") or {}

    @property
    def recorded(self) -> Mapping[str, Any]:
        """status.secret: what the last full pass recorded of the Secret."""
        recorded = self.status.get("secret")
        return recorded if isinstance(recorded, dict) else {}


# A policy names one reason a full pass is needed, or None when it has none. The status proves
# the object in sync when no policy of PROOF_POLICIES has one: a reader lists every reason the
# Secret is read again in this one chain.
Policy = Callable[[Evidence], str | None]


def previous_layout(e: Evidence) -> str | None:
    # A full pass rewrites the previous version's layout (its records still spare every call).
    return None if is_packed(e.obj.get("status")) else "the status is in an older layout"


def secret_not_shown(e: Evidence) -> str | None:
    if e.secret is None or e.secret.type != specs.TLS_SECRET_TYPE or not e.recorded:
        return "the watch shows no TLS Secret the status recorded"
    return None


def content_changed(e: Evidence) -> str | None:
    recorded = e.recorded.get("contentHash")
    if not recorded or e.secret is None or recorded != e.secret.content_hash:
        return "the Secret's content is not the one recorded"
    return None


def spec_changed(e: Evidence) -> str | None:
    if e.status.get("observedGeneration") != (e.obj.get("metadata") or {}).get("generation"):
        return "the spec changed since the last full pass"
    return None


def not_synced(e: Evidence) -> str | None:
    ready = st.conditions_by_type(e.status).get(ConditionType.READY) or {}
    if ready.get("status") != "True" or ready.get("reason") != Reason.SYNCED:
        return "Ready is not True Synced"
    return None


def suspended(e: Evidence) -> str | None:
    return "spec.suspend is true" if specs.is_suspended(e.obj) else None


def reads_acm_targets(e: Evidence) -> str | None:
    # AcmTargets and namespace labels live outside the object: only a full pass reads them.
    return "spec.targets names AcmTargets" if e.spec.get("targets") else None


def columns_outdated(e: Evidence) -> str | None:
    if e.status.get("regionList") != region_list(e.spec) or "pairs" in e.status:
        return "the printed columns are not this version's"
    return None


def adoption_refused(e: Evidence) -> str | None:
    if e.spec.get("certificateArns") and not e.adoption_enabled:
        return "spec.certificateArns while adoption is off"
    return None


def region_refused(e: Evidence) -> str | None:
    regions = e.spec.get("regions")
    if not isinstance(regions, list) or not regions:
        return "spec.regions is empty"
    if e.allowed_regions and any(r not in e.allowed_regions for r in regions):
        return "a region the operator does not allow"
    return None


def pairs_changed(e: Evidence) -> str | None:
    wanted = {("", r) for r in e.spec.get("regions") or [] if isinstance(r, str)}
    for ref in e.spec.get("targets") or []:
        if isinstance(ref, dict):
            wanted |= {(str(ref.get("target")), r) for r in ref.get("regions") or []}
    if set(st.pair_records(e.status)) != wanted:
        return "a pair added or removed"
    return None


def pair_not_current(e: Evidence) -> str | None:
    entries = st.pair_entries(e.status)
    for pair, record in st.pair_records(e.status).items():
        synced = (entries.get(pair) or {}).get("state") == RegionState.SYNCED.value
        if not (synced and record.arn and record.fingerprint == e.recorded.get("fingerprint")):
            return "a pair does not hold the Secret's certificate"
    return None


def previous_due(e: Evidence) -> str | None:
    # Under Delete the ARN an ImportNew replaced goes once no wired consumer names it (a
    # consumer's switch changes only the status: this is where the pass notices it).
    if specs.deletion_policy_of(e.obj) is not DeletionPolicy.DELETE:
        return None
    named = st.consumer_arns(e.status)
    records = st.pair_records(e.status).values()
    if any(r.previous_arn and r.previous_arn not in named for r in records):
        return "a previous ARN is due for deletion"
    return None


def not_yet_valid(e: Evidence) -> str | None:
    not_before = st.parse_time(e.recorded.get("notBefore"))
    if not_before is None or st.parse_time(e.recorded.get("notAfter")) is None:
        return "the recorded validity is unknown"
    return "the certificate is not valid yet" if e.now < not_before else None


def expiry_due(e: Evidence) -> str | None:
    not_after = st.parse_time(e.recorded.get("notAfter"))
    if not_after is not None and not_after - e.now <= timedelta(days=e.expiry_warning_days):
        return "ExpiresSoon (or Expired) is due"
    return None


def expiry_warning_shown(e: Evidence) -> str | None:
    warnings = st.conditions_by_type(e.status).get(ConditionType.WARNINGS) or {}
    if FindingCode.EXPIRES_SOON in str(warnings.get("reason", "")):
        return "the ExpiresSoon warning must be looked at again"
    return None


PROOF_POLICIES: tuple[Policy, ...] = (
    previous_layout,
    secret_not_shown,
    content_changed,
    spec_changed,
    not_synced,
    suspended,
    reads_acm_targets,
    columns_outdated,
    adoption_refused,
    region_refused,
    pairs_changed,
    pair_not_current,
    previous_due,
    not_yet_valid,
    expiry_due,
    expiry_warning_shown,
)


def full_pass_reason(evidence: Evidence) -> str | None:
    """The first reason of the chain a full pass is needed; None: the status proves it."""
    for policy in PROOF_POLICIES:
        if (reason := policy(evidence)) is not None:
            return reason
    return None


def verified_by_status(
    obj: Mapping[str, Any],
    secret: SecretFacts | None,
    *,
    now: datetime,
    expiry_warning_days: int,
    allowed_regions: frozenset[str] = frozenset(),
    adoption_enabled: bool = True,
) -> bool:
    """Whether the status proves ``obj`` in sync with ``secret``: no Secret read, no analysis
    (no policy of :data:`PROOF_POLICIES` asks for a full pass)."""
    evidence = Evidence(
        obj,
        unpack(obj.get("status")),
        secret,
        now,
        expiry_warning_days,
        allowed_regions,
        adoption_enabled,
    )
    return full_pass_reason(evidence) is None


def verified_result(obj: Mapping[str, Any]) -> SyncResult:
    """The result of a pass that :func:`verified_by_status`: the status as it is."""
    ready = st.conditions_by_type(obj.get("status") or {}).get(ConditionType.READY) or {}
    verdict = st.Verdict(True, str(ready.get("reason")), str(ready.get("message", "")))
    return SyncResult(verdict, None, None)


def with_annotation_problem(verdict: st.Verdict, problem: str) -> st.Verdict:
    """Ready of a generated AcmCertificate whose Secret's annotations cannot be used.

    Its last usable spec still syncs (a renewal still reaches ACM), but it is not what the
    annotations ask for: not Ready, with the bad value named. A failure of its own keeps its
    reason, and names the annotations too.
    """
    if verdict.ready:
        return st.Verdict(
            False,
            Reason.INVALID_ANNOTATIONS,
            f"the Secret's annotations cannot be used: {problem}; the last usable spec is "
            f"still synced ({verdict.message})",
        )
    return st.Verdict(False, verdict.reason, f"{verdict.message}; also, {problem}")


def next_run(result: SyncResult) -> tuple[float | None, bool]:
    """(delay before the next pass or None, whether this pass failed) for the work queue,
    which keeps the one failure count and backs off by it where no delay is given.

    ACM's retry hints win; other transient states (Error, Pending) back off. A hint on a
    Synced pair (its previous ARN still in use) schedules the next pass without a failure.
    """
    if result.crashed:
        return None, True
    if result.outcomes is None:
        return result.retry, False  # a certificate not valid yet: look again when it is
    hints = [o.retry_after for o in result.outcomes if o.retry_after]
    transient = [o for o in result.outcomes if o.state in (RegionState.ERROR, RegionState.PENDING)]
    if not hints and not transient:
        return None, False
    failed = bool(transient) or any(
        o.retry_after and o.state is not RegionState.SYNCED for o in result.outcomes
    )
    return (max(min(hints), 1.0) if hints else None), failed


def verdict_of(outcomes: Sequence[RegionOutcome], wanted_pairs: set[st.Pair]) -> st.Verdict:
    """Ready from the outcomes of the pairs the spec asks for (deletions still due excluded)."""
    return st.verdict_from_outcomes([o for o in outcomes if (o.target, o.region) in wanted_pairs])


def region_list(spec: Mapping[str, Any]) -> str | None:
    """``status.regionList``, the REGIONS column: spec.regions as kubectl shows lists
    ("us-east-1,eu-west-1"; a JSONPath on the array would print JSON); None when empty."""
    regions = spec.get("regions")
    if not isinstance(regions, list):
        return None
    return ",".join(r for r in regions if isinstance(r, str)) or None
