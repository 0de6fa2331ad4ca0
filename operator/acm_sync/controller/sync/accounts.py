"""Every account a certificate lives in, behind one interface, and the one loop over its pairs.

A pair is (target, region). The operator's own account is the empty target ``""``, served by
the default engine; an AcmTarget is an account reached through its assumed role. Sync, removal
from the spec, the finalizer and the sweep all go through :class:`Accounts` and the loops below,
so that whatever one account gets, every account gets: a new kind of account is one adapter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Protocol

from acm_sync.controller.platform.engine_api import EngineLike
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync import notices as nt
from acm_sync.core.model import Material
from acm_sync.core.reasons import Reason
from acm_sync.core.state import (
    DeletionPolicy,
    DesiredState,
    Owner,
    RegionOutcome,
    RegionRecord,
    RegionState,
)
from acm_sync.core.targets import account_of_arn

Pair = tuple[str, str]  # (target, region); target "" is the operator's own account


class Account(Protocol):
    """One account pairs are synced in (the adapter a new kind of account implements)."""

    @property
    def target(self) -> str:
        """The name pairs of this account carry ("" for the operator's own)."""
        ...

    @property
    def account(self) -> str:
        """The 12-digit account id, "" when the operator does not know it (its own)."""
        ...

    def problem(self, region: str) -> tuple[str, str] | None:
        """(reason, message) when the pair may make no AWS call; None when it may."""
        ...

    def engine(self) -> EngineLike | None:
        """The engine acting in this account; None when it cannot be reached at all."""
        ...


@dataclass(frozen=True, slots=True)
class OwnAccount:
    """The operator's own account: the default engine, every region the spec may name."""

    own_engine: EngineLike
    target: str = ""
    account: str = ""

    def problem(self, region: str) -> tuple[str, str] | None:
        return None  # spec.regions is validated with the spec (InvalidRegion, RegionNotAllowed)

    def engine(self) -> EngineLike:
        return self.own_engine


@dataclass(frozen=True, slots=True)
class TargetAccount:
    """An AcmTarget's account: checked against the AcmTarget, reached through its role."""

    target: str
    ctx: tg.TargetContext
    engines: tg.TargetEnginesLike

    @property
    def account(self) -> str:
        spec = self.ctx.targets.get(self.target)
        return spec.account if spec is not None else ""

    def problem(self, region: str) -> tuple[str, str] | None:
        return self.ctx.problem(self.target, region)

    def engine(self) -> EngineLike | None:
        spec = self.ctx.targets.get(self.target)
        return self.engines.engine(spec.role()) if spec is not None else None


class Accounts:
    """The accounts one AcmCertificate's pairs live in."""

    def __init__(
        self, own: EngineLike, engines: tg.TargetEnginesLike | None, ctx: tg.TargetContext
    ) -> None:
        self._own = OwnAccount(own)
        # Without target engines ctx refuses every target pair: no engine is ever asked for.
        self._engines = engines or tg.NO_TARGETS
        self.ctx = ctx

    def of(self, target: str) -> Account:
        """The account of ``target``'s pairs."""
        return self._own if not target else TargetAccount(target, self.ctx, self._engines)

    def ids(self) -> dict[str, str]:
        """target -> account id, for status entries that have no ARN yet."""
        return {name: spec.account for name, spec in self.ctx.targets.items()}


def by_target(pairs: Iterable[Pair]) -> dict[str, list[str]]:
    """The pairs grouped by target, targets and regions in the order given."""
    grouped: dict[str, list[str]] = {}
    for target, region in pairs:
        grouped.setdefault(target, []).append(region)
    return grouped


def _adopted(
    adopt_arns: Mapping[str, str], account: Account, regions: Iterable[str], claimed: set[Pair]
) -> dict[str, str]:
    """The ARNs of spec.certificateArns this account adopts: those naming its account, and
    for the account whose id the operator does not know (its own), those no other pair of the
    same region claims."""
    return {
        r: arn
        for r in regions
        if (arn := adopt_arns.get(r))
        and (
            account_of_arn(arn) == account.account
            if account.account
            else (r, account_of_arn(arn)) not in claimed
        )
    }


def _refused(record: RegionRecord, reason: str, message: str, retry: float) -> RegionOutcome:
    outcome = RegionOutcome.from_record(record, RegionState.BLOCKED, reason, message)
    # Nothing signals a namespace label or an AcmTarget change to this object for sure:
    # look again at the sweep interval.
    return replace(outcome, retry_after=retry)


def sync_pairs(
    accounts: Accounts,
    desired: DesiredState,
    material: Material,
    wanted: Sequence[Pair],
    records: Mapping[Pair, RegionRecord],
    retry_refused: float,
    pool: Executor,
) -> list[RegionOutcome]:
    """Sync every wanted pair, the accounts side by side; one outcome per pair, in order.

    A refused pair gets its reason and makes no call. ``desired.adopt_arns`` holds every ARN
    of spec.certificateArns: each account adopts those of its own.
    """
    done: dict[Pair, RegionOutcome] = {}
    running: list[tuple[str, Future[dict[str, RegionOutcome]]]] = []
    groups = [(accounts.of(t), regions) for t, regions in by_target(wanted).items()]
    claimed = {(r, a.account) for a, regions in groups if a.account for r in regions}
    for account, regions in groups:
        target = account.target
        allowed: dict[str, RegionRecord] = {}
        for region in regions:
            record = records.get((target, region)) or RegionRecord(region, target=target)
            if problem := account.problem(region):
                done[(target, region)] = _refused(record, *problem, retry_refused)
                continue
            if account.account and account_of_arn(record.arn) not in ("", account.account):
                # The AcmTarget now names a role in another account: the recorded certificate
                # is out of reach (and stays where it is); import into the new account.
                record = RegionRecord(region, target=target)
            allowed[region] = record
        engine = account.engine()
        if not allowed or engine is None:
            continue
        pair_desired = replace(
            desired,
            regions=tuple(allowed),
            target=target,
            adopt_arns=_adopted(desired.adopt_arns, account, allowed, claimed),
        )
        running.append((target, pool.submit(engine.sync, pair_desired, material, allowed)))
    for target, future in running:
        for region, outcome in future.result().items():
            done[(target, region)] = replace(outcome, target=target)
    return [done[p] for p in wanted if p in done]


def delete_pairs(
    accounts: Accounts,
    owner: Owner,
    records: Mapping[Pair, RegionRecord],
    held: Collection[str] = frozenset(),
) -> list[RegionOutcome]:
    """Delete the owner's certificates of ``records``' pairs (empty records are looked up).

    ``held``: ARNs wired consumers name (ARNs name their account, so one set serves every
    account); a pair holding one waits, ``InUseByConsumer``.

    A pair whose account cannot be reached (its AcmTarget is gone) stays, blocked, so that
    nothing is orphaned silently (switching deletionPolicy to Retain releases it). A refused
    pair that never got an ARN holds nothing of ours: done, with no call.
    """
    outcomes: list[RegionOutcome] = []
    reachable: dict[str, dict[str, RegionRecord]] = {}
    for (target, region), record in records.items():
        account = accounts.of(target)
        problem = account.problem(region)
        if problem is not None and not (record.arn or record.previous_arn):
            outcomes.append(
                RegionOutcome.from_record(
                    record, RegionState.SYNCED, Reason.NOT_FOUND, f"nothing to delete: {problem[1]}"
                )
            )
        elif account.engine() is None:
            reason, message = problem or (Reason.TARGET_NOT_FOUND, f"AcmTarget {target} is gone")
            outcomes.append(RegionOutcome.from_record(record, RegionState.BLOCKED, reason, message))
        else:
            reachable.setdefault(target, {})[region] = replace(record, target=target)
    for target, regional in sorted(reachable.items()):
        engine = accounts.of(target).engine()
        assert engine is not None  # reachable above
        done = engine.delete(owner, regional, held)
        outcomes.extend(replace(o, target=target) for o in done.values())
    return outcomes


def drop_pairs(
    accounts: Accounts,
    owner: Owner,
    wanted: Iterable[Pair],
    records: Mapping[Pair, RegionRecord],
    policy: DeletionPolicy,
    held: Collection[str] = frozenset(),
) -> tuple[list[RegionOutcome], list[nt.Notice]]:
    """Pairs the spec no longer names: deleted under ``Delete``, forgotten under ``Retain``.

    Returns the outcomes to keep in the status (deletions still to retry) and what to say.
    """
    keep = set(wanted)
    dropped = {p: r for p, r in records.items() if p not in keep}
    if not dropped:
        return [], []
    if policy is DeletionPolicy.RETAIN:
        return [], nt.retained_notices(dropped.values(), "the pair left the spec")
    results = delete_pairs(accounts, owner, dropped, held)
    # Pairs whose deletion failed stay in the status so that it is retried.
    kept = [o for o in results if o.state is not RegionState.SYNCED or o.arn]
    return kept, nt.deletion_notices(results, dropped)


def engines_in_use(own: EngineLike, engines: tg.TargetEnginesLike | None) -> dict[str, EngineLike]:
    """target -> engine of every account in use since the start (what the sweep reads)."""
    found: dict[str, EngineLike] = {"": own}
    found.update((role.name, engine) for role, engine in (engines or tg.NO_TARGETS).current())
    return found
