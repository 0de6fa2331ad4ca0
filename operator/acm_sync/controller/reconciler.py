"""Reconciling one AcmCertificate: read it and its Secret, sync through the engine, write status.

The record of what is in ACM lives in ``status.regions``; a reconcile whose records already
match the Secret's fingerprint makes no AWS call and, since nothing changed, no status write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from acm_sync.controller import annotations as ann
from acm_sync.controller import notices as nt
from acm_sync.controller import spec as specs
from acm_sync.controller import status as st
from acm_sync.controller import targets as tg
from acm_sync.controller.engine_api import EngineLike
from acm_sync.controller.kubeapi import JsonObj, KubeApi, ObjectRef
from acm_sync.controller.metrics import Metrics
from acm_sync.controller.redaction import redact
from acm_sync.controller.settings import OperatorConfig
from acm_sync.controller.workqueue import Key, WorkQueue
from acm_sync.core.findings import Code, Finding
from acm_sync.core.model import CertificateFacts
from acm_sync.core.planner import Drift
from acm_sync.core.reasons import Reason
from acm_sync.core.state import (
    DeletionPolicy,
    DesiredState,
    Owner,
    RegionOutcome,
    RegionRecord,
    RegionState,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

MAX_BACKOFF = 300.0
# Findings that fix themselves with time: retry when the certificate becomes valid.
NOT_YET_VALID = Code.NOT_YET_VALID


def utcnow() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


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


class Reconciler:
    """Owns the work queue and everything a reconcile needs."""

    def __init__(
        self,
        kube: KubeApi,
        engine: EngineLike,
        config: OperatorConfig,
        cluster_id: str,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 16,
        targets: tg.TargetEnginesLike | None = None,
    ) -> None:
        self.kube = kube
        self.engine = engine
        # Engines of other accounts (AcmTargets); None: spec.targets is refused.
        self.targets = targets
        self.config = config
        self.cluster_id = cluster_id
        self.metrics = metrics
        self.clock = clock
        self.queue = WorkQueue(self._reconcile, concurrency=concurrency)
        self._kube_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="acm-sync-kube")
        self._aws_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="acm-sync-aws")
        # Accounts of one object sync side by side (a pool of its own: the waiting threads of
        # _aws_pool must not be the ones the work needs).
        self._account_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="acm-sync-acct")
        # (namespace, secret name) -> AcmCertificate names referencing it.
        self._refs: dict[tuple[str, str], set[str]] = {}
        self._ref_of: dict[Key, str] = {}
        # Pairs whose record must be re-verified against ACM (drift found by the sweep).
        self._forced: dict[Key, set[st.Pair]] = {}
        # Facts the sweep read from ACM (notAfter, InUseBy) for the next reconcile to record.
        self._refreshed: dict[Key, dict[str, Drift]] = {}
        self._failures: dict[Key, int] = {}
        # The Secret resourceVersion each object last read: an event for that very version
        # (the initial listing after a restart) needs no second reconcile.
        self._secret_seen: dict[Key, str] = {}
        # AcmTarget name -> AcmCertificates naming it (an AcmTarget change re-syncs them).
        self.target_users = tg.TargetUsers()

    # -- plumbing ---------------------------------------------------------------------------

    async def in_kube_pool(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking Kubernetes call off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._kube_pool, lambda: fn(*args, **kwargs))

    async def in_aws_pool(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking engine call (or CPU-bound analysis) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._aws_pool, lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        """Finish runs in flight (bounded) and release the thread pools."""
        await self.queue.close()
        self._kube_pool.shutdown(wait=False, cancel_futures=True)
        self._aws_pool.shutdown(wait=False, cancel_futures=True)
        self._account_pool.shutdown(wait=False, cancel_futures=True)

    def owner(self, key: Key) -> Owner:
        """The owner tag identity of an AcmCertificate."""
        return Owner(cluster_id=self.cluster_id, namespace=key[0], name=key[1])

    # -- references from Secrets to AcmCertificates -----------------------------------------

    def register(self, key: Key, secret_name: str | None) -> None:
        """Remember which Secret ``key`` reads, so that a change of it triggers ``key``."""
        previous = self._ref_of.get(key)
        if previous == secret_name:
            return
        if previous is not None:
            names = self._refs.get((key[0], previous))
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._refs[(key[0], previous)]
        if secret_name:
            self._ref_of[key] = secret_name
            self._refs.setdefault((key[0], secret_name), set()).add(key[1])
        else:
            self._ref_of.pop(key, None)

    def secret_changed(self, key: Key, resource_version: str, deleted: bool) -> bool:
        """Whether a Secret event shows something ``key``'s last reconcile did not read."""
        seen = self._secret_seen.get(key)
        if deleted:
            return seen != ""
        return seen != resource_version

    def has_read_secret(self, key: Key) -> bool:
        """Whether ``key`` was reconciled since the start (a Secret event is then a change)."""
        return key in self._secret_seen

    def referencing(self, namespace: str, secret_name: str) -> list[Key]:
        """The AcmCertificates reading a Secret."""
        return [(namespace, n) for n in sorted(self._refs.get((namespace, secret_name), ()))]

    def forget(self, key: Key) -> None:
        """An AcmCertificate is gone: drop its bookkeeping and metrics."""
        self.register(key, None)
        self._forced.pop(key, None)
        self._failures.pop(key, None)
        self._secret_seen.pop(key, None)
        self.target_users.forget(key)
        self.queue.forget(key)
        self.metrics.forget(key[0], key[1])

    def refresh(self, drift: Drift) -> None:
        """Record what the sweep read from ACM about a certificate (no repair needed)."""
        key = (drift.owner.namespace, drift.owner.name)
        self._refreshed.setdefault(key, {})[drift.region] = drift
        self.queue.trigger(key)

    def force_verify(self, key: Key, region: str, target: str = "") -> None:
        """Make the next reconcile of ``key`` re-check a pair against ACM (drift repair)."""
        self._forced.setdefault(key, set()).add((target, region))
        self.queue.trigger(key)

    # -- the reconcile ----------------------------------------------------------------------

    async def _reconcile(self, key: Key) -> float | None:
        started = time.monotonic()
        namespace, name = key
        obj = await self.in_kube_pool(self.kube.get_acmcert, namespace, name)
        if obj is None:
            self.forget(key)
            return None
        if obj.get("metadata", {}).get("deletionTimestamp"):
            return None  # the finalizer owns it now
        spec = obj.get("spec") or {}
        secret_name = spec.get("secretName") if isinstance(spec.get("secretName"), str) else None
        self.register(key, secret_name)
        secret = (
            await self.in_kube_pool(self.kube.get_secret, namespace, secret_name)
            if secret_name
            else None
        )
        self._secret_seen[key] = str((secret or {}).get("metadata", {}).get("resourceVersion", ""))
        if secret is not None and self._annotations_removed(obj, secret):
            uid = obj.get("metadata", {}).get("uid")
            await self.in_kube_pool(self.kube.delete_acmcert, namespace, name, uid)
            log.info("%s/%s: the Secret's annotations are gone; generated object deleted", *key)
            return None
        forced = self._forced.pop(key, set())
        fresh = self._refreshed.pop(key, {})
        names = self.target_users.note(key, spec)
        ctx = tg.TargetContext(namespace, self.targets is not None and self.config.targets_enabled)
        if names and ctx.enabled:
            ctx = await self.in_kube_pool(
                tg.load_context, self.kube, namespace, names, enabled=True
            )
        now = self.clock()
        result = await self.in_aws_pool(
            self._sync_blocking, key, obj, secret, forced, fresh, now, ctx
        )
        await self._write_status(key, obj, result, now)
        accounts = {"": self.metrics.own_account, **(result.accounts or {})}
        quota = [
            (tg.account_of_outcome(o, accounts), o.region)
            for o in result.outcomes or []
            if o.reason == Reason.QUOTA_EXCEEDED
        ]
        self.metrics.count_sync(result.verdict.ready, result.verdict.reason, quota)
        self.metrics.reconcile_duration.observe(time.monotonic() - started)
        return result.retry

    @staticmethod
    def _annotations_removed(obj: JsonObj, secret: JsonObj) -> bool:
        secret_name = str(secret.get("metadata", {}).get("name", ""))
        secret_annotations = secret.get("metadata", {}).get("annotations") or {}
        return ann.generated_from(obj, secret_name) and not any(
            a in secret_annotations for a in ann.TRIGGER_ANNOTATIONS
        )

    def _sync_blocking(
        self,
        key: Key,
        obj: JsonObj,
        secret: JsonObj | None,
        forced: set[st.Pair],
        fresh: dict[str, Drift],
        now: datetime,
        ctx: tg.TargetContext | None = None,
    ) -> SyncResult:
        try:
            cert_spec = specs.parse_spec(
                obj.get("spec") or {},
                allowed_regions=self.config.allowed_regions,
                adoption_enabled=self.config.adoption_enabled,
            )
            analysis = specs.analyze_secret(
                secret, now=now, expiry_warning_days=self.config.expiry_warning_days
            )
        except specs.SpecError as exc:
            message = exc.message
            if exc.reason == specs.SECRET_NOT_FOUND:
                # spec.py does not know the namespace; the user needs to know which Secret.
                secret_name = (obj.get("spec") or {}).get("secretName", "")
                message = f"the Secret {key[0]}/{secret_name} does not exist"
            return SyncResult(st.Verdict(False, exc.reason, message), None, None)
        if analysis.errors or analysis.material is None or analysis.facts is None:
            first = analysis.errors[0].code.value if analysis.errors else Code.NO_CERTIFICATE
            message = "; ".join(f.message for f in analysis.errors) or "no certificate"
            retry = None
            if first == NOT_YET_VALID and analysis.facts is not None:
                retry = min(max((analysis.facts.not_before - now).total_seconds(), 1.0), 3600.0)
            # The facts still describe the Secret (an expired certificate, say) in the status.
            verdict = st.Verdict(False, first, message)
            warnings = specs.relevant_warnings(analysis.warnings, cert_spec.regions)
            return SyncResult(verdict, None, analysis.facts, retry, warnings=warnings)
        facts = analysis.facts
        warnings = specs.relevant_warnings(analysis.warnings, cert_spec.regions)
        if specs.is_suspended(obj):
            message = "spec.suspend is true: no AWS call is made until it is false"
            return SyncResult(
                st.Verdict(False, specs.SUSPENDED, message), None, facts, None, [], warnings
            )
        pairs = st.pair_records(obj.get("status"))
        for region, seen in fresh.items():
            # What the sweep read of the operator's own account (the ARN must still match).
            if ("", region) in pairs and pairs[("", region)].arn == seen.arn:
                pairs[("", region)] = st.refreshed(pairs[("", region)], seen)
        for pair in forced:
            if pair in pairs:
                # Drift: the certificate under this ARN is not ours any more (or is gone), so
                # the record must not short-circuit the sync.
                pairs[pair] = replace(pairs[pair], fingerprint=None, tags_hash=None)
        records = {region: rec for (target, region), rec in pairs.items() if not target}
        ctx = ctx or tg.TargetContext(key[0], enabled=False)
        owner = self.owner(key)
        if problem := owner.tag_problem():
            # ACM would refuse the import (InvalidTagException): say so before any AWS call.
            return SyncResult(st.Verdict(False, specs.INVALID_TAGS, problem), None, facts)
        desired = DesiredState(
            owner=owner,
            fingerprint=facts.fingerprint,
            key_algorithm=facts.key_algorithm,
            regions=cert_spec.regions,
            tags=cert_spec.tags,
            deletion_policy=cert_spec.deletion_policy,
            adopt_arns=tg.own_adoptions(cert_spec.adopt_arns, cert_spec.targets, ctx),
            on_key_change=cert_spec.on_key_change,
            serial=facts.serial,
            not_after=facts.not_after,
        )
        wanted = {r: records[r] for r in cert_spec.regions if r in records}
        try:
            own = (
                self._account_pool.submit(self.engine.sync, desired, analysis.material, wanted)
                if cert_spec.regions
                else None
            )
            # ctx refuses every pair when there are no target engines (targets disabled).
            in_targets = tg.sync_targets(
                self.targets or tg.NO_TARGETS,
                ctx,
                # Every ARN of spec.certificateArns: each target's account adopts its own.
                replace(desired, adopt_arns=cert_spec.adopt_arns),
                analysis.material,
                cert_spec.targets,
                pairs,
                self.config.sweep_interval,
                self._account_pool,
            )
            by_region = own.result() if own is not None else {}
            outcomes = [by_region[r] for r in cert_spec.regions if r in by_region]
            outcomes.extend(in_targets)
            kept, notices = self._drop_regions(owner, cert_spec, records)
            outcomes.extend(kept)
            if self.targets is not None:
                outcomes.extend(
                    tg.drop_pairs(
                        self.targets,
                        ctx,
                        owner,
                        cert_spec.targets,
                        pairs,
                        cert_spec.deletion_policy,
                    )
                )
        except CancelledError:
            raise  # shutdown: the engine dropped queued work, and nobody waits for this result
        except Exception as exc:  # the engine reports AWS errors per region; this is a bug
            log.exception("The ACM engine failed for %s/%s", *key)
            message = redact(f"{type(exc).__name__}: {exc}")
            verdict = st.Verdict(
                False, Reason.AWS_ERROR, f"internal error talking to ACM: {message}"
            )
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            retry = min(2.0**failures, MAX_BACKOFF)
            return SyncResult(verdict, None, facts, retry, warnings=warnings)
        wanted_pairs = {("", r) for r in cert_spec.regions} | {
            (t.target, r) for t in cert_spec.targets for r in t.regions
        }
        verdict = st.verdict_from_outcomes(
            [o for o in outcomes if (o.target, o.region) in wanted_pairs]
        )
        accounts = {name: spec.account for name, spec in ctx.targets.items()}
        retry = self._retry_delay(key, outcomes)
        return SyncResult(
            verdict, outcomes, facts, retry, notices, warnings, len(wanted_pairs), accounts
        )

    def _drop_regions(
        self, owner: Owner, cert_spec: specs.CertSpec, records: dict[str, RegionRecord]
    ) -> tuple[list[RegionOutcome], list[nt.Notice]]:
        """Regions removed from the spec: delete there under ``Delete``, forget under ``Retain``.

        Returns the outcomes to keep in the status (deletions still to retry) and what to say.
        """
        dropped = {r: rec for r, rec in records.items() if r not in cert_spec.regions}
        if not dropped:
            return [], []
        if cert_spec.deletion_policy is DeletionPolicy.RETAIN:
            why = "the region left spec.regions"
            return [], nt.retained_notices(dropped.values(), why)
        results = self.engine.delete(owner, dropped)
        # Regions whose deletion failed stay in the status so that it is retried.
        kept = [o for o in results.values() if o.state is not RegionState.SYNCED or o.arn]
        return kept, nt.deletion_notices(results.values(), dropped)

    def _retry_delay(self, key: Key, outcomes: list[RegionOutcome]) -> float | None:
        hints = [o.retry_after for o in outcomes if o.retry_after]
        transient = [o for o in outcomes if o.state in (RegionState.ERROR, RegionState.PENDING)]
        if not hints and not transient:
            self._failures.pop(key, None)
            return None
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        backoff = min(2.0**failures, MAX_BACKOFF)
        return max(min(hints), 1.0) if hints else backoff

    # -- status -----------------------------------------------------------------------------

    async def _write_status(
        self, key: Key, obj: JsonObj, result: SyncResult, now: datetime
    ) -> None:
        old = obj.get("status") or {}
        generation = obj.get("metadata", {}).get("generation")
        new: JsonObj = {}
        new.update(st.secret_fields(result.facts, old))
        if generation is not None:
            new["observedGeneration"] = generation
        old_entries = st.pair_entries(old)
        if result.outcomes is None:
            if old.get("regions"):
                new["regions"] = old["regions"]
            if old.get("pairs"):
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
            self.config.expiry_warning_days,
            generation,
            old_conditions.get(st.EXPIRING),
            now,
        )
        old_warnings = old_conditions.get(st.WARNINGS)
        warnings = st.warnings_condition(result.warnings, generation, old_warnings, now)
        new["conditions"] = [ready, expiring, warnings]
        patch = st.merge_patch(old, new)
        if patch and not await self.in_kube_pool(self.kube.patch_status_over, obj, patch):
            # A newer status than the one this run started from is in place: keep it, post no
            # Event about a state that is not the object's, and look again.
            self.queue.trigger(key)
            return
        notices = [*nt.sync_notices(result.outcomes or [], old_entries), *result.notices]
        for notice in notices:
            nt.log_notice(key[0], key[1], notice)
        events = [(n.type, n.reason, n.message) for n in notices]
        events += nt.condition_events(old_conditions, st.conditions_by_type(new))
        if result.warnings is not None:
            events += nt.warning_events(result.warnings, old_warnings)
        ref = ObjectRef.of({**obj, "kind": obj.get("kind", "AcmCertificate")})
        for kind, reason, message in events:
            await self.in_kube_pool(self.kube.post_event, ref, kind, reason, message)
        self._export(key, new, verdict)

    def _export(self, key: Key, status: JsonObj, verdict: st.Verdict) -> None:
        """Per region: notAfter of what ACM holds, and whether it is the Secret's certificate."""
        secret_known = verdict.reason != specs.SECRET_NOT_FOUND
        gauges = st.region_gauges(status, verdict.reason, secret_known=secret_known)
        self.metrics.export_object(key[0], key[1], gauges)


def describe(obj: JsonObj) -> str:
    """``namespace/name`` of an object, for logs."""
    meta: dict[str, Any] = obj.get("metadata", {})
    return f"{meta.get('namespace')}/{meta.get('name')}"
