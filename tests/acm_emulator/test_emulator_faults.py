"""Injected faults, the HTTP control API and the emulator as a separate process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from cryptography import x509

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.certkit import leaf


def _import(client: Any) -> str:
    material = leaf()
    return str(
        client.import_certificate(
            Certificate=material.certificate, PrivateKey=material.private_key
        )["CertificateArn"]
    )


def test_lost_response_commits_the_import(acm: AcmEmulator, client: Callable[..., Any]) -> None:
    acm.lose_import_responses(1)
    with pytest.raises(ConnectionClosedError):
        _import(client())
    (stored,) = acm.certificates()
    assert acm.calls()[-1]["outcome"] == "ResponseLost"
    assert acm.calls()[-1]["arn"] == stored["arn"]
    _import(client())  # only the next one was lost
    assert len(acm.certificates()) == 2


def test_fail_next_answers_5xx_without_committing(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    acm.fail_next(2, api="ImportCertificate")
    api = client()
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            _import(api)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert acm.certificates() == []
    _import(api)
    assert len(acm.certificates()) == 1


def test_fail_after_commit_answers_5xx_but_the_reimport_took_effect(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    api = client()
    arn = _import(api)
    renewed = leaf()
    # Aimed at reimports only: a new import in between is not hit.
    acm.fail_after_commit(1, api="ImportCertificate:reimport")
    _import(api)
    with pytest.raises(ClientError) as err:
        api.import_certificate(
            CertificateArn=arn, Certificate=renewed.certificate, PrivateKey=renewed.private_key
        )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    stored = {c["arn"]: c for c in acm.certificates()}
    serial = x509.load_pem_x509_certificate(renewed.certificate).serial_number
    assert stored[arn]["serial"] == format(serial, "x")
    assert acm.calls()[-1]["outcome"] == "InternalFailureAfterCommit"


def test_lost_responses_and_latency_on_tag_and_delete_calls(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    arn = _import(client())
    acm.lose_responses(1, api="AddTagsToCertificate")
    with pytest.raises(ConnectionClosedError):
        client().add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "a", "Value": "1"}])
    assert acm.certificates()[0]["tags"] == {"a": "1"}
    acm.add_latency(1, 1.5, api="DeleteCertificate")
    with pytest.raises(ReadTimeoutError):
        client(read_timeout=0.3).delete_certificate(CertificateArn=arn)
    assert acm.certificates() == []  # timed out for the client, done in ACM


def test_region_down_drops_only_that_region(acm: AcmEmulator, client: Callable[..., Any]) -> None:
    acm.set_region_down("eu-west-1")
    with pytest.raises(ConnectionClosedError):
        client("eu-west-1").list_certificates()
    assert client("us-east-1").list_certificates()["CertificateSummaryList"] == []
    acm.set_region_down("eu-west-1", False)
    assert client("eu-west-1").list_certificates()["CertificateSummaryList"] == []


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (the emulator on loopback)
        url + "/_acm_emulator/" + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        return dict(json.loads(response.read()))


def _get(url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_acm_emulator/" + path, timeout=5) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def test_http_control_api(acm: AcmEmulator, client: Callable[..., Any]) -> None:
    api = client()
    arn = _import(api)
    _post(acm.url, "in-use", {"arn": arn, "in_use": True})
    with pytest.raises(ClientError) as err:
        api.delete_certificate(CertificateArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"

    _post(acm.url, "quota", {"import_quota": 1})
    with pytest.raises(ClientError) as err:
        _import(api)
    assert err.value.response["Error"]["Code"] == "LimitExceededException"

    _post(acm.url, "faults/fail", {"count": 1, "error": "AccessDeniedException", "status": 400})
    with pytest.raises(ClientError) as err:
        api.list_certificates()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"

    calls = _get(acm.url, "calls")["calls"]
    assert [c["api"] for c in calls] == [
        "ImportCertificate",
        "DeleteCertificate",
        "ImportCertificate",
        "ListCertificates",
    ]
    assert _get(acm.url, "counts")["counts"]["us-east-1"]["ImportCertificate"] == 2
    assert _get(acm.url, "certificates")["certificates"][0]["in_use"] is True

    _post(acm.url, "reset", {})
    assert _get(acm.url, "calls")["calls"] == []


def test_runs_as_a_process_with_aws_endpoint_url(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "acm_sync_testbed.emulators.acm", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        # boto3's own endpoint configuration, as a user of the playground would set it.
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        client = boto3.client(
            "acm",
            region_name="ap-southeast-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        assert client.list_certificates()["CertificateSummaryList"] == []
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
