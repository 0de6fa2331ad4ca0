"""Executing one region's deletion (deletionPolicy ``Delete``), as the planner decides it.

:func:`~acm_sync.core.deletion_planner.plan_deletion` owns every rule about what may be
deleted; this module only reads what it asks for (a recorded ARN's tags, the owner-tag
lookup), deletes what it says, and turns ACM's answers into an outcome: a certificate still
in use is ``ResourceInUse`` with what holds it, one deleted behind our back is "already gone",
one a wired consumer names waits (``InUseByConsumer``) and is retried like one in use.
:class:`PreviousRetirement` executes :func:`~acm_sync.core.deletion_planner.plan_retirement`
after a sync: the pair stays ``Synced`` whatever becomes of its previous ARN.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace

from acm_sync.aws.adapter import AcmAdapter
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.lookup import Finder
from acm_sync.aws.outcomes import error_outcome
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.deletion_planner import DeletionObservation, plan_deletion, plan_retirement
from acm_sync.core.planner import (
    Blocked,
    Delete,
    Lookup,
    Noop,
    Observe,
    RegionPlan,
    recorded_arn_problem,
)
from acm_sync.core.reasons import Reason, WriteReason
from acm_sync.core.state import DesiredState, Owner, RegionOutcome, RegionRecord, RegionState

USERS_SHOWN = 3  # InUseBy ARNs named in a message; the rest are counted
# Two tag reads, a lookup and the deletes, plus a round for each recorded ARN that vanishes
# between its read and its DeleteCertificate.
_MAX_ROUNDS = 6


def in_use_by(users: list[str]) -> str:
    """``a, b, c and 4 more``: what holds a certificate, bounded for a status message."""
    shown = ", ".join(users[:USERS_SHOWN])
    rest = len(users) - USERS_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown


def still_in_use(adapter: AcmAdapter, region: str, arn: str, err: AwsCallError) -> str:
    """Why ACM refused to delete ``arn`` (ResourceInUse), naming what holds it if it can."""
    try:
        users = [str(u) for u in adapter.describe(region, arn).get("InUseBy") or []]
    except AwsCallError:
        users = []  # the reason alone still says what to do
    if users:
        return f"{arn} is in use by {in_use_by(users)}; will retry until it is free"
    return f"{arn} is still in use by another AWS service; will retry. ACM said: {err.message}"


@dataclass
class RegionDeletion:
    """Deletes what ``owner`` has in ``record.region``; :meth:`run` gives the outcome."""

    adapter: AcmAdapter
    finder: Finder
    settings: AwsSettings
    owner: Owner
    record: RegionRecord
    held: Collection[str] = frozenset()  # ARNs wired consumers name: never deleted
    deleted: list[str] = field(default_factory=list)  # recorded ARNs deleted
    found: list[str] = field(default_factory=list)  # deleted after the owner-tag lookup
    gone: list[str] = field(default_factory=list)  # found by owner tag, gone when deleted

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
        observation = DeletionObservation()
        for _ in range(_MAX_ROUNDS):
            region_plan = plan_deletion(self.owner, self.record, observation, self.held)
            first = region_plan.actions[0] if region_plan.actions else None
            if isinstance(first, Observe):
                observation = self._observe(observation, first.arn)
            elif isinstance(first, Lookup):
                found = self.finder.by_owner(self.region, self.owner, None, reload=True)
                observation = replace(observation, candidates=found)
            else:
                result = self._execute(region_plan)
                if isinstance(result, RegionOutcome):
                    return result
                # A recorded ARN deleted meanwhile: plan again knowing it is gone (the
                # planner may now want the owner-tag lookup).
                observation = replace(observation, tags={**observation.tags, result: None})
        raise RuntimeError("the deletion planner did not settle")  # pragma: no cover

    def _observe(self, observation: DeletionObservation, arn: str) -> DeletionObservation:
        try:
            tags: dict[str, str] | None = self.adapter.list_tags(self.region, arn)
        except AwsCallError as err:
            if err.error_class is not ErrorClass.NOT_FOUND:
                raise
            tags = None
        return replace(observation, tags={**observation.tags, arn: tags})

    def _execute(self, region_plan: RegionPlan) -> RegionOutcome | str:
        """The outcome, or the recorded ARN DeleteCertificate found gone."""
        for action in region_plan.actions:
            if isinstance(action, Blocked) and action.code == Reason.IN_USE_BY_CONSUMER:
                # Waiting for the consumer to switch, as for a load balancer ACM reports.
                outcome = RegionOutcome.from_record(
                    self.record, RegionState.PENDING, action.code, action.message
                )
                return replace(outcome, retry_after=self.settings.in_use_retry_after)
            if isinstance(action, Blocked):
                outcome = RegionOutcome.from_record(
                    self.record, RegionState.BLOCKED, action.code, action.message
                )
                return replace(outcome, wrote=bool(self.deleted or self.found))
            if not isinstance(action, Delete) or action.arn in (*self.deleted, *self.found):
                continue  # Noop: already gone; or deleted in an earlier round
            try:
                self.adapter.delete(self.region, action.arn)
            except AwsCallError as err:
                if err.error_class is ErrorClass.IN_USE:
                    return self._in_use(action.arn, err, found=action.found)
                if err.error_class is not ErrorClass.NOT_FOUND:
                    raise
                if not action.found:
                    return action.arn
                self.gone.append(action.arn)
                continue
            self.finder.forget(self.region, action.arn)
            (self.found if action.found else self.deleted).append(action.arn)
        return self._done(region_plan.notes)

    def _in_use(self, arn: str, err: AwsCallError, *, found: bool) -> RegionOutcome:
        message = still_in_use(self.adapter, self.region, arn, err)
        outcome = RegionOutcome.from_record(
            self.record, RegionState.PENDING, Reason.RESOURCE_IN_USE, message
        )
        return replace(
            outcome,
            # A certificate found by owner tag is recorded, so the next attempt goes to it.
            arn=arn if found else outcome.arn,
            retry_after=self.settings.in_use_retry_after,
            wrote=bool(self.deleted or self.found),
        )

    def _done(self, notes: tuple[str, ...]) -> RegionOutcome:
        parts = [f"deleted {', '.join(self.deleted)}"] if self.deleted else []
        if self.found:
            why = (
                "no usable ARN was recorded"
                if self.record.arn is None or recorded_arn_problem(self.record)
                else f"the recorded {self.record.arn} was gone"
            )
            parts.append(f"deleted {', '.join(self.found)}, found by owner tag ({why})")
        if self.gone:
            parts.append(f"already gone: {', '.join(self.gone)}")
        parts.extend(notes)  # the planner's: recorded ARNs already gone, candidates left alone
        wrote = bool(self.deleted or self.found)
        return RegionOutcome(
            region=self.region,
            state=RegionState.SYNCED,
            reason=WriteReason.DELETED if wrote else Reason.NOT_FOUND,
            message="; ".join(parts)
            or f"nothing to delete: no certificate recorded or tagged {self.owner.tag_value}",
            wrote=wrote,
            target=self.record.target,
        )


@dataclass(frozen=True, slots=True)
class PreviousRetirement:
    """After a sync: deletes the pair's previous ARN when :func:`plan_retirement` says so.

    The outcome stays the sync's (``Synced`` stays ``Synced``): a previous ARN still in use, or
    an AWS error deleting it, is a note in its message and a retry hint, never a failure.
    """

    adapter: AcmAdapter
    finder: Finder
    settings: AwsSettings
    desired: DesiredState  # its owner, deletion policy and consumer ARNs

    def run(self, outcome: RegionOutcome) -> RegionOutcome:
        """``outcome`` with its previous ARN deleted, forgotten or kept, and why."""
        record = outcome.record()
        synced = outcome.state is RegionState.SYNCED and outcome.arn is not None
        region = outcome.region
        observation = DeletionObservation()
        for _ in range(2):
            region_plan = plan_retirement(
                self.desired.owner,
                record,
                observation,
                policy=self.desired.deletion_policy,
                synced=synced,
                held=self.desired.consumer_arns,
            )
            if not region_plan.actions:
                return outcome
            action = region_plan.actions[0]
            if isinstance(action, Observe):
                try:
                    tags: dict[str, str] | None = self.adapter.list_tags(region, action.arn)
                except AwsCallError as err:
                    if err.error_class is not ErrorClass.NOT_FOUND:
                        return self._kept(outcome, err)
                    tags = None
                observation = replace(observation, tags={action.arn: tags})
            elif isinstance(action, Blocked):
                return _noted(outcome, action.message)
            elif isinstance(action, Noop):
                return _noted(replace(outcome, previous_arn=None), *region_plan.notes)
            elif isinstance(action, Delete):
                return self._delete(outcome, action.arn)
        raise RuntimeError("the retirement planner did not settle")  # pragma: no cover

    def _delete(self, outcome: RegionOutcome, arn: str) -> RegionOutcome:
        try:
            self.adapter.delete(outcome.region, arn)
        except AwsCallError as err:
            if err.error_class is ErrorClass.NOT_FOUND:
                return _noted(replace(outcome, previous_arn=None), f"the previous {arn} was gone")
            if err.error_class is ErrorClass.IN_USE:
                # A load balancer acm-sync did not wire still uses it: ACM protects it.
                message = still_in_use(self.adapter, outcome.region, arn, err)
                return _retry(
                    _noted(outcome, f"the previous {message}"), self.settings.in_use_retry_after
                )
            return self._kept(outcome, err)
        self.finder.forget(outcome.region, arn)
        deleted = _noted(outcome, f"deleted the previous {arn}: no wired consumer names it")
        return replace(deleted, previous_arn=None, retired=arn, wrote=True)

    def _kept(self, outcome: RegionOutcome, err: AwsCallError) -> RegionOutcome:
        failed = error_outcome(self.settings, outcome.record(), err)
        why = f"the previous {outcome.previous_arn} is kept for now: {err.message}"
        return _retry(_noted(outcome, why), failed.retry_after)


def _noted(outcome: RegionOutcome, *notes: str) -> RegionOutcome:
    return replace(outcome, message="; ".join((outcome.message, *notes)))


def _retry(outcome: RegionOutcome, after: float | None) -> RegionOutcome:
    hints = [h for h in (outcome.retry_after, after) if h]
    return replace(outcome, retry_after=min(hints) if hints else None)
