"""IRSA and EKS Pod Identity at the emulator: what AWS checks before it hands out a role.

Each test goes through boto3's own call (``assume_role_with_web_identity``, unsigned as boto3
sends it; the container provider's GET) and then acts with the credentials, so the account a
certificate lands in is the one AWS would have picked.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.jwtkit import Issuer

ROLE = "arn:aws:iam::222233334444:role/acm-sync-irsa"
SUBJECT = "system:serviceaccount:acm-sync:acm-sync"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def irsa(acm: AcmEmulator, issuer: Issuer) -> AcmEmulator:
    acm.web_identity.add_provider(issuer.url, issuer.jwks())
    acm.web_identity.trust(ROLE, issuer.url, [SUBJECT])
    return acm


def _unsigned_sts(acm: AcmEmulator) -> Any:
    return boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=acm.url,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )


def _assume(acm: AcmEmulator, token: str, role: str = ROLE) -> dict[str, Any]:
    answer: dict[str, Any] = _unsigned_sts(acm).assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="acm-sync", WebIdentityToken=token
    )
    return answer


def _refused(acm: AcmEmulator, token: str, role: str = ROLE) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        _assume(acm, token, role)
    error = err.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_a_trusted_service_account_acts_in_the_roles_account(
    irsa: AcmEmulator, issuer: Issuer
) -> None:
    answer = _assume(irsa, issuer.token("acm-sync", "acm-sync"))
    assert answer["SubjectFromWebIdentityToken"] == SUBJECT
    assert answer["Audience"] == "sts.amazonaws.com"
    assert answer["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::222233334444:assumed-role/acm-sync-irsa/acm-sync"
    )
    creds = answer["Credentials"]
    identity = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=irsa.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).get_caller_identity()
    assert identity["Account"] == "222233334444"


def test_what_aws_refuses(irsa: AcmEmulator, issuer: Issuer) -> None:
    # Another service account of the same cluster: the trust policy's sub condition fails.
    assert _refused(irsa, issuer.token("default", "default")) == (
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )
    # A token for another audience (the Kubernetes API's own, say).
    code, message = _refused(irsa, issuer.token("acm-sync", "acm-sync", audience="https://k8s"))
    assert (code, message) == ("InvalidIdentityToken", "Incorrect token audience")
    # Expired.
    code, _ = _refused(irsa, issuer.token("acm-sync", "acm-sync", lifetime=-10))
    assert code == "ExpiredTokenException"
    # Signed by another key claiming the same issuer (another cluster's, or forged).
    forged = Issuer(url=issuer.url, kid=issuer.kid).token("acm-sync", "acm-sync")
    assert _refused(irsa, forged)[0] == "InvalidIdentityToken"
    # The payload edited after signing: another subject, the signature no longer matches.
    header, _, signature = issuer.token("default", "default").split(".")
    other_payload = issuer.token("acm-sync", "acm-sync").split(".")[1]
    assert _refused(irsa, f"{header}.{other_payload}.{signature}")[0] == "InvalidIdentityToken"
    # An issuer with no IAM OIDC provider in the account.
    stranger = Issuer(url="https://oidc.example/id/OTHER")
    code, message = _refused(irsa, stranger.token("acm-sync", "acm-sync"))
    assert code == "InvalidIdentityToken"
    assert "No OpenIDConnect provider" in message
    # A role whose trust policy does not federate this provider.
    assert _refused(irsa, issuer.token("acm-sync", "acm-sync"), role=ROLE + "-x")[0] == (
        "AccessDenied"
    )
    assert _refused(irsa, "not-a-jwt")[0] == "InvalidIdentityToken"
    assert irsa.sessions() == []


def test_configured_over_the_control_api(acm: AcmEmulator, issuer: Issuer) -> None:
    body = {
        "providers": {issuer.url: {"jwks": issuer.jwks()}},
        "trust": {ROLE: {"issuer": issuer.url, "subjects": [SUBJECT]}},
    }
    request = urllib.request.Request(  # noqa: S310 (loopback)
        acm.url + "/_acm_emulator/web-identity",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 (loopback)
        assert json.load(response) == {"ok": True}
    _assume(acm, issuer.token("acm-sync", "acm-sync"))
    acm.reset()  # forgets providers and trust
    assert _refused(acm, issuer.token("acm-sync", "acm-sync"))[0] == "InvalidIdentityToken"


def _pod_credentials(acm: AcmEmulator, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": token} if token is not None else {}
    request = urllib.request.Request(acm.url + "/v1/credentials", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 (loopback)
            return int(response.status), json.load(response)
    except urllib.error.HTTPError as err:
        return int(err.code), json.load(err)


def test_pod_identity_endpoint(acm: AcmEmulator) -> None:
    acm.pod_identity.associate("pod-token", ROLE, "acm-sync", "acm-sync")
    status, body = _pod_credentials(acm, "pod-token")
    assert status == 200
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "AccountId", "Expiration"}
    assert body["AccountId"] == "222233334444"
    (session,) = acm.sessions()
    assert session["account"] == "222233334444"
    assert session["tags"]["kubernetes-service-account"] == "acm-sync"
    assert _pod_credentials(acm, "other-token")[0] == 403
    assert _pod_credentials(acm, None)[0] == 401
    assert len(acm.sessions()) == 1
