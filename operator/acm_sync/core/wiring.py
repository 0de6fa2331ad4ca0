"""What to write on a consumer of ARNs (an Ingress's or a Service's annotation), decided purely.

A consumer names AcmCertificates; each gives the ARN of one pair (the load balancer's own
account and region). The decision never overwrites a value acm-sync did not write, switches a
name to a new ARN only once that pair says Synced with it, and on opt-out restores what was
there before acm-sync first wrote. What acm-sync wrote is kept on the consumer itself
(:class:`Wired`), so a restart or another replica decides the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from acm_sync.core.limits import DEFAULT_WIRING_LIMITS, WiringLimits
from acm_sync.core.reasons import EventReason

# A Kubernetes object name (DNS-1123 subdomain), as an AcmCertificate's must be.
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
# RFC 3339 as acm-sync writes it: the CRD's date-time format takes it (anything else in
# status.consumers[].wiredAt would make every write of that status fail).
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

_Entry = TypeVar("_Entry", bound=Mapping[str, Any])  # a status.consumers[] entry


class Blocker(StrEnum):
    """Why a consumer is not (fully) wired: the first words of a ``WiringBlocked`` message."""

    UNKNOWN = "unknown AcmCertificate"
    NOT_SYNCED = "not synced in that region"
    FOREIGN = "foreign annotation"
    TOO_MANY = "too many AcmCertificates"
    INVALID_NAME = "not an AcmCertificate name"


@dataclass(frozen=True, slots=True)
class PairState:
    """One AcmCertificate as a consumer sees it: its pair's ARN, and whether it is Synced."""

    arn: str | None
    synced: bool


@dataclass(frozen=True, slots=True)
class Wired:
    """What acm-sync last wrote on a consumer (its ``acmsync.io/wired`` annotation)."""

    value: str
    names: tuple[str, ...]
    earlier: str | None = None  # the value before acm-sync's first write; None: absent
    at: str = ""  # RFC 3339 time of the write

    def to_text(self) -> str:
        """The annotation's value (JSON: readable with kubectl, parsed back by :meth:`read`)."""
        record = {"value": self.value, "names": list(self.names), "earlier": self.earlier}
        return json.dumps({**record, "at": self.at}, separators=(",", ":"))

    @classmethod
    def read(
        cls, text: str | None, limits: WiringLimits = DEFAULT_WIRING_LIMITS
    ) -> tuple[Wired | None, str | None]:
        """The record and, when there is text but no record, why it is unreadable.

        Whoever may edit the consumer may edit the record, so it is hostile input: bounded
        before parsing, and only a record of the shape acm-sync writes is one (a crafted one
        can at most claim a value that is already on the consumer, as acm-sync's).
        """
        if not text:
            return None, None
        if len(text) > limits.record_chars:
            return None, f"it is over {limits.record_chars} characters"
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None, "it is not JSON"
        if not isinstance(data, dict):
            return None, "it is not a JSON object"
        problem = _record_problem(data, limits)
        if problem is not None:
            return None, problem
        at = data.get("at")
        return (
            cls(
                value=data["value"],
                names=tuple(data["names"]),
                earlier=data.get("earlier"),
                at=at if isinstance(at, str) and valid_time(at) else "",
            ),
            None,
        )

    def arn_of(self, name: str) -> str | None:
        """The ARN written for ``name`` (by its position), or None."""
        arns = self.value.split(",")
        if name in self.names and len(arns) == len(self.names):
            return arns[self.names.index(name)]
        return None


@dataclass(frozen=True, slots=True)
class WiringPlan:
    """What to do on one consumer.

    ``value``/``wired``: the annotation and the record to set when ``write`` (None removes
    it); ``blocked``: (blocker, message) per problem, for ``WiringBlocked`` Events.
    """

    write: bool = False
    value: str | None = None
    wired: Wired | None = None
    blocked: tuple[tuple[Blocker, str], ...] = field(default_factory=tuple)

    @property
    def event_reason(self) -> EventReason | None:
        """The Event a write or a block asks for (None: nothing to say)."""
        if self.blocked:
            return EventReason.WIRING_BLOCKED
        if self.write and self.value is not None and self.wired is not None:
            return EventReason.CERTIFICATE_WIRED
        return None


def _record_problem(data: Mapping[str, Any], limits: WiringLimits) -> str | None:
    value, names, earlier = data.get("value"), data.get("names"), data.get("earlier")
    if not isinstance(value, str):
        return "its value is not a string"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return "its names are not a list of strings"
    if len(names) > limits.certificates:
        return f"it names more than {limits.certificates} AcmCertificates"
    if not all(valid_name(n) for n in names):
        return "its names are not all AcmCertificate names"
    if earlier is not None and not isinstance(earlier, str):
        return "its earlier value is not a string"
    return None


def valid_name(name: str) -> bool:
    """Whether ``name`` can be an AcmCertificate's (a DNS-1123 subdomain)."""
    return _NAME_RE.fullmatch(name) is not None


def valid_time(text: str) -> bool:
    """Whether ``text`` is a time as acm-sync writes it (``2026-12-07T10:00:00Z``)."""
    if _TIME_RE.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def parse_names(text: str | None, at_most: int | None = None) -> tuple[str, ...]:
    """``a, b,a`` -> ("a", "b"): unique names in order; the first ``at_most`` only (a caller
    passes its limit plus one, to see that it is exceeded without keeping the rest)."""
    names = tuple(dict.fromkeys(n.strip() for n in (text or "").split(",") if n.strip()))
    return names if at_most is None else names[:at_most]


def _shown(name: str) -> str:
    """A name as a message quotes it: a crafted one is cut, not copied whole."""
    return repr(name if len(name) <= 64 else name[:64] + "...")


def plan_wiring(
    names: Sequence[str],
    current: str | None,
    wired: Wired | None,
    certificates: Mapping[str, PairState],
    annotation: str,
    now: str,
    limits: WiringLimits = DEFAULT_WIRING_LIMITS,
) -> WiringPlan:
    """Decide a consumer's annotation ``annotation`` (value ``current``, None when absent).

    ``names``: the AcmCertificates it opts in to (empty: opted out); ``certificates``: the
    pair state of every one that exists; ``now``: the time to record with a write. More
    names than a load balancer serves, or one that cannot be an AcmCertificate's, block the
    whole consumer: nothing is written, what is there stays.
    """
    if len(names) > limits.certificates:
        message = (
            f"{Blocker.TOO_MANY}: more than {limits.certificates} named; a load balancer "
            f"serves at most {limits.certificates} certificates (1 default and 25 more by "
            "AWS's default quota)"
        )
        return WiringPlan(blocked=((Blocker.TOO_MANY, message),))
    if invalid := [n for n in names if not valid_name(n)]:
        shown = ", ".join(_shown(n) for n in invalid[:3])
        more = f" and {len(invalid) - 3} more" if len(invalid) > 3 else ""
        message = f"{Blocker.INVALID_NAME}: {shown}{more} (a DNS-1123 subdomain)"
        return WiringPlan(blocked=((Blocker.INVALID_NAME, message),))
    ours = wired is not None and current == wired.value
    if not names:
        if wired is None:
            return WiringPlan()
        if ours:
            # Opt-out: take back only what acm-sync wrote, and give back what was there.
            return WiringPlan(write=True, value=wired.earlier, wired=None)
        # Someone changed the value since: it is theirs now; only the record goes.
        return WiringPlan(write=True, value=current, wired=None)
    arns: list[str] = []
    blocked: list[tuple[Blocker, str]] = []
    for name in names:
        state = certificates.get(name)
        previous = wired.arn_of(name) if ours and wired is not None else None
        if state is None:
            blocked.append((Blocker.UNKNOWN, f"{Blocker.UNKNOWN}: {name} does not exist"))
        elif state.synced and state.arn:
            arns.append(state.arn)
            continue
        else:
            blocked.append(
                (Blocker.NOT_SYNCED, f"{Blocker.NOT_SYNCED}: {name} has no Synced certificate")
            )
        if previous is not None:
            # Safe switching: the ARN in service stays until the new one is Synced.
            arns.append(previous)
    value = ",".join(arns) if len(arns) == len(names) else None
    if current is not None and not ours and current != value:
        # Never overwrite what acm-sync did not write (a value equal to the one it would write
        # is a hand-copied ARN: taken over, and given back on opt-out).
        foreign = (
            Blocker.FOREIGN,
            f"{Blocker.FOREIGN}: {annotation} was not written by acm-sync; left as it is",
        )
        return WiringPlan(blocked=(foreign,))
    if value is None:
        return WiringPlan(blocked=tuple(blocked))
    if ours and wired is not None and value == current and wired.names == tuple(names):
        return WiringPlan(blocked=tuple(blocked))  # same ARNs: no write at all
    earlier = wired.earlier if ours and wired is not None else current
    record = Wired(value=value, names=tuple(names), earlier=earlier, at=now)
    return WiringPlan(write=True, value=value, wired=record, blocked=tuple(blocked))


def bounded_consumers(
    entries: Sequence[_Entry],
    own: Collection[str],
    limits: WiringLimits = DEFAULT_WIRING_LIMITS,
) -> tuple[list[_Entry], int]:
    """The ``status.consumers`` entries to list (in the order given) and how many are left out.

    Any number of consumers may name one AcmCertificate; its status may not grow with them.
    Since an ARN listed there is what keeps it from deletion, every ARN named keeps one entry
    before any ARN has a second: first this object's own recorded ARNs (``own``), then the
    others, then the remaining entries in order, up to the limit.
    """
    if len(entries) <= limits.status_consumers:
        return list(entries), 0
    chosen: dict[int, None] = {}
    seen: set[str] = set()
    for want_own in (True, False):
        for i, entry in enumerate(entries):
            arn = str(entry.get("arn"))
            if arn not in seen and (arn in own) == want_own:
                seen.add(arn)
                chosen[i] = None
    for i in range(len(entries)):
        chosen.setdefault(i, None)
    kept = sorted(list(chosen)[: limits.status_consumers])
    return [entries[i] for i in kept], len(entries) - len(kept)
