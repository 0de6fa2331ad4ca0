"""In-process fakes for the kopf layer: a Kubernetes API in a dict, an engine that records.

They implement ``KubeLike`` and ``EngineLike`` (controller/kubeport.py, engine_api.py), so that
the reconcile, the status writer and the finalizer run in-process, without kopf, a subprocess
or an emulator, and a test can count every Kubernetes request and every engine call.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import JsonObj, ObjectRef
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.watch.view import WatchView
from acm_sync.core.model import Material
from acm_sync.core.planner import Drift
from acm_sync.core.reasons import Reason, WriteReason
from acm_sync.core.state import DesiredState, Owner, RegionOutcome, RegionRecord, RegionState

# The certificates are issued relative to the wall clock; the reconcile sees one fixed instant.
NOW = datetime.now(UTC).replace(microsecond=0)
Key = tuple[str, str]


def arn(region: str, account: str = "123456789012") -> str:
    """A well-formed ACM ARN of ``region`` in ``account``."""
    return f"arn:aws:acm:{region}:{account}:certificate/{uuid.uuid4()}"


class FakeKube:
    """AcmCertificates and Secrets in dicts; every request recorded as (method, namespace, name).

    Status writes behave like the API server's: a merge patch of ``.status``, conditional on
    the resourceVersion the writer read (``patch_status_over``).
    """

    def __init__(self) -> None:
        self.objects: dict[Key, JsonObj] = {}
        self.secrets: dict[Key, JsonObj] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str, str, str]] = []  # (object name, type, reason, message)
        self.refused = 0  # status writes refused: computed from a status no longer current
        self._version = 100

    def _bump(self, obj: JsonObj) -> None:
        self._version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._version)

    def put_object(self, obj: JsonObj) -> JsonObj:
        """Create or replace an AcmCertificate (as a user would); returns the stored copy."""
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        stored = copy.deepcopy(obj)
        stored.setdefault("apiVersion", "acmsync.io/v1alpha1")
        stored.setdefault("kind", "AcmCertificate")
        stored["metadata"].setdefault("uid", f"uid-{meta['name']}")
        old = self.objects.get(key)
        generation = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != stored.get("spec"):
            generation += 1
        stored["metadata"]["generation"] = generation
        if old is not None and "status" in old:
            stored["status"] = old["status"]
        self._bump(stored)
        self.objects[key] = stored
        return copy.deepcopy(stored)

    def put_secret(self, namespace: str, secret: JsonObj) -> JsonObj:
        """Create or replace a Secret; returns the stored copy."""
        stored = copy.deepcopy(secret)
        stored["metadata"]["namespace"] = namespace
        self._bump(stored)
        self.secrets[(namespace, stored["metadata"]["name"])] = stored
        return copy.deepcopy(stored)

    def count(self, method: str) -> int:
        """How many requests of one kind were made."""
        return sum(1 for m, _, _ in self.requests if m == method)

    # -- KubeLike ---------------------------------------------------------------------------

    def get_acmcert(self, namespace: str, name: str) -> JsonObj | None:
        self.requests.append(("get_acmcert", namespace, name))
        found = self.objects.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def acmcert_pages(self, namespaces: tuple[str, ...]) -> Iterator[list[JsonObj]]:
        self.requests.append(("list_acmcerts", "", ""))
        yield [copy.deepcopy(o) for o in self.objects.values()]

    def patch_acmcert_status(
        self, namespace: str, name: str, status_patch: JsonObj, resource_version: str | None = None
    ) -> JsonObj:
        self.requests.append(("patch_acmcert_status", namespace, name))
        obj = self.objects[(namespace, name)]
        status = dict(obj.get("status") or {})
        for field, value in status_patch.items():
            if value is None:
                status.pop(field, None)
            else:
                status[field] = copy.deepcopy(value)
        obj["status"] = status
        self._bump(obj)
        return copy.deepcopy(obj)

    def patch_status_over(self, read: JsonObj, patch: JsonObj) -> JsonObj | None:
        meta = read["metadata"]
        current = self.objects.get((meta["namespace"], meta["name"]))
        if current is None:
            return None
        if current["metadata"]["resourceVersion"] != meta.get("resourceVersion"):
            self.requests.append(("get_acmcert", meta["namespace"], meta["name"]))
            if (current.get("status") or {}) != (read.get("status") or {}):
                self.refused += 1
                return None
        return self.patch_acmcert_status(meta["namespace"], meta["name"], patch)

    def create_acmcert(self, namespace: str, manifest: JsonObj) -> JsonObj | None:
        raise AssertionError("no AcmCertificate is generated in these tests")

    def patch_acmcert(self, namespace: str, name: str, patch: JsonObj) -> JsonObj:
        raise AssertionError("no spec is patched in these tests")

    def patch_object(
        self, api: str, plural: str, namespace: str, name: str, patch: JsonObj
    ) -> JsonObj:
        raise AssertionError("wiring is off in these tests: no Ingress or Service is written")

    def delete_acmcert(self, namespace: str, name: str, uid: str | None = None) -> bool:
        self.requests.append(("delete_acmcert", namespace, name))
        return self.objects.pop((namespace, name), None) is not None

    def get_acmtarget(self, name: str) -> JsonObj | None:
        return None

    def list_acmtargets(self) -> list[JsonObj]:
        return []

    def patch_acmtarget_status(self, name: str, status_patch: JsonObj) -> JsonObj:
        raise AssertionError("no AcmTarget in these tests")

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        return {}

    def get_secret(self, namespace: str, name: str) -> JsonObj | None:
        self.requests.append(("get_secret", namespace, name))
        found = self.secrets.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def get_secret_metadata(self, namespace: str, name: str) -> JsonObj | None:
        self.requests.append(("get_secret_metadata", namespace, name))
        found = self.secrets.get((namespace, name))
        return {"metadata": copy.deepcopy(found.get("metadata") or {})} if found else None

    def post_event(
        self, ref: ObjectRef, event_type: str, reason: str, message: str, action: str = "Reconcile"
    ) -> None:
        self.events.append((ref.name, event_type, reason, message))


class FakeEngine:
    """Imports where no record holds the desired fingerprint; deletes as told by ``in_use``."""

    def __init__(self, account: str = "123456789012") -> None:
        self.account = account
        self.synced: list[tuple[str, tuple[str, ...]]] = []  # (owner name, regions synced)
        self.deleted: list[tuple[str, tuple[str, ...]]] = []
        # Regions whose certificate is in use: their deletion fails with ResourceInUse.
        self.in_use: set[str] = set()

    def sync(
        self, desired: DesiredState, material: Material, records: Mapping[str, RegionRecord]
    ) -> dict[str, RegionOutcome]:
        self.synced.append((desired.owner.name, tuple(desired.regions)))
        result: dict[str, RegionOutcome] = {}
        for region in desired.regions:
            record = records.get(region)
            if record and record.arn and record.fingerprint == desired.fingerprint:
                result[region] = RegionOutcome.from_record(
                    record, RegionState.SYNCED, Reason.SYNCED, "in sync"
                )
                continue
            reason = WriteReason.REIMPORTED if record and record.arn else WriteReason.IMPORTED
            result[region] = RegionOutcome(
                region,
                RegionState.SYNCED,
                reason,
                reason.lower(),
                arn=record.arn if record and record.arn else arn(region, self.account),
                fingerprint=desired.fingerprint,
                imported_at=NOW,
                wrote=True,
                serial=desired.serial,
                not_after=desired.not_after,
            )
        return result

    def delete(
        self,
        owner: Owner,
        records: Mapping[str, RegionRecord],
        held: Collection[str] = frozenset(),
    ) -> dict[str, RegionOutcome]:
        self.deleted.append((owner.name, tuple(sorted(records))))
        result: dict[str, RegionOutcome] = {}
        for region, record in records.items():
            if region in self.in_use:
                blocked = RegionOutcome.from_record(
                    record, RegionState.ERROR, Reason.RESOURCE_IN_USE, "in use by a load balancer"
                )
                result[region] = replace(blocked, retry_after=5.0)
            else:
                result[region] = RegionOutcome(
                    region, RegionState.SYNCED, WriteReason.DELETED, "deleted"
                )
        return result

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        raise AssertionError("nothing is swept in these tests")

    def close(self, *, wait: bool = False) -> None:
        """Nothing to release."""


class Harness:
    """A Reconciler over the fakes, fed by hand the way kopf's event handlers feed it."""

    def __init__(self, kube: FakeKube, engine: FakeEngine, metrics: Metrics | None = None):
        self.kube = kube
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.ports = Ports(
            kube, engine, OperatorConfig(), "cluster", self.metrics, clock=lambda: NOW
        )
        self.view = WatchView()
        self.reconciler = Reconciler(self.ports, self.view)

    def listing(self) -> None:
        """The watch's initial listing: every object and Secret, as kopf hands them over."""
        for secret in self.kube.secrets.values():
            self.view.secret_event(None, copy.deepcopy(secret))
        for obj in self.kube.objects.values():
            self.view.object_event(None, copy.deepcopy(obj))

    def watch(self, key: Key) -> None:
        """The watch delivers the object's current version (after a write, an edit)."""
        self.view.object_event("MODIFIED", copy.deepcopy(self.kube.objects[key]))

    async def reconcile(self, key: Key) -> None:
        """Trigger ``key`` and wait until its queue is idle."""
        self.reconciler.trigger(key)
        for _ in range(500):
            await asyncio.sleep(0.01)
            if not self.reconciler.queue.busy:
                return
        raise AssertionError(f"{key} still busy")

    async def close(self) -> None:
        """Release the queue and the pools."""
        await self.reconciler.close()
