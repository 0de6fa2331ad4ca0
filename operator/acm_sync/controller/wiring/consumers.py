"""The places an ARN is published: one adapter per kind of consumer.

A consumer is a Kubernetes object whose annotation a load balancer controller reads. Adding a
third place is one adapter here, listed in :data:`CONSUMERS` (and its RBAC in the chart): the
view, the decision (core/wiring.py) and the writer take any :class:`Consumer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# A consumer opts in with either: AcmCertificates by name, or (Ingress) its TLS Secrets.
CERTIFICATES_ANNOTATION = "acmsync.io/certificates"
IMPORT_ANNOTATION = "acmsync.io/import"
# What acm-sync wrote (core/wiring.Wired as JSON): never overwrite anything else.
WIRED_ANNOTATION = "acmsync.io/wired"


class Consumer(Protocol):
    """One kind of object that takes ARNs in an annotation."""

    @property
    def kind(self) -> str:
        """The object's kind (``Ingress``), as Events and status.consumers[] name it."""
        ...

    @property
    def api(self) -> str:
        """Its apiVersion (``networking.k8s.io/v1``, ``v1``)."""
        ...

    @property
    def plural(self) -> str:
        """Its resource name (``ingresses``)."""
        ...

    @property
    def annotation(self) -> str:
        """The annotation the ARNs are written to, comma-separated in the order named."""
        ...

    def eligible(self, body: Mapping[str, Any]) -> bool:
        """Whether this object can use the annotation at all (a Service of type
        LoadBalancer); an ineligible one is treated as not opted in."""
        ...

    def tls_secrets(self, body: Mapping[str, Any]) -> tuple[str, ...]:
        """The TLS Secrets ``acmsync.io/import: "true"`` generates AcmCertificates for."""
        ...


@dataclass(frozen=True, slots=True)
class IngressConsumer:
    """An ALB Ingress (AWS Load Balancer Controller): HTTPS listener certificates."""

    kind: str = "Ingress"
    api: str = "networking.k8s.io/v1"
    plural: str = "ingresses"
    annotation: str = "alb.ingress.kubernetes.io/certificate-arn"

    def eligible(self, body: Mapping[str, Any]) -> bool:
        """Every Ingress: the controller that serves it decides what it reads."""
        return True

    def tls_secrets(self, body: Mapping[str, Any]) -> tuple[str, ...]:
        """``spec.tls[].secretName``, unique, in order."""
        tls = (body.get("spec") or {}).get("tls") or []
        names = (t.get("secretName") for t in tls if isinstance(t, dict))
        return tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n))


@dataclass(frozen=True, slots=True)
class ServiceConsumer:
    """A Network Load Balancer Service: its TLS listener certificate."""

    kind: str = "Service"
    api: str = "v1"
    plural: str = "services"
    annotation: str = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"

    def eligible(self, body: Mapping[str, Any]) -> bool:
        """Only a Service of type LoadBalancer has a load balancer to give a certificate."""
        return (body.get("spec") or {}).get("type") == "LoadBalancer"

    def tls_secrets(self, body: Mapping[str, Any]) -> tuple[str, ...]:
        """A Service names no Secret: only acmsync.io/certificates applies."""
        return ()


CONSUMERS: tuple[Consumer, ...] = (IngressConsumer(), ServiceConsumer())
