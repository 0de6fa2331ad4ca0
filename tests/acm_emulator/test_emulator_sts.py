"""STS at the emulator's endpoint: AssumeRole, trust, and per-account ACM state."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.certkit import leaf

ROLE = "arn:aws:iam::222233334444:role/acm-sync-importer"


def _sts(acm: AcmEmulator) -> Any:
    return boto3.client("sts", region_name="us-east-1", endpoint_url=acm.url)


def _assumed_acm(acm: AcmEmulator, region: str = "us-east-1", **extra: Any) -> Any:
    creds = _sts(acm).assume_role(RoleArn=ROLE, RoleSessionName="test-cluster", **extra)[
        "Credentials"
    ]
    return boto3.client(
        "acm",
        region_name=region,
        endpoint_url=acm.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _import(client: Any) -> str:
    material = leaf()
    return str(
        client.import_certificate(
            Certificate=material.certificate, PrivateKey=material.private_key
        )["CertificateArn"]
    )


def test_caller_identity_is_the_emulator_account(acm: AcmEmulator) -> None:
    assert _sts(acm).get_caller_identity()["Account"] == "123456789012"


def test_untrusted_role_is_access_denied(acm: AcmEmulator) -> None:
    with pytest.raises(ClientError) as err:
        _sts(acm).assume_role(RoleArn=ROLE, RoleSessionName="test-cluster")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert ROLE in err.value.response["Error"]["Message"]


def test_external_id_must_match(acm: AcmEmulator) -> None:
    acm.trust_role(ROLE, "s3cret-id")
    with pytest.raises(ClientError) as err:
        _sts(acm).assume_role(RoleArn=ROLE, RoleSessionName="c1", ExternalId="wrong")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        _sts(acm).assume_role(RoleArn=ROLE, RoleSessionName="c1")
    _assumed_acm(acm, ExternalId="s3cret-id")  # accepted


def test_certificates_live_in_the_assumed_account(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    acm.trust_role(ROLE)
    target = _assumed_acm(acm)
    arn = _import(target)
    assert ":222233334444:certificate/" in arn
    identity = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=acm.url,
        aws_access_key_id=target._request_signer._credentials.access_key,
        aws_secret_access_key=target._request_signer._credentials.secret_key,
        aws_session_token=target._request_signer._credentials.token,
    ).get_caller_identity()
    assert identity["Account"] == "222233334444"
    assert "assumed-role/acm-sync-importer/test-cluster" in identity["Arn"]
    # The operator's own account sees nothing of it, and the reverse.
    own = client()
    assert own.list_certificates()["CertificateSummaryList"] == []
    with pytest.raises(ClientError) as err:
        own.describe_certificate(CertificateArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    own_arn = _import(own)
    assert [c["CertificateArn"] for c in target.list_certificates()["CertificateSummaryList"]] == [
        arn
    ]
    assert {(c["account"], c["arn"]) for c in acm.certificates()} == {
        ("222233334444", arn),
        ("123456789012", own_arn),
    }
    assert [c["account"] for c in acm.calls() if c["api"] == "ImportCertificate"] == [
        "222233334444",
        "123456789012",
    ]


def test_session_tags_and_name_are_recorded_without_secrets(acm: AcmEmulator) -> None:
    acm.trust_role(ROLE)
    _sts(acm).assume_role(
        RoleArn=ROLE,
        RoleSessionName="acm-sync-prod",
        Tags=[{"Key": "namespace", "Value": "shop"}, {"Key": "name", "Value": "web"}],
    )
    (session,) = acm.sessions()
    assert session["account"] == "222233334444"
    assert session["session_name"] == "acm-sync-prod"
    assert session["tags"] == {"namespace": "shop", "name": "web"}
    assert "SecretAccessKey" not in json.dumps(session)
    assert "token" not in json.dumps(session)


def test_expired_and_distrusted(acm: AcmEmulator) -> None:
    acm.trust_role(ROLE)
    target = _assumed_acm(acm)
    acm.sts.expire_sessions()
    with pytest.raises(ClientError) as err:
        target.list_certificates()
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"
    acm.distrust_role(ROLE)
    with pytest.raises(ClientError):
        _sts(acm).assume_role(RoleArn=ROLE, RoleSessionName="c1")


def test_roles_over_the_control_api_and_constructor(acm: AcmEmulator) -> None:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        acm.url + "/_acm_emulator/roles",
        data=json.dumps({"trust": {ROLE: "xid"}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 (loopback)
        assert json.load(response) == {"ok": True}
    _assumed_acm(acm, ExternalId="xid")
    acm.reset()  # roles trusted later are forgotten ...
    with pytest.raises(ClientError):
        _sts(acm).assume_role(RoleArn=ROLE, RoleSessionName="c1", ExternalId="xid")
    with AcmEmulator(roles={ROLE: None}) as configured:  # ... configured ones stay
        configured.reset()
        _assumed_acm(configured)
        assert configured.certificates() == []
