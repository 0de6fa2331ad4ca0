"""The environment a kubelet gives a pod: the Docker-link variables of every Service in its
namespace (pkg/kubelet/envvars/envvars.go), for the tests of the operator's settings."""

from __future__ import annotations

# The Services a release named acm-sync creates, and some a user may well add beside it.
SERVICES = {
    "acm-sync-metrics": {"metrics": 8080},
    "acm-sync": {"http": 8080},
    "acm-sync-webhook": {"https": 443},
    "acm-sync-namespace": {"": 53},
    "acm-sync-log-level": {"": 80},
}


def service_link_variables(name: str, ports: dict[str, int], ip: str) -> dict[str, str]:
    """The variables the kubelet defines for one Service (pkg/kubelet/envvars/envvars.go)."""
    prefix = name.upper().replace("-", "_")
    first = next(iter(ports.values()))
    env = {
        f"{prefix}_SERVICE_HOST": ip,
        f"{prefix}_SERVICE_PORT": str(first),
        f"{prefix}_PORT": f"tcp://{ip}:{first}",
    }
    for port_name, port in ports.items():
        if port_name:
            env[f"{prefix}_SERVICE_PORT_{port_name.upper().replace('-', '_')}"] = str(port)
        base = f"{prefix}_PORT_{port}_TCP"
        env[base] = f"tcp://{ip}:{port}"
        env[f"{base}_PROTO"] = "tcp"
        env[f"{base}_PORT"] = str(port)
        env[f"{base}_ADDR"] = ip
    return env


def kubelet_env() -> dict[str, str]:
    """Every variable the kubelet defines for :data:`SERVICES`, each at an address of its own."""
    env: dict[str, str] = {}
    for i, (name, ports) in enumerate(SERVICES.items()):
        env.update(service_link_variables(name, ports, f"10.96.0.{114 + i}"))
    return env
