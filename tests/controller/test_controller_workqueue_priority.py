"""The work queue's two lanes: a Secret or spec change is served before routine re-syncs.

After a warm restart with 1000 objects, a rotation used to wait ~2.3 s behind ~680 resume
re-syncs queued first-come-first-served for the 16 slots (bench/bench_operator.py).

No timing: every run blocks until the test lets it finish, and the assertions are about the
order in which keys get the one concurrency slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import kopf
import pytest

from acm_sync.controller.handlers import build_registry
from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.secretwatch import SecretWatcher
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.watch.workqueue import DONE, Key, Next, PriorityGate, WorkQueue

WAIT = 5.0  # bound on every wait; a correct queue answers within one loop iteration


class Scripted:
    """A runner whose runs each block until released, recording the order they started in."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[Key] = asyncio.Queue()
        self.order: list[Key] = []
        self.running: set[Key] = set()
        self.overlaps: list[Key] = []
        self._release: dict[Key, asyncio.Event] = {}

    async def __call__(self, key: Key) -> Next:
        if key in self.running:
            self.overlaps.append(key)
        self.running.add(key)
        self.order.append(key)
        release = self._release[key] = asyncio.Event()
        await self.started.put(key)
        try:
            await release.wait()
        finally:
            self.running.discard(key)
        return DONE

    async def next_started(self) -> Key:
        """The key of the next run to start."""
        return await asyncio.wait_for(self.started.get(), WAIT)

    def finish(self, key: Key) -> None:
        """Let the current run of ``key`` return."""
        self._release[key].set()


def k(name: str) -> Key:
    return ("ns", name)


def run(scenario: Callable[[WorkQueue, Scripted], Awaitable[None]]) -> Scripted:
    """Run ``scenario`` on a one-slot queue; close the queue (bounded) afterwards."""
    runner = Scripted()

    async def main() -> None:
        queue = WorkQueue(runner, concurrency=1)
        try:
            await asyncio.wait_for(scenario(queue, runner), WAIT * 4)
        finally:
            for key in list(runner.running):
                runner.finish(key)
            await queue.close(timeout=WAIT)

    asyncio.run(main())
    return runner


async def settle() -> None:
    """Let every task that can make progress do so (waiters enqueue themselves)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def drain(queue: WorkQueue, runner: Scripted, runs: int) -> None:
    """Finish the run in progress and the next ``runs - 1`` ones, in the order they start."""
    key = runner.order[-1]
    for _ in range(runs - 1):
        runner.finish(key)
        key = await runner.next_started()
    runner.finish(key)
    await settle()


def test_a_secret_change_overtakes_routine_resyncs_waiting_for_a_slot() -> None:
    async def scenario(queue: WorkQueue, runner: Scripted) -> None:
        queue.trigger(k("busy"))
        assert await runner.next_started() == k("busy")
        for name in ("resume-1", "resume-2", "resume-3"):  # a restart's backlog
            queue.trigger(k(name))
        await settle()
        queue.trigger(k("rotated"), urgent=True)
        await settle()
        assert queue.waiting == [k("rotated"), k("resume-1"), k("resume-2"), k("resume-3")]
        await drain(queue, runner, 5)

    runner = run(scenario)
    assert runner.order == [k("busy"), k("rotated"), k("resume-1"), k("resume-2"), k("resume-3")]


def test_urgent_triggers_keep_their_own_arrival_order() -> None:
    async def scenario(queue: WorkQueue, runner: Scripted) -> None:
        queue.trigger(k("busy"))
        await runner.next_started()
        queue.trigger(k("routine"))
        queue.trigger(k("first"), urgent=True)
        queue.trigger(k("second"), urgent=True)
        await settle()
        await drain(queue, runner, 4)

    runner = run(scenario)
    assert runner.order == [k("busy"), k("first"), k("second"), k("routine")]


def test_an_urgent_trigger_promotes_a_key_already_waiting_in_the_routine_lane() -> None:
    async def scenario(queue: WorkQueue, runner: Scripted) -> None:
        queue.trigger(k("busy"))
        await runner.next_started()
        for name in ("a", "b", "c"):
            queue.trigger(k(name))
        await settle()
        queue.trigger(k("c"), urgent=True)  # c's Secret changed while c waited for a resume
        await settle()
        assert queue.waiting == [k("c"), k("a"), k("b")]
        await drain(queue, runner, 4)

    runner = run(scenario)
    assert runner.order == [k("busy"), k("c"), k("a"), k("b")]
    assert runner.order.count(k("c")) == 1  # promoted, not queued twice


def test_urgent_triggers_during_a_run_collapse_into_one_urgent_rerun_never_in_parallel() -> None:
    async def scenario(queue: WorkQueue, runner: Scripted) -> None:
        queue.trigger(k("rotated"))
        assert await runner.next_started() == k("rotated")
        queue.trigger(k("routine"))
        for _ in range(5):  # several Secret events while the object's sync runs
            queue.trigger(k("rotated"), urgent=True)
        await settle()
        assert queue.waiting == [k("routine")]  # the rerun waits for the run, not a slot
        runner.finish(k("rotated"))
        # The one rerun goes before the routine key that waited longer.
        assert await runner.next_started() == k("rotated")
        await drain(queue, runner, 2)

    runner = run(scenario)
    assert runner.order == [k("rotated"), k("rotated"), k("routine")]
    assert runner.overlaps == []


def test_urgency_is_spent_by_the_run_that_served_it() -> None:
    async def scenario(queue: WorkQueue, runner: Scripted) -> None:
        queue.trigger(k("busy"))
        await runner.next_started()
        queue.trigger(k("x"), urgent=True)
        await settle()
        await drain(queue, runner, 2)  # busy, then x's urgent run
        queue.trigger(k("busy"))
        assert await runner.next_started() == k("busy")
        queue.trigger(k("y"))
        queue.trigger(k("x"))  # a later routine re-sync of x is routine again
        await settle()
        assert queue.waiting == [k("y"), k("x")]
        await drain(queue, runner, 3)

    runner = run(scenario)
    assert runner.order == [k("busy"), k("x"), k("busy"), k("y"), k("x")]


class MissingSecretKube:
    """Kubernetes API stand-in: AcmCertificates whose Secret does not exist (yet)."""

    def get_acmcert(self, namespace: str, name: str) -> dict[str, Any]:
        meta = {"namespace": namespace, "name": name, "uid": f"uid-{name}", "generation": 1}
        return {"metadata": meta, "spec": {"secretName": f"tls-{name}", "regions": ["us-east-1"]}}

    def get_secret(self, namespace: str, name: str) -> None:
        return None

    def patch_acmcert_status(self, namespace: str, name: str, patch: Any) -> dict[str, Any]:
        return {}

    def post_event(self, *args: Any) -> None:
        return None


class NoEngine:
    def sync(self, *a: Any) -> dict[str, Any]:
        raise AssertionError("no certificate reaches the engine in this test")

    def delete(self, *a: Any) -> dict[str, Any]:
        raise AssertionError("nothing is deleted in this test")

    def sweep(self, *a: Any) -> list[Any]:
        raise AssertionError("nothing is swept in this test")

    def close(self) -> None:
        return None


def secret_event(name: str, resource_version: str) -> dict[str, Any]:
    meta = {"namespace": "ns", "name": name, "uid": f"uid-{name}"}
    return {"metadata": {**meta, "resourceVersion": resource_version}, "type": "kubernetes.io/tls"}


def test_a_secret_change_is_urgent_but_the_listing_after_a_restart_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Key, bool]] = []

    async def scenario() -> None:
        ports = Ports(
            MissingSecretKube(),  # type: ignore[arg-type]
            NoEngine(),
            OperatorConfig(),
            "c",
            Metrics(),
        )
        view = WatchView()
        reconciler = Reconciler(ports, view)
        watcher = SecretWatcher(ports, view, reconciler.queue)
        registry = build_registry(ports, view, reconciler, watcher)
        # kopf offers no public accessor of a registry's handlers: the one kopf calls for
        # every Secret event, by its id.
        on_secret = cast(
            Callable[..., Awaitable[None]],
            next(h.fn for h in registry._watching.get_all_handlers() if h.id == "secrets"),
        )

        async def secret_event_seen(kind: str | None, name: str, version: str) -> None:
            body = kopf.Body(cast(kopf.RawBody, secret_event(name, version)))
            await on_secret(type=kind, body=body, logger=None)

        for name in ("seen", "fresh", "backlog"):
            view.register(k(name), f"tls-{name}")
        # "seen" was reconciled since the start (its Secret was missing then); the others not
        # yet: they wait in the restart's backlog.
        reconciler.queue.trigger(k("seen"))
        for _ in range(int(WAIT / 0.01)):
            if not reconciler.queue.busy:
                break
            await asyncio.sleep(0.01)
        assert view.has_read_secret(k("seen"))
        assert not view.has_read_secret(k("backlog"))
        monkeypatch.setattr(
            reconciler.queue,
            "trigger",
            lambda key, urgent=False: calls.append((key, urgent)),
        )
        # The initial listing of a restart (kopf's event type None): "fresh" resumes anyway;
        # its Secret is no change.
        await secret_event_seen(None, "tls-fresh", "5")
        # cert-manager writes "seen"'s Secret: a rotation, which users wait for.
        await secret_event_seen("MODIFIED", "tls-seen", "7")
        # A rotation after the listing, of an object the backlog has not re-checked yet: as
        # urgent, or it waits behind every object of the restart.
        await secret_event_seen("MODIFIED", "tls-backlog", "8")
        await watcher.queue.close()
        await reconciler.close()

    asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))
    assert calls == [(k("fresh"), False), (k("seen"), True), (k("backlog"), True)]


def test_a_slot_released_while_a_cancelled_waiter_is_still_lined_up_goes_to_the_next() -> None:
    # At shutdown every waiting run is cancelled; a release in the same loop iteration used to
    # hand the slot to the cancelled waiter (InvalidStateError) and lose it.
    async def scenario() -> list[str]:
        gate = PriorityGate(1)
        await gate.acquire(("ns", "holder"), urgent=False)
        cancelled = asyncio.create_task(gate.acquire(("ns", "a"), urgent=True))
        served = asyncio.create_task(gate.acquire(("ns", "b"), urgent=False))
        await asyncio.sleep(0)
        cancelled.cancel()
        gate.release()  # before the cancelled waiter had a chance to leave its lane
        await asyncio.wait_for(served, timeout=1)
        await asyncio.gather(cancelled, return_exceptions=True)
        return [k[1] for k in gate.waiting]

    assert asyncio.run(scenario()) == []
