"""The operator's settings in the environment a kubelet gives the chart's pod.

The kubelet injects Docker-link variables for every Service in the namespace (the chart's Service
``acm-sync-metrics`` defines ``ACM_SYNC_METRICS_PORT=tcp://10.96.0.114:8080``): none of them may
reach a setting. tests/operator/test_operator_pod_env.py starts the operator in that environment.
"""

from __future__ import annotations

import argparse

import pytest

from acm_sync.controller.platform.flags import (
    ENV_NAMES,
    add_run_arguments,
    config_from_args,
    service_link_shadowable,
)
from tests.kubeletkit import kubelet_env


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
