"""Redacted logging, the per-object work queue, and the run flags."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import logging

import pytest

from acm_sync.controller.handlers import install_log_filters
from acm_sync.controller.platform.flags import add_run_arguments, config_from_args
from acm_sync.controller.platform.redaction import RedactingFilter, configure_logging, redact
from acm_sync.controller.watch.workqueue import DONE, Key, Next, WorkQueue
from tests.certkit import IssuedPem, TestCA


@pytest.fixture(scope="module")
def issued() -> IssuedPem:
    return TestCA().issue("leak.example.com")


def test_pem_blocks_and_base64_never_reach_a_log_line(issued: IssuedPem) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("acm_sync.test.leak")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("body %s", {"data": {"tls.key": issued.key_pem.decode()}})
        logger.debug("raw %r", issued.key_pem)
        logger.info("b64 %s", base64.b64encode(issued.key_pem).decode())
        fingerprint = "0f" * 32
        logger.info("fingerprint %s", fingerprint)
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert issued.key_body[:40] not in out
    assert "PRIVATE KEY" not in out
    assert "[REDACTED]" in out
    assert fingerprint in out  # hex fingerprints are useful and safe: kept


def test_debug_logging_silences_botocore_bodies() -> None:
    configure_logging("DEBUG", "json")
    try:
        assert logging.getLogger("botocore").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("kopf").getEffectiveLevel() == logging.DEBUG
        root_filters = [f for h in logging.getLogger().handlers for f in h.filters]
        assert any(isinstance(f, RedactingFilter) for f in root_filters)
    finally:
        configure_logging("WARNING")


def test_redact_keeps_long_object_names_but_not_base64(issued: IssuedPem) -> None:
    # Names of up to 253 characters, one run of letters and digits when a label is 63 long.
    name = "a1" * 31 + "b"
    line = f"reconciling ns/{name} (Secret ns/{name}); path /namespaces/{'x' * 70}/secrets"
    assert redact(line) == line
    blob = base64.b64encode(issued.key_pem).decode()
    out = redact(f"data {blob} for {name}")
    assert blob[:60] not in out
    assert name in out
    # Base64 split into lines (as inside a JSON or repr string) is caught line by line.
    escaped = json.dumps(issued.key_pem.decode().split("-----")[2])
    assert issued.key_body[:40] not in redact(escaped)


@pytest.mark.parametrize(
    ("message", "level"),
    [
        (
            "Request attempt #1/9 failed; will retry: GET /apis -> APITooManyRequestsError(429)",
            "WARNING",
        ),
        ("Request attempt #2/9 failed; TCP closed; will re-authenticate: GET /api", "WARNING"),
        ("Request attempt #9/9 failed; escalating: GET /apis -> APIServerError(500)", "ERROR"),
    ],
)
def test_kopf_retries_of_transient_api_errors_are_warnings(message: str, level: str) -> None:
    # e.g. 429 "storage is (re)initializing" from a real API server right after a CRD is
    # established: kopf retries it, and only the final escalation is an error.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    install_log_filters()
    logger = logging.getLogger("kopf._cogs.clients.watching")
    logger.addHandler(handler)
    try:
        logger.error(message)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().split()[0] == level


def test_redact_keeps_ordinary_text() -> None:
    text = "imported arn:aws:acm:us-east-1:123456789012:certificate/abc into us-east-1"
    assert redact(text) == text


def test_work_queue_serialises_and_coalesces() -> None:
    runs: list[Key] = []
    overlap: list[bool] = []
    running: set[Key] = set()

    async def scenario() -> None:
        gate = asyncio.Event()

        async def runner(key: Key) -> Next:
            overlap.append(key in running)
            running.add(key)
            runs.append(key)
            await gate.wait()
            running.discard(key)
            return DONE

        queue = WorkQueue(runner, concurrency=4)
        key = ("ns", "a")
        queue.trigger(key)
        await asyncio.sleep(0)
        for _ in range(10):  # ten triggers during one run...
            queue.trigger(key)
        gate.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not queue.busy:
                break
        await queue.close()

    asyncio.run(scenario())
    assert runs == [("ns", "a"), ("ns", "a")]  # ...collapse into exactly one more run
    assert not any(overlap)


def test_every_flag_reads_its_environment_variable() -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(
        parser,
        environ={
            "ACM_SYNC_NAMESPACE": "a,b",
            "ACM_SYNC_METRICS_BIND_ADDRESS": "127.0.0.1:9090",
            "ACM_SYNC_LEADER_ELECTION": "false",
            "ACM_SYNC_ALLOWED_REGIONS": "us-east-1,eu-west-1",
            "ACM_SYNC_DISABLE_ADOPTION": "true",
            "ACM_SYNC_SWEEP_INTERVAL": "60",
            "ACM_SYNC_LEASE_DURATION": "5",
            "ACM_SYNC_EXPIRY_WARNING_DAYS": "14",
            "ACM_SYNC_LOG_FORMAT": "json",
            "ACM_SYNC_CLUSTER_ID": "prod",
        },
    )
    config = config_from_args(parser.parse_args([]))
    assert config.namespaces == ("a", "b")
    assert (config.metrics_host, config.metrics_port) == ("127.0.0.1", 9090)
    assert not config.leader_election
    assert config.allowed_regions == {"us-east-1", "eu-west-1"}
    assert not config.adoption_enabled
    assert (config.sweep_interval, config.lease_duration) == (60, 5)
    assert (config.expiry_warning_days, config.log_format, config.cluster_id) == (
        14,
        "json",
        "prod",
    )
    # A flag beats its environment variable.
    flagged = config_from_args(parser.parse_args(["--namespace", "c", "--leader-election"]))
    assert flagged.namespaces == ("c",)
    assert flagged.leader_election


def test_defaults_match_the_documented_table() -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, environ={})
    config = config_from_args(parser.parse_args([]))
    assert config.clusterwide
    assert config.metrics_port == 8080
    assert config.sweep_interval == 600
    assert config.lease_duration == 15
    assert config.expiry_warning_days == 30
    assert config.leader_election
    assert config.adoption_enabled
    with pytest.raises(ValueError, match="mutually exclusive"):
        config_from_args(parser.parse_args(["--all-namespaces", "--namespace", "x"]))


def test_json_logs_are_one_object_per_line_and_redacted(
    capsys: pytest.CaptureFixture[str], issued: IssuedPem
) -> None:
    configure_logging("INFO", "json")
    try:
        logging.getLogger("acm_sync.test.json").info("synced %s", issued.key_pem.decode())
    finally:
        configure_logging("WARNING")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["level"] == "INFO"
    assert record["logger"] == "acm_sync.test.json"
    assert record["message"].strip() == "synced [REDACTED]"


def test_wiring_is_off_by_default_and_its_region_defaults_to_the_aws_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, environ={})
    assert not config_from_args(parser.parse_args([])).wiring_enabled
    config = config_from_args(parser.parse_args(["--wiring"]))
    assert (config.wiring_enabled, config.wiring_region) == (True, "ap-southeast-2")
    from_env = argparse.ArgumentParser()
    add_run_arguments(
        from_env, environ={"ACM_SYNC_WIRING": "true", "ACM_SYNC_WIRING_REGION": "eu-west-1"}
    )
    assert config_from_args(from_env.parse_args([])).wiring_region == "eu-west-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ValueError, match="--wiring needs --wiring-region"):
        config_from_args(parser.parse_args(["--wiring"]))
    with pytest.raises(ValueError, match="--wiring-region"):
        config_from_args(parser.parse_args(["--wiring", "--wiring-region", "Not A Region"]))
