"""Failures reach the operator's log: each Warning Event is a WARNING line with its facts.

Events expire after about an hour; the log is what an operator's user searches the next day.
Both formats: the text line a person reads, and the JSON line whose fields a log store indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"  # the ACM emulator's own account


@pytest.fixture(params=["text", "json"])
def log_format(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def watched(env: Env, log_format: str) -> Iterator[tuple[str, OperatorProcess]]:
    """A namespace and an operator at INFO (the chart's default) that watches only it."""
    ns = env.cluster.namespace("log")
    process = env.operator(
        "--no-leader-election",
        "--namespace",
        ns,
        "--log-level",
        "INFO",
        "--log-format",
        log_format,
        name=f"log-{log_format}",
    ).start()
    try:
        yield ns, process
    finally:
        assert process.stop() == 0, process.log_tail()
        env.acm.control("reset", {})


def _lines(process: OperatorProcess) -> list[str]:
    return process.log_path.read_text(errors="replace").splitlines()


def _warning(process: OperatorProcess, fmt: str, ns: str, name: str, reason: str) -> Any:
    """The one WARNING line about ``reason`` on ns/name (a dict of fields in JSON)."""
    found: list[Any] = []
    for line in _lines(process):
        if fmt == "json":
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if (record.get("namespace"), record.get("name"), record.get("reason")) == (
                ns,
                name,
                reason,
            ):
                assert record["level"] == "WARNING", record
                found.append(record)
        elif f"AcmCertificate {ns}/{name}: {reason}: " in line:
            assert " WARNING " in line, line
            found.append(line)
    assert len(found) == 1, (reason, found)
    return found[0]


def test_a_key_mismatch_is_a_warning_line_with_its_reason(
    env: Env, watched: tuple[str, OperatorProcess], log_format: str
) -> None:
    ns, process = watched
    c = env.cluster
    ca = TestCA()
    manifest = tls_secret("bad", ca.issue("bad.example.com"))
    manifest["data"]["tls.key"] = tls_secret("x", ca.issue("bad.example.com"))["data"]["tls.key"]
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, manifest))
    c.create_cert(ns, "bad", secretName="bad", regions=["us-east-1"])
    c.wait_reason(ns, "bad", "KeyMismatch")
    message = c.condition(ns, "bad")["message"]
    c.wait_event(ns, "KeyMismatch", "bad")
    # The operator logs a pass's lines before it posts the pass's Events.
    found = _warning(process, log_format, ns, "bad", "KeyMismatch")
    if log_format == "json":
        assert found["kind"] == "AcmCertificate"
        assert found["message"] == message
    else:
        assert found.endswith(f"AcmCertificate {ns}/bad: KeyMismatch: {message}")


def test_a_region_refused_by_aws_is_a_warning_line_naming_region_and_account(
    env: Env, watched: tuple[str, OperatorProcess], log_format: str
) -> None:
    ns, process = watched
    c = env.cluster
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("web", TestCA().issue("web.example.com")))
    )
    env.acm.control(
        "faults/fail",
        {
            "count": 1000,
            "status": 400,
            "error": "AccessDeniedException",
            "api": "ImportCertificate",
            "region": "eu-west-1",
        },
    )
    c.create_cert(ns, "web", secretName="web", regions=["us-east-1", "eu-west-1"])
    c.wait_reason(ns, "web", "PartiallySynced")
    c.wait_event(ns, "PartiallySynced", "web")
    found = _warning(process, log_format, ns, "web", "PartiallySynced")
    if log_format == "json":
        assert (found["region"], found["account"]) == ("eu-west-1", ACCOUNT)
        assert "arn" not in found  # nothing was imported there
        assert "AccessDenied" in found["message"]
    else:
        assert "eu-west-1" in found
        assert found.count(ACCOUNT) == 1
    # The Imported line of the region that worked names its ARN once.
    arn = next(r["arn"] for r in (c.cert(ns, "web") or {})["status"]["regions"] if r.get("arn"))
    imported = wait_for(
        lambda: [line for line in _lines(process) if arn in line and "Imported" in line],
        what="the Imported line",
    )
    assert len(imported) == 1, imported
    if log_format == "json":
        record = json.loads(imported[0])
        assert (record["level"], record["reason"], record["arn"]) == ("INFO", "Imported", arn)
        assert record["region"] == "us-east-1"
    else:
        assert imported[0].count(arn) == 1
