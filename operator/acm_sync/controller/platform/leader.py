"""Leader election over a coordination.k8s.io/v1 Lease, so that exactly one replica acts.

The rules follow client-go's leaderelection package:
- a standby takes the Lease only after its record has not changed for ``lease_duration`` as
  measured on the standby's own clock (clock skew between nodes does not matter);
- the leader renews every ``lease_duration / 3`` and gives up (its process exits non-zero so the
  pod restarts) when it could not renew for ``2/3 * lease_duration``, i.e. before any standby
  may take over;
- on a clean shutdown the leader releases the Lease so that a standby takes over at once.

Giving up stops kopf, but not work already running in the engine's threads (rate-limiter waits,
read timeouts, retries). That work is fenced instead: :meth:`LeaderElector.may_write` is the
engine's write guard, true only until ``lease_duration - write_margin`` after the start of the
last successful renewal. A standby can acquire no earlier than ``lease_duration`` after that
renewal reached the API server, so every ACM write is sent at least ``write_margin`` (a third
of the lease by default, 5 s at 15 s) before another replica may start writing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from acm_sync.controller.platform.kubeapi import JsonObj, KubeApi

log = logging.getLogger(__name__)

LEASE_NAME = "acm-sync-leader"


def _micro_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """Pod name (the hostname in a pod) plus a random suffix: unique even across restarts."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """Acquire, renew and release one Lease. Blocking; meant for a background thread."""

    def __init__(
        self,
        kube: KubeApi,
        namespace: str,
        lease_duration: float,
        identity: str | None = None,
        name: str = LEASE_NAME,
        monotonic: Callable[[], float] = time.monotonic,
        write_margin: float | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.retry_period = max(0.2, min(2.0, lease_duration / 5))
        self.renew_period = max(0.2, lease_duration / 3)
        self.renew_deadline = lease_duration * 2 / 3
        # Standbys count the duration written in the Lease (whole seconds), so the fence does too.
        held_for = min(lease_duration, float(max(1, round(lease_duration))))
        margin = lease_duration - self.renew_deadline if write_margin is None else write_margin
        self.write_window = max(0.0, held_for - margin)
        self._write_until = float("-inf")  # our clock; see may_write()
        self._monotonic = monotonic
        # The last Lease record seen and when (our clock) it was first seen.
        self._observed: tuple[object, ...] | None = None
        self._observed_at = 0.0
        self._is_leader = False
        self._renewer: threading.Thread | None = None
        # Whether the Lease was taken over from a holder that did not release it (crashed,
        # partitioned, paused): its last writes may have left statuses to re-verify.
        self.took_over = False

    @property
    def is_leader(self) -> bool:
        """Whether this replica holds the Lease as of the last successful renewal."""
        return self._is_leader

    def may_write(self) -> bool:
        """The engine's write guard: whether this replica surely still holds the Lease.

        True from a successful acquire or renew until ``write_window`` after that attempt
        started (before its request reached the API server, so no standby's clock can have
        started counting earlier). False as soon as leadership is lost or released.
        """
        return self._is_leader and self._monotonic() < self._write_until

    @property
    def _path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{self.name}"

    def _lease_body(self, existing: JsonObj | None, acquire: bool) -> JsonObj:
        now = _micro_time(datetime.now(UTC))
        spec = dict((existing or {}).get("spec") or {})
        if acquire:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if existing else 0
            )
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.lease_duration)),
            renewTime=now,
        )
        metadata: JsonObj = {"name": self.name, "namespace": self.namespace}
        if existing is not None:
            metadata["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease afterwards."""
        started = self._monotonic()
        status, lease = self.kube.request("GET", self._path, timeout=max(1.0, self.renew_period))
        if status == 404:
            body = self._lease_body(None, acquire=True)
            status, _ = self.kube.request(
                "POST",
                f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases",
                body,
            )
            self._held(status in (200, 201), started)
            return self._is_leader
        if status != 200:
            raise RuntimeError(f"reading Lease {self.namespace}/{self.name}: HTTP {status}")
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
        now = self._monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, now
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and now - self._observed_at < duration:
            self._is_leader = False
            return False
        acquire = holder != self.identity
        status, _ = self.kube.request("PUT", self._path, self._lease_body(lease, acquire))
        self._held(status == 200, started)
        if self._is_leader and acquire and holder:
            self.took_over = True
        if self._is_leader and acquire:
            log.info("Acquired Lease %s/%s as %s", self.namespace, self.name, self.identity)
        return self._is_leader

    def _held(self, holds: bool, started: float) -> None:
        self._is_leader = holds
        if holds:
            self._write_until = started + self.write_window

    def acquire(self, stop: threading.Event) -> bool:
        """Block until this replica leads (True) or ``stop`` is set (False)."""
        announced = False
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    return True
            except Exception as exc:
                log.warning("Leader election attempt failed: %s", exc)
            if not announced:
                log.info(
                    "Standing by: Lease %s/%s is held by another replica", self.namespace, self.name
                )
                announced = True
            stop.wait(self.retry_period)
        return False

    def keep_renewing(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Start a thread that renews until ``stop``; calls ``on_lost`` when leadership is lost."""

        def loop() -> None:
            last_ok = self._monotonic()
            while not stop.wait(self.renew_period):
                try:
                    if self.try_acquire_or_renew():
                        last_ok = self._monotonic()
                        continue
                    log.error("Lease %s/%s was taken by another replica", self.namespace, self.name)
                except Exception as exc:
                    log.warning("Renewing the Lease failed: %s", exc)
                    if self._monotonic() - last_ok < self.renew_deadline:
                        continue
                    log.error("Could not renew the Lease for %.1fs", self.renew_deadline)
                self._is_leader = False
                on_lost()
                return

        self._renewer = threading.Thread(target=loop, name="acm-sync-lease", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Hand the Lease over at once (clean shutdown); errors are logged, not raised."""
        if not self._is_leader:
            return
        self._is_leader = False
        try:
            status, lease = self.kube.request("GET", self._path, timeout=5.0)
            if status != 200 or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            self.kube.request("PUT", self._path, lease, timeout=5.0)
            log.info("Released Lease %s/%s", self.namespace, self.name)
        except Exception as exc:
            log.warning("Releasing the Lease failed: %s", exc)
