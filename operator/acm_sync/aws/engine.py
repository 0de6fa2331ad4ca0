"""The ACM engine: sync, delete and sweep, executing the planner's actions.

All three methods block (call them with ``asyncio.to_thread`` from kopf) and are thread-safe.
Each region runs in its own small thread pool, so a slow or unreachable region delays only
itself. A sync whose records show ACM already holds the desired certificate and tags makes
no AWS call at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from acm_sync.aws.adapter import AcmAdapter, CallObserver, utc
from acm_sync.aws.errors import AwsCallError, ErrorClass, redact
from acm_sync.aws.lookup import Finder
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.findings import Severity
from acm_sync.core.model import Material
from acm_sync.core.planner import (
    FOREIGN_CERTIFICATE,
    Adopt,
    Blocked,
    Drift,
    DriftKind,
    Import,
    Lookup,
    Noop,
    Observation,
    Observe,
    RegionPlan,
    Reimport,
    Tag,
    plan,
)
from acm_sync.core.regions import validate_region
from acm_sync.core.reimport import check_reimport
from acm_sync.core.state import (
    OWNER_TAG,
    DesiredState,
    Owner,
    RegionOutcome,
    RegionRecord,
    RegionState,
)
from acm_sync.core.tags import tags_hash

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_PLAN_ROUNDS = 4  # observe, lookup, act: a plan never needs more rounds
_SAME_INSTANT = 1.0  # seconds; ACM timestamps have second precision


class Engine:
    """Makes ACM hold the desired certificates; see the module docstring."""

    def __init__(self, settings: AwsSettings, observer: CallObserver | None = None) -> None:
        self.settings = settings
        self.adapter = AcmAdapter(settings, observer)
        self._finder = Finder(self.adapter)
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
        return self._each_region(
            desired.regions,
            lambda region: self._sync_region(
                desired, material, records.get(region) or RegionRecord(region)
            ),
            lambda region: records.get(region) or RegionRecord(region),
        )

    def delete(self, owner: Owner, records: Mapping[str, RegionRecord]) -> dict[str, RegionOutcome]:
        """Delete the recorded certificates (and previous ARNs) that ``owner`` owns."""
        return self._each_region(
            tuple(records),
            lambda region: self._delete_region(owner, records[region]),
            lambda region: records[region],
        )

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        """Find recorded certificates deleted, reimported out of band or expired in ``region``.

        One paginated ListCertificates call per 1,000 certificates; a DescribeCertificate only
        for those whose summary differs from the record. Raises :class:`AwsCallError`.
        """
        summaries = {str(s["CertificateArn"]): s for s in self.adapter.list_all(region)}
        drifts: list[Drift] = []
        for owner, record in records:
            if record.arn is None or record.region != region:
                continue
            summary = summaries.get(record.arn)
            seen_at = utc(summary.get("ImportedAt")) if summary else None
            if summary is not None and not _differs(record.imported_at, seen_at):
                if summary.get("Status") == "EXPIRED":
                    drifts.append(_drift(owner, record, DriftKind.EXPIRED, summary))
                continue
            try:
                described = self.adapter.describe(region, record.arn)
            except AwsCallError as err:
                if err.error_class is not ErrorClass.NOT_FOUND:
                    raise
                drifts.append(_drift(owner, record, DriftKind.DELETED, None))
                continue
            if _differs(record.imported_at, utc(described.get("ImportedAt"))):
                drifts.append(_drift(owner, record, DriftKind.REIMPORTED, described))
        return drifts

    def call_counts(self) -> dict[tuple[str, str, str], int]:
        """AWS calls so far by (API, region, outcome); outcome is ``ok`` or the error code."""
        with self.adapter._lock:
            return dict(self.adapter.counts)

    def close(self) -> None:
        """Stop the per-region worker threads."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=True)

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
                futures[region] = _outcome_for(
                    record_of(region), RegionState.BLOCKED, "InvalidRegion", problem
                )
            elif not self.settings.region_allowed(region):
                futures[region] = _outcome_for(
                    record_of(region),
                    RegionState.BLOCKED,
                    "RegionNotAllowed",
                    f"{region} is not in the operator's allowed regions",
                )
            else:
                futures[region] = self._pool(region).submit(self._guarded, work, region, record_of)
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
            return _error_outcome(self.settings, record_of(region), err)
        except Exception as exc:  # a bug must not take the other regions down
            return _outcome_for(
                record_of(region),
                RegionState.ERROR,
                "InternalError",
                redact(f"{type(exc).__name__}: {exc}"),
            )

    # ----- sync -----
    def _sync_region(
        self, desired: DesiredState, material: Material, record: RegionRecord
    ) -> RegionOutcome:
        region = record.region
        observation = Observation()
        pems: dict[str, bytes] = {}
        for _ in range(_MAX_PLAN_ROUNDS):
            region_plan = plan(
                desired, record, observation, adoption_enabled=self.settings.adoption_enabled
            )
            first = region_plan.actions[0]
            if isinstance(first, Observe):
                seen = self._finder.describe(region, first.arn, material)
                if seen is None:
                    observation = replace(observation, target_missing=True)
                else:
                    observation = replace(observation, target=seen[0])
                    pems[first.arn] = seen[1]
            elif isinstance(first, Lookup):
                found = self._finder.by_owner(region, desired.owner, material)
                observation = replace(observation, candidates=found)
            else:
                return _Execution(self, desired, material, record, observation, pems).run(
                    region_plan
                )
        raise RuntimeError("the planner did not settle")  # pragma: no cover

    def import_idempotently(
        self, region: str, desired: DesiredState, material: Material, tags: Mapping[str, str]
    ) -> str:
        """Import under a new ARN without ever creating a duplicate.

        When an attempt's outcome is unknown (lost response, 5xx), look the certificate up by
        owner tag: if ACM holds it already, that is the ARN; only otherwise try again.
        """
        attempts = max(1, self.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self.adapter.import_new(region, material, tags)
            except AwsCallError as err:
                if not err.ambiguous:
                    raise
                found = [
                    c
                    for c in self._finder.by_owner(region, desired.owner, material)
                    if c.content_matches
                ]
                if found:
                    newest = max(found, key=lambda c: (c.imported_at or _EPOCH, c.arn))
                    return newest.arn
                if attempt == attempts:
                    raise
                self.adapter._sleep(self.adapter.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # ----- delete -----
    def _delete_region(self, owner: Owner, record: RegionRecord) -> RegionOutcome:
        region = record.region
        deleted: list[str] = []
        gone: list[str] = []
        for arn in dict.fromkeys(a for a in (record.arn, record.previous_arn) if a):
            try:
                tags = self.adapter.list_tags(region, arn)
            except AwsCallError as err:
                if err.error_class is ErrorClass.NOT_FOUND:
                    gone.append(arn)
                    continue
                raise
            if tags.get(OWNER_TAG) != owner.tag_value:
                holder = tags.get(OWNER_TAG) or "nobody (untagged)"
                return _outcome_for(
                    record,
                    RegionState.BLOCKED,
                    FOREIGN_CERTIFICATE,
                    f"{arn} is owned by {holder}; acm-sync will not delete it",
                )
            try:
                self.adapter.delete(region, arn)
            except AwsCallError as err:
                if err.error_class is ErrorClass.NOT_FOUND:
                    gone.append(arn)
                    continue
                if err.error_class is ErrorClass.IN_USE:
                    return replace(
                        _outcome_for(
                            record,
                            RegionState.PENDING,
                            "ResourceInUse",
                            f"{arn} is still in use by another AWS service; will retry. "
                            f"ACM said: {err.message}",
                        ),
                        retry_after=self.settings.in_use_retry_after,
                        wrote=bool(deleted),
                    )
                raise
            deleted.append(arn)
        parts = [f"deleted {', '.join(deleted)}"] if deleted else []
        if gone:
            parts.append(f"already gone: {', '.join(gone)}")
        return RegionOutcome(
            region=region,
            state=RegionState.SYNCED,
            reason="Deleted" if deleted else "NotFound",
            message="; ".join(parts) or "nothing recorded to delete",
            wrote=bool(deleted),
        )


class _BlockedByRulesError(Exception):
    """ACM's reimport rules forbid the reimport (found before sending it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Execution:
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
        self.imported_at = record.imported_at
        self.previous_arn = record.previous_arn
        self.wrote = False
        self.reason = "Synced"
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
                self.tags_hash = tags_hash(self.desired.all_tags())
            self.previous_arn = region_plan.previous_arn
            if writes_content and self.arn:
                described = self.adapter.describe(self.record.region, self.arn)
                self.imported_at = utc(described.get("ImportedAt")) or self.imported_at
        except _BlockedByRulesError as blocked:
            return self.outcome(RegionState.BLOCKED, blocked.code, [blocked.message, *notes])
        except AwsCallError as err:
            outcome = _error_outcome(self.engine.settings, self.progress(), err)
            return replace(outcome, wrote=self.wrote)
        return self.outcome(RegionState.SYNCED, self.reason, [*self.said, *notes])

    def apply(self, action: object) -> None:
        """One action; raises AwsCallError or _BlockedByRulesError."""
        region = self.record.region
        if isinstance(action, Noop):
            self.said.append(f"in sync: {action.arn}")
        elif isinstance(action, Import):
            arn = self.engine.import_idempotently(region, self.desired, self.material, action.tags)
            self.wrote = True
            self.arn, self.fingerprint = arn, self.desired.fingerprint
            self.tags_hash = tags_hash(action.tags)
            self.reason = action.reason
            self.said.append(f"imported as {arn}")
        elif isinstance(action, Adopt):
            self.reason = "Adopted"
            self.said.append(f"adopted {action.arn}")
        elif isinstance(action, Reimport):
            self.check_rules(action.arn)
            self.adapter.reimport(region, action.arn, self.material)
            self.wrote = True
            self.arn, self.fingerprint = action.arn, self.desired.fingerprint
            if self.reason == "Synced":
                self.reason = "Reimported"
            self.said.append(f"reimported into {action.arn} (same ARN)")
        elif isinstance(action, Tag):
            if action.add:
                self.adapter.add_tags(region, action.arn, action.add)
            if action.remove:
                self.adapter.remove_tags(region, action.arn, action.remove)
            self.wrote = True
            self.tags_hash = tags_hash(self.desired.all_tags())
            if self.reason == "Synced":
                self.reason = "TagsUpdated"
            self.said.append(f"tags updated on {action.arn}")

    def check_rules(self, arn: str) -> None:
        """ACM's reimport rules, checked against the certificate ACM holds now."""
        previous_pem = self.pems.get(arn)
        if previous_pem is None:
            return
        for finding in check_reimport(previous_pem, self.material.certificate):
            if finding.severity is Severity.ERROR:
                raise _BlockedByRulesError(finding.code.value, finding.message)

    def content_in_place(self, arn: str) -> None:
        self.arn = arn
        self.fingerprint = self.desired.fingerprint
        for seen in (self.observation.target, *(self.observation.candidates or ())):
            if seen is not None and seen.arn == arn and seen.imported_at is not None:
                self.imported_at = seen.imported_at

    def progress(self) -> RegionRecord:
        """What has been achieved so far, as a record."""
        return RegionRecord(
            region=self.record.region,
            arn=self.arn,
            fingerprint=self.fingerprint,
            imported_at=self.imported_at,
            previous_arn=self.previous_arn,
            tags_hash=self.tags_hash,
        )

    def outcome(self, state: RegionState, reason: str, parts: Sequence[str]) -> RegionOutcome:
        """The outcome with the progress so far."""
        return replace(
            _outcome_for(self.progress(), state, reason, "; ".join(parts) or reason),
            wrote=self.wrote,
        )


def _outcome_for(
    record: RegionRecord, state: RegionState, reason: str, message: str
) -> RegionOutcome:
    """An outcome that keeps the record's fields (nothing changed, or what got done)."""
    return RegionOutcome(
        region=record.region,
        state=state,
        reason=reason,
        message=message,
        arn=record.arn,
        fingerprint=record.fingerprint,
        imported_at=record.imported_at,
        previous_arn=record.previous_arn,
        tags_hash=record.tags_hash,
    )


_RETRY_AFTER: dict[ErrorClass, Callable[[AwsSettings], float]] = {
    ErrorClass.THROTTLED: lambda s: s.throttled_retry_after,
    ErrorClass.RETRYABLE: lambda s: s.error_retry_after,
    ErrorClass.IN_USE: lambda s: s.in_use_retry_after,
}


def _error_outcome(settings: AwsSettings, record: RegionRecord, err: AwsCallError) -> RegionOutcome:
    """Transient failures are Pending with a retry hint; the rest are Errors."""
    retry = _RETRY_AFTER.get(err.error_class)
    state = RegionState.PENDING if retry else RegionState.ERROR
    message = f"{err.api} failed in {err.region}: {err.code}: {err.message}"
    outcome = _outcome_for(record, state, err.reason, message)
    return replace(outcome, retry_after=retry(settings) if retry else None)


def _differs(recorded: datetime | None, seen: datetime | None) -> bool:
    """Whether ACM's ImportedAt shows a reimport after the one recorded."""
    if recorded is None or seen is None:
        return seen is None and recorded is not None
    return abs((seen - recorded).total_seconds()) > _SAME_INSTANT


def _drift(
    owner: Owner, record: RegionRecord, kind: DriftKind, seen: Mapping[str, object] | None
) -> Drift:
    arn = str(record.arn)
    imported_at = utc(seen.get("ImportedAt")) if seen else None
    not_after = utc(seen.get("NotAfter")) if seen else None
    messages = {
        DriftKind.DELETED: f"{arn} was deleted from ACM outside acm-sync",
        DriftKind.REIMPORTED: (
            f"{arn} was reimported outside acm-sync"
            + (f" at {imported_at.isoformat()}" if imported_at else "")
        ),
        DriftKind.EXPIRED: f"{arn} has expired in ACM",
    }
    return Drift(owner, record.region, arn, kind, messages[kind], imported_at, not_after)
