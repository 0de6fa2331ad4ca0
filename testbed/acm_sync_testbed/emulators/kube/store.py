"""The cluster state: objects, one resourceVersion counter, the event log, finalizers and GC.

Objects are plain dicts and are never mutated once stored: every write stores a new dict. The
event log can therefore share them with the object table at no memory cost, and readers
(watch streams, lists) can serialise them without copying or locking.
"""

from __future__ import annotations

import copy
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

from acm_sync_testbed.emulators.kube import crd as crds
from acm_sync_testbed.emulators.kube import semantics
from acm_sync_testbed.emulators.kube.deletion import Deletions, Loc
from acm_sync_testbed.emulators.kube.errors import ApiError, already_exists, conflict, not_found
from acm_sync_testbed.emulators.kube.eventlog import EventLog, WatchEvent
from acm_sync_testbed.emulators.kube.resources import (
    BUILTIN_TYPES,
    CRDS,
    NAMESPACES,
    Key,
    ResourceType,
)
from acm_sync_testbed.emulators.kube.semantics import now_rfc3339

JSON = dict[str, Any]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Store(Deletions):
    """All objects of the emulated cluster, with the API server's write semantics."""

    def __init__(self, log_size: int = 10_000) -> None:
        self.lock = threading.RLock()
        self.rv = 0
        self.log = EventLog(log_size)
        self.objects: dict[Key, dict[tuple[str, str], JSON]] = {}
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self._dependents: dict[str, set[Loc]] = {}
        self._uids: dict[str, Loc] = {}
        self.listeners: list[Callable[[], None]] = []
        # Runs background work (garbage collection); the server replaces it with its loop.
        self.schedule: Callable[[Callable[[], None]], None] = lambda fn: fn()
        for rtype in BUILTIN_TYPES:
            self.register(rtype)
        for name in _SYSTEM_NAMESPACES:
            self.create(self.types[("", "v1", "namespaces")], "", {"metadata": {"name": name}})

    # ---- types -------------------------------------------------------------------------

    def register(self, rtype: ResourceType) -> None:
        """Serve a resource type (built-in or from a CRD)."""
        self.types[(rtype.group, rtype.version, rtype.plural)] = rtype
        self.objects.setdefault(rtype.key, {})

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The served type at ``/apis/<group>/<version>/<plural>``, if any."""
        return self.types.get((group, version, plural))

    def _sync_crd_types(self, crd: JSON, *, removed: bool = False) -> None:
        spec = crd["spec"]
        key = (spec["group"], spec["names"]["plural"])
        for tkey in [k for k, t in self.types.items() if t.custom and t.key == key]:
            del self.types[tkey]
        if not removed:
            for rtype in crds.crd_types(crd):
                self.register(rtype)

    # ---- event log ---------------------------------------------------------------------

    def _emit(self, event_type: str, key: Key, obj: JSON, prev: JSON | None) -> None:
        namespace = obj["metadata"].get("namespace", "")
        self.log.append(WatchEvent(self.rv, event_type, key, namespace, obj, prev))
        for listener in self.listeners:
            listener()

    def events_after(self, rv: int) -> list[WatchEvent]:
        """Every event newer than ``rv``; 410 Gone when some of them are no longer kept."""
        with self.lock:
            return self.log.after(rv)

    def compact(self) -> None:
        """Forget the whole event log (tests use it to force a 410 on the next watch)."""
        with self.lock:
            self.log.compact(self.rv)

    # ---- reads -------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str, name: str) -> JSON:
        """The stored object, or 404."""
        obj = self.objects[rtype.key].get((namespace if rtype.namespaced else "", name))
        if obj is None:
            raise not_found(rtype.plural, name, rtype.group)
        return obj

    def list(self, rtype: ResourceType, namespace: str | None) -> tuple[list[JSON], int]:
        """Objects of a type (in one namespace or all), sorted as etcd would, and the list rv."""
        with self.lock:
            table = self.objects[rtype.key]
            items = [o for (ns, _n), o in table.items() if namespace is None or ns == namespace]
            rv = self.rv
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items, rv

    # ---- writes ------------------------------------------------------------------------

    def _check_namespace(self, rtype: ResourceType, namespace: str) -> None:
        if rtype.namespaced:
            ns = self.objects[NAMESPACES].get(("", namespace))
            if ns is None:
                raise not_found("namespaces", namespace)
            if ns["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    403,
                    f"{rtype.plural} is forbidden: unable to create new content in namespace "
                    f"{namespace} because it is being terminated",
                    reason="Forbidden",
                )

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: JSON,
        *,
        dry_run: bool = False,
        field_validation: str = "",
    ) -> JSON:
        """POST: 201 semantics; generateName, uid, resourceVersion, generation, timestamps."""
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "metadata must be an object")
        if rtype.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            namespace = namespace or meta.get("namespace") or ""
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = ""
        with self.lock:
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ApiError(
                        422,
                        f'{rtype.kind} "" is invalid: metadata.name: Required value: '
                        "name or generateName is required",
                        details={
                            "kind": rtype.kind,
                            "causes": [{"reason": "FieldValueRequired", "field": "metadata.name"}],
                        },
                    )
                while True:
                    candidate = meta["generateName"] + "".join(
                        secrets.choice(_GENERATE_ALPHABET) for _ in range(5)
                    )
                    if (namespace, candidate) not in self.objects[rtype.key]:
                        meta["name"] = candidate
                        break
            name = meta["name"]
            obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
            semantics.validate_metadata(rtype, obj)
            self._check_namespace(rtype, namespace)
            if (namespace, name) in self.objects[rtype.key]:
                raise already_exists(rtype.plural, name, rtype.group)
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rtype.has_generation:
                meta["generation"] = 1
            if rtype.status_subresource and rtype.custom:
                obj.pop("status", None)
            obj = semantics.normalize(rtype, obj, field_validation)
            if dry_run:
                meta["resourceVersion"] = ""
                return obj
            self._commit(rtype, "ADDED", obj)
            if rtype.key == CRDS:
                self._sync_crd_types(obj)
            return obj

    def _commit(self, rtype: ResourceType, event_type: str, obj: JSON) -> None:
        meta = obj["metadata"]
        loc: Loc = (rtype.key, meta.get("namespace", ""), meta["name"])
        old = self.objects[rtype.key].get(loc[1:])
        if old is not None:
            self._unindex(rtype.key, old)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        if event_type == "DELETED":
            del self.objects[rtype.key][loc[1:]]
        else:
            self.objects[rtype.key][loc[1:]] = obj
            self._uids[meta["uid"]] = loc
            for ref in meta.get("ownerReferences") or ():
                self._dependents.setdefault(str(ref.get("uid")), set()).add(loc)
        self._emit(event_type, rtype.key, obj, old)

    def _unindex(self, key: Key, obj: JSON) -> None:
        meta = obj["metadata"]
        self._uids.pop(meta["uid"], None)
        loc: Loc = (key, meta.get("namespace", ""), meta["name"])
        for ref in meta.get("ownerReferences") or ():
            self._dependents.get(str(ref.get("uid")), set()).discard(loc)

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "",
        require_rv: bool | None = None,
    ) -> JSON:
        """PUT (and the last step of every patch): optimistic concurrency and generation."""
        namespace = namespace if rtype.namespaced else ""
        with self.lock:
            old = self.get(rtype, namespace, name)
            new = copy.deepcopy(body)
            if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
                raise ApiError(400, "the body of the request was in an unknown format")
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise ApiError(400, "the name of the object does not match the name on the URL")
            given_rv = meta.get("resourceVersion")
            if given_rv and given_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rtype.plural, name, rtype.group)
            must_have_rv = rtype.custom if require_rv is None else require_rv
            if not given_rv and must_have_rv:
                raise ApiError(
                    422,
                    f'{rtype.kind}.{rtype.group} "{name}" is invalid: metadata.resourceVersion: '
                    "Invalid value: 0x0: must be specified for an update",
                )
            if subresource == "status":
                # Only the status stanza changes through /status.
                new = {**copy.deepcopy(old), "status": new.get("status")}
                if new["status"] is None:
                    new.pop("status")
                meta = new["metadata"]
            elif rtype.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            old_meta = old["metadata"]
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            meta["name"] = name
            if rtype.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
            semantics.validate_metadata(rtype, new)
            new = semantics.normalize(rtype, new, field_validation)
            meta = new["metadata"]
            meta["resourceVersion"] = old_meta["resourceVersion"]
            if new == old:
                return (
                    old  # A no-op write does not bump the resourceVersion (as on a real cluster).
                )
            if rtype.has_generation and _spec_of(new) != _spec_of(old):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
            if dry_run:
                return new
            if old_meta.get("deletionTimestamp") and not meta.get("finalizers"):
                if rtype.key in (NAMESPACES, CRDS):
                    self._commit(rtype, "MODIFIED", new)
                    return self._finish_if_empty(rtype, name) or new
                # Removing the last finalizer of a deleted object completes its deletion.
                return self._delete_now(rtype, new)
            self._commit(rtype, "MODIFIED", new)
            if rtype.key == CRDS:
                self._sync_crd_types(new)
            return new


def _spec_of(obj: JSON) -> JSON:
    """Everything that counts as the object's desired state (generation tracks it)."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
