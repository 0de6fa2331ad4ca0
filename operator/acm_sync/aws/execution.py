"""Executing one region's plan, and the outcome and drift values the engine returns.

Progress is tracked action by action, so an outcome records whatever was written before a
failure: an import that succeeded is never forgotten because tagging failed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from acm_sync.aws.adapter import utc
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.lookup import observed
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.findings import Severity
from acm_sync.core.model import Material
from acm_sync.core.planner import (
    Adopt,
    Blocked,
    Drift,
    DriftKind,
    Import,
    Noop,
    Observation,
    ObservedCertificate,
    RegionPlan,
    Reimport,
    Tag,
)
from acm_sync.core.reasons import Reason, WriteReason
from acm_sync.core.reimport import check_reimport
from acm_sync.core.state import DesiredState, Owner, RegionOutcome, RegionRecord, RegionState
from acm_sync.core.tags import tags_hash, user_tag_keys

if TYPE_CHECKING:
    from acm_sync.aws.engine import Engine


class BlockedByRulesError(Exception):
    """ACM's reimport rules forbid the reimport (found before sending it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Execution:
    """Runs one region's plan, keeping track of what has been written so far."""

    def __init__(
        self,
        engine: Engine,
        desired: DesiredState,
        material: Material,
        record: RegionRecord,
        observation: Observation,
        pems: dict[str, bytes],
    ) -> None:
        self.engine = engine
        self.adapter = engine.adapter
        self.desired = desired
        self.material = material
        self.record = record
        self.observation = observation
        self.pems = pems
        # Progress: becomes the outcome (and the next record) whatever happens next.
        self.arn = record.arn
        self.fingerprint = record.fingerprint
        self.tags_hash = record.tags_hash
        self.managed_tag_keys = record.managed_tag_keys
        self.imported_at = record.imported_at
        self.previous_arn = record.previous_arn
        self.serial = record.serial
        self.not_after = record.not_after
        self.in_use_by = record.in_use_by
        target = observation.target
        if target is not None and target.arn == record.arn:
            # What ACM reported just now beats the record (and fills a record from an older
            # version that had no per-region facts).
            self.serial = target.serial or self.serial
            self.not_after = target.not_after or self.not_after
            if target.in_use_by is not None:
                self.in_use_by = target.in_use_by
        self.wrote = False
        self.reason: str = Reason.SYNCED
        self.said: list[str] = []

    def run(self, region_plan: RegionPlan) -> RegionOutcome:
        """Execute the actions; the outcome records whatever succeeded."""
        actions = region_plan.actions
        notes = list(region_plan.notes)
        first = actions[0]
        if isinstance(first, Blocked):
            return self.outcome(RegionState.BLOCKED, first.code, [first.message, *notes])
        writes_content = any(isinstance(a, Import | Reimport) for a in actions)
        changes_tags = any(isinstance(a, Tag | Import) for a in actions)
        try:
            for action in actions:
                if isinstance(action, Noop | Adopt | Tag) and not writes_content:
                    # The planner saw ACM holding exactly this content under this ARN.
                    self.content_in_place(action.arn)
                self.apply(action)
            if not changes_tags:
                # The planner saw the tags equal to the desired ones.
                self.tags_applied()
            self.previous_arn = region_plan.previous_arn
            if writes_content and self.arn:
                described = self.adapter.describe(self.record.region, self.arn)
                self.imported_at = utc(described.get("ImportedAt")) or self.imported_at
                self.holds(observed(self.arn, described, {}, content_matches=True))
        except BlockedByRulesError as blocked:
            return self.outcome(RegionState.BLOCKED, blocked.code, [blocked.message, *notes])
        except AwsCallError as err:
            outcome = error_outcome(self.engine.settings, self.progress(), err)
            return replace(outcome, wrote=self.wrote)
        return self.outcome(RegionState.SYNCED, self.reason, [*self.said, *notes])

    def apply(self, action: object) -> None:
        """One action; raises AwsCallError or BlockedByRulesError."""
        region = self.record.region
        if isinstance(action, Noop):
            self.said.append(f"in sync: {action.arn}")
        elif isinstance(action, Import):
            arn = self.engine.import_idempotently(region, self.desired, self.material, action.tags)
            self.wrote = True
            self.arn, self.fingerprint = arn, self.desired.fingerprint
            self.serial, self.not_after = self.desired.serial, self.desired.not_after
            self.in_use_by = ()
            self.tags_hash = tags_hash(action.tags)
            self.managed_tag_keys = user_tag_keys(action.tags)
            self.reason = action.reason
            self.said.append(f"imported as {arn}")
        elif isinstance(action, Adopt):
            if action.tags:
                self.adapter.add_tags(region, action.arn, action.tags)
                self.wrote = True
            self.reason = WriteReason.ADOPTED
            self.said.append(f"adopted {action.arn}")
        elif isinstance(action, Reimport):
            self.check_rules(action.arn)
            self.adapter.reimport(region, action.arn, self.material)
            self.wrote = True
            self.arn, self.fingerprint = action.arn, self.desired.fingerprint
            self.serial, self.not_after = self.desired.serial, self.desired.not_after
            if self.reason == Reason.SYNCED:
                self.reason = WriteReason.REIMPORTED
            self.said.append(f"reimported into {action.arn} (same ARN)")
        elif isinstance(action, Tag):
            if action.add:
                self.adapter.add_tags(region, action.arn, action.add)
                self.wrote = True
                # Ours from now on, even if the removal below fails.
                added = user_tag_keys(action.add)
                self.managed_tag_keys = tuple(sorted({*(self.managed_tag_keys or ()), *added}))
            if action.remove:
                self.adapter.remove_tags(region, action.arn, action.remove)
            self.wrote = True
            self.tags_applied()
            if self.reason == Reason.SYNCED:
                self.reason = WriteReason.TAGS_UPDATED
            self.said.append(f"tags updated on {action.arn}")

    def tags_applied(self) -> None:
        """Record that ACM holds the desired tags: their hash, and the user keys now ours."""
        self.tags_hash = tags_hash(self.desired.all_tags())
        self.managed_tag_keys = user_tag_keys(self.desired.all_tags())

    def check_rules(self, arn: str) -> None:
        """ACM's reimport rules, checked against the certificate ACM holds now."""
        previous_pem = self.pems.get(arn)
        if previous_pem is None:
            return
        for finding in check_reimport(previous_pem, self.material.certificate):
            if finding.severity is Severity.ERROR:
                raise BlockedByRulesError(finding.code.value, finding.message)

    def content_in_place(self, arn: str) -> None:
        """Record that ACM already holds the desired content under ``arn``."""
        if arn != self.arn:
            self.in_use_by = None  # another certificate: what used the old one says nothing
        self.arn = arn
        self.fingerprint = self.desired.fingerprint
        self.serial = self.desired.serial or self.serial
        self.not_after = self.desired.not_after or self.not_after
        for seen in (self.observation.target, *(self.observation.candidates or ())):
            if seen is not None and seen.arn == arn:
                self.holds(seen)

    def holds(self, seen: ObservedCertificate) -> None:
        """Take what ACM reported about the certificate under ``self.arn``."""
        self.imported_at = seen.imported_at or self.imported_at
        self.serial = seen.serial or self.serial
        self.not_after = seen.not_after or self.not_after
        if seen.in_use_by is not None:
            self.in_use_by = seen.in_use_by

    def progress(self) -> RegionRecord:
        """What has been achieved so far, as a record."""
        return RegionRecord(
            region=self.record.region,
            arn=self.arn,
            fingerprint=self.fingerprint,
            imported_at=self.imported_at,
            previous_arn=self.previous_arn,
            tags_hash=self.tags_hash,
            managed_tag_keys=self.managed_tag_keys,
            serial=self.serial,
            not_after=self.not_after,
            in_use_by=self.in_use_by,
            target=self.record.target,
        )

    def outcome(self, state: RegionState, reason: str, parts: Sequence[str]) -> RegionOutcome:
        """The outcome with the progress so far."""
        return replace(
            RegionOutcome.from_record(self.progress(), state, reason, "; ".join(parts) or reason),
            wrote=self.wrote,
        )


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
