"""Per-object serialised, coalescing work: the one path by which an AcmCertificate is synced.

Every trigger (kopf handler, Secret event, sweep, retry timer) lands here. For one key, at most
one run is in flight; triggers that arrive during a run collapse into exactly one more run. Two
syncs of the same object therefore never overlap, which is what keeps a certificate from being
imported twice by one replica.

Waiting is the queue's alone. A run answers how to go on (:class:`Next`): done, again after
a delay, failed (the one failure counter per key backs off, capped at ``MAX_BACKOFF``), or
parked until triggered. At a start the Secrets' listing and the AcmCertificates' arrive side by
side: an object that outran its Secret's listing parks, and the Secret's arrival triggers it
(its readers are triggered by every Secret event); the one start-up deadline
(``LISTING_DEADLINE``) wakes whatever still waits, and after it nothing parks.

Triggers come in two lanes. An urgent one (a Secret change, a new object or a spec change) is
what a user waits for; a routine one (an object's first sight after a restart, the sweep, retry
timers) is upkeep. Runs waiting for a concurrency slot take it urgent lane first, so that a
rotation does not wait behind a restart's backlog of routine re-syncs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from acm_sync.controller.platform import transient

log = logging.getLogger(__name__)

# The one cap of the one backoff: an ACM that keeps failing is asked at most every 5 minutes.
MAX_BACKOFF = 300.0
# How long after a start objects may park for their Secret's listing.
LISTING_DEADLINE = 10.0

Key = tuple[str, str]  # (namespace, name)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Next:
    """What a run asks of the queue: ``after`` seconds then run again (None: only when
    triggered); ``failed`` counts a failure (without ``after``: back off by the count);
    ``park``: wait for a trigger, at most until the start-up deadline."""

    after: float | None = None
    failed: bool = False
    park: bool = False


DONE = Next()
PARK = Next(park=True)

Runner = Callable[[Key], Awaitable[Next]]


class PriorityGate:
    """A counting semaphore whose waiters are served urgent first, FIFO within a lane.

    Each waiter is a key (a key waits at most once at a time), so that a routine waiter can be
    promoted when an urgent trigger for the same key arrives while it waits.
    """

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._urgent: OrderedDict[Key, asyncio.Future[None]] = OrderedDict()
        self._routine: OrderedDict[Key, asyncio.Future[None]] = OrderedDict()

    async def acquire(self, key: Key, urgent: bool) -> None:
        """Take a slot for ``key``: at once if one is free and nobody waits, else in line."""
        if self._free > 0 and not self._urgent and not self._routine:
            self._free -= 1
            return
        await self._wait(key, self._line_up(key, urgent))

    async def requeue(self, key: Key, urgent: bool) -> None:
        """Give up the slot held for ``key`` and wait in line for another one.

        Lining up before the slot is released means an urgent rerun is not overtaken by
        routine waiters (nor does it overtake urgent ones that waited longer).
        """
        waiter = self._line_up(key, urgent)
        self.release()
        await self._wait(key, waiter)

    def _line_up(self, key: Key, urgent: bool) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._routine)[key] = waiter
        return waiter

    async def _wait(self, key: Key, waiter: asyncio.Future[None]) -> None:
        try:
            await waiter
        except asyncio.CancelledError:
            self._urgent.pop(key, None)
            self._routine.pop(key, None)
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            raise

    def promote(self, key: Key) -> None:
        """Move ``key`` to the end of the urgent lane if it waits in the routine one."""
        waiter = self._routine.pop(key, None)
        if waiter is not None:
            self._urgent[key] = waiter

    def release(self) -> None:
        """Give the slot to the first urgent waiter, else the first routine one."""
        for lane in (self._urgent, self._routine):
            while lane:
                _key, waiter = lane.popitem(last=False)
                # A waiter cancelled (at shutdown) but not yet resumed is still in its lane:
                # it can take no slot, so the slot goes to the next one.
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    @property
    def waiting(self) -> list[Key]:
        """Keys waiting for a slot, in the order they will get one."""
        return [*self._urgent, *self._routine]


class WorkQueue:
    """Coalescing per-key scheduler with bounded concurrency."""

    def __init__(self, runner: Runner, concurrency: int = 16) -> None:
        self._runner = runner
        self._gate = PriorityGate(concurrency)
        self._locks: dict[Key, asyncio.Lock] = {}
        self._dirty: set[Key] = set()
        # Keys whose next run was asked for urgently (see the module docstring).
        self._urgent: set[Key] = set()
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        # Consecutive failed runs per key (the backoff grows with them).
        self._errors: dict[Key, int] = {}
        # Keys waiting for their Secret's listing, and when waiting ends (a start).
        self._parked: set[Key] = set()
        self._deadline = time.monotonic() + LISTING_DEADLINE
        self._waking: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def listing(self) -> bool:
        """Whether a run may still park for its Secret's listing (the start-up deadline)."""
        return time.monotonic() < self._deadline

    def _park(self, key: Key) -> None:
        self._parked.add(key)
        if self._waking is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._deadline - time.monotonic())
            self._waking = loop.call_later(delay, self._wake_parked)

    def _wake_parked(self) -> None:
        parked, self._parked = self._parked, set()
        for key in sorted(parked):
            self.trigger(key)

    def lock(self, key: Key) -> asyncio.Lock:
        """The lock every run of ``key`` holds; the finalizer takes it too."""
        return self._locks.setdefault(key, asyncio.Lock())

    def trigger(self, key: Key, urgent: bool = False) -> None:
        """Run ``key`` soon; if it is running, run it once more afterwards.

        ``urgent``: a change a user waits for (Secret, spec); its run is served before routine
        ones waiting for a slot.
        """
        if self._closed:
            return
        self._parked.discard(key)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if urgent:
            self._urgent.add(key)
            self._gate.promote(key)
        if key in self._tasks:
            self._dirty.add(key)
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._drive(key), name=f"reconcile {key[0]}/{key[1]}"
        )

    def trigger_later(self, key: Key, delay: float) -> None:
        """Run ``key`` after ``delay`` seconds, unless something triggers it earlier."""
        if self._closed or key in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire_timer, key)

    def _fire_timer(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.trigger(key)

    def forget(self, key: Key) -> None:
        """Drop a deleted object's timer and lock (a running task finishes on its own)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._errors.pop(key, None)
        self._parked.discard(key)
        lock = self._locks.get(key)
        if lock is not None and not lock.locked() and key not in self._tasks:
            del self._locks[key]
            self._urgent.discard(key)

    @property
    def waiting(self) -> list[Key]:
        """Keys waiting for a concurrency slot, in the order they will get one."""
        return self._gate.waiting

    @property
    def busy(self) -> int:
        """Keys running or waiting to run."""
        return len(self._tasks)

    async def _drive(self, key: Key) -> None:
        retry: float | None = None
        park = False
        try:
            await self._gate.acquire(key, key in self._urgent)
            while True:
                try:
                    async with self.lock(key):
                        # Triggers that came while this run waited for its slot are served by
                        # it (it reads everything afresh); only those during the run count.
                        # Urgency is spent the same way.
                        self._dirty.discard(key)
                        self._urgent.discard(key)
                        try:
                            answer = await self._runner(key)
                            retry, park = self._next(key, answer), answer.park
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:
                            retry = self._failed(key, exc)
                except BaseException:
                    self._gate.release()
                    raise
                if key not in self._dirty:
                    self._gate.release()
                    break
                retry, park = None, False
                await self._gate.requeue(key, key in self._urgent)
        finally:
            self._tasks.pop(key, None)
        if self._closed:
            return
        if park:
            self._park(key)
        elif retry is not None:
            self.trigger_later(key, retry)

    def _next(self, key: Key, answer: Next) -> float | None:
        """The delay before ``key``'s next run; counts (or clears) its failures."""
        if not answer.failed:
            self._errors.pop(key, None)
            return answer.after
        backoff = self._backoff(key)
        # AWS's hint wins; the count still grows.
        return backoff if answer.after is None else max(answer.after, 1.0)

    def _backoff(self, key: Key) -> float:
        """Count one more failure of ``key``; the jittered delay it earns."""
        attempt = self._errors[key] = self._errors.get(key, 0) + 1
        return transient.backoff(attempt, base=2.0, cap=MAX_BACKOFF)

    def _failed(self, key: Key, exc: Exception) -> float:
        """Log a failed run by what it means and return the jittered delay before the next.

        A transient API error (429, 5xx, reset, timeout) is weather: one WARNING line. Anything
        else is a bug: ERROR with its traceback. Both back off, growing with each failure.
        """
        delay = self._backoff(key)
        if transient.is_transient(exc):
            log.warning(
                "Reconciling %s/%s hit a transient API error (retrying in %.1fs): %s",
                *key,
                delay,
                transient.describe(exc),
            )
        else:
            log.exception("Reconciling %s/%s failed unexpectedly", *key)
        return delay

    async def run_exclusive(self, key: Key, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` while no sync of ``key`` runs (used by the finalizer)."""
        async with self.lock(key):
            return await work()

    async def close(self, timeout: float = 0.5) -> None:
        """Stop accepting work and wait (bounded) for runs in flight, then cancel them.

        The bound is short: a shutdown must finish well within a pod's grace period, and a run
        cut short is safe (an import whose answer was lost is found by owner tag next time).
        """
        self._closed = True
        if self._waking is not None:
            self._waking.cancel()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=timeout)
