"""What the chart checks assert about installed objects: Pod Security `restricted`, read-only
Secrets, and minimal monitoring.coreos.com CRDs for the ServiceMonitor and PrometheusRule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "*"})
SECRET_READ_VERBS = frozenset({"get", "list", "watch"})
# The volume types the `restricted` Pod Security Standard allows.
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def restricted_violations(pod_spec: Mapping[str, Any]) -> list[str]:
    """Every way ``pod_spec`` breaks the `restricted` Pod Security Standard, plus a writable
    root filesystem (which the chart promises too). Empty when it complies."""
    problems: list[str] = []
    pod_sc = pod_spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            problems.append(f"pod sets {flag}")
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} is {sorted(kinds)}")
    containers = [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]
    if not containers:
        problems.append("pod has no containers")
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as UID 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp!r}")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{name}: hostPort {port['hostPort']}")
    return problems


def secret_write_grants(roles: Iterable[Mapping[str, Any]]) -> list[str]:
    """Rules in ``roles`` that let their subject do anything to Secrets beyond get/list/watch
    (wildcard groups, resources or verbs count)."""
    grants = []
    for role in roles:
        for rule in role.get("rules") or []:
            groups = rule.get("apiGroups") or []
            resources = rule.get("resources") or []
            if not ({"", "*"} & set(groups) and {"secrets", "*"} & set(resources)):
                continue
            extra = set(rule.get("verbs") or []) - SECRET_READ_VERBS
            if extra:
                grants.append(f"{role['kind']} {role['metadata']['name']}: {sorted(extra)}")
    return grants


def wildcard_rules(roles: Iterable[Mapping[str, Any]]) -> list[str]:
    """Rules granting ``*`` on anything: least privilege means none."""
    return [
        f"{role['kind']} {role['metadata']['name']}: {rule}"
        for role in roles
        for rule in role.get("rules") or []
        if any("*" in rule.get(field, []) for field in ("apiGroups", "resources", "verbs"))
    ]


# Just enough of prometheus-operator's CRD schemas to catch a malformed ServiceMonitor or
# PrometheusRule: the fields the chart sets, with their types.
_SERVICE_MONITOR_SPEC = {
    "type": "object",
    "required": ["selector", "endpoints"],
    "properties": {
        "selector": {
            "type": "object",
            "properties": {
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
            },
        },
        "namespaceSelector": {
            "type": "object",
            "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}},
        },
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "port": {"type": "string"},
                    "path": {"type": "string"},
                    "interval": {"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h))+)$"},
                    "scrapeTimeout": {"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h))+)$"},
                },
            },
        },
    },
}
_PROMETHEUS_RULE_SPEC = {
    "type": "object",
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["expr"],
                            "properties": {
                                "alert": {"type": "string"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": {"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h))+)$"},
                                "labels": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "annotations": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
MONITORING_SPEC_SCHEMAS = {
    "ServiceMonitor": _SERVICE_MONITOR_SPEC,
    "PrometheusRule": _PROMETHEUS_RULE_SPEC,
}


def monitoring_crd(kind: str, plural: str) -> dict[str, Any]:
    """A minimal monitoring.coreos.com/v1 CRD for ``kind``, with the spec schema above."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": MONITORING_SPEC_SCHEMAS[kind]},
                        }
                    },
                }
            ],
        },
    }
