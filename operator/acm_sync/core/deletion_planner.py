"""The deletion planner: what to delete in one region for deletionPolicy ``Delete``. Pure.

The engine asks :func:`plan_deletion`; when the answer is :class:`~acm_sync.core.planner.Observe`
(read an ARN's tags) or :class:`~acm_sync.core.planner.Lookup` (find certificates by owner tag)
it looks and asks again; otherwise it executes the actions in order. Only a certificate whose
owner tag is exactly this owner's and whose managed-by tag is acm-sync's is deleted; a recorded
ARN that is gone is a :class:`~acm_sync.core.planner.Noop` ("already gone").

No plan ever deletes an ARN that a load balancer acm-sync wired names (``status.consumers[]``,
given as ``held``): the pair's deletion waits, ``Blocked(InUseByConsumer)``, and is retried.
:func:`plan_retirement` decides the one deletion a sync makes: the previous ARN an
``onKeyChange: ImportNew`` replaced, under deletionPolicy ``Delete``, once nothing wired names it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from acm_sync.core.observed import ObservedCertificate
from acm_sync.core.planner import (
    Action,
    Blocked,
    Delete,
    Lookup,
    Noop,
    Observe,
    RegionPlan,
)
from acm_sync.core.reasons import Reason
from acm_sync.core.regions import region_of_arn
from acm_sync.core.state import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    DeletionPolicy,
    Owner,
    RegionRecord,
)
from acm_sync.core.tags import owner_of


@dataclass(frozen=True, slots=True)
class DeletionObservation:
    """What ACM reports for a deletion, as far as the engine has looked."""

    tags: Mapping[str, Mapping[str, str] | None] = field(default_factory=dict)  # None: gone
    candidates: tuple[ObservedCertificate, ...] | None = None  # None: no owner-tag lookup yet


def plan_deletion(
    owner: Owner,
    record: RegionRecord,
    observation: DeletionObservation,
    held: Collection[str] = frozenset(),
) -> RegionPlan:
    """What to delete in ``record.region`` for ``owner`` (deletionPolicy ``Delete``).

    The recorded ARN and previous ARN are read first, in that order: each is deleted when its
    tags prove it this owner's, a :class:`Noop` when gone, and the first one that is not ours
    blocks whatever comes after it. When no ARN is recorded, or the recorded one is gone, the
    owner-tag lookup's candidates are deleted too, since a lost status write leaves a
    certificate only its tags point to; a candidate with our owner tag but without the
    managed-by tag is named in a note and left alone. No action at all: nothing to delete.
    A recorded ARN that is not an ACM ARN in the region counts as not recorded. When any ARN
    to delete is in ``held`` (named by a wired consumer) nothing of the pair is deleted: the
    plan is ``Blocked(InUseByConsumer)`` alone, and the deletion is tried again later.
    """
    invalid = tuple(
        a for a in (record.arn, record.previous_arn) if a and region_of_arn(a) != record.region
    )
    if invalid:
        clean = replace(
            record,
            arn=None if record.arn in invalid else record.arn,
            previous_arn=None if record.previous_arn in invalid else record.previous_arn,
        )
        result = plan_deletion(owner, clean, observation, held)
        note = f"ignored recorded ARNs that are not ACM ARNs in {record.region}: "
        return replace(result, notes=(note + ", ".join(map(repr, invalid)), *result.notes))
    actions: list[Action] = []
    gone: list[str] = []
    recorded = tuple(dict.fromkeys(a for a in (record.arn, record.previous_arn) if a))
    if named := [a for a in recorded if a in held]:
        return RegionPlan((held_by_consumer(named),))
    for arn in recorded:
        if arn not in observation.tags:
            return RegionPlan((Observe(arn),))
        tags = observation.tags[arn]
        if tags is None:
            gone.append(arn)
            actions.append(Noop(arn))
        elif problem := _not_deletable(arn, tags, owner):
            return RegionPlan(
                (*actions, Blocked(Reason.FOREIGN_CERTIFICATE, problem)), notes=_gone(gone)
            )
        else:
            actions.append(Delete(arn))
    left: list[str] = []
    if record.arn is None or record.arn in gone:
        if observation.candidates is None:
            return RegionPlan((Lookup(),))
        for cert in observation.candidates:
            if cert.arn in recorded or not owner.owns(owner_of(cert.tags)):
                continue
            if _not_deletable(cert.arn, cert.tags, owner):
                left.append(cert.arn)  # our owner tag copied by hand: not acm-sync's doing
            elif cert.arn in held:
                return RegionPlan((held_by_consumer([cert.arn]),))
            else:
                actions.append(Delete(cert.arn, found=True))
    notes = _gone(gone)
    if left:
        notes += (f"left alone (owner tag but no {MANAGED_BY_TAG} tag): {', '.join(left)}",)
    return RegionPlan(tuple(actions), notes=notes)


def plan_retirement(
    owner: Owner,
    record: RegionRecord,
    observation: DeletionObservation,
    *,
    policy: DeletionPolicy,
    synced: bool,
    held: Collection[str] = frozenset(),
) -> RegionPlan:
    """What to do with ``record.previous_arn`` after a sync left ``record`` (``synced``: the
    pair holds the Secret's certificate under ``record.arn``).

    No action: keep it recorded (no previous ARN, ``Retain``, or the new ARN not synced yet).
    ``Blocked(InUseByConsumer)``: keep it, a wired consumer (``held``) still names it.
    :class:`Observe`: read its tags and ask again. :class:`Delete`: delete it (its tags prove
    it this owner's). :class:`Noop`: forget it without deleting: it is gone, not an ACM ARN
    of the region, or not acm-sync's (the note says which; the finalizer would refuse it too).
    """
    previous = record.previous_arn
    if (
        previous is None
        or previous == record.arn
        or policy is not DeletionPolicy.DELETE
        or not synced
    ):
        return RegionPlan(())
    if region_of_arn(previous) != record.region:
        note = f"forgot the recorded previous ARN {previous!r}: not an ACM ARN in {record.region}"
        return RegionPlan((Noop(previous),), notes=(note,))
    if previous in held:
        return RegionPlan((held_by_consumer([previous]),))
    if previous not in observation.tags:
        return RegionPlan((Observe(previous),))
    tags = observation.tags[previous]
    if tags is None:
        return RegionPlan((Noop(previous),), notes=(f"the previous {previous} was already gone",))
    if problem := _not_deletable(previous, tags, owner):
        return RegionPlan((Noop(previous),), notes=(f"the previous ARN is left in ACM: {problem}",))
    return RegionPlan((Delete(previous),))


def held_by_consumer(arns: Sequence[str]) -> Blocked:
    """The wait of a deletion whose ``arns`` a wired consumer names."""
    return Blocked(
        Reason.IN_USE_BY_CONSUMER,
        f"{', '.join(arns)} is named by a load balancer acm-sync wired (status.consumers); "
        "it is deleted once no wired consumer names it",
    )


def _gone(arns: Sequence[str]) -> tuple[str, ...]:
    return (f"already gone: {', '.join(arns)}",) if arns else ()


def _not_deletable(arn: str, tags: Mapping[str, str], owner: Owner) -> str | None:
    """Why ``arn`` may not be deleted for ``owner``, or None when its tags prove it ours."""
    holder = owner_of(tags)
    if not owner.owns(holder):
        return f"{arn} is owned by {holder or 'nobody (untagged)'}; acm-sync will not delete it"
    if tags.get(MANAGED_BY_TAG) != MANAGED_BY_VALUE:
        return (
            f"{arn} carries the owner tag {holder} but not {MANAGED_BY_TAG}={MANAGED_BY_VALUE}; "
            "acm-sync will not delete it"
        )
    return None
