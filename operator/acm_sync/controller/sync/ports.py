"""What the kopf layer talks to: the Kubernetes API, the engines, the clock and the thread pools.

The reconciler, the finalizer, the sweeper and the Secret watcher each take the :class:`Ports`
(or the few services they need) instead of reaching through one another. Tests build a
``Ports`` over fakes of :class:`KubeLike` and ``EngineLike`` and drive the same code in-process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from acm_sync.controller.platform.engine_api import EngineLike
from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeport import KubeLike
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync.accounts import Accounts
from acm_sync.controller.watch.workqueue import Key
from acm_sync.core.state import Owner

P = ParamSpec("P")
R = TypeVar("R")


def utcnow() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


class Ports:
    """The Kubernetes API, the engines, the configuration, the clock and the thread pools."""

    def __init__(
        self,
        kube: KubeLike,
        engine: EngineLike,
        config: OperatorConfig,
        cluster_id: str,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 16,
        targets: tg.TargetEnginesLike | None = None,
    ) -> None:
        self.kube = kube
        self.engine = engine
        # Engines of other accounts (AcmTargets); None: spec.targets is refused.
        self.targets = targets
        self.config = config
        self.cluster_id = cluster_id
        self.metrics = metrics
        self.clock = clock
        self.concurrency = concurrency
        self._kube_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="acm-sync-kube")
        self._aws_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="acm-sync-aws")
        # Accounts of one object sync side by side (a pool of its own: the waiting threads of
        # the AWS pool must not be the ones the work needs).
        self.account_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="acm-sync-acct")

    @property
    def targets_enabled(self) -> bool:
        """Whether spec.targets may be used (engines exist and the flag allows it)."""
        return self.targets is not None and self.config.targets_enabled

    def accounts(self, ctx: tg.TargetContext) -> Accounts:
        """The accounts of one AcmCertificate's pairs (ctx: the AcmTargets it names)."""
        return Accounts(self.engine, self.targets, ctx)

    def owner(self, key: Key) -> Owner:
        """The owner tag identity of an AcmCertificate."""
        return Owner(cluster_id=self.cluster_id, namespace=key[0], name=key[1])

    async def in_kube_pool(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking Kubernetes call off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._kube_pool, lambda: fn(*args, **kwargs))

    async def in_aws_pool(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking engine call (or CPU-bound analysis) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._aws_pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        """Release the thread pools (queued work is dropped)."""
        self._kube_pool.shutdown(wait=False, cancel_futures=True)
        self._aws_pool.shutdown(wait=False, cancel_futures=True)
        self.account_pool.shutdown(wait=False, cancel_futures=True)
