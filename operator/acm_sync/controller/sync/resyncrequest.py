"""Verification on request: the ``acmsync.io/resync-requested-at`` annotation.

A user (``acm-sync resync NAME``, or ``kubectl annotate``) sets the annotation to any new value,
usually the time. The next pass of that object trusts no record: every recorded pair is read
from ACM again, as after drift found by the sweep, so a certificate deleted by hand is
re-imported at once instead of at the next sweep. The value handled is recorded in
``status.lastResync`` (by the status writer, with the rest of the status), so each request is
answered once, with an Event, however often the object is looked at.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from acm_sync.controller.platform.kubeapi import LAST_RESYNC, RESYNC_ANNOTATION
from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.decide import SyncResult
from acm_sync.core.reasons import EventReason, EventType


class ResyncPacer:
    """At most one answered request per object every ``min_interval`` seconds.

    Whoever may annotate an AcmCertificate may ask for a resync, and each one reads every pair
    from ACM: without a pace, a loop of annotations would spend the rate budget of ACM's APIs,
    which every namespace's certificates share. A request that comes too soon waits (answered
    when the interval has passed), it is not dropped.
    """

    def __init__(self, min_interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.min_interval = min_interval
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    def wait(self, key: tuple[str, str]) -> float:
        """Seconds until ``key`` may be answered again (0: now)."""
        last = self._last.get(key)
        return 0.0 if last is None else max(0.0, last + self.min_interval - self._clock())

    def answered(self, key: tuple[str, str]) -> None:
        """``key``'s request is answered now."""
        self._last[key] = self._clock()

    def forget(self, key: tuple[str, str]) -> None:
        """The object is gone."""
        self._last.pop(key, None)


def requested(obj: Mapping[str, Any]) -> str | None:
    """The annotation's value when it asks for a pass not answered yet, else None."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(RESYNC_ANNOTATION)
    if not isinstance(value, str) or not value.strip():
        return None
    if value == (obj.get("status") or {}).get(LAST_RESYNC):
        return None
    return value


def recorded_pairs(obj: Mapping[str, Any]) -> set[st.Pair]:
    """Every (target, region) pair the status records: each is read from ACM again."""
    return set(st.pair_records(obj.get("status")))


def _pair_name(target: str, region: str) -> str:
    return f"{target}/{region}" if target else region


def answered(result: SyncResult, value: str) -> SyncResult:
    """``result`` with the request recorded as handled and the Event that answers it."""
    if result.outcomes is None:
        # Nothing reached ACM (invalid input, suspended, bad spec): say why, not "verified".
        notice = nt.Notice(
            EventType.WARNING,
            EventReason.RESYNC_SKIPPED,
            f"resync requested ({value}): nothing was checked in ACM, "
            f"{result.verdict.reason}: {result.verdict.message}",
        )
    else:
        checked = [
            f"{_pair_name(o.target, o.region)} {o.reason}" + (f" {o.arn}" if o.arn else "")
            for o in result.outcomes
        ]
        notice = nt.Notice(
            EventType.NORMAL,
            EventReason.VERIFIED,
            f"resync requested ({value}): read from ACM: " + "; ".join(checked or ["no pair"]),
        )
    return replace(result, resync=value, notices=[*result.notices, notice])
