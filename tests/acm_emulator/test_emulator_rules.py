"""The ACM rules the strict emulator enforces (and moto alone does not), over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from acm_sync.core.model import Material
from acm_sync_testbed.emulators.acm import rules
from acm_sync_testbed.emulators.acm.backend import AcmError, StrictAcm
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.certkit import ca, leaf


def _import(client: Any, material: Material, **extra: Any) -> str:
    params: dict[str, Any] = {
        "Certificate": material.certificate,
        "PrivateKey": material.private_key,
        **extra,
    }
    if material.chain:
        params["CertificateChain"] = material.chain
    return str(client.import_certificate(**params)["CertificateArn"])


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_default_list_hides_ec_and_rsa4096_like_real_acm(client: Callable[..., Any]) -> None:
    acm = client()
    rsa2048 = _import(acm, leaf("RSA_2048"))
    rsa4096 = _import(acm, leaf("RSA_4096"))
    ec = _import(acm, leaf("EC_prime256v1"))

    default = {s["CertificateArn"] for s in acm.list_certificates()["CertificateSummaryList"]}
    every = {
        s["CertificateArn"]
        for s in acm.list_certificates(
            Includes={"keyTypes": ["RSA_2048", "RSA_4096", "EC_prime256v1"]}
        )["CertificateSummaryList"]
    }

    assert default == {rsa2048}
    assert every == {rsa2048, rsa4096, ec}


def test_list_paginates_with_max_items(client: Callable[..., Any]) -> None:
    acm = client()
    arns = {_import(acm, leaf()) for _ in range(5)}
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"MaxItems": 2}
        if token:
            kwargs["NextToken"] = token
        page = acm.list_certificates(**kwargs)
        pages += 1
        seen += [s["CertificateArn"] for s in page["CertificateSummaryList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3
    assert sorted(seen) == sorted(arns)


def test_tags_with_certificate_arn_are_rejected(client: Callable[..., Any]) -> None:
    acm = client()
    arn = _import(acm, leaf(), Tags=[{"Key": "team", "Value": "web"}])
    with pytest.raises(ClientError) as err:
        _import(acm, leaf(), CertificateArn=arn, Tags=[{"Key": "team", "Value": "x"}])
    assert _code(err) == "InvalidParameterException"
    assert "re-import" in err.value.response["Error"]["Message"]


def test_reimport_keeps_arn_tags_and_in_use(acm: AcmEmulator, client: Callable[..., Any]) -> None:
    api = client()
    arn = _import(api, leaf(), Tags=[{"Key": "team", "Value": "web"}])
    acm.set_in_use(arn)
    renewed = leaf()

    assert _import(api, renewed, CertificateArn=arn) == arn

    assert api.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]
    assert api.describe_certificate(CertificateArn=arn)["Certificate"]["InUseBy"]
    assert api.get_certificate(CertificateArn=arn)["Certificate"] == renewed.certificate.decode()


@pytest.mark.parametrize(("old", "new"), [("RSA_2048", "EC_prime256v1"), ("RSA_2048", "RSA_3072")])
def test_key_algorithm_change_on_reimport_is_rejected(
    client: Callable[..., Any], old: str, new: str
) -> None:
    api = client()
    arn = _import(api, leaf(old))
    with pytest.raises(ClientError) as err:
        _import(api, leaf(new), CertificateArn=arn)
    assert _code(err) == "ValidationException"
    assert "key algorithm" in err.value.response["Error"]["Message"]


def test_reimport_removing_an_extended_key_usage_is_rejected(client: Callable[..., Any]) -> None:
    api = client()
    arn = _import(api, leaf(server_auth=True, client_auth=True))
    with pytest.raises(ClientError) as err:
        _import(api, leaf(server_auth=False, client_auth=True), CertificateArn=arn)
    assert _code(err) == "ValidationException"


def test_mismatched_key_is_rejected(client: Callable[..., Any]) -> None:
    good = leaf("RSA_2048")
    other = leaf("RSA_2048", key_index=1)
    mixed = Material(good.certificate, good.chain, other.private_key)
    with pytest.raises(ClientError) as err:
        _import(client(), mixed)
    assert _code(err) == "ValidationException"
    assert "does not match" in err.value.response["Error"]["Message"]


def test_broken_chain_is_rejected(client: Callable[..., Any]) -> None:
    good = leaf()
    stranger = ca("Unrelated Root")
    from cryptography.hazmat.primitives import serialization

    wrong_chain = stranger.cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(ClientError) as err:
        _import(client(), Material(good.certificate, wrong_chain, good.private_key))
    assert _code(err) == "ValidationException"
    assert "chain" in err.value.response["Error"]["Message"]


def test_delete_in_use_fails_until_detached(acm: AcmEmulator, client: Callable[..., Any]) -> None:
    api = client()
    arn = _import(api, leaf())
    acm.set_in_use(arn)
    with pytest.raises(ClientError) as err:
        api.delete_certificate(CertificateArn=arn)
    assert _code(err) == "ResourceInUseException"
    acm.set_in_use(arn, False)
    api.delete_certificate(CertificateArn=arn)
    assert acm.certificates() == []


def test_throttling_above_configured_rate(acm: AcmEmulator, client: Callable[..., Any]) -> None:
    acm.set_rates({"DescribeCertificate": 2})
    api = client()
    arn = _import(api, leaf())
    codes = []
    for _ in range(6):
        try:
            api.describe_certificate(CertificateArn=arn)
            codes.append("ok")
        except ClientError as err:
            codes.append(err.response["Error"]["Code"])
    assert codes[:2] == ["ok", "ok"]
    assert "ThrottlingException" in codes


def test_import_quota_limits_new_imports_not_reimports(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    acm.set_import_quota(1)
    api = client()
    arn = _import(api, leaf())
    _import(api, leaf(), CertificateArn=arn)  # a reimport does not count by default
    with pytest.raises(ClientError) as err:
        _import(api, leaf())
    assert _code(err) == "LimitExceededException"


def test_state_is_per_region(client: Callable[..., Any]) -> None:
    east, west = client("us-east-1"), client("eu-west-1")
    arn = _import(east, leaf())
    assert ":us-east-1:" in arn
    assert west.list_certificates()["CertificateSummaryList"] == []
    with pytest.raises(ClientError) as err:
        west.describe_certificate(CertificateArn=arn)
    assert _code(err) == "InvalidArnException"


def test_call_log_records_parameter_names_never_values(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    material = leaf()
    _import(client("eu-central-1"), material, Tags=[{"Key": "k", "Value": "v"}])
    (call,) = acm.calls()
    assert call["api"] == "ImportCertificate"
    assert call["region"] == "eu-central-1"
    assert call["params"] == ["Certificate", "CertificateChain", "PrivateKey", "Tags"]
    assert "PRIVATE KEY" not in repr(acm.calls())
    assert acm.counts() == {"eu-central-1": {"ImportCertificate": 1}}


def test_a_region_without_acm_is_refused_every_time(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    nowhere = client("us-east-7")
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            _import(nowhere, leaf())
        assert _code(err) == "InvalidSignatureException"
        assert "valid region" in str(err.value)
    assert acm.certificates() == []
    assert [c["outcome"] for c in acm.calls()] == ["InvalidSignatureException"] * 2


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "il-central-1"])
def test_every_partitions_regions_are_served(client: Callable[..., Any], region: str) -> None:
    arn = _import(client(region), leaf())
    assert f":{region}:" in arn


def test_an_added_region_is_served_until_reset(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    acm.add_regions(["us-east-7"])
    assert ":us-east-7:" in _import(client("us-east-7"), leaf())
    acm.reset()
    with pytest.raises(ClientError) as err:
        client("us-east-7").list_certificates()
    assert _code(err) == "InvalidSignatureException"


def test_unverified_size_limits_are_settings() -> None:
    material = leaf()
    params = {
        "Certificate": base64.b64encode(material.certificate).decode(),
        "PrivateKey": base64.b64encode(material.private_key).decode(),
    }
    tight = StrictAcm(limits=rules.Limits(certificate_bytes=len(material.certificate) - 1))
    with pytest.raises(AcmError) as err:
        tight.handle("us-east-1", "ImportCertificate", params)
    assert err.value.error_type == "ValidationException"
    assert "exceeds" in err.value.message
    assert StrictAcm().handle("us-east-1", "ImportCertificate", params)["CertificateArn"]
