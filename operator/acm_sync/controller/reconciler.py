"""Reconciling one AcmCertificate: the watch's view of it, its Secret, the engine, the status.

The record of what is in ACM lives in ``status.regions``; a reconcile whose records already
match the Secret's fingerprint makes no AWS call and, since nothing changed, no status write.
The object comes from the watch (``view.WatchView``); the Secret is read only when its material
is needed: when the status does not already prove the object in sync with the Secret's content
(``decision.verified_by_status``), which after a restart with everything in sync it does.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import CancelledError
from dataclasses import replace
from datetime import datetime

from acm_sync.controller import accounts as ac
from acm_sync.controller import annotations as ann
from acm_sync.controller import decision
from acm_sync.controller import resync as rs
from acm_sync.controller import spec as specs
from acm_sync.controller import status as st
from acm_sync.controller import targets as tg
from acm_sync.controller.decision import SyncResult
from acm_sync.controller.kubeapi import JsonObj
from acm_sync.controller.ports import Ports
from acm_sync.controller.redaction import redact
from acm_sync.controller.statuslayout import unpack
from acm_sync.controller.statuswriter import StatusWriter
from acm_sync.controller.view import WatchView, content_hash
from acm_sync.controller.workqueue import Key, WorkQueue
from acm_sync.core.findings import Code
from acm_sync.core.planner import Drift
from acm_sync.core.reasons import Reason
from acm_sync.core.state import DesiredState, RegionOutcome

log = logging.getLogger(__name__)

# Findings that fix themselves with time: retry when the certificate becomes valid.
NOT_YET_VALID = Code.NOT_YET_VALID
# How long, and how often, an object waits for its Secret to be listed before reading it.
LISTING_WAIT = 1.0
LISTING_WAITS = 10


class Reconciler:
    """Owns the work queue of AcmCertificates and the state a reconcile carries between passes."""

    def __init__(self, ports: Ports, view: WatchView, writer: StatusWriter | None = None) -> None:
        self.ports = ports
        self.view = view
        self.writer = writer or StatusWriter(ports, view)
        self.queue = WorkQueue(self._reconcile, concurrency=ports.concurrency)
        # Pairs whose record must be re-verified against ACM (drift found by the sweep).
        self._forced: dict[Key, set[st.Pair]] = {}
        # Facts the sweep read from ACM (notAfter, InUseBy) for the next reconcile to record.
        self._refreshed: dict[Key, dict[st.Pair, Drift]] = {}
        self._failures: dict[Key, int] = {}
        # Objects looked at before their Secret was listed (a start): how often they waited.
        self._listing_waits: dict[Key, int] = {}
        # AcmTarget name -> AcmCertificates naming it (an AcmTarget change re-syncs them).
        self.target_users = tg.TargetUsers()

    async def close(self) -> None:
        """Finish runs in flight (bounded) and release the thread pools."""
        await self.queue.close()
        self.ports.close()

    def trigger(self, key: Key, urgent: bool = False) -> None:
        """Reconcile ``key`` soon (``urgent``: ahead of routine upkeep)."""
        self.queue.trigger(key, urgent=urgent)

    def forget(self, key: Key) -> None:
        """An AcmCertificate is gone: drop its bookkeeping and metrics."""
        self.view.forget(key)
        self._forced.pop(key, None)
        self._failures.pop(key, None)
        self._listing_waits.pop(key, None)
        self._refreshed.pop(key, None)
        self.target_users.forget(key)
        self.queue.forget(key)
        self.writer.forget(key)

    def refresh(self, drift: Drift, target: str = "") -> None:
        """Record what the sweep read from ACM about a pair's certificate (no repair needed)."""
        key = (drift.owner.namespace, drift.owner.name)
        self._refreshed.setdefault(key, {})[(target, drift.region)] = drift
        self.queue.trigger(key)

    def force_verify(self, key: Key, region: str, target: str = "") -> None:
        """Make the next reconcile of ``key`` re-check a pair against ACM (drift repair)."""
        self._forced.setdefault(key, set()).add((target, region))
        self.queue.trigger(key)

    # -- the reconcile ----------------------------------------------------------------------

    def _wait_for_listing(self, key: Key, obj: JsonObj) -> bool:
        """Whether to look again shortly rather than GET a Secret the watch has not shown.

        At a start the Secrets' listing and the AcmCertificates' arrive side by side; an
        object whose status proves a Secret's content (contentHash) most likely only outran
        its Secret's listing, which shows it within moments and spares the GET. A few waits,
        then the GET (a Secret deleted while the operator was down).
        """
        recorded = unpack(obj.get("status")).get("secret")
        if not isinstance(recorded, dict) or not recorded.get("contentHash"):
            return False
        waited = self._listing_waits.get(key, 0)
        if waited >= LISTING_WAITS:
            return False
        self._listing_waits[key] = waited + 1
        return True

    async def _reconcile(self, key: Key) -> float | None:
        started = time.monotonic()
        ports = self.ports
        namespace, name = key
        obj = self.view.acmcert(key)
        if obj is None:
            # Not on the watch (yet): a trigger that outran it, or an object already gone.
            obj = await ports.in_kube_pool(ports.kube.get_acmcert, namespace, name)
            if obj is None:
                self.forget(key)
                return None
            self.view.absorb(obj)
        if obj.get("metadata", {}).get("deletionTimestamp"):
            return None  # the finalizer owns it now
        spec = obj.get("spec") or {}
        secret_name = spec.get("secretName") if isinstance(spec.get("secretName"), str) else None
        self.view.register(key, secret_name)
        seen = self.view.secret(namespace, secret_name) if secret_name else None
        if seen is not None and self._annotations_removed(obj, secret_name, seen.triggers):
            await self._delete_generated(key, obj)
            return None
        if secret_name and seen is None and self._wait_for_listing(key, obj):
            return LISTING_WAIT
        self._listing_waits.pop(key, None)
        forced = self._forced.pop(key, set())
        # A resync asked for: no record is trusted, every pair is read from ACM again.
        if (resync := rs.requested(obj)) is not None:
            forced |= rs.recorded_pairs(obj)
        fresh = self._refreshed.pop(key, {})
        names = self.target_users.note(key, spec)
        now = ports.clock()
        config = ports.config
        if (
            seen is not None
            and not forced
            and not fresh
            and resync is None
            and decision.verified_by_status(
                obj,
                seen,
                now=now,
                expiry_warning_days=config.expiry_warning_days,
                allowed_regions=config.allowed_regions,
                adoption_enabled=config.adoption_enabled,
            )
        ):
            self.view.mark_read(key, seen.resource_version)
            self._failures.pop(key, None)
            result = decision.verified_result(obj)
        else:
            secret = (
                await ports.in_kube_pool(ports.kube.get_secret, namespace, secret_name)
                if secret_name
                else None
            )
            meta = (secret or {}).get("metadata", {})
            self.view.mark_read(key, str(meta.get("resourceVersion", "")))
            if secret is not None:
                annotations = meta.get("annotations") or {}
                triggers = any(a in annotations for a in ann.TRIGGER_ANNOTATIONS)
                if self._annotations_removed(obj, secret_name, triggers):
                    await self._delete_generated(key, obj)
                    return None
            ctx = tg.TargetContext(namespace, ports.targets_enabled)
            if names and ctx.enabled:
                ctx = await ports.in_kube_pool(
                    tg.load_context, ports.kube, namespace, names, enabled=True
                )
            result = await ports.in_aws_pool(
                self._sync_blocking, key, obj, secret, forced, fresh, now, ctx
            )
            if secret is not None:
                result = replace(result, content_hash=content_hash(secret.get("data")))
            del secret  # key material lives no longer than this pass
        if seen is not None and (
            problem := ann.unusable(
                obj,
                secret_name,
                dict(seen.annotations),
                self.view.refused(namespace, secret_name or ""),
            )
        ):
            verdict = decision.with_annotation_problem(result.verdict, problem)
            result = replace(result, verdict=verdict)
        if resync is not None:
            result = rs.answered(result, resync)
        if not await self.writer.write_sync(key, obj, result, now):
            # Another writer's status is in place (a new leader): look again from it, not from
            # the view, which the watch may not have brought up to date yet.
            current = await ports.in_kube_pool(ports.kube.get_acmcert, namespace, name)
            if current is not None:
                self.view.absorb(current)
            self.queue.trigger(key)
        self.writer.count(result, time.monotonic() - started)
        return result.retry

    @staticmethod
    def _annotations_removed(obj: JsonObj, secret_name: str | None, triggers: bool) -> bool:
        return bool(secret_name) and ann.generated_from(obj, str(secret_name)) and not triggers

    async def _delete_generated(self, key: Key, obj: JsonObj) -> None:
        uid = obj.get("metadata", {}).get("uid")
        await self.ports.in_kube_pool(self.ports.kube.delete_acmcert, *key, uid)
        log.info("%s/%s: the Secret's annotations are gone; generated object deleted", *key)

    def _sync_blocking(
        self,
        key: Key,
        obj: JsonObj,
        secret: JsonObj | None,
        forced: set[st.Pair],
        fresh: dict[st.Pair, Drift],
        now: datetime,
        ctx: tg.TargetContext | None = None,
    ) -> SyncResult:
        try:
            cert_spec = specs.parse_spec(
                obj.get("spec") or {},
                allowed_regions=self.ports.config.allowed_regions,
                adoption_enabled=self.ports.config.adoption_enabled,
            )
            analysis = specs.analyze_secret(
                secret,
                now=now,
                expiry_warning_days=self.ports.config.expiry_warning_days,
                private_roots=self.ports.config.private_roots,
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
        for pair, seen in fresh.items():
            # What the sweep read from ACM (the ARN must still be the recorded one).
            if pair in pairs and pairs[pair].arn == seen.arn:
                pairs[pair] = st.refreshed(pairs[pair], seen)
        for pair in forced:
            if pair in pairs:
                # Drift: the certificate under this ARN is not ours any more (or is gone), so
                # the record must not short-circuit the sync.
                pairs[pair] = replace(pairs[pair], fingerprint=None, tags_hash=None)
        accounts = self.ports.accounts(ctx or tg.TargetContext(key[0], enabled=False))
        owner = self.ports.owner(key)
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
            adopt_arns=cert_spec.adopt_arns,
            on_key_change=cert_spec.on_key_change,
            serial=facts.serial,
            not_after=facts.not_after,
        )
        wanted = cert_spec.pairs
        try:
            outcomes = ac.sync_pairs(
                accounts,
                desired,
                analysis.material,
                wanted,
                pairs,
                self.ports.config.sweep_interval,
                self.ports.account_pool,
            )
            kept, notices = ac.drop_pairs(accounts, owner, wanted, pairs, cert_spec.deletion_policy)
            outcomes.extend(kept)
        except CancelledError:
            raise  # shutdown: the engine dropped queued work, and nobody waits for this result
        except Exception as exc:  # the engine reports AWS errors per region; this is a bug
            log.exception("The ACM engine failed for %s/%s", *key)
            message = redact(f"{type(exc).__name__}: {exc}")
            verdict = st.Verdict(
                False, Reason.AWS_ERROR, f"internal error talking to ACM: {message}"
            )
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            retry = min(2.0**failures, decision.MAX_BACKOFF)
            return SyncResult(verdict, None, facts, retry, warnings=warnings)
        verdict = decision.verdict_of(outcomes, set(wanted))
        retry = self._retry_delay(key, outcomes)
        return SyncResult(
            verdict, outcomes, facts, retry, notices, warnings, len(wanted), accounts.ids()
        )

    def _retry_delay(self, key: Key, outcomes: list[RegionOutcome]) -> float | None:
        delay, failures = decision.retry_delay(outcomes, self._failures.get(key, 0))
        if failures:
            self._failures[key] = failures
        else:
            self._failures.pop(key, None)
        return delay
