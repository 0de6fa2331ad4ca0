"""Deletion as the API server does it: finalizers, terminating namespaces and CRDs, GC.

``Store`` inherits these rules; they need only the store's tables and its ``_commit``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from typing import Any

from acm_sync_testbed.emulators.kube.errors import ApiError, conflict
from acm_sync_testbed.emulators.kube.resources import CRDS, NAMESPACES, Key, ResourceType
from acm_sync_testbed.emulators.kube.semantics import now_rfc3339

JSON = dict[str, Any]
Loc = tuple[Key, str, str]  # (key, namespace, name)
Contents = list[tuple[ResourceType, str, str]]  # what a namespace or CRD holds


class Deletions:
    """The delete verb and everything that follows from it."""

    lock: threading.RLock
    objects: dict[Key, dict[tuple[str, str], JSON]]
    types: dict[tuple[str, str, str], ResourceType]
    _dependents: dict[str, set[Loc]]
    _uids: dict[str, Loc]
    schedule: Callable[[Callable[[], None]], None]

    def get(self, rtype: ResourceType, namespace: str, name: str) -> JSON:
        """The stored object, or 404 (provided by ``Store``)."""
        raise NotImplementedError

    def _commit(self, rtype: ResourceType, event_type: str, obj: JSON) -> None:
        raise NotImplementedError

    def _sync_crd_types(self, crd: JSON, *, removed: bool = False) -> None:
        raise NotImplementedError

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        preconditions: JSON | None = None,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> JSON:
        """DELETE: finalizers keep the object (with deletionTimestamp) until they are all gone."""
        namespace = namespace if rtype.namespaced else ""
        with self.lock:
            old = self.get(rtype, namespace, name)
            meta = old["metadata"]
            pre = preconditions or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise conflict(rtype.plural, name, rtype.group)
            if pre.get("uid") and pre["uid"] != meta["uid"]:
                raise conflict(rtype.plural, name, rtype.group)
            if dry_run:
                return old
            if propagation == "Orphan":
                self._orphan(meta["uid"])
            container = rtype.key in (NAMESPACES, CRDS)
            if meta.get("finalizers") or container:
                if meta.get("deletionTimestamp"):
                    return old
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if rtype.key == NAMESPACES:
                    new["status"] = {"phase": "Terminating"}
                self._commit(rtype, "MODIFIED", new)
                if not container:
                    return new
                # A namespace or CRD goes once its contents are gone; contents with
                # finalizers keep it Terminating until their finalizers are removed.
                for child_type, child_ns, child_name in self._contents(rtype, new):
                    if (child_ns, child_name) in self.objects[child_type.key]:
                        self.delete(child_type, child_ns, child_name)
                current = self._finish_if_empty(rtype, name) or self.objects[rtype.key].get(
                    ("", name)
                )
                return current or new
            return self._delete_now(rtype, old)

    def _contents(self, rtype: ResourceType, container: JSON) -> Contents:
        if rtype.key == NAMESPACES:
            namespace = container["metadata"]["name"]
            return [
                (child, ns, name)
                for child in self._storage_types()
                if child.namespaced
                for ns, name in list(self.objects[child.key])
                if ns == namespace
            ]
        spec = container["spec"]
        key = (spec["group"], spec["names"]["plural"])
        served = [t for t in self.types.values() if t.custom and t.key == key]
        if not served:
            return []
        return [(served[0], ns, name) for ns, name in list(self.objects.get(key, {}))]

    def _finish_if_empty(self, rtype: ResourceType, name: str) -> JSON | None:
        container = self.objects[rtype.key].get(("", name))
        if container is None or not container["metadata"].get("deletionTimestamp"):
            return None
        if container["metadata"].get("finalizers") or self._contents(rtype, container):
            return None
        return self._delete_now(rtype, container)

    def _delete_now(self, rtype: ResourceType, obj: JSON) -> JSON:
        gone_obj = copy.deepcopy(obj)
        self._commit(rtype, "DELETED", gone_obj)
        if rtype.key == CRDS:
            self._sync_crd_types(obj, removed=True)
        uid = obj["metadata"]["uid"]
        if self._dependents.get(uid):
            self.schedule(lambda: self.collect_garbage(uid))
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._finish_if_empty(self.types[("", "v1", "namespaces")], namespace)
        if rtype.custom:
            crd_type = self.types[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]
            self._finish_if_empty(crd_type, f"{rtype.plural}.{rtype.group}")
        return gone_obj

    def _storage_types(self) -> Iterable[ResourceType]:
        seen: dict[Key, ResourceType] = {}
        for rtype in self.types.values():
            seen.setdefault(rtype.key, rtype)
        return list(seen.values())

    def _orphan(self, owner_uid: str) -> None:
        for key, ns, name in list(self._dependents.get(owner_uid, ())):
            obj = self.objects[key].get((ns, name))
            if obj is None:
                continue
            new = copy.deepcopy(obj)
            refs = [
                r for r in new["metadata"].get("ownerReferences", []) if r.get("uid") != owner_uid
            ]
            new["metadata"]["ownerReferences"] = refs
            if not refs:
                del new["metadata"]["ownerReferences"]
            self._commit(self._type_for_key(key), "MODIFIED", new)

    def _type_for_key(self, key: Key) -> ResourceType:
        return next(t for t in self.types.values() if t.key == key)

    def collect_garbage(self, owner_uid: str) -> None:
        """Delete the dependents of a deleted owner whose owners are now all gone."""
        with self.lock:
            for key, ns, name in list(self._dependents.pop(owner_uid, ())):
                obj = self.objects.get(key, {}).get((ns, name))
                if obj is None:
                    continue
                owners = [str(r.get("uid")) for r in obj["metadata"].get("ownerReferences") or ()]
                if not any(uid in self._uids for uid in owners):
                    try:
                        self.delete(self._type_for_key(key), ns, name)
                    except ApiError:
                        continue
                else:
                    # As kube-controller-manager's collector does: a dependent with owners
                    # left loses only its references to the owners that are gone.
                    new = copy.deepcopy(obj)
                    new["metadata"]["ownerReferences"] = [
                        r for r in obj["metadata"]["ownerReferences"] if r.get("uid") in self._uids
                    ]
                    self._commit(self._type_for_key(key), "MODIFIED", new)
