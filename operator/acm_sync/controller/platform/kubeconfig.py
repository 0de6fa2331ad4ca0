"""Where the operator's Kubernetes credentials come from, for the official client and kopf."""

from __future__ import annotations

import os

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config


def load_configuration(kubeconfig: str | None) -> k8s.Configuration:
    """Credentials: the given kubeconfig, else in-cluster, else ``$KUBECONFIG``/~/.kube/config."""
    configuration = k8s.Configuration()
    if kubeconfig:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
        return configuration
    try:
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    except k8s_config.ConfigException:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    return configuration


def connection_info(configuration: k8s.Configuration) -> kopf.ConnectionInfo:
    """kopf's credentials, taken from the same configuration the official client uses."""
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    parts = header.split(" ", 1) if header else []
    scheme, token = (
        (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    )
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def pod_namespace() -> str | None:
    """The namespace the pod runs in, when in a cluster."""
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    env = os.environ.get("POD_NAMESPACE")
    if env:
        return env
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None
