"""The operator starts in the environment a kubelet gives the chart's pod.

Two things broke the first real pod: the Docker-link variables the kubelet injects for every
Service in the namespace (the chart's Service ``acm-sync-metrics`` defines
``ACM_SYNC_METRICS_PORT=tcp://10.96.0.114:8080``), and uid 65532 having no passwd entry (kopf
asked ``getpass.getuser()`` for its identity).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
from kubernetes import client

from acm_sync.controller.platform.flags import (
    ENV_NAMES,
    add_run_arguments,
    config_from_args,
    service_link_shadowable,
)
from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env

pytestmark = pytest.mark.integration

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
    env: dict[str, str] = {}
    for i, (name, ports) in enumerate(SERVICES.items()):
        env.update(service_link_variables(name, ports, f"10.96.0.{114 + i}"))
    return env


def test_no_setting_is_read_from_a_variable_a_service_can_define() -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, environ={})
    assert "ACM_SYNC_METRICS_BIND_ADDRESS" in ENV_NAMES
    assert not [n for n in ENV_NAMES if service_link_shadowable(n)]
    # The grammar recognises everything the kubelet defines...
    injected = kubelet_env()
    assert all(service_link_shadowable(v) for v in injected)
    # ...so none of it reaches a setting: the defaults stand.
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, environ=injected)
    config = config_from_args(parser.parse_args([]))
    assert (config.metrics_host, config.metrics_port) == ("0.0.0.0", 8080)
    assert config.clusterwide
    assert config.log_level == "INFO"


def test_a_bad_variable_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="acm-sync run")
    with pytest.raises(SystemExit) as exited:
        add_run_arguments(parser, environ={"ACM_SYNC_LEADER_ELECTION": "perhaps"})
    assert exited.value.code == 2
    assert "ACM_SYNC_LEADER_ELECTION: not a boolean: 'perhaps'" in capsys.readouterr().err
    parser = argparse.ArgumentParser(prog="acm-sync run")
    add_run_arguments(parser, environ={"ACM_SYNC_METRICS_BIND_ADDRESS": "tcp://10.0.0.1:80"})
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert "not an address: 'tcp://10.0.0.1:80'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "expected"),
    [(":8080", ("0.0.0.0", 8080)), ("127.0.0.1:9090", ("127.0.0.1", 9090)),
     ("[::1]:8443", ("::1", 8443)), ("0", ("0.0.0.0", 0))],
)  # fmt: skip
def test_metrics_bind_address_forms(value: str, expected: tuple[str, int]) -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, environ={"ACM_SYNC_METRICS_BIND_ADDRESS": value})
    config = config_from_args(parser.parse_args([]))
    assert (config.metrics_host, config.metrics_port) == expected


def test_starts_and_syncs_with_service_links_and_a_uid_without_passwd_entry(env: Env) -> None:
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to run as a uid without a passwd entry"
    uid = 65532
    passwd = Path("/etc/passwd").read_text().splitlines()
    assert not any(line.split(":")[2:3] == [str(uid)] for line in passwd), (
        "this test needs a uid with no passwd entry"
    )
    process = env.operator("--no-leader-election", name="pod-env", **kubelet_env())
    # As the container runtime starts it: no USER or LOGNAME, and a uid unknown to passwd (a
    # user namespace maps it onto ours, so the files stay readable).
    for variable in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        process.env.pop(variable, None)
    process.env["HOME"] = "/"
    process.args = [unshare, "--user", f"--map-user={uid}", f"--map-group={uid}", *process.args]
    process.start()
    try:
        c = env.cluster
        ns = c.namespace()
        secret = tls_secret("web", TestCA().issue("web.example.com"))
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
        c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
        c.wait_reason(ns, "web", "Synced")
        log = process.log_path.read_text()
        assert "getpwuid" not in log
        assert "Traceback" not in log
    finally:
        assert process.stop() == 0, process.log_tail()
