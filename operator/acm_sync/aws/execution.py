"""Executing one region's plan: the writes the planner decided, tracked one by one.

Progress is tracked action by action, so an outcome records whatever was written before a
failure: an import that succeeded is never forgotten because tagging failed afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from acm_sync.aws.adapter import utc
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.importing import Importer
from acm_sync.aws.lookup import observed
from acm_sync.aws.outcomes import error_outcome
from acm_sync.aws.profiles import ProfileCache
from acm_sync.core.findings import Severity
from acm_sync.core.model import Material
from acm_sync.core.planner import (
    Adopt,
    Blocked,
    Import,
    Noop,
    Observation,
    ObservedCertificate,
    RegionPlan,
    Reimport,
    Tag,
)
from acm_sync.core.reasons import Reason, WriteReason
from acm_sync.core.reimport import ReimportProfile, check_reimport_profile
from acm_sync.core.state import DesiredState, RegionOutcome, RegionRecord, RegionState
from acm_sync.core.tags import tags_hash, user_tag_keys


class BlockedByRulesError(Exception):
    """ACM's reimport rules forbid the reimport (found before sending it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TargetGoneError(Exception):
    """The reimport found no certificate under the ARN, before anything was written.

    The engine observed the ARN from the record (no read), so this is how it learns that the
    certificate was deleted behind its back: it plans again with the target missing.
    """

    def __init__(self, arn: str) -> None:
        super().__init__(arn)
        self.arn = arn


class Execution:
    """Runs one region's plan, keeping track of what has been written so far."""

    def __init__(
        self,
        importer: Importer,
        desired: DesiredState,
        material: Material,
        record: RegionRecord,
        observation: Observation,
        held: dict[str, ReimportProfile | None],
        profiles: ProfileCache,
    ) -> None:
        self.importer = importer
        self.adapter = importer.adapter
        self.desired = desired
        self.material = material
        self.record = record
        self.observation = observation
        self.held = held  # the reimport rules' facts of what ACM holds, per ARN observed
        self.profiles = profiles
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
            # ACM's reimport rules before any write: a claim or tag change followed by a
            # refused reimport would leave our tags on a certificate we then cannot serve
            # (and, on an adopted one, lock its real owner out).
            for action in actions:
                if isinstance(action, Reimport):
                    self.check_rules(action.arn)
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
                # ACM's ImportedAt of what was just written. A new ARN's comes from a listing
                # shared with the imports that finished with it (aws/import_times.py); a
                # reimport's from DescribeCertificate, which also says what uses it.
                region = self.record.region
                if any(isinstance(a, Import) for a in actions):
                    described = self.importer.times.read(region, self.arn)
                else:
                    described = self.adapter.describe(region, self.arn)
                self.imported_at = utc(described.get("ImportedAt")) or self.imported_at
                self.holds(observed(self.arn, described, {}, content_matches=True))
        except BlockedByRulesError as blocked:
            return self.outcome(RegionState.BLOCKED, blocked.code, [blocked.message, *notes])
        except AwsCallError as err:
            outcome = error_outcome(self.importer.settings, self.progress(), err)
            return replace(outcome, wrote=self.wrote)
        return self.outcome(RegionState.SYNCED, self.reason, [*self.said, *notes])

    def apply(self, action: object) -> None:
        """One action; raises AwsCallError, BlockedByRulesError or TargetGoneError."""
        region = self.record.region
        if isinstance(action, Noop):
            self.said.append(f"in sync: {action.arn}")
        elif isinstance(action, Import):
            importer = self.importer
            arn = importer.import_idempotently(region, self.desired, self.material, action.tags)
            self.wrote = True
            self.arn, self.fingerprint = arn, self.desired.fingerprint
            self.serial, self.not_after = self.desired.serial, self.desired.not_after
            self.in_use_by = ()
            self.tags_hash = tags_hash(action.tags)
            self.managed_tag_keys = user_tag_keys(action.tags)
            self.remember_content()
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
            try:
                self.adapter.reimport(region, action.arn, self.material)
            except AwsCallError as err:
                if err.error_class is ErrorClass.NOT_FOUND and not self.wrote:
                    raise TargetGoneError(action.arn) from None
                raise
            self.wrote = True
            self.arn, self.fingerprint = action.arn, self.desired.fingerprint
            self.serial, self.not_after = self.desired.serial, self.desired.not_after
            self.remember_content()
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
        if arn not in self.held:
            return
        for finding in check_reimport_profile(self.held[arn], self.material.certificate):
            if finding.severity is Severity.ERROR:
                raise BlockedByRulesError(finding.code.value, finding.message)

    def remember_content(self) -> None:
        """Keep the rules' facts of what was just written, for the next rotation's check."""
        self.profiles.remember(
            self.desired.fingerprint, ReimportProfile.of(self.material.certificate)
        )

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
