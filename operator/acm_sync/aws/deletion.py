"""Deleting one region's certificates for an owner (deletionPolicy ``Delete``).

The recorded ARN and previous ARN are deleted once their owner tag proves them ours. When no
ARN is recorded, or the recorded one is gone, the region is searched by owner tag as well: a
leader killed after ImportCertificate succeeded but before the status was written leaves a
certificate that only its tags point to. Of what the search finds, only certificates whose
owner tag is exactly this owner's and that carry the managed-by tag are deleted; anything
else is left alone and named in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from acm_sync.aws.adapter import AcmAdapter
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.execution import error_outcome, outcome_for
from acm_sync.aws.lookup import Finder
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.planner import FOREIGN_CERTIFICATE
from acm_sync.core.state import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    OWNER_TAG,
    Owner,
    RegionOutcome,
    RegionRecord,
    RegionState,
)
from acm_sync.core.tags import owner_of

RESOURCE_IN_USE = "ResourceInUse"
USERS_SHOWN = 3  # InUseBy ARNs named in a message; the rest are counted


def in_use_by(users: list[str]) -> str:
    """``a, b, c and 4 more``: what holds a certificate, bounded for a status message."""
    shown = ", ".join(users[:USERS_SHOWN])
    rest = len(users) - USERS_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown


@dataclass
class RegionDeletion:
    """Deletes what ``owner`` has in ``record.region``; :meth:`run` gives the outcome."""

    adapter: AcmAdapter
    finder: Finder
    settings: AwsSettings
    owner: Owner
    record: RegionRecord
    deleted: list[str] = field(default_factory=list)  # recorded ARNs deleted
    found: list[str] = field(default_factory=list)  # deleted after the owner-tag lookup
    gone: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # owner tag but no managed-by tag

    @property
    def region(self) -> str:
        """The region this deletion works in."""
        return self.record.region

    def run(self) -> RegionOutcome:
        """Delete, then say what was deleted, what was gone and what was left alone."""
        try:
            return self._run()
        except AwsCallError as err:
            return replace(
                error_outcome(self.settings, self.record, err),
                wrote=bool(self.deleted or self.found),
            )

    def _run(self) -> RegionOutcome:
        record = self.record
        for arn in dict.fromkeys(a for a in (record.arn, record.previous_arn) if a):
            try:
                tags = self.adapter.list_tags(self.region, arn)
            except AwsCallError as err:
                if err.error_class is not ErrorClass.NOT_FOUND:
                    raise
                self.gone.append(arn)
                continue
            if tags.get(OWNER_TAG) != self.owner.tag_value:
                holder = tags.get(OWNER_TAG) or "nobody (untagged)"
                return outcome_for(
                    record,
                    RegionState.BLOCKED,
                    FOREIGN_CERTIFICATE,
                    f"{arn} is owned by {holder}; acm-sync will not delete it",
                )
            if blocked := self._delete(arn, found=False):
                return blocked
        if record.arn is None or record.arn in self.gone:
            # Costs one paginated ListCertificates (1,000 a page) plus ListTagsForCertificate
            # for ARNs this engine has not seen yet, even for a region that never synced: the
            # price of never orphaning a certificate whose import outlived its status write.
            for cert in self.finder.by_owner(self.region, self.owner, None):
                if cert.arn in self.deleted or cert.arn in self.gone:
                    continue
                if (
                    owner_of(cert.tags) != self.owner.tag_value
                    or cert.tags.get(MANAGED_BY_TAG) != MANAGED_BY_VALUE
                ):
                    self.left.append(cert.arn)
                    continue
                if blocked := self._delete(cert.arn, found=True):
                    return blocked
        return self._done()

    def _delete(self, arn: str, *, found: bool) -> RegionOutcome | None:
        """Delete ``arn``; an outcome when it is in use, else None (deleted or gone)."""
        try:
            self.adapter.delete(self.region, arn)
        except AwsCallError as err:
            if err.error_class is ErrorClass.NOT_FOUND:
                self.gone.append(arn)
                return None
            if err.error_class is ErrorClass.IN_USE:
                return self._in_use(arn, err, found=found)
            raise
        (self.found if found else self.deleted).append(arn)
        return None

    def _in_use(self, arn: str, err: AwsCallError, *, found: bool) -> RegionOutcome:
        try:
            users = [str(u) for u in self.adapter.describe(self.region, arn).get("InUseBy") or []]
        except AwsCallError:
            users = []  # the reason alone still says what to do
        if users:
            message = f"{arn} is in use by {in_use_by(users)}; will retry until it is free"
        else:
            message = (
                f"{arn} is still in use by another AWS service; will retry. ACM said: {err.message}"
            )
        outcome = outcome_for(self.record, RegionState.PENDING, RESOURCE_IN_USE, message)
        return replace(
            outcome,
            # A certificate found by owner tag is recorded, so the next attempt goes to it.
            arn=arn if found else outcome.arn,
            retry_after=self.settings.in_use_retry_after,
            wrote=bool(self.deleted or self.found),
        )

    def _done(self) -> RegionOutcome:
        parts = [f"deleted {', '.join(self.deleted)}"] if self.deleted else []
        if self.found:
            why = (
                "no ARN was recorded"
                if self.record.arn is None
                else f"the recorded {self.record.arn} was gone"
            )
            parts.append(f"deleted {', '.join(self.found)}, found by owner tag ({why})")
        if self.gone:
            parts.append(f"already gone: {', '.join(self.gone)}")
        if self.left:
            parts.append(
                f"left alone (owner tag but no {MANAGED_BY_TAG} tag): {', '.join(self.left)}"
            )
        wrote = bool(self.deleted or self.found)
        return RegionOutcome(
            region=self.region,
            state=RegionState.SYNCED,
            reason="Deleted" if wrote else "NotFound",
            message="; ".join(parts)
            or f"nothing to delete: no certificate recorded or tagged {self.owner.tag_value}",
            wrote=wrote,
        )
