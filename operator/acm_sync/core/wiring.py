"""What to write on a consumer of ARNs (an Ingress's or a Service's annotation), decided purely.

A consumer names AcmCertificates; each gives the ARN of one pair (the load balancer's own
account and region). The decision never overwrites a value acm-sync did not write, switches a
name to a new ARN only once that pair says Synced with it, and on opt-out restores what was
there before acm-sync first wrote. What acm-sync wrote is kept on the consumer itself
(:class:`Wired`), so a restart or another replica decides the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from acm_sync.core.reasons import EventReason


class Blocker(StrEnum):
    """Why a consumer is not (fully) wired: the first words of a ``WiringBlocked`` message."""

    UNKNOWN = "unknown AcmCertificate"
    NOT_SYNCED = "not synced in that region"
    FOREIGN = "foreign annotation"


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
        """The annotation's value (JSON: readable with kubectl, parsed back by :meth:`parse`)."""
        record = {"value": self.value, "names": list(self.names), "earlier": self.earlier}
        return json.dumps({**record, "at": self.at}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> Wired | None:
        """The record, or None when absent or unreadable (then nothing counts as acm-sync's)."""
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("value"), str):
            return None
        names = data.get("names")
        earlier = data.get("earlier")
        at = data.get("at")
        return cls(
            value=data["value"],
            names=tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else (),
            earlier=earlier if isinstance(earlier, str) else None,
            at=at if isinstance(at, str) else "",
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


def parse_names(text: str | None) -> tuple[str, ...]:
    """``a, b,a`` -> ("a", "b"): unique names in order."""
    return tuple(dict.fromkeys(n.strip() for n in (text or "").split(",") if n.strip()))


def plan_wiring(
    names: Sequence[str],
    current: str | None,
    wired: Wired | None,
    certificates: Mapping[str, PairState],
    annotation: str,
    now: str,
) -> WiringPlan:
    """Decide a consumer's annotation ``annotation`` (value ``current``, None when absent).

    ``names``: the AcmCertificates it opts in to (empty: opted out); ``certificates``: the
    pair state of every one that exists; ``now``: the time to record with a write.
    """
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
