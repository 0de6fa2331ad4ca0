"""Which cluster and namespace a command talks to, the way kubectl chooses them.

``--kubeconfig``, else ``$KUBECONFIG`` or ``~/.kube/config``, else the in-cluster service
account; ``-n/--namespace``, else the namespace of the kubeconfig's context (``default`` when it
names none), else the pod's own namespace in a cluster.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from acm_sync.controller.platform.kubeapi import JsonObj, KubeApi, seg

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
EXIT_NOT_READY = 1
EXIT_ERROR = 2


class CommandError(Exception):
    """A problem to print as one line (no traceback) before exiting with ``EXIT_ERROR``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every cluster command shares."""
    parser.add_argument("name", metavar="NAME", help="the AcmCertificate's name")
    parser.add_argument("-n", "--namespace", help="default: the kubeconfig context's namespace")
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG, ~/.kube/config, in-cluster")
    parser.add_argument("--context", help="the kubeconfig context to use (default: current)")


@dataclass
class Connection:
    """The API client and the namespace the command works in."""

    api: KubeApi
    namespace: str

    def get_acmcert(self, name: str) -> JsonObj | None:
        """The AcmCertificate, or None."""
        return self.api.get_acmcert(self.namespace, name)

    def events(self, kind: str, name: str) -> list[JsonObj]:
        """Events about one object of this namespace, oldest first."""
        status, body = self.api.request(
            "GET",
            f"/api/v1/namespaces/{seg(self.namespace)}/events",
            query=[("fieldSelector", f"involvedObject.kind={kind},involvedObject.name={name}")],
        )
        if status != 200:
            raise CommandError(f"listing Events failed: HTTP {status}: {body.get('message', '')}")
        items = [e for e in body.get("items") or [] if isinstance(e, dict)]
        return sorted(items, key=event_time)

    def close(self) -> None:
        """Release the connection pool."""
        self.api.close()


def event_time(event: JsonObj) -> str:
    """When an Event last happened (RFC 3339 text sorts in time order)."""
    return str(event.get("lastTimestamp") or event.get("eventTime") or "")


def connect(args: argparse.Namespace) -> Connection:
    """Load the configuration the options, the environment or the pod point at."""
    configuration = k8s.Configuration()
    # One attempt: a cluster that does not answer is reported, not retried with warnings.
    configuration.retries = 0
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    default_file = Path("~/.kube/config").expanduser()
    try:
        if kubeconfig or default_file.exists():
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=args.kubeconfig,
                context=args.context,
                client_configuration=configuration,
            )
            namespace = args.namespace or _context_namespace(args.kubeconfig, args.context)
        else:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
            namespace = args.namespace or _pod_namespace()
    except (k8s_config.ConfigException, OSError, ValueError) as exc:
        raise CommandError(f"no usable Kubernetes configuration: {exc}") from None
    return Connection(KubeApi(configuration, pool_size=2), namespace)


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    contexts, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=kubeconfig
    )
    chosen = active
    if context:
        chosen = next((c for c in contexts or [] if c.get("name") == context), active)
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _pod_namespace() -> str:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"
