"""Outcome and drift values shared by sync, removal and the sweep.

These turn what ACM answered into what the engine returns: the outcome of a failed call (with
a retry hint when it is transient) and the Drift of a recorded certificate changed in ACM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from acm_sync.aws.adapter import utc
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.lookup import observed
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.observed import Drift, DriftKind
from acm_sync.core.state import Owner, RegionOutcome, RegionRecord, RegionState

_RETRY_AFTER: dict[ErrorClass, Callable[[AwsSettings], float]] = {
    ErrorClass.THROTTLED: lambda s: s.throttled_retry_after,
    ErrorClass.RETRYABLE: lambda s: s.error_retry_after,
    ErrorClass.IN_USE: lambda s: s.in_use_retry_after,
    ErrorClass.NOT_LEADER: lambda s: s.not_leader_retry_after,
    ErrorClass.ASSUME_ROLE: lambda s: s.error_retry_after,
}


def error_outcome(settings: AwsSettings, record: RegionRecord, err: AwsCallError) -> RegionOutcome:
    """Transient failures are Pending with a retry hint; the rest are Errors."""
    retry = _RETRY_AFTER.get(err.error_class)
    state = RegionState.PENDING if retry else RegionState.ERROR
    where = "" if err.region == "sts" else f" in {err.region}"
    message = f"{err.api} failed{where}: {err.code}: {err.message}"
    outcome = RegionOutcome.from_record(record, state, err.reason, message)
    return replace(outcome, retry_after=retry(settings) if retry else None)


def differs(recorded: datetime | None, seen: datetime | None) -> bool:
    """Whether ACM's ImportedAt shows a reimport after the one recorded.

    The record's ImportedAt is ACM's own (status keeps microseconds), so the two compare
    exactly; only when one side has whole seconds (ACM and moto report those; a record may
    be truncated) are both compared at the second. A reimport within the same second as
    ours stays invisible: ImportedAt is all a summary offers that the record also holds.
    """
    if recorded is None or seen is None:
        return seen is None and recorded is not None
    if recorded.microsecond == 0 or seen.microsecond == 0:
        return recorded.replace(microsecond=0) != seen.replace(microsecond=0)
    return recorded != seen


def drift(
    owner: Owner, record: RegionRecord, kind: DriftKind, seen: Mapping[str, object] | None
) -> Drift:
    """A Drift with a message a human can act on; ``seen`` is a summary or a description."""
    arn = str(record.arn)
    imported_at = utc(seen.get("ImportedAt")) if seen else None
    not_after = utc(seen.get("NotAfter")) if seen else None
    facts = observed(arn, dict(seen), {}, content_matches=False) if seen else None
    messages = {
        DriftKind.REFRESHED: f"{arn}: notAfter or what uses it changed",
        DriftKind.DELETED: f"{arn} was deleted from ACM outside acm-sync",
        DriftKind.REIMPORTED: (
            f"{arn} was reimported outside acm-sync"
            + (f" at {imported_at.isoformat()}" if imported_at else "")
        ),
        DriftKind.EXPIRED: f"{arn} has expired in ACM",
        DriftKind.STALE_RECORD: f"{arn} holds the recorded certificate; the record is older",
    }
    return Drift(
        owner,
        record.region,
        arn,
        kind,
        messages[kind],
        imported_at,
        not_after,
        in_use_by=facts.in_use_by if facts else None,
        serial=facts.serial if facts else None,
    )


def stale(record: RegionRecord, summary: Mapping[str, object]) -> bool:
    """Whether a ListCertificates summary shows the record's notAfter or in-use facts outdated.

    A summary says only whether the certificate is in use; a change there (or a record that
    never read InUseBy) is worth one DescribeCertificate for the list.
    """
    in_use = bool(summary.get("InUse"))
    return (
        record.in_use_by is None
        or bool(record.in_use_by) != in_use
        or (record.not_after is not None and utc(summary.get("NotAfter")) != record.not_after)
    )
