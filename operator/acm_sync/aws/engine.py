"""The ACM engine: sync, delete and sweep, executing the planner's actions.

All three methods block (call them with ``asyncio.to_thread`` from kopf) and are thread-safe.
Each region runs in its own small thread pool, so a slow or unreachable region delays only
itself. A sync whose records show ACM already holds the desired certificate and tags makes
no AWS call at all.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from acm_sync.aws.adapter import AcmAdapter, CallObserver, utc
from acm_sync.aws.clients import SessionSource
from acm_sync.aws.credentials import current_owner
from acm_sync.aws.errors import AwsCallError, ErrorClass, redact
from acm_sync.aws.execution import Execution, TargetGoneError
from acm_sync.aws.import_times import ImportTimes
from acm_sync.aws.importing import Importer
from acm_sync.aws.lookup import Finder
from acm_sync.aws.outcomes import differs, drift, error_outcome, stale
from acm_sync.aws.owner_index import OwnerIndex
from acm_sync.aws.profiles import ProfileCache
from acm_sync.aws.region_table import unknown_region
from acm_sync.aws.removal import PreviousRetirement, RegionDeletion
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.fingerprint import fingerprint
from acm_sync.core.model import Material
from acm_sync.core.pem import parse_pem
from acm_sync.core.planner import (
    Drift,
    DriftKind,
    Lookup,
    Observation,
    Observe,
    ObservedCertificate,
    plan,
    recorded_arn_problem,
)
from acm_sync.core.reasons import Reason
from acm_sync.core.regions import validate_region
from acm_sync.core.reimport import ReimportProfile
from acm_sync.core.state import (
    DesiredState,
    Owner,
    RegionOutcome,
    RegionRecord,
    RegionState,
)
from acm_sync.core.tags import tags_hash

# Observe, act, and when the act finds the target gone: lookup, act. Never more rounds.
_MAX_PLAN_ROUNDS = 5


class Engine:
    """Makes ACM hold the desired certificates; see the module docstring."""

    def __init__(
        self,
        settings: AwsSettings,
        observer: CallObserver | None = None,
        *,
        sessions: SessionSource | None = None,
    ) -> None:
        # ``sessions``: another account's assumed-role sessions (an AcmTarget); None: the
        # operator's own credential chain. Rate limits are per engine, so per account.
        self.settings = settings
        self.adapter = AcmAdapter(settings, observer, sessions=sessions)
        self.owner_index = OwnerIndex(self.adapter, max_age=settings.owner_index_max_age)
        self._finder = Finder(self.adapter, self.owner_index)
        self.import_times = ImportTimes(self.adapter, max_wait=settings.imported_at_batch_wait)
        self._importer = Importer(self.adapter, self._finder, settings, self.import_times)
        self.profiles = ProfileCache(settings.reimport_profiles)
        self._lock = threading.Lock()
        self._pools: dict[str, ThreadPoolExecutor] = {}

    # ----- public -----
    def sync(
        self,
        desired: DesiredState,
        material: Material,
        records: Mapping[str, RegionRecord],
    ) -> dict[str, RegionOutcome]:
        """Import or reimport ``material`` into every desired region; one outcome each."""
        token = current_owner.set(desired.owner)
        try:
            return self._each_region(
                desired.regions,
                lambda region: self._sync_region(
                    desired, material, records.get(region) or RegionRecord(region)
                ),
                lambda region: records.get(region) or RegionRecord(region),
            )
        finally:
            current_owner.reset(token)

    def delete(
        self, owner: Owner, records: Mapping[str, RegionRecord], held: Collection[str] = frozenset()
    ) -> dict[str, RegionOutcome]:
        """Delete ``owner``'s certificates in every region of ``records`` (``held``: see below).

        Pass a record (``RegionRecord(region)`` when nothing is known) for every region that
        may hold one: where no ARN is recorded, or the recorded one is gone, the region is
        searched by owner tag, so an import whose status write was lost is not orphaned.
        Only certificates tagged with exactly this owner and the managed-by tag are deleted.
        An invalid region without a recorded ARN holds nothing: it is done, not blocked (a
        typo in spec.regions must not keep the object from being deleted). A region where a
        wired consumer names an ARN (``held``) waits, ``InUseByConsumer``, deleting nothing.
        """
        token = current_owner.set(owner)
        try:
            outcomes = self._each_region(
                tuple(records),
                lambda region: RegionDeletion(
                    self.adapter, self._finder, self.settings, owner, records[region], held
                ).run(),
                lambda region: records[region],
            )
        finally:
            current_owner.reset(token)
        for region, outcome in outcomes.items():
            record = records[region]
            if outcome.reason == Reason.INVALID_REGION and not (record.arn or record.previous_arn):
                outcomes[region] = replace(
                    outcome,
                    state=RegionState.SYNCED,
                    reason=Reason.NOT_FOUND,
                    message=f"nothing to delete: {outcome.message}",
                )
        return outcomes

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        """Find recorded certificates deleted, reimported out of band or expired in ``region``.

        One paginated ListCertificates call per 1,000 certificates; a DescribeCertificate only
        for those whose summary differs from the record. Raises :class:`AwsCallError`.
        """
        # Record indexes by ARN; the region's summaries are matched a page at a time as they
        # are listed, never all held at once (10,000 summaries are tens of MB).
        usable: dict[str, list[int]] = {}
        for i, (_owner, record) in enumerate(records):
            if record.arn is None or record.region != region or recorded_arn_problem(record):
                # An unusable ARN cannot be described; its next sync looks up by owner tag.
                continue
            usable.setdefault(record.arn, []).append(i)
        unmatched = {i for indexes in usable.values() for i in indexes}
        found: dict[int, list[Drift]] = {}
        for summary in self.adapter.list_all(region):
            for i in usable.get(str(summary["CertificateArn"]), ()):
                owner, record = records[i]
                if differs(record.imported_at, utc(summary.get("ImportedAt"))):
                    continue  # described below
                unmatched.discard(i)
                if summary.get("Status") == "EXPIRED":
                    found[i] = [drift(owner, record, DriftKind.EXPIRED, summary)]
                elif stale(record, summary):
                    fresh = self._refreshed(region, owner, record)
                    found[i] = [fresh] if fresh else []
        for i in sorted(unmatched):
            owner, record = records[i]
            assert record.arn is not None
            try:
                described = self.adapter.describe(region, record.arn)
            except AwsCallError as err:
                if err.error_class is not ErrorClass.NOT_FOUND:
                    raise
                found[i] = [drift(owner, record, DriftKind.DELETED, None)]
                continue
            if differs(record.imported_at, utc(described.get("ImportedAt"))):
                kind = (
                    DriftKind.STALE_RECORD
                    if self._holds_recorded_content(region, record)
                    else DriftKind.REIMPORTED
                )
                found[i] = [drift(owner, record, kind, described)]
        return [d for i in sorted(found) for d in found[i]]

    def _refreshed(self, region: str, owner: Owner, record: RegionRecord) -> Drift | None:
        """The record's facts as ACM has them now (one DescribeCertificate for InUseBy)."""
        assert record.arn is not None
        try:
            described = self.adapter.describe(region, record.arn)
        except AwsCallError as err:
            if err.error_class is ErrorClass.NOT_FOUND:
                return drift(owner, record, DriftKind.DELETED, None)
            raise
        return drift(owner, record, DriftKind.REFRESHED, described)

    def _holds_recorded_content(self, region: str, record: RegionRecord) -> bool:
        """Whether ACM still holds the certificate and chain the record's fingerprint names.

        Then a newer ImportedAt is acm-sync's own reimport of that content whose status write
        did not land (fenced off, lost), not someone else's. One GetCertificate, only for a
        certificate whose ImportedAt differs.
        """
        if record.fingerprint is None or record.arn is None:
            return False
        try:
            certificate, chain = self.adapter.get_pem(region, record.arn)
        except AwsCallError:
            return False  # cannot tell: report it as drift, which a sync then checks in full
        leaf = parse_pem(certificate).blocks
        chain_ders = [b.der for b in parse_pem(chain or b"").blocks]
        if len(leaf) != 1:
            return False
        # ACM may hold a root appended to the chain acm-sync sent.
        return record.fingerprint in {
            fingerprint(leaf[0].der, chain_ders),
            fingerprint(leaf[0].der, chain_ders[:-1]),
        }

    def call_counts(self) -> dict[tuple[str, str, str], int]:
        """AWS calls so far by (API, region, outcome); outcome is ``ok`` or the error code."""
        return self.adapter.snapshot()

    def close(self, *, wait: bool = False) -> None:
        """Stop the per-region worker threads: queued work is dropped, running calls finish.

        By default it does not wait for them: a shutdown must not last as long as an SDK read
        timeout. ``wait`` lets the calls in flight finish first.
        """
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=not wait)

    # ----- plumbing -----
    def _pool(self, region: str) -> ThreadPoolExecutor:
        with self._lock:
            pool = self._pools.get(region)
            if pool is None:
                pool = ThreadPoolExecutor(
                    max_workers=self.settings.region_workers, thread_name_prefix=f"acm-{region}"
                )
                self._pools[region] = pool
            return pool

    def _each_region(
        self,
        regions: Sequence[str],
        work: Callable[[str], RegionOutcome],
        record_of: Callable[[str], RegionRecord],
    ) -> dict[str, RegionOutcome]:
        futures: dict[str, Future[RegionOutcome] | RegionOutcome] = {}
        for region in dict.fromkeys(regions):
            if problem := validate_region(region):
                futures[region] = RegionOutcome.from_record(
                    record_of(region), RegionState.BLOCKED, Reason.INVALID_REGION, problem
                )
            elif not self.settings.region_allowed(region):
                futures[region] = RegionOutcome.from_record(
                    record_of(region),
                    RegionState.BLOCKED,
                    Reason.REGION_NOT_ALLOWED,
                    f"{region} is not in the operator's allowed regions",
                )
            elif problem := unknown_region(region, self.settings):
                # Well-formed but without an ACM endpoint: every call would fail, forever.
                futures[region] = RegionOutcome.from_record(
                    record_of(region), RegionState.BLOCKED, Reason.INVALID_REGION, problem
                )
            else:
                # The context carries current_owner into the region's thread (session tags).
                context = contextvars.copy_context()
                futures[region] = self._pool(region).submit(
                    context.run, self._guarded, work, region, record_of
                )
        return {region: f.result() if isinstance(f, Future) else f for region, f in futures.items()}

    def _guarded(
        self,
        work: Callable[[str], RegionOutcome],
        region: str,
        record_of: Callable[[str], RegionRecord],
    ) -> RegionOutcome:
        try:
            return work(region)
        except AwsCallError as err:
            return error_outcome(self.settings, record_of(region), err)
        except Exception as exc:  # a bug must not take the other regions down
            return RegionOutcome.from_record(
                record_of(region),
                RegionState.ERROR,
                Reason.INTERNAL_ERROR,
                redact(f"{type(exc).__name__}: {exc}"),
            )

    # ----- sync -----
    def _sync_region(
        self, desired: DesiredState, material: Material, record: RegionRecord
    ) -> RegionOutcome:
        region = record.region
        observation = Observation()
        # What ACM's reimport rules need of the certificate under each ARN observed (None:
        # ACM holds something unreadable there).
        held: dict[str, ReimportProfile | None] = {}
        for _ in range(_MAX_PLAN_ROUNDS):
            region_plan = plan(desired, record, observation, adoption=self.settings.adoption)
            first = region_plan.actions[0]
            if isinstance(first, Observe):
                seen = self._observe(first.arn, desired, material, record)
                if seen is None:
                    observation = replace(observation, target_missing=True)
                else:
                    observation = replace(observation, target=seen[0])
                    held[first.arn] = seen[1]
            elif isinstance(first, Lookup):
                found = self._finder.by_owner(region, desired.owner, material, held=held)
                observation = replace(observation, candidates=found)
            else:
                # An unusable recorded ARN must not survive into the outcome either.
                start = replace(record, arn=None) if recorded_arn_problem(record) else record
                execution = Execution(
                    self._importer, desired, material, start, observation, held, self.profiles
                )
                try:
                    outcome = execution.run(region_plan)
                except TargetGoneError as gone:
                    # Deleted behind our back: the same as an observation finding it gone.
                    self._finder.forget(region, gone.arn)
                    observation = replace(observation, target=None, target_missing=True)
                    continue
                # The previous ARN of an ImportNew goes once the new one serves (policy Delete).
                return PreviousRetirement(self.adapter, self._finder, self.settings, desired).run(
                    outcome
                )
        raise RuntimeError("the planner did not settle")  # pragma: no cover

    def _observe(
        self, arn: str, desired: DesiredState, material: Material, record: RegionRecord
    ) -> tuple[ObservedCertificate, ReimportProfile | None] | None:
        """What ACM holds under ``arn`` and what the reimport rules need of it: read in full,
        only its content, or nothing when the record and what this process remembers answer.

        The record answers the tags (its tags hash is the desired one) and the facts a
        reimport keeps; its owner tag (remembered, else read alone) whose it is. ACM's reimport
        rules (key type, names, key usages) are checked before a reimport is sent, against
        the profile this process kept of the recorded content when it imported or read it,
        else against the certificate read now (one GetCertificate).
        """
        region = record.region
        answered = (
            arn == record.arn
            and desired.adopt_arns.get(region) is None
            and record.fingerprint is not None
            and record.tags_hash == tags_hash(desired.all_tags())
            and (
                # Known from an earlier load or read (an owner tag is written once, at
                # import), else read for this certificate alone: a rotation must not wait
                # for the region's whole index (100 GetResources pages at 10,000).
                desired.owner.owns(self.owner_index.owner_of(arn))
                or desired.owner.owns(self._finder.owner_tag(region, arn))
            )
        )
        if answered:
            profile = self.profiles.get(record.fingerprint)
            if profile is not None:
                return _from_record(record, desired, profile), profile
            held = self._finder.content(region, record, desired.all_tags(), material)
            if held is None:
                return None
            if held != "unreadable":
                seen, certificate = held
                profile = ReimportProfile.of(certificate)
                # The record names what ACM holds, as far as this process can tell (an
                # out-of-band reimport shows in the sweep, and ACM still checks its rules).
                held_fingerprint = (
                    desired.fingerprint if seen.content_matches else record.fingerprint
                )
                self.profiles.remember(held_fingerprint, profile)
                return seen, profile
        described = self._finder.describe(region, arn, material)
        if described is None:
            return None
        return described[0], ReimportProfile.of(described[1])


def _from_record(
    record: RegionRecord, desired: DesiredState, profile: ReimportProfile
) -> ObservedCertificate:
    """The certificate under ``record.arn`` as the record and its remembered profile say."""
    assert record.arn is not None
    return ObservedCertificate(
        arn=record.arn,
        key_algorithm=profile.key_algorithm,
        tags=dict(desired.all_tags()),  # the record's tags hash is the desired tags'
        in_use=bool(record.in_use_by),
        imported_at=record.imported_at,
        not_after=record.not_after,
        content_matches=record.fingerprint == desired.fingerprint,
        serial=record.serial,
        in_use_by=record.in_use_by,
    )
