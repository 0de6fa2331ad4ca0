"""The few Kubernetes API calls the operator makes itself, over the official client.

kopf watches (and feeds the view); this module reads a Secret when a reconcile needs its
material (and an object the watch has not shown), writes AcmCertificate status, manages
generated AcmCertificates and posts Events. Requests go through
the official client's connection pool as raw JSON: no model classes, whose conversion of a
Secret would cost more than the request. It never writes to a Secret.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from kubernetes import client as k8s

from acm_sync.controller.platform.kubeerrors import Conflict, KubeError, NotLeader

GROUP = "acmsync.io"
VERSION = "v1alpha1"
PLURAL = "acmcertificates"
TARGET_PLURAL = "acmtargets"
KIND = "AcmCertificate"
API_VERSION = f"{GROUP}/{VERSION}"
REPORTING_COMPONENT = "acm-sync"
# Asks the operator to read every pair of an AcmCertificate from ACM again (acm-sync resync);
# status.lastResync holds the last value answered (controller/resync.py).
RESYNC_ANNOTATION = "acmsync.io/resync-requested-at"
# An object's metadata alone (the API server's PartialObjectMetadata), JSON if it cannot.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
LAST_RESYNC = "lastResync"

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Enough of an object to address an Event to it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str | None = None

    @classmethod
    def of(cls, body: JsonObj) -> ObjectRef:
        """The reference to a Kubernetes object given as a dict."""
        meta = body.get("metadata", {})
        return cls(
            api_version=str(body.get("apiVersion", "v1")),
            kind=str(body.get("kind", "")),
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=meta.get("uid"),
        )


# Event names are DNS subdomains of at most 253 characters, like the object's own name; the
# random suffix (17 characters) must not push a long object name over that limit.
MAX_NAME_LENGTH = 253
_EVENT_SUFFIX_LENGTH = 16


def seg(value: str) -> str:
    """One path segment, percent-encoded: a name can never add a segment or climb out of one.

    Names are validated before they get here (spec.py); this is the second wall, so that a name
    such as ``../../team-b/secrets/x`` cannot address another namespace's object whatever
    checks come before.
    """
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} is not an object name")
    return quote(value, safe="")


def event_name(object_name: str) -> str:
    """A unique Event name for an object, always a valid name of at most 253 characters.

    The object's name is cut to leave room for the suffix; a cut that ends on ``-`` or ``.``
    is trimmed further, since a DNS subdomain's labels must end with a letter or digit.
    """
    room = MAX_NAME_LENGTH - _EVENT_SUFFIX_LENGTH - 1
    prefix = object_name[:room].rstrip("-.")
    suffix = uuid.uuid4().hex[:_EVENT_SUFFIX_LENGTH]
    return f"{prefix}.{suffix}" if prefix else suffix


class KubeApi:
    """Blocking JSON calls (``kubeport.KubeLike``); run in the Kubernetes pool of ``Ports``."""

    def __init__(self, configuration: k8s.Configuration, pool_size: int = 32) -> None:
        configuration.connection_pool_maxsize = pool_size
        self.configuration = configuration
        self._client = k8s.ApiClient(configuration)
        self._host = socket.gethostname()
        # Fencing, like the ACM engine's: with leader election, the Lease-derived deadline.
        # Every write to AcmCertificates and every Event checks it just before it is sent, so
        # a leader paused past its Lease writes nothing when it resumes.
        self.write_guard: Callable[[], bool] | None = None

    def _fence(self, what: str) -> None:
        if self.write_guard is not None and not self.write_guard():
            raise NotLeader(f"{what}: not sent, this replica may no longer write")

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()  # type: ignore[no-untyped-call]

    # -- plumbing ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
        timeout: float = 30.0,
        accept: str = "application/json",
    ) -> tuple[int, JsonObj]:
        """One API call; returns the status code and the decoded JSON body (empty if none)."""
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        serialized = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        method_, url, headers_, body_, _post = serialized
        response = self._client.call_api(
            method_, url, header_params=headers_, body=body_, _request_timeout=timeout
        )
        raw = response.read()  # type: ignore[no-untyped-call]
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw[:200].decode("utf-8", "replace")}
        return int(response.status), decoded if isinstance(decoded, dict) else {}

    def _expect(self, status: int, body: JsonObj, *ok: int) -> JsonObj:
        if status not in ok:
            raise KubeError(status, str(body.get("message", body.get("reason", ""))))
        return body

    @staticmethod
    def _cr_path(namespace: str, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{seg(namespace)}/{PLURAL}"
        return f"{base}/{seg(name)}" if name else base

    # -- AcmCertificates --------------------------------------------------------------------

    def get_acmcert(self, namespace: str, name: str) -> JsonObj | None:
        """The AcmCertificate, or None when it does not exist."""
        status, body = self.request("GET", self._cr_path(namespace, name))
        return None if status == 404 else self._expect(status, body, 200)

    def acmcert_pages(self, namespaces: tuple[str, ...]) -> Iterator[list[JsonObj]]:
        """The AcmCertificates of ``namespaces`` (all when empty), one LIST page (500) at a time.

        Each page is fetched when the previous one has been consumed, so that a caller that
        keeps only what it needs of each object never holds every object at once.
        """
        paths = (
            [self._cr_path(ns) for ns in namespaces]
            if namespaces
            else [f"/apis/{GROUP}/{VERSION}/{PLURAL}"]
        )
        for path in paths:
            token = ""
            while True:
                query = [("limit", "500")] + ([("continue", token)] if token else [])
                status, body = self.request("GET", path, query=query)
                self._expect(status, body, 200)
                yield body.get("items", [])
                token = str(body.get("metadata", {}).get("continue") or "")
                if not token:
                    break

    def patch_acmcert_status(
        self,
        namespace: str,
        name: str,
        status_patch: JsonObj,
        resource_version: str | None = None,
    ) -> JsonObj:
        """Merge-patch ``.status`` through the status subresource.

        With ``resource_version`` the patch is conditional: the API server applies it only if
        the object is still at that version, else raises :class:`Conflict`.
        """
        self._fence(f"status of {namespace}/{name}")
        patch: JsonObj = {"status": status_patch}
        if resource_version:
            patch["metadata"] = {"resourceVersion": resource_version}
        status, body = self.request(
            "PATCH",
            self._cr_path(namespace, name) + "/status",
            patch,
            content_type="application/merge-patch+json",
        )
        if status == 409:
            raise Conflict(status, str(body.get("message", "conflict")))
        return self._expect(status, body, 200)

    def patch_status_over(self, read: JsonObj, patch: JsonObj) -> JsonObj | None:
        """Apply a status ``patch`` computed from the object ``read``, only over its status.

        The patch carries ``read``'s resourceVersion. A conflict caused by metadata alone
        (kopf's annotations, a label) is retried on the fresh version; one caused by another
        status means another writer (a new leader) got there first: None, nothing written.
        Returns the object as written (the watch-fed view takes it before the watch does).
        """
        meta = read.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        version = str(meta.get("resourceVersion") or "") or None
        read_status = read.get("status") or {}
        for _attempt in range(3):
            try:
                return self.patch_acmcert_status(namespace, name, patch, version)
            except Conflict:
                fresh = self.get_acmcert(namespace, name)
                if fresh is None or (fresh.get("status") or {}) != read_status:
                    log.info("%s/%s: status changed since it was read; kept", namespace, name)
                    return None
                version = str(fresh.get("metadata", {}).get("resourceVersion") or "") or None
        return None

    def create_acmcert(self, namespace: str, manifest: JsonObj) -> JsonObj | None:
        """Create; None when one of that name already exists."""
        self._fence(f"create {namespace}/{manifest.get('metadata', {}).get('name')}")
        status, body = self.request("POST", self._cr_path(namespace), manifest)
        return None if status == 409 else self._expect(status, body, 200, 201)

    def patch_acmcert(self, namespace: str, name: str, patch: JsonObj) -> JsonObj:
        """Merge-patch an AcmCertificate (spec, labels, ownerReferences)."""
        self._fence(f"patch {namespace}/{name}")
        status, body = self.request(
            "PATCH",
            self._cr_path(namespace, name),
            patch,
            content_type="application/merge-patch+json",
        )
        return self._expect(status, body, 200)

    def delete_acmcert(self, namespace: str, name: str, uid: str | None = None) -> bool:
        """Delete (guarded by uid when given); False when it was already gone."""
        self._fence(f"delete {namespace}/{name}")
        options: JsonObj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if uid:
            options["preconditions"] = {"uid": uid}
        status, body = self.request("DELETE", self._cr_path(namespace, name), options)
        if status in (404, 409):
            return False
        self._expect(status, body, 200, 202)
        return True

    # -- AcmTargets (cluster-scoped; read, and their status written) ------------------------

    def get_acmtarget(self, name: str) -> JsonObj | None:
        """The AcmTarget, or None when it does not exist."""
        status, body = self.request("GET", f"/apis/{GROUP}/{VERSION}/{TARGET_PLURAL}/{seg(name)}")
        return None if status == 404 else self._expect(status, body, 200)

    def list_acmtargets(self) -> list[JsonObj]:
        """Every AcmTarget (there are few: one per account); none when its CRD is not installed
        (an upgrade that has not applied it yet: AcmCertificates without targets work on)."""
        status, body = self.request("GET", f"/apis/{GROUP}/{VERSION}/{TARGET_PLURAL}")
        if status == 404:
            return []
        return list(self._expect(status, body, 200).get("items", []))

    def patch_acmtarget_status(self, name: str, status_patch: JsonObj) -> JsonObj:
        """Merge-patch an AcmTarget's ``.status``."""
        status, body = self.request(
            "PATCH",
            f"/apis/{GROUP}/{VERSION}/{TARGET_PLURAL}/{seg(name)}/status",
            {"status": status_patch},
            content_type="application/merge-patch+json",
        )
        return self._expect(status, body, 200)

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        """A namespace's labels (for AcmTargets' namespaceSelector); None if it is gone."""
        status, body = self.request("GET", f"/api/v1/namespaces/{seg(name)}")
        if status == 404:
            return None
        labels = self._expect(status, body, 200).get("metadata", {}).get("labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def patch_object(
        self, api: str, plural: str, namespace: str, name: str, patch: JsonObj
    ) -> JsonObj:
        """Merge-patch a namespaced object of ``api`` (``v1``, ``group/version``): wiring's
        annotations on an Ingress or a Service. A resourceVersion in the patch makes it
        conditional (:class:`Conflict`)."""
        self._fence(f"patch {plural} {namespace}/{name}")
        prefix = "/api/v1" if api == "v1" else f"/apis/{api}"
        path = f"{prefix}/namespaces/{seg(namespace)}/{seg(plural)}/{seg(name)}"
        status, body = self.request(
            "PATCH", path, patch, content_type="application/merge-patch+json"
        )
        if status == 409:
            raise Conflict(status, str(body.get("message", "conflict")))
        return self._expect(status, body, 200)

    # -- Secrets (read only) ----------------------------------------------------------------

    def get_secret(self, namespace: str, name: str) -> JsonObj | None:
        """The Secret, or None when it does not exist. Never logged."""
        status, body = self.request(
            "GET", f"/api/v1/namespaces/{seg(namespace)}/secrets/{seg(name)}"
        )
        return None if status == 404 else self._expect(status, body, 200)

    def get_secret_metadata(self, namespace: str, name: str) -> JsonObj | None:
        """A Secret's metadata only, or None when it does not exist.

        Asked for as PartialObjectMetadata, so the data (the private key) never leaves the API
        server; should a server answer with the whole object anyway, only the metadata is kept.
        """
        status, body = self.request(
            "GET",
            f"/api/v1/namespaces/{seg(namespace)}/secrets/{seg(name)}",
            accept=METADATA_ONLY,
        )
        if status == 404:
            return None
        return {"metadata": self._expect(status, body, 200).get("metadata") or {}}

    # -- misc -------------------------------------------------------------------------------

    def namespace_uid(self, name: str) -> str:
        """The uid of a namespace (the default cluster id is kube-system's)."""
        status, body = self.request("GET", f"/api/v1/namespaces/{seg(name)}")
        return str(self._expect(status, body, 200)["metadata"]["uid"])

    def post_event(
        self, ref: ObjectRef, event_type: str, reason: str, message: str, action: str = "Reconcile"
    ) -> None:
        """Post a core/v1 Event about ``ref``; failures are logged, never raised."""
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        event: JsonObj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": event_name(ref.name),
                "namespace": ref.namespace,
            },
            "involvedObject": {
                "apiVersion": ref.api_version,
                "kind": ref.kind,
                "namespace": ref.namespace,
                "name": ref.name,
                **({"uid": ref.uid} if ref.uid else {}),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "action": action,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingComponent": REPORTING_COMPONENT,
            "reportingInstance": self._host,
            "source": {"component": REPORTING_COMPONENT, "host": self._host},
        }
        try:
            self._fence(f"Event {reason} for {ref.namespace}/{ref.name}")
            status, _body = self.request(
                "POST", f"/api/v1/namespaces/{seg(ref.namespace)}/events", event, timeout=10.0
            )
            if status not in (200, 201):
                log.warning(
                    "Event %s for %s/%s refused: HTTP %s", reason, ref.namespace, ref.name, status
                )
        except NotLeader:
            log.debug("Event %s for %s/%s not posted: not leading", reason, ref.namespace, ref.name)
        except Exception as exc:  # Events are best effort: never fail a reconcile over one.
            log.warning("Event %s for %s/%s not posted: %s", reason, ref.namespace, ref.name, exc)
