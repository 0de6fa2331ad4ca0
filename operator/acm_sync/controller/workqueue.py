"""Per-object serialised, coalescing work: the one path by which an AcmCertificate is synced.

Every trigger (kopf handler, Secret event, sweep, retry timer) lands here. For one key, at most
one run is in flight; triggers that arrive during a run collapse into exactly one more run. Two
syncs of the same object therefore never overlap, which is what keeps a certificate from being
imported twice by one replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name)
T = TypeVar("T")

# A run returns the delay before it should run again (a retry), or None.
Runner = Callable[[Key], Awaitable[float | None]]


class WorkQueue:
    """Coalescing per-key scheduler with bounded concurrency."""

    def __init__(self, runner: Runner, concurrency: int = 16) -> None:
        self._runner = runner
        self._concurrency = asyncio.Semaphore(concurrency)
        self._locks: dict[Key, asyncio.Lock] = {}
        self._dirty: set[Key] = set()
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._closed = False

    def lock(self, key: Key) -> asyncio.Lock:
        """The lock every run of ``key`` holds; the finalizer takes it too."""
        return self._locks.setdefault(key, asyncio.Lock())

    def trigger(self, key: Key) -> None:
        """Run ``key`` soon; if it is running, run it once more afterwards."""
        if self._closed:
            return
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
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
        lock = self._locks.get(key)
        if lock is not None and not lock.locked() and key not in self._tasks:
            del self._locks[key]

    @property
    def busy(self) -> int:
        """Keys running or waiting to run."""
        return len(self._tasks)

    async def _drive(self, key: Key) -> None:
        retry: float | None = None
        try:
            while True:
                self._dirty.discard(key)
                async with self._concurrency, self.lock(key):
                    try:
                        retry = await self._runner(key)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("Reconciling %s/%s failed unexpectedly", *key)
                        retry = 30.0
                if key not in self._dirty:
                    break
                retry = None
        finally:
            self._tasks.pop(key, None)
        if retry is not None and not self._closed:
            self.trigger_later(key, retry)

    async def run_exclusive(self, key: Key, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` while no sync of ``key`` runs (used by the finalizer)."""
        async with self.lock(key):
            return await work()

    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting work and wait (bounded) for runs in flight."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
