"""What happened to an AcmCertificate, said once: as an Event on the object and an INFO log line.

Pure functions turn engine outcomes into :class:`Notice` values; :func:`log_notice` logs one.
A notice names the region and ARN it is about and never carries key material (messages come
from the engine's redacted texts and the status).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acm_sync.core.findings import Finding
from acm_sync.core.reasons import (
    NEW_ARN_REASONS,
    ConditionType,
    EventReason,
    EventType,
    Reason,
    WriteReason,
)
from acm_sync.core.state import RegionOutcome, RegionRecord, RegionState

log = logging.getLogger("acm_sync.controller.notices")

# Short names for the modules that import them; the values are core/reasons.py's.
NORMAL = EventType.NORMAL
WARNING = EventType.WARNING

IMPORTED = EventReason.IMPORTED
REIMPORTED = EventReason.REIMPORTED
TAGS_UPDATED = EventReason.TAGS_UPDATED
ADOPTED = EventReason.ADOPTED
DELETED = EventReason.DELETED
RETAINED = EventReason.RETAINED
KEY_TYPE_CHANGED = EventReason.KEY_TYPE_CHANGED


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing that happened, for an Event (type, reason, message) and a log line."""

    type: str
    reason: str
    message: str
    region: str = ""
    arn: str = ""


def log_notice(namespace: str, name: str, notice: Notice) -> None:
    """Log ``notice`` at INFO (Warning notices at WARNING), naming object, region and ARN."""
    level = logging.WARNING if notice.type == WARNING else logging.INFO
    log.log(
        level,
        "%s/%s: %s in %s (%s): %s",
        namespace,
        name,
        notice.reason,
        notice.region or "-",
        notice.arn or "-",
        notice.message,
    )


def sync_notices(
    outcomes: Iterable[RegionOutcome],
    old_entries: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[Notice]:
    """What each pair's sync wrote to ACM: an import, a reimport, a tag change or adoption.

    ``old_entries`` are the status entries before the sync, keyed by (target, region).
    """
    notices: list[Notice] = []
    for o in outcomes:
        if not (o.wrote and o.state is RegionState.SYNCED and o.arn):
            continue
        where = f"{o.arn} in {o.region}" + (f" through {o.target}" if o.target else "")
        if o.reason in NEW_ARN_REASONS:
            why = (
                " (the recorded certificate was gone from ACM)"
                if o.reason == WriteReason.RECREATED
                else ""
            )
            notices.append(Notice(NORMAL, IMPORTED, f"Imported into {where}{why}", o.region, o.arn))
            if o.reason == WriteReason.IMPORTED_NEW_KEY and o.previous_arn:
                old = old_entries.get((o.target, o.region)) or {}
                notices.append(key_type_changed(o, old.get("notAfter")))
        elif o.reason == WriteReason.REIMPORTED:
            notices.append(
                Notice(NORMAL, REIMPORTED, f"Reimported into {where} (same ARN)", o.region, o.arn)
            )
        elif o.reason == WriteReason.TAGS_UPDATED:
            notices.append(
                Notice(NORMAL, TAGS_UPDATED, f"Tags updated on {where}", o.region, o.arn)
            )
        elif o.reason == WriteReason.ADOPTED:
            notices.append(Notice(NORMAL, ADOPTED, f"Adopted {where}", o.region, o.arn))
    return notices


def key_type_changed(outcome: RegionOutcome, previous_not_after: object) -> Notice:
    """The Warning for ``onKeyChange: ImportNew``: two ARNs with the same names now exist."""
    expires = previous_not_after if isinstance(previous_not_after, str) else "an unknown date"
    message = (
        f"the key type changed, so the certificate was imported under a new ARN {outcome.arn} "
        f"in {outcome.region}; the previous {outcome.previous_arn} (expires {expires}) is still "
        "in ACM with the same names, and load balancers that use it or find certificates by "
        "host name may serve either until it is detached"
    )
    return Notice(WARNING, KEY_TYPE_CHANGED, message, outcome.region, outcome.arn or "")


def deletion_notices(
    outcomes: Iterable[RegionOutcome], records: Mapping[str, RegionRecord]
) -> list[Notice]:
    """A ``Deleted`` notice for every region where certificates were deleted from ACM.

    The engine's message names every ARN deleted (the recorded one, or those found by owner
    tag); the notice's ``arn`` is the recorded one, for the log line.
    """
    return [
        Notice(
            NORMAL,
            DELETED,
            f"Deleted from ACM in {o.region}: {o.message}",
            o.region,
            (records.get(o.region) or RegionRecord(o.region)).arn or "",
        )
        for o in outcomes
        if o.state is RegionState.SYNCED and o.reason == WriteReason.DELETED
    ]


def retained_notices(
    records: Iterable[RegionRecord], why: str, rule: str = "deletionPolicy Retain leaves"
) -> list[Notice]:
    """A ``Retained`` notice for every certificate left in ACM (``rule`` says what kept it)."""
    return [
        Notice(
            NORMAL,
            RETAINED,
            f"{why}; {rule} {r.arn} in ACM in {r.region} (delete it there once nothing uses it)",
            r.region,
            r.arn or "",
        )
        for r in records
        if r.arn
    ]


def condition_events(
    old_conditions: Mapping[str, Mapping[str, Any]], new_conditions: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str, str]]:
    """Events for condition changes: (type, reason, message).

    Ready on every change of status or reason; Expiring when it turns True or its reason
    moves (ExpiresSoon -> Expired); one Warning per warning code that was not listed before.
    """
    events: list[tuple[str, str, str]] = []
    old_ready = old_conditions.get(ConditionType.READY) or {}
    ready = new_conditions.get(ConditionType.READY) or {}
    if ready and (old_ready.get("status"), old_ready.get("reason")) != (
        ready.get("status"),
        ready.get("reason"),
    ):
        # A pause the user asked for is news, not a problem.
        deliberate = ready.get("reason") == Reason.SUSPENDED
        kind = NORMAL if ready.get("status") == "True" or deliberate else WARNING
        events.append((kind, str(ready.get("reason")), str(ready.get("message"))))
    old_expiring = old_conditions.get(ConditionType.EXPIRING) or {}
    expiring = new_conditions.get(ConditionType.EXPIRING) or {}
    if expiring.get("status") == "True" and (
        old_expiring.get("status"),
        old_expiring.get("reason"),
    ) != ("True", expiring.get("reason")):
        events.append((WARNING, str(expiring.get("reason")), str(expiring.get("message"))))
    return events


def warning_events(
    findings: Sequence[Finding] | None, old_warnings: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """One Warning Event per warning code the Warnings condition did not list before."""
    before = _codes(old_warnings)
    seen: dict[str, str] = {}
    for finding in findings or ():
        seen.setdefault(finding.code.value, finding.message)
    return [(WARNING, code, message) for code, message in seen.items() if code not in before]


def _codes(cond: Mapping[str, Any] | None) -> set[str]:
    if not cond or cond.get("status") != "True":
        return set()
    return {c for c in str(cond.get("reason", "")).split(",") if c}
