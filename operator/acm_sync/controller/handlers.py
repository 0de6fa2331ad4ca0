"""The kopf registry: which events reach the reconciler, and kopf's settings.

Secrets are observed only with ``@kopf.on.event`` (a digest of their content, never the data):
kopf's create/update/resume handlers would store the Secret (its key included) in an annotation
on the Secret. AcmCertificate handlers only feed the watch's view and trigger the per-object work
queue; the reconcile itself runs there, serialised per object. There is no resume handler: the
event handler sees every object of the initial listing and triggers it once, which spares kopf a
resume-handler cycle per object; kopf keeps what only it can do, the finalizer (on.delete), and
telling a user's edit (create/update) from a replay.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from acm_sync.controller.platform.kubeapi import GROUP, PLURAL, TARGET_PLURAL, VERSION
from acm_sync.controller.secretwatch import SecretWatcher
from acm_sync.controller.sync.acmtargets import check_target
from acm_sync.controller.sync.finalizer import DeletionPending, Finalizer
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.sync.resyncrequest import requested as resync_requested
from acm_sync.controller.sync.spec import TLS_SECRET_TYPE
from acm_sync.controller.sync.statusfields import consumer_arns
from acm_sync.controller.watch.diffbase import MemoryDiffBaseStorage
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.wiring.consumers import CONSUMERS, Consumer
from acm_sync.controller.wiring.wirer import Wirer
from acm_sync.core.reasons import ConditionType

FINALIZER = "acmsync.io/cleanup"
# Our own annotation prefix for kopf's bookkeeping on AcmCertificates (never on Secrets).
KOPF_PREFIX = "kopf.acmsync.io"
MAX_DELETE_BACKOFF = 30.0
CLEANUP_ID = "cleanup"

log = logging.getLogger(__name__)


class ExpectedRetryFilter(logging.Filter):
    """Log the finalizer's expected retries at WARNING instead of kopf's ERROR.

    kopf logs every ``kopf.TemporaryError`` at ERROR (hard-coded in its handler execution, with
    no setting), yet a Delete policy waiting for ACM (certificate in use, throttling) is the
    documented way to wait and no error: alerting on ERROR lines would page for it.
    """

    PREFIX = f"Handler {CLEANUP_ID!r} failed temporarily: "

    def filter(self, record: logging.LogRecord) -> bool:
        """Downgrade the cleanup handler's retry line; pass every record through."""
        if (
            record.levelno == logging.ERROR
            and isinstance(record.msg, str)
            and record.msg.startswith(self.PREFIX)
        ):
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True


class TransientApiFilter(logging.Filter):
    """Log kopf's retries of transient API errors at WARNING instead of ERROR.

    kopf retries a 429, a 5xx or a dropped connection itself (``error_backoffs``) but logs each
    attempt as "Request attempt #n failed; will retry" at ERROR. A real API server answers 429
    "storage is (re)initializing" to a LIST right after a CRD is established, and 5xx while it
    restarts: weather, not failure. Only the final "escalating" line stays at ERROR.
    """

    # "TCP closed; will re-authenticate": the connection dropped (an API server restart);
    # kopf reconnects and retries the request.
    MARKERS = ("failed; will retry", "will re-authenticate")

    def filter(self, record: logging.LogRecord) -> bool:
        """Downgrade kopf's will-retry lines; pass every record through."""
        if (
            record.levelno == logging.ERROR
            and isinstance(record.msg, str)
            and any(marker in record.msg for marker in self.MARKERS)
        ):
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True


def install_log_filters() -> None:
    """Attach the filters to kopf's loggers (once per process).

    A filter on a logger does not see records of its children, so every kopf logger gets one:
    kopf passes whichever module's logger is at hand to its request function.
    """
    kopf_objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, ExpectedRetryFilter) for f in kopf_objects.filters):
        kopf_objects.addFilter(ExpectedRetryFilter())
    names = [n for n in list(logging.root.manager.loggerDict) if n.startswith("kopf")]
    for name in ["kopf", *names]:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TransientApiFilter) for f in logger.filters):
            logger.addFilter(TransientApiFilter())


def build_settings(diffbase: MemoryDiffBaseStorage | None = None) -> kopf.OperatorSettings:
    """kopf's settings for acm-sync."""
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    # Not an annotation: kubectl describe would show people a JSON copy of the spec.
    settings.persistence.diffbase_storage = diffbase or MemoryDiffBaseStorage()
    # We post our own Events with stable reasons; kopf's would duplicate them.
    settings.posting.enabled = False
    # Server-side watch timeouts keep a dropped connection from going unnoticed.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.scanning.disabled = True
    # Only TLS Secrets matter (a Secret's type is immutable). Filtering on the server keeps the
    # many others (service account tokens, Helm releases) out of the operator's memory; a
    # referenced Secret of another type is still read, and reported as NotTLSSecret.
    settings.watching.field_selectors["", "v1", "secrets"] = f"type={TLS_SECRET_TYPE}"
    return settings


def build_registry(
    ports: Ports,
    view: WatchView,
    reconciler: Reconciler,
    watcher: SecretWatcher,
    diffbase: MemoryDiffBaseStorage | None = None,
    wirer: Wirer | None = None,
) -> kopf.OperatorRegistry:
    """Register every handler on a fresh registry (several operators may share a process)."""
    registry = kopf.OperatorRegistry()
    finalizer = Finalizer(ports, reconciler.queue, reconciler.writer, reconciler.forget)
    install_log_filters()

    # kopf calls update only when the essence changed (spec, labels, our annotations), never
    # for its own bookkeeping writes: each call is a user's edit, which the user waits for.
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="create")
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="update")
    async def changed(namespace: str | None, name: str, **_: Any) -> None:
        reconciler.trigger((namespace or "", name), urgent=True)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id=CLEANUP_ID)
    async def deleted(namespace: str | None, name: str, retry: int, **_: Any) -> None:
        try:
            await finalizer.finalize((namespace or "", name))
        except DeletionPending as exc:
            # Short, growing delays: a switch of deletionPolicy to Retain is noticed quickly.
            backoff = min(2.0 ** (retry + 1), MAX_DELETE_BACKOFF)
            delay = min(exc.delay, backoff) if exc.delay else backoff
            raise kopf.TemporaryError(str(exc), delay=delay) from None

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="track")
    async def acmcert_event(
        type: str, body: kopf.Body, namespace: str | None, name: str, **_: Any
    ) -> None:
        key = (namespace or "", name)
        watcher.on_acmcert_event(type, dict(body))
        before = view.acmcert(key)
        first_sight = view.object_event(type, body)
        if wirer is not None:
            wirer.on_acmcert_event(key, dict(body))
        if type == "DELETED":
            reconciler.forget(key)
            if diffbase is not None:
                diffbase.forget(str(body.metadata.uid))
        elif resync_requested(body) is not None:
            # A user waits for the answer (acm-sync resync): ahead of routine upkeep.
            reconciler.trigger(key, urgent=True)
        elif first_sight:
            # After a restart every object is seen at once: upkeep, served after user changes.
            reconciler.trigger(key)
        elif before is not None and consumer_arns(before.get("status")) != consumer_arns(
            body.get("status")
        ):
            # A wired consumer switched ARN (a status change, which kopf's update skips): a
            # previous ARN nothing names any more may now be deleted.
            reconciler.trigger(key)

    if ports.targets is not None and ports.targets_enabled:
        targets = ports.targets
        # name -> (generation, Ready status) last seen: only a change of either re-syncs the
        # AcmCertificates using it (each check rewrites lastChecked, which is no change).
        seen: dict[str, tuple[Any, Any]] = {}

        # Only an event handler: kopf's create/update handlers would patch the AcmTarget
        # itself (annotations), which the operator may not do; it writes only the status.
        @kopf.on.event(GROUP, VERSION, TARGET_PLURAL, registry=registry, id="acmtargets")
        async def acmtarget_event(type: str, body: kopf.Body, name: str, **_: Any) -> None:
            if type == "DELETED":
                targets.forget(name)
                seen.pop(name, None)
            else:
                status = body.get("status") or {}
                generation = (body.get("metadata") or {}).get("generation")
                if status.get("observedGeneration") != generation or not status.get("lastChecked"):
                    await ports.in_aws_pool(check_target, ports.kube, targets, name, ports.clock())
                ready = next(
                    (
                        c.get("status")
                        for c in status.get("conditions") or []
                        if c.get("type") == ConditionType.READY
                    ),
                    None,
                )
                if seen.get(name) == (generation, ready):
                    return
                seen[name] = (generation, ready)
            for key in reconciler.target_users.of(name):
                reconciler.trigger(key)

    # The view's Secret facts come from the event handler, the initial listing included (a
    # kopf index would order the listings, but kopf wakes every waiting object's worker on each
    # index toggle: quadratic in the objects at start-up). An AcmCertificate reconciled before
    # its Secret is listed waits for it briefly instead of reading it (reconciler.py).
    @kopf.on.event("", "v1", "secrets", registry=registry, id="secrets")
    async def secret_event(type: str, body: kopf.Body, **_: Any) -> None:
        # Only a digest of the content leaves this function; the data stays in kopf's
        # transient body.
        view.secret_event(type, body)
        for key, urgent in view.readers_to_sync(type, body):
            # Straight to the queue, which hands the run to the reconciler: a rotation is
            # followed handlers -> workqueue -> reconciler, never back (docs/architecture.md).
            reconciler.queue.trigger(key, urgent=urgent)
        watcher.on_event(type, {"metadata": dict(body.metadata), "type": body.get("type")})

    if wirer is not None:
        # Only with wiring on: without it the operator never reads an Ingress or a Service.
        for consumer in CONSUMERS:
            register_consumer(registry, wirer, consumer)

    return registry


def register_consumer(registry: kopf.OperatorRegistry, wirer: Wirer, consumer: Consumer) -> None:
    """An event handler (it stores nothing on the object) feeding the wirer's view."""
    group, _, version = consumer.api.rpartition("/")

    @kopf.on.event(group, version, consumer.plural, registry=registry, id=consumer.plural)
    async def consumer_event(type: str, body: kopf.Body, **_: Any) -> None:
        wirer.on_consumer_event(consumer, type, dict(body))
