"""The sync decision, as pure functions over plain values (no I/O, no clock, no engine).

- :func:`verified_by_status`: whether the status already proves the object in sync with the
  Secret the watch shows, so that the reconcile reads no Secret and analyses nothing;
- :func:`result_of_outcomes`: from the engine's outcomes to the verdict and the retry delay;
- :func:`new_status`: the status to write for a result (written only where it differs);
- :func:`deletion_status`: the status of an object whose deletion is blocked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from acm_sync.controller import notices as nt
from acm_sync.controller import spec as specs
from acm_sync.controller import status as st
from acm_sync.controller.kubeapi import LAST_RESYNC, JsonObj
from acm_sync.controller.statuslayout import is_packed, pack, unpack
from acm_sync.controller.view import SecretFacts
from acm_sync.core.findings import Finding
from acm_sync.core.model import CertificateFacts
from acm_sync.core.reasons import Reason
from acm_sync.core.state import RegionOutcome, RegionState

MAX_BACKOFF = 300.0


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


def verified_by_status(
    obj: Mapping[str, Any],
    secret: SecretFacts | None,
    *,
    now: datetime,
    expiry_warning_days: int,
    allowed_regions: frozenset[str] = frozenset(),
    adoption_enabled: bool = True,
) -> bool:
    """Whether the status proves ``obj`` in sync with ``secret``: no Secret read, no analysis.

    True only when everything a full pass would look at is unchanged since the status was
    written by a full pass: the spec (observedGeneration), the Secret's content (its hash),
    every spec region recorded Synced with the Secret's fingerprint and no other recorded,
    nothing time-dependent due (an ExpiresSoon warning), and nothing outside the object that
    a full pass consults (AcmTargets, the operator's region and adoption settings).
    """
    if not is_packed(obj.get("status")):
        # Written by the previous version: a full pass rewrites it in this version's layout
        # (its records still spare every AWS call).
        return False
    status = unpack(obj.get("status"))
    spec = obj.get("spec") or {}
    recorded = status.get("secret")
    if secret is None or secret.type != specs.TLS_SECRET_TYPE or not isinstance(recorded, dict):
        return False
    if not recorded.get("contentHash") or recorded.get("contentHash") != secret.content_hash:
        return False
    if status.get("observedGeneration") != (obj.get("metadata") or {}).get("generation"):
        return False
    ready = st.conditions_by_type(status).get(st.READY) or {}
    if ready.get("status") != "True" or ready.get("reason") != specs.SYNCED:
        return False
    if specs.is_suspended(obj) or spec.get("targets"):
        return False
    if status.get("regionList") != region_list(spec) or "pairs" in status:
        return False  # the printed columns are not this version's
    if spec.get("certificateArns") and not adoption_enabled:
        return False
    regions = spec.get("regions")
    if not isinstance(regions, list) or not regions:
        return False
    if allowed_regions and any(r not in allowed_regions for r in regions):
        return False
    pairs = st.pair_records(status)
    if set(pairs) != {("", r) for r in regions if isinstance(r, str)}:
        return False  # a region added, removed, or a target pair recorded
    fingerprint = recorded.get("fingerprint")
    entries = st.pair_entries(status)
    for pair, record in pairs.items():
        state = (entries.get(pair) or {}).get("state")
        synced = state == RegionState.SYNCED.value
        if not (synced and record.arn and record.fingerprint == fingerprint):
            return False
    not_before = st.parse_time(recorded.get("notBefore"))
    not_after = st.parse_time(recorded.get("notAfter"))
    if not_before is None or not_after is None or now < not_before:
        return False
    if not_after - now <= timedelta(days=expiry_warning_days):
        return False  # ExpiresSoon (or Expired) is due: a full pass says so
    warnings = st.conditions_by_type(status).get(st.WARNINGS) or {}
    return st.EXPIRES_SOON not in str(warnings.get("reason", ""))


def verified_result(obj: Mapping[str, Any]) -> SyncResult:
    """The result of a pass that :func:`verified_by_status`: the status as it is."""
    ready = st.conditions_by_type(obj.get("status") or {}).get(st.READY) or {}
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


def retry_delay(outcomes: Sequence[RegionOutcome], failures: int) -> tuple[float | None, int]:
    """(delay before the next pass or None, consecutive failures counting this pass).

    ACM's retry hints win; other transient states back off exponentially with failures.
    """
    hints = [o.retry_after for o in outcomes if o.retry_after]
    transient = [o for o in outcomes if o.state in (RegionState.ERROR, RegionState.PENDING)]
    if not hints and not transient:
        return None, 0
    failures += 1
    backoff = min(2.0**failures, MAX_BACKOFF)
    return (max(min(hints), 1.0) if hints else backoff), failures


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


def new_status(
    old: Mapping[str, Any],
    result: SyncResult,
    generation: int | None,
    now: datetime,
    expiry_warning_days: int,
    spec: Mapping[str, Any] | None = None,
) -> JsonObj:
    """The whole status after a pass, in the stored layout (compare with ``old`` for the
    patch); ``old`` in either layout."""
    old = unpack(old)
    spec = spec or {}
    new: JsonObj = {}
    new.update(st.secret_fields(result.facts, old))
    if result.facts is not None and result.content_hash:
        new["secret"]["contentHash"] = result.content_hash
    if generation is not None:
        new["observedGeneration"] = generation
    if last_resync := result.resync or old.get(LAST_RESYNC):
        new[LAST_RESYNC] = last_resync
    old_entries = st.pair_entries(old)
    if regions := region_list(spec):
        new["regionList"] = regions
    # The TARGETS column: shown only where spec.targets is used (an object in its own
    # account alone has READY for that).
    uses_targets = bool(spec.get("targets"))
    if result.outcomes is None:
        if old.get("regions"):
            new["regions"] = old["regions"]
        if old.get("pairs") and uses_targets:
            new["pairs"] = old["pairs"]
    else:
        accounts = result.accounts or {}
        new["regions"] = [
            st.region_entry(
                o, old_entries.get((o.target, o.region)), now, accounts.get(o.target, "")
            )
            for o in result.outcomes
        ]
        synced = sum(1 for o in result.outcomes if o.state is RegionState.SYNCED and o.arn)
        if uses_targets:
            new["pairs"] = f"{min(synced, result.wanted)}/{result.wanted}"
    # The top-level notAfter (the printer column) is what ACM serves, soonest first.
    served = st.served_not_after(new)
    if served is not None:
        new["notAfter"] = st.format_time(served)
    old_conditions = st.conditions_by_type(old)
    verdict = result.verdict
    ready = st.condition(
        st.READY,
        "True" if verdict.ready else "False",
        verdict.reason,
        verdict.message,
        generation,
        old_conditions.get(st.READY),
        now,
    )
    expiring = st.expiring_condition(
        st.expiry_basis(new),
        expiry_warning_days,
        generation,
        old_conditions.get(st.EXPIRING),
        now,
    )
    warnings = st.warnings_condition(
        result.warnings, generation, old_conditions.get(st.WARNINGS), now
    )
    new["conditions"] = [ready, expiring, warnings]
    return pack(new)


def deletion_status(
    old: Mapping[str, Any],
    remaining: Sequence[RegionOutcome],
    message: str,
    generation: int | None,
    now: datetime,
) -> JsonObj:
    """The regions and conditions of an object whose deletion waits (``DeletionBlocked``)."""
    old = unpack(old)
    old_conditions = st.conditions_by_type(old)
    ready = st.condition(
        st.READY,
        "False",
        specs.DELETION_BLOCKED,
        message,
        generation,
        old_conditions.get(st.READY),
        now,
    )
    old_entries = st.pair_entries(old)
    new = pack(
        {
            **old,
            "regions": [
                st.region_entry(o, old_entries.get((o.target, o.region)), now) for o in remaining
            ],
            "conditions": [ready] + [c for t, c in old_conditions.items() if t != st.READY],
        }
    )
    return {k: new[k] for k in ("regions", "conditions", "internal")}
