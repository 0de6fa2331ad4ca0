"""Act: a full pass's AWS side, blocking (the AWS pool runs it).

The spec and the Secret are analysed, then every (target, region) pair the spec names goes
through its account's engine (``accounts.sync_pairs``: one planner call per pair inside the
engine), and the pairs the spec dropped are deleted or released (``accounts.drop_pairs``).
"""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from datetime import datetime

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.platform.redaction import redact
from acm_sync.controller.sync import accounts as ac
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync import decide
from acm_sync.controller.sync import spec as specs
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.decide import SyncResult
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.watch.workqueue import Key
from acm_sync.core.findings import Code
from acm_sync.core.planner import Drift
from acm_sync.core.reasons import Reason
from acm_sync.core.state import DesiredState

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Asked:
    """What was asked of an object's next pass besides its own change."""

    # Pairs whose record must be re-verified against ACM (drift, a resync).
    forced: set[ac.Pair] = field(default_factory=set)
    # Facts the sweep read from ACM (notAfter, InUseBy) for the pass to record.
    fresh: dict[ac.Pair, Drift] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.forced or self.fresh)


def sync(
    ports: Ports,
    key: Key,
    obj: JsonObj,
    secret: JsonObj | None,
    asked: Asked,
    now: datetime,
    ctx: tg.TargetContext,
) -> SyncResult:
    """One full pass of ``obj`` with ``secret``'s material (None: no Secret)."""
    config = ports.config
    try:
        cert_spec = specs.parse_spec(
            obj.get("spec") or {},
            allowed_regions=config.allowed_regions,
            adoption_enabled=config.adoption_enabled,
        )
        analysis = specs.analyze_secret(
            secret,
            now=now,
            expiry_warning_days=config.expiry_warning_days,
            private_roots=config.private_roots,
        )
    except specs.SpecError as exc:
        message = exc.message
        if exc.reason == Reason.SECRET_NOT_FOUND:
            # spec.py does not know the namespace; the user needs to know which Secret.
            secret_name = (obj.get("spec") or {}).get("secretName", "")
            message = f"the Secret {key[0]}/{secret_name} does not exist"
        return SyncResult(st.Verdict(False, exc.reason, message), None, None)
    if analysis.errors or analysis.material is None or analysis.facts is None:
        first = analysis.errors[0].code.value if analysis.errors else Code.NO_CERTIFICATE
        message = "; ".join(f.message for f in analysis.errors) or "no certificate"
        retry = None
        if first == Code.NOT_YET_VALID and analysis.facts is not None:
            # Fixes itself with time: look again when the certificate becomes valid.
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
            st.Verdict(False, Reason.SUSPENDED, message), None, facts, None, [], warnings
        )
    owner = ports.owner(key)
    if problem := owner.tag_problem():
        # ACM would refuse the import (InvalidTagException): say so before any AWS call.
        return SyncResult(st.Verdict(False, Reason.INVALID_TAGS, problem), None, facts)
    records = st.pair_records(obj.get("status"))
    for pair, seen in asked.fresh.items():
        # What the sweep read from ACM (the ARN must still be the recorded one).
        if pair in records and records[pair].arn == seen.arn:
            records[pair] = st.refreshed(records[pair], seen)
    for pair in asked.forced:
        if pair in records:
            # Drift: the certificate under this ARN is not ours any more (or is gone), so
            # the record must not short-circuit the sync.
            records[pair] = replace(records[pair], fingerprint=None, tags_hash=None)
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
        consumer_arns=st.consumer_arns(obj.get("status")),
    )
    accounts = ports.accounts(ctx)
    wanted = cert_spec.pairs
    try:
        outcomes = ac.sync_pairs(
            accounts,
            desired,
            analysis.material,
            wanted,
            records,
            config.sweep_interval,
            ports.account_pool,
        )
        kept, notices = ac.drop_pairs(
            accounts, owner, wanted, records, cert_spec.deletion_policy, desired.consumer_arns
        )
    except CancelledError:
        raise  # shutdown: the engine dropped queued work, and nobody waits for this result
    except Exception as exc:  # the engine reports AWS errors per region; this is a bug
        log.exception("The ACM engine failed for %s/%s", *key)
        message = redact(f"{type(exc).__name__}: {exc}")
        verdict = st.Verdict(False, Reason.AWS_ERROR, f"internal error talking to ACM: {message}")
        return SyncResult(verdict, None, facts, warnings=warnings, crashed=True)
    verdict = decide.verdict_of(outcomes, set(wanted))
    return SyncResult(
        verdict, outcomes + kept, facts, None, notices, warnings, len(wanted), accounts.ids()
    )
