"""The resource types the emulator serves: a table of built-ins plus CRD-defined ones.

Every type is served by the same generic storage and handlers; a type is only data (group,
version, kind, plural, scope, short names, printer columns, schema). Semantics beyond that
(Secret ``stringData``, namespaces, CRDs becoming resources) live in ``semantics.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
Key = tuple[str, str]  # (group, plural): objects of all versions of a type share storage
NAMESPACES: Key = ("", "namespaces")
CRDS: Key = ("apiextensions.k8s.io", "customresourcedefinitions")

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Column:
    """A printer column: what `kubectl get` shows for a type."""

    name: str
    type: str = "string"
    json_path: str = ""
    description: str = ""
    priority: int = 0
    format: str = ""
    # Built-in types compute some cells in code (e.g. the number of keys in a Secret's data).
    compute: Callable[[JSON], Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the API and how it behaves generically."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    columns: tuple[Column, ...] = ()
    status_subresource: bool = False
    # Whether spec changes bump metadata.generation (types with a spec, and all custom resources).
    has_generation: bool = False
    # For custom resources: the openAPIV3Schema of this version (structural), or None.
    schema: Mapping[str, Any] | None = None
    custom: bool = False
    # Events are listed without a Name column (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE).
    name_column: bool = True

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lowercase kind, as discovery reports singular names."""
        return self.kind.lower()

    @property
    def key(self) -> Key:
        """Storage key: objects of one group and plural share storage across versions."""
        return (self.group, self.plural)


def _data_count(obj: JSON) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _crd_versions(obj: JSON) -> str:
    # kube-apiserver 1.33+: served versions, the storage one marked, comma-separated.
    versions = (obj.get("spec") or {}).get("versions") or []
    return ",".join(
        v["name"] + ("(storage)" if v.get("storage") else "") for v in versions if v.get("served")
    )


def _crd_established(obj: JSON) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _crd_short_names(obj: JSON) -> str:
    return ",".join(((obj.get("spec") or {}).get("names") or {}).get("shortNames") or [])


def _event_object(obj: JSON) -> str:
    ref = obj.get("involvedObject") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _last_seen(obj: JSON) -> Any:
    series = obj.get("series") or {}
    return (
        series.get("lastObservedTime")
        or obj.get("lastTimestamp")
        or obj.get("eventTime")
        or obj["metadata"].get("creationTimestamp")
    )


def _ingress_class(obj: JSON) -> str:
    return str((obj.get("spec") or {}).get("ingressClassName") or "<none>")


def _ingress_hosts(obj: JSON) -> str:
    # kube-apiserver's printers.go formatHosts: at most three, then "+ N more...".
    hosts = [r["host"] for r in (obj.get("spec") or {}).get("rules") or [] if r.get("host")]
    if not hosts:
        return "*"
    shown = ",".join(hosts[:3])
    return shown + (f" + {len(hosts) - 3} more..." if len(hosts) > 3 else "")


def _ingress_address(obj: JSON) -> str:
    entries = (((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    return ",".join(e.get("ip") or e.get("hostname") or "" for e in entries)


def _ingress_ports(obj: JSON) -> str:
    return "80, 443" if (obj.get("spec") or {}).get("tls") else "80"


_AGE = Column("Age", "date", ".metadata.creationTimestamp")


def _t(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    columns: tuple[Column, ...] = (),
    *,
    generation: bool = False,
    status: bool = False,
    verbs: tuple[str, ...] = ALL_VERBS,
    categories: tuple[str, ...] = (),
    age: bool = True,
    name_column: bool = True,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        verbs=verbs,
        columns=(*columns, _AGE) if age else columns,
        name_column=name_column,
        status_subresource=status,
        has_generation=generation,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        columns=(Column("Status", json_path=".status.phase"),),
        status=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _t(
        "",
        "v1",
        "Secret",
        "secrets",
        columns=(
            Column("Type", json_path=".type"),
            Column("Data", "integer", compute=_data_count),
        ),
    ),
    _t(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        short=("cm",),
        columns=(Column("Data", "integer", compute=_data_count),),
    ),
    _t(
        "",
        "v1",
        "Event",
        "events",
        short=("ev",),
        columns=(
            Column("Last Seen", "date", compute=_last_seen),
            Column("Type", json_path=".type"),
            Column("Reason", json_path=".reason"),
            Column("Object", compute=_event_object),
            Column("Message", json_path=".message"),
        ),
        age=False,
        name_column=False,
    ),
    _t(
        "",
        "v1",
        "Service",
        "services",
        short=("svc",),
        generation=False,
        status=True,
        categories=("all",),
    ),
    _t("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _t("", "v1", "Pod", "pods", short=("po",), status=True, categories=("all",)),
    _t("events.k8s.io", "v1", "Event", "events"),
    _t(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        columns=(Column("Holder", json_path=".spec.holderIdentity"),),
    ),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        # The columns of kube-apiserver's CRD table (checked against the real one by
        # tests/kube/test_kube_kubectl.py on the real backend).
        columns=(
            Column("Scope", json_path=".spec.scope", description="Cluster/Namespaced"),
            Column("Versions", compute=_crd_versions, description="Served versions"),
            Column("Created At", "string", ".metadata.creationTimestamp", format="date-time"),
            Column("Group", json_path=".spec.group", priority=1, description="API group"),
            Column("Kind", json_path=".spec.names.kind", priority=1),
            Column("ShortNames", compute=_crd_short_names, priority=1),
            Column("Established", "boolean", compute=_crd_established, priority=1),
        ),
        age=False,
        generation=True,
        status=True,
    ),
    _t(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        generation=True,
        status=True,
        categories=("all",),
    ),
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    # Wiring's consumers (an ALB Ingress's certificate-arn annotation).
    _t(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short=("ing",),
        # kube-apiserver's Ingress table (pkg/printers/internalversion/printers.go).
        columns=(
            Column("Class", compute=_ingress_class),
            Column("Hosts", compute=_ingress_hosts),
            Column("Address", compute=_ingress_address),
            Column("Ports", compute=_ingress_ports),
        ),
        generation=True,
        status=True,
    ),
    _t(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short=("netpol",),
        generation=True,
    ),
    _t(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        generation=True,
        status=True,
    ),
)


def preferred_groups(types: Mapping[tuple[str, str, str], ResourceType]) -> dict[str, list[str]]:
    """Map group -> its served versions, in first-seen order (the first one is preferred)."""
    groups: dict[str, list[str]] = {}
    for group, version, _plural in types:
        versions = groups.setdefault(group, [])
        if version not in versions:
            versions.append(version)
    return groups
