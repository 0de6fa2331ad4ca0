"""Putting the operator together: credentials, cluster id, metrics, leader election and kopf.

``OperatorRuntime.run()`` is what ``acm-sync run`` executes in the main thread;
``OperatorThread`` runs the same thing in a background thread with its own event loop, for the
demo and the playground.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, cast

import kopf

from acm_sync.controller.handlers import build_registry, build_settings
from acm_sync.controller.platform.engine_api import EngineLike
from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import KubeApi
from acm_sync.controller.platform.kubeconfig import (
    connection_info,
    load_configuration,
    pod_namespace,
)
from acm_sync.controller.platform.leader import LeaderElector, default_identity
from acm_sync.controller.platform.metrics import Health, Metrics, MetricsServer
from acm_sync.controller.platform.transient import StartupAborted, retry_startup
from acm_sync.controller.secretwatch import SecretWatcher
from acm_sync.controller.sync.acmtargets import TargetEnginesLike
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.sync.sweep import Sweeper
from acm_sync.controller.watch.diffbase import MemoryDiffBaseStorage
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.wiring.wirer import Wirer

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_LEADERSHIP_LOST = 3
EXIT_STARTUP_FAILED = 1
TAKEOVER_SWEEP_DELAY = 1.0
WriteGuard = Callable[[], bool]
# (config, metrics, write guard): the guard says whether ACM may be written to right now.
EngineFactory = Callable[[OperatorConfig, Metrics, WriteGuard], EngineLike]
# (config, metrics, write guard, cluster id): the engines of other accounts (AcmTargets).
TargetsFactory = Callable[[OperatorConfig, Metrics, WriteGuard, str], TargetEnginesLike | None]


def always(*_: object) -> bool:
    """The write guard without leader election: the only replica may always write."""
    return True


def default_engine(config: OperatorConfig, metrics: Metrics, write_guard: WriteGuard) -> EngineLike:
    """The real ACM engine, with the operator's region and adoption rules, fenced by
    ``write_guard`` (no ACM write is sent while it returns False)."""
    from acm_sync.aws.engine import Engine

    metrics.own_account = metrics.own_account or own_account()
    engine: EngineLike = Engine(
        aws_settings(config, write_guard), observer=metrics.observer_for(metrics.own_account)
    )
    return engine


def aws_settings(config: OperatorConfig, write_guard: WriteGuard) -> Any:
    """The engines' AwsSettings: the operator's region and adoption rules, fenced by
    ``write_guard`` (no ACM write is sent while it returns False)."""
    from acm_sync.aws.settings import AwsSettings

    return AwsSettings(
        adoption=config.adoption,
        allowed_regions=config.allowed_regions or None,
        write_guard=write_guard,
        **rate_overrides(os.environ.get("ACM_SYNC_AWS_RATES", "")),
    )


def own_account() -> str:
    """The operator's own account id (for the metrics' account label); '' if unknown."""
    from acm_sync.aws.credentials import caller_account

    return caller_account()


def default_targets(
    config: OperatorConfig, metrics: Metrics, write_guard: WriteGuard, cluster_id: str
) -> TargetEnginesLike | None:
    """The engines of other accounts, or None when spec.targets is disabled."""
    if not config.targets_enabled:
        return None
    from acm_sync.aws.target_engines import TargetEngines

    return TargetEngines(
        aws_settings(config, write_guard),
        cluster_id,
        config.allowed_role_arns,
        observer_for=metrics.observer_for,
    )


def rate_overrides(text: str) -> dict[str, Any]:
    """``API=calls_per_second,...`` from ``ACM_SYNC_AWS_RATES`` (emulators and benchmarks only:
    ACM's documented rates are the defaults; ``0`` lifts the client-side limit of an API)."""
    if not text.strip():
        return {}
    from acm_sync.aws.settings import DEFAULT_RATES

    rates = dict(DEFAULT_RATES)
    for item in text.split(","):
        api, _, value = item.partition("=")
        if api.strip():
            rates[api.strip()] = float(value or 0)
    return {"rates": rates}


class OperatorRuntime:
    """One operator: build with a config, then ``await run(stop)``."""

    def __init__(
        self,
        config: OperatorConfig,
        engine_factory: EngineFactory = default_engine,
        metrics: Metrics | None = None,
        targets_factory: TargetsFactory = default_targets,
    ) -> None:
        self.config = config
        self.engine_factory = engine_factory
        self.targets_factory = targets_factory
        self.metrics = metrics or Metrics()
        self.health = Health()
        self.metrics_server: MetricsServer | None = None
        self.reconciler: Reconciler | None = None
        self.cluster_id: str | None = None
        self.kopf_ready = threading.Event()
        self._lost = threading.Event()
        # Given to kopf explicitly: without one it calls getpass.getuser(), which fails for a
        # uid with no passwd entry (the image's 65532) unless USER or LOGNAME happen to be set.
        self.identity = default_identity()

    async def run(self, stop: threading.Event) -> int:
        """Run until ``stop`` is set (or SIGTERM in the main thread); return the exit code."""
        configuration = load_configuration(self.config.kubeconfig)
        kube = KubeApi(configuration)
        if self.config.metrics_port > 0 and self.metrics_server is None:
            self.metrics_server = MetricsServer(
                self.metrics, self.health, self.config.metrics_host, self.config.metrics_port
            )
            self.metrics_server.start()
        elector: LeaderElector | None = None
        write_guard: WriteGuard = always
        loop = asyncio.get_running_loop()
        try:
            # A 500 or a burst of 429s at start-up is weather: retried (bounded), with readiness
            # false meanwhile, rather than an exit and a CrashLoopBackOff.
            self.cluster_id = self.config.cluster_id or await loop.run_in_executor(
                None,
                retry_startup,
                "Reading the cluster id (namespace kube-system)",
                lambda: kube.namespace_uid("kube-system"),
                stop,
            )
            if self.config.leader_election:
                elector = LeaderElector(
                    kube,
                    self.config.leader_election_namespace or pod_namespace() or "default",
                    self.config.lease_duration,
                    identity=self.identity,
                )
                self.health.ready = True  # a standby is healthy and ready to take over
                self.metrics.leader.set(0)
                if not await loop.run_in_executor(None, elector.acquire, stop):
                    return EXIT_OK
                elector.keep_renewing(stop, self._on_leadership_lost)
                # Fencing: work still running in the engine's threads when leadership is lost
                # (rate-limiter waits, timeouts, retries) sends no ACM write after it.
                write_guard = elector.may_write
                # The same fence for status patches, Events and generated objects.
                kube.write_guard = elector.may_write
            self.metrics.leader.set(1)
            took_over = elector is not None and elector.took_over
            return await self._run_leader(kube, stop, write_guard, took_over)
        except StartupAborted:
            return EXIT_OK  # stopped while the API server was still unavailable
        finally:
            if elector is not None:
                await loop.run_in_executor(None, elector.release)
            self.metrics.leader.set(0)
            kube.close()

    def _on_leadership_lost(self) -> None:
        log.error("Leadership lost: stopping so that only the new leader acts")
        self.health.alive = False
        self._lost.set()

    async def _run_leader(
        self, kube: KubeApi, stop: threading.Event, write_guard: WriteGuard, took_over: bool
    ) -> int:
        assert self.cluster_id is not None
        engine = self.engine_factory(self.config, self.metrics, write_guard)
        targets = self.targets_factory(self.config, self.metrics, write_guard, self.cluster_id)
        ports = Ports(kube, engine, self.config, self.cluster_id, self.metrics, targets=targets)
        view = WatchView()
        reconciler = Reconciler(ports, view)
        self.reconciler = reconciler
        watcher = SecretWatcher(ports, view, reconciler.queue)
        diffbase = MemoryDiffBaseStorage()
        wirer = None
        if self.config.wiring_enabled:
            wirer = Wirer(ports, view, reconciler.writer, reconciler.queue)
        registry = build_registry(ports, view, reconciler, watcher, diffbase, wirer)
        info = connection_info(kube.configuration)

        @kopf.on.login(registry=registry)
        def login(**_: object) -> kopf.ConnectionInfo:
            return info

        log.info(
            "acm-sync starting: cluster id %s, %s",
            self.cluster_id,
            "all namespaces" if self.config.clusterwide else ", ".join(self.config.namespaces),
        )
        inner_stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        @kopf.on.cleanup(registry=registry)
        async def cleanup(**_: object) -> None:
            # kopf waits for every task it did not start (the sweep, work in flight) before
            # exiting: end them now rather than after its 5-second grace period.
            inner_stop.set()
            await asyncio.gather(
                reconciler.close(),
                watcher.queue.close(),
                *([wirer.close()] if wirer is not None else []),
            )

        ready = asyncio.Event()
        operator = asyncio.create_task(
            kopf.operator(
                registry=registry,
                settings=build_settings(diffbase),
                standalone=True,
                identity=cast(Any, self.identity),  # kopf's Identity is a NewType of str
                clusterwide=self.config.clusterwide,
                namespaces=list(self.config.namespaces),
                stop_flag=inner_stop,
                ready_flag=ready,
            ),
            name="kopf",
        )
        sweeper = asyncio.create_task(
            # After a takeover, re-verify every record against ACM at once (shortly after
            # the first reconciles), rather than after a whole sweep interval.
            Sweeper(ports, reconciler, self.config.sweep_interval).run(
                inner_stop, first_delay=TAKEOVER_SWEEP_DELAY if took_over else None
            ),
            name="sweep",
        )

        async def watch_flags() -> None:
            while not (
                stop.is_set() or self._lost.is_set() or operator.done() or inner_stop.is_set()
            ):
                if ready.is_set() and not self.kopf_ready.is_set():
                    self.kopf_ready.set()
                    self.health.ready = True
                await asyncio.sleep(0.1)
            inner_stop.set()

        flags = loop.create_task(watch_flags(), name="flags")
        try:
            await operator
        finally:
            inner_stop.set()
            self.health.ready = False
            await asyncio.gather(sweeper, flags, return_exceptions=True)
            await reconciler.close()
            await loop.run_in_executor(None, engine.close)
            if targets is not None:
                await loop.run_in_executor(None, targets.close)
        return EXIT_LEADERSHIP_LOST if self._lost.is_set() else EXIT_OK

    def stop_serving(self) -> None:
        """Close the metrics endpoint."""
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None


class OperatorThread:
    """The operator in a background thread with its own event loop (demo, playground)."""

    def __init__(self, config: OperatorConfig, engine_factory: EngineFactory = default_engine):
        self.runtime = OperatorRuntime(config, engine_factory)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="acm-sync-operator", daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self.runtime.run(self._stop))
        except BaseException as exc:  # reported to the starting thread
            self.error = exc
        finally:
            self.runtime.kopf_ready.set()  # never leave a waiter hanging

    def start(self, timeout: float = 30.0) -> OperatorThread:
        """Start, and wait (bounded) until kopf watches; raise if it failed to start."""
        self._thread.start()
        if not self.runtime.kopf_ready.wait(timeout):
            raise TimeoutError("the operator did not start in time")
        if self.error is not None:
            raise RuntimeError(f"the operator failed to start: {self.error}") from self.error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask it to stop and wait (bounded)."""
        self._stop.set()
        self._thread.join(timeout)
        self.runtime.stop_serving()
