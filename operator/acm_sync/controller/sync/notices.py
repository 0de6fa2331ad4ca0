"""What happened to an AcmCertificate, said once: as an Event on the object and a log line.

Pure functions turn engine outcomes and condition changes into :class:`Notice` values;
:func:`log_notice` logs one (INFO, or WARNING for a Warning Event), so that every Event the
operator posts is in its log too, where it outlives the Event's hour. A notice names the
target, account, region and ARN it is about and never carries key material (messages come from
the engine's redacted texts and the status).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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
from acm_sync.core.targets import account_of_arn

log = logging.getLogger("acm_sync.controller.sync.notices")


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing that happened, for an Event (type, reason, message) and a log line.

    ``region``, ``target`` and ``arn`` may list several pairs' values, comma-separated (a
    Ready condition about every failing pair).
    """

    type: str
    reason: str
    message: str
    region: str = ""
    arn: str = ""
    target: str = ""  # the AcmTarget the pair is reached through; "": the operator's account
    account: str = ""


# The facts of a notice, in the order a text line appends those it does not hold yet: an ARN
# says its region and account too.
_FACTS = ("arn", "target", "account", "region")


def log_notice(namespace: str, name: str, notice: Notice, kind: str = "AcmCertificate") -> None:
    """Log ``notice`` at INFO (a Warning at WARNING), each fact once.

    The text line is ``Kind ns/name: Reason: message (fact=value, ...)`` with only the facts
    the message does not already say (the Event messages name most ARNs and regions). The
    JSON format (``redaction.JsonFormatter``) gets every fact as a field of its own, beside the
    Event's message, from the record's ``event`` attribute.
    """
    level = logging.WARNING if notice.type == EventType.WARNING else logging.INFO
    facts = {fact: str(getattr(notice, fact)) for fact in _FACTS if getattr(notice, fact)}
    text = f"{kind} {namespace}/{name}: {notice.reason}: {notice.message}"
    unsaid: list[str] = []
    for fact, values in facts.items():
        for value in values.split(","):
            if value and value not in text and not any(value in u for u in unsaid):
                unsaid.append(f"{fact}={value}")
    if unsaid:
        text += f" ({', '.join(unsaid)})"
    event = {"kind": kind, "namespace": namespace, "name": name, "reason": notice.reason}
    event.update(facts, message=notice.message)
    log.log(level, "%s", text, extra={"event": event})


def with_accounts(notices: Iterable[Notice], accounts: Mapping[str, str]) -> list[Notice]:
    """``notices`` with the account of each filled in: from the ARN, else the target's
    (``accounts`` maps target -> account, "" the operator's own)."""
    return [
        replace(n, account=_accounts_of(n, accounts))
        if not n.account and (n.region or n.arn or n.target)
        else n
        for n in notices
    ]


def _accounts_of(notice: Notice, accounts: Mapping[str, str]) -> str:
    found: list[str] = []
    for arn in notice.arn.split(",") if notice.arn else ():
        found.append(account_of_arn(arn))
    if not any(found):
        found = [accounts.get(t, "") for t in (notice.target.split(",") if notice.target else [""])]
    return ",".join(dict.fromkeys(a for a in found if a))


def at_failing_pairs(notice: Notice, outcomes: Sequence[RegionOutcome] | None) -> Notice:
    """A Ready notice located at the pairs that failed with its reason (all failing pairs for
    PartiallySynced), so that the log line names their targets, regions and ARNs."""
    failing = [o for o in outcomes or () if o.state is not RegionState.SYNCED]
    mine = [o for o in failing if o.reason == notice.reason] or failing
    if notice.type != EventType.WARNING or not mine:
        return notice

    def joined(values: Iterable[str | None]) -> str:
        return ",".join(dict.fromkeys(v for v in values if v))

    return replace(
        notice,
        region=joined(o.region for o in mine),
        arn=joined(o.arn for o in mine),
        target=joined(o.target for o in mine),
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
        if o.retired:
            message = (
                f"Deleted the previous {o.retired} from ACM in {o.region} (deletionPolicy "
                f"Delete): {o.arn} serves, and no load balancer acm-sync wired names the "
                "previous one"
            )
            notices.append(
                Notice(
                    EventType.NORMAL,
                    EventReason.PREVIOUS_DELETED,
                    message,
                    o.region,
                    o.retired,
                    o.target,
                )
            )
        if o.reason in NEW_ARN_REASONS:
            why = (
                " (the recorded certificate was gone from ACM)"
                if o.reason == WriteReason.RECREATED
                else ""
            )
            notices.append(
                Notice(
                    EventType.NORMAL,
                    EventReason.IMPORTED,
                    f"Imported into {where}{why}",
                    o.region,
                    o.arn,
                    o.target,
                )
            )
            if o.reason == WriteReason.IMPORTED_NEW_KEY and (o.previous_arn or o.retired):
                old = old_entries.get((o.target, o.region)) or {}
                notices.append(key_type_changed(o, old.get("notAfter")))
        elif o.reason == WriteReason.REIMPORTED:
            notices.append(
                Notice(
                    EventType.NORMAL,
                    EventReason.REIMPORTED,
                    f"Reimported into {where} (same ARN)",
                    o.region,
                    o.arn,
                    o.target,
                )
            )
        elif o.reason == WriteReason.TAGS_UPDATED:
            notices.append(
                Notice(
                    EventType.NORMAL,
                    EventReason.TAGS_UPDATED,
                    f"Tags updated on {where}",
                    o.region,
                    o.arn,
                    o.target,
                )
            )
        elif o.reason == WriteReason.ADOPTED:
            notices.append(
                Notice(
                    EventType.NORMAL,
                    EventReason.ADOPTED,
                    f"Adopted {where}",
                    o.region,
                    o.arn,
                    o.target,
                )
            )
    return notices


def key_type_changed(outcome: RegionOutcome, previous_not_after: object) -> Notice:
    """The Warning for ``onKeyChange: ImportNew``: two ARNs with the same names now exist."""
    expires = previous_not_after if isinstance(previous_not_after, str) else "an unknown date"
    message = (
        f"the key type changed, so the certificate was imported under a new ARN {outcome.arn} "
        f"in {outcome.region}; "
    )
    if outcome.retired:
        message += f"the previous {outcome.retired} was deleted: nothing named it any more"
    else:
        message += (
            f"the previous {outcome.previous_arn} (expires {expires}) is still in ACM with the "
            "same names, and load balancers that use it or find certificates by host name may "
            "serve either until it is detached"
        )
    return Notice(
        EventType.WARNING,
        EventReason.KEY_TYPE_CHANGED,
        message,
        outcome.region,
        outcome.arn or "",
        outcome.target,
    )


def deletion_notices(
    outcomes: Iterable[RegionOutcome], records: Mapping[tuple[str, str], RegionRecord]
) -> list[Notice]:
    """A ``Deleted`` notice for every region where certificates were deleted from ACM.

    The engine's message names every ARN deleted (the recorded one, or those found by owner
    tag); the notice's ``arn`` is the recorded one, for the log line.
    """
    return [
        Notice(
            EventType.NORMAL,
            EventReason.DELETED,
            f"Deleted from ACM in {o.region}: {o.message}",
            o.region,
            (records.get((o.target, o.region)) or RegionRecord(o.region)).arn or "",
            o.target,
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
            EventType.NORMAL,
            EventReason.RETAINED,
            f"{why}; {rule} {r.arn} in ACM in {r.region} (delete it there once nothing uses it)",
            r.region,
            r.arn or "",
            r.target,
        )
        for r in records
        if r.arn
    ]


def condition_events(
    old_conditions: Mapping[str, Mapping[str, Any]], new_conditions: Mapping[str, Mapping[str, Any]]
) -> list[Notice]:
    """Events for condition changes.

    Ready on every change of status or reason; Expiring when it turns True or its reason
    moves (ExpiresSoon -> Expired), unless Ready says the same (an expired Secret is Ready
    False Expired and Expiring True Expired: one fact, one Event).
    """
    events: list[Notice] = []
    old_ready = old_conditions.get(ConditionType.READY) or {}
    ready = new_conditions.get(ConditionType.READY) or {}
    if ready and (old_ready.get("status"), old_ready.get("reason")) != (
        ready.get("status"),
        ready.get("reason"),
    ):
        # A pause the user asked for is news, not a problem.
        deliberate = ready.get("reason") == Reason.SUSPENDED
        kind = (
            EventType.NORMAL if ready.get("status") == "True" or deliberate else EventType.WARNING
        )
        events.append(Notice(kind, str(ready.get("reason")), str(ready.get("message"))))
    old_expiring = old_conditions.get(ConditionType.EXPIRING) or {}
    expiring = new_conditions.get(ConditionType.EXPIRING) or {}
    if (
        expiring.get("status") == "True"
        and (old_expiring.get("status"), old_expiring.get("reason"))
        != ("True", expiring.get("reason"))
        and expiring.get("reason") != ready.get("reason")
    ):
        events.append(
            Notice(EventType.WARNING, str(expiring.get("reason")), str(expiring.get("message")))
        )
    return events


def warning_events(
    findings: Sequence[Finding] | None, old_warnings: Mapping[str, Any] | None
) -> list[Notice]:
    """One Warning Event per warning code the Warnings condition did not list before."""
    before = _codes(old_warnings)
    seen: dict[str, str] = {}
    for finding in findings or ():
        seen.setdefault(finding.code.value, finding.message)
    return [
        Notice(EventType.WARNING, code, message)
        for code, message in seen.items()
        if code not in before
    ]


def _codes(cond: Mapping[str, Any] | None) -> set[str]:
    if not cond or cond.get("status") != "True":
        return set()
    return {c for c in str(cond.get("reason", "")).split(",") if c}
