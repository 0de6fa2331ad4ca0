"""The AcmCertificate status: records in, records out, conditions that only move on a flip.

Pure functions over plain dicts, so that "the status is written only when it changes" is a
comparison of two values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from acm_sync.controller.platform.redaction import redact
from acm_sync.controller.sync.statuslayout import unpack
from acm_sync.core.findings import Code, Finding
from acm_sync.core.model import CertificateFacts
from acm_sync.core.planner import Drift
from acm_sync.core.reasons import ConditionType, QuietReason, Reason
from acm_sync.core.state import RegionOutcome, RegionRecord, RegionState
from acm_sync.core.targets import account_of_arn

JsonObj = dict[str, Any]

# InUseBy ARNs shown per region; inUseCount tells how many there are in all.
IN_USE_SHOWN = 5


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_precise_time(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object) -> datetime | None:
    """Inverse of :func:`format_time`; None for anything unparsable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


Pair = tuple[str, str]  # (target, region); target "" is the operator's own account


def _target_of(entry: Mapping[str, Any]) -> str:
    target = entry.get("target")
    return target if isinstance(target, str) else ""


def pair_records(status: Mapping[str, Any] | None) -> dict[Pair, RegionRecord]:
    """The records of every (target, region) pair the last sync left in ``status.regions``."""
    records: dict[Pair, RegionRecord] = {}
    for entry in unpack(status).get("regions") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("region"), str):
            continue
        records[(_target_of(entry), entry["region"])] = RegionRecord(
            region=entry["region"],
            arn=entry.get("arn") or None,
            fingerprint=entry.get("fingerprint") or None,
            imported_at=parse_time(entry.get("importedAt")),
            previous_arn=entry.get("previousArn") or None,
            tags_hash=entry.get("tagsHash") or None,
            managed_tag_keys=_managed_keys(entry.get("managedTagKeys")),
            serial=entry.get("serialNumber") or None,
            not_after=parse_time(entry.get("notAfter")),
            in_use_by=_strings(entry.get("inUseBy")),
            target=_target_of(entry),
        )
    return records


def consumer_arns(status: Mapping[str, Any] | None) -> frozenset[str]:
    """The ARNs the load balancers acm-sync wired name now (``status.consumers[].arn``):
    no deletion path deletes them."""
    return frozenset(
        e["arn"]
        for e in (status or {}).get("consumers") or []
        if isinstance(e, dict) and isinstance(e.get("arn"), str) and e["arn"]
    )


def refreshed(record: RegionRecord, seen: Drift) -> RegionRecord:
    """``record`` with the notAfter, serial and InUseBy the sweep read from ACM."""
    return replace(
        record,
        not_after=seen.not_after or record.not_after,
        serial=seen.serial or record.serial,
        in_use_by=seen.in_use_by if seen.in_use_by is not None else record.in_use_by,
    )


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        return None
    return tuple(value)


def _managed_keys(value: object) -> tuple[str, ...] | None:
    """``managedTagKeys`` as recorded; None when absent or malformed (nothing is removed)."""
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        return None
    return tuple(sorted(value))


def pair_entries(status: Mapping[str, Any] | None) -> dict[Pair, JsonObj]:
    """``status.regions`` keyed by (target, region)."""
    return {
        (_target_of(e), e["region"]): e
        for e in unpack(status).get("regions") or []
        if isinstance(e, dict) and isinstance(e.get("region"), str)
    }


def pair_label(outcome: RegionOutcome | RegionRecord) -> str:
    """``region`` for the operator's own account, ``target/region`` through an AcmTarget."""
    return f"{outcome.target}/{outcome.region}" if outcome.target else outcome.region


def region_entry(
    outcome: RegionOutcome, old: Mapping[str, Any] | None, now: datetime, account: str = ""
) -> JsonObj:
    """The status entry for one pair; lastSyncTime moves only when something happened.

    ``account``: the pair's account when no ARN names it yet (an AcmTarget's role account).
    """
    entry: JsonObj = {"region": outcome.region, "state": outcome.state.value}
    if outcome.target:
        entry["target"] = outcome.target
    if account := account_of_arn(outcome.arn) or account:
        entry["account"] = account
    if outcome.arn:
        entry["arn"] = outcome.arn
    if outcome.fingerprint:
        entry["fingerprint"] = outcome.fingerprint
    if outcome.imported_at:
        # Full precision: the sweep compares it with ACM's ImportedAt to spot reimports.
        entry["importedAt"] = format_precise_time(outcome.imported_at)
    entry["reason"] = outcome.reason
    entry["message"] = redact(outcome.message)[:1024]
    if outcome.previous_arn:
        entry["previousArn"] = outcome.previous_arn
    if outcome.tags_hash:
        entry["tagsHash"] = outcome.tags_hash
    if outcome.managed_tag_keys is not None:
        # An empty list is kept: it says "none applied", unlike an absent field ("unknown").
        entry["managedTagKeys"] = list(outcome.managed_tag_keys)
    if outcome.arn and outcome.serial:
        entry["serialNumber"] = outcome.serial
    if outcome.arn and outcome.not_after:
        entry["notAfter"] = format_time(outcome.not_after)
    if outcome.arn and outcome.in_use_by is not None:
        users = list(outcome.in_use_by)
        entry["inUseBy"] = users[:IN_USE_SHOWN]
        count = len(users)
        if old is not None and old.get("inUseBy") == users and old.get("arn") == outcome.arn:
            # Read back from a status that shows only the first few: keep the full count.
            count = max(count, int(old.get("inUseCount") or 0))
        entry["inUseCount"] = count
    facts = (
        "target",
        "state",
        "arn",
        "fingerprint",
        "importedAt",
        "previousArn",
        "tagsHash",
        "managedTagKeys",
        "serialNumber",
        "notAfter",
        "inUseBy",
        "inUseCount",
    )
    if old is not None and not outcome.wrote and all(old.get(k) == entry.get(k) for k in facts):
        # A no-op sync learnt nothing new: keep the entry, and with it the status, unchanged
        # (the engine words "imported" and "in sync" differently; that is not a change).
        return dict(old)
    old_without_time = {k: v for k, v in (old or {}).items() if k != "lastSyncTime"}
    if outcome.wrote or old is None or old_without_time != entry:
        entry["lastSyncTime"] = format_time(now)
    elif old.get("lastSyncTime"):
        entry["lastSyncTime"] = old["lastSyncTime"]
    return entry


@dataclass(frozen=True, slots=True)
class Verdict:
    """The Ready condition's status, reason and message."""

    ready: bool
    reason: str
    message: str


def verdict_from_outcomes(outcomes: Sequence[RegionOutcome]) -> Verdict:
    """Synced when every region is; otherwise the most telling failure reason."""
    if not outcomes:
        return Verdict(False, Reason.PENDING, "no region has been synced yet")
    failing = [o for o in outcomes if o.state is not RegionState.SYNCED]
    if not failing:
        regions = ", ".join(pair_label(o) for o in outcomes)
        return Verdict(True, Reason.SYNCED, f"imported in {regions}")
    detail = "; ".join(f"{pair_label(o)}: {o.reason}: {o.message}" for o in failing)
    if len(failing) < len(outcomes):
        return Verdict(False, Reason.PARTIALLY_SYNCED, redact(detail))
    # A user decision (Blocked) explains more than a transient error elsewhere.
    ranked = sorted(failing, key=lambda o: (o.state is not RegionState.BLOCKED, o.target, o.region))
    return Verdict(False, ranked[0].reason, redact(detail))


def condition(
    ctype: str,
    status: str,
    reason: str,
    message: str,
    generation: int | None,
    old: Mapping[str, Any] | None,
    now: datetime,
) -> JsonObj:
    """A condition whose lastTransitionTime changes only when ``status`` flips."""
    transition = (
        old.get("lastTransitionTime")
        if old and old.get("status") == status and old.get("lastTransitionTime")
        else format_time(now)
    )
    result: JsonObj = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": redact(message)[:1024],
        "lastTransitionTime": transition,
    }
    if generation is not None:
        result["observedGeneration"] = generation
    return result


def conditions_by_type(status: Mapping[str, Any] | None) -> dict[str, JsonObj]:
    """``status.conditions`` keyed by type."""
    return {
        c["type"]: c
        for c in (status or {}).get("conditions") or []
        if isinstance(c, dict) and isinstance(c.get("type"), str)
    }


def expiring_condition(
    not_after: datetime | None,
    warning_days: int,
    generation: int | None,
    old: Mapping[str, Any] | None,
    now: datetime,
) -> JsonObj:
    """``Expiring``: True within ``warning_days`` of notAfter (reason Expired once past it)."""
    if not_after is None:
        return condition(
            ConditionType.EXPIRING,
            "Unknown",
            Code.NO_CERTIFICATE,
            "no certificate read yet",
            generation,
            old,
            now,
        )
    left = not_after - now
    if left.total_seconds() <= 0:
        message = f"the certificate expired at {format_time(not_after)}"
        return condition(
            ConditionType.EXPIRING, "True", Code.EXPIRED, message, generation, old, now
        )
    if left <= timedelta(days=warning_days):
        message = f"the certificate expires at {format_time(not_after)}, in {left.days} day(s)"
        return condition(
            ConditionType.EXPIRING, "True", Code.EXPIRES_SOON, message, generation, old, now
        )
    return condition(
        ConditionType.EXPIRING,
        "False",
        QuietReason.NOT_EXPIRING,
        f"valid until {format_time(not_after)}",
        generation,
        old,
        now,
    )


def expiry_state(
    not_after: datetime | None, warning_days: int, now: datetime
) -> tuple[str, str] | None:
    """The (status, reason) the Expiring condition should show now (None when unknown)."""
    if not_after is None:
        return None
    if not_after <= now:
        return "True", Code.EXPIRED
    if not_after - now <= timedelta(days=warning_days):
        return "True", Code.EXPIRES_SOON
    return "False", QuietReason.NOT_EXPIRING


def served_not_after(status: Mapping[str, Any] | None) -> datetime | None:
    """The soonest notAfter among the certificates ACM holds for this object (any region)."""
    dates = [
        parse_time(e.get("notAfter"))
        for e in (status or {}).get("regions") or []
        if isinstance(e, dict) and e.get("arn")
    ]
    known = [d for d in dates if d is not None]
    return min(known) if known else None


def expiry_basis(status: Mapping[str, Any] | None) -> datetime | None:
    """What Expiring is about: what ACM serves, or the Secret's certificate while ACM has none."""
    served = served_not_after(status)
    if served is not None:
        return served
    secret = (status or {}).get("secret")
    if isinstance(secret, dict):
        return parse_time(secret.get("notAfter"))
    # A status written by an older version: its top-level notAfter is all there is.
    return parse_time((status or {}).get("notAfter"))


def secret_fields(facts: CertificateFacts | None, old: Mapping[str, Any]) -> JsonObj:
    """``status.secret``: the Secret's own certificate (kept from before when unreadable)."""
    if facts is None:
        return {"secret": old["secret"]} if isinstance(old.get("secret"), dict) else {}
    return {
        "secret": {
            "fingerprint": facts.fingerprint,
            "serialNumber": facts.serial,
            "notBefore": format_time(facts.not_before),
            "notAfter": format_time(facts.not_after),
            "domains": list(facts.domains),
            "keyAlgorithm": facts.key_algorithm,
        }
    }


def warnings_condition(
    findings: Sequence[Finding] | None,
    generation: int | None,
    old: Mapping[str, Any] | None,
    now: datetime,
) -> JsonObj:
    """``Warnings``: True while ACM accepts the certificate but something will bite.

    The reason lists the codes, comma-separated (CloudFrontIncompatible, IntermediateMissing,
    ExpiresSoon, ChainIncomplete); None findings (the Secret could not be read) keep the old.
    """
    if findings is None and old:
        return dict(old)
    if not findings:
        return condition(
            ConditionType.WARNINGS,
            "False",
            QuietReason.NO_WARNINGS,
            "no warnings",
            generation,
            old,
            now,
        )
    reason = ",".join(dict.fromkeys(f.code.value for f in findings))
    message = "; ".join(f"{f.code.value}: {f.message}" for f in findings)
    return condition(ConditionType.WARNINGS, "True", reason, message, generation, old, now)


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> JsonObj:
    """The JSON merge patch (RFC 7386) turning ``old`` into ``new`` (nulls remove keys).

    Objects are patched key by key, as the API server merges them: a key only ``old`` has
    must be nulled even inside one (a field moved elsewhere), or it would stay.
    """
    patch: JsonObj = {}
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if isinstance(before, dict) and isinstance(value, dict):
            patch[key] = merge_patch(before, value)
        else:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch
