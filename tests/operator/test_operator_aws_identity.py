"""The operator's AWS identity as EKS gives it: IRSA and EKS Pod Identity, through boto3's chain.

No static keys: the operator process gets only what the Pod identity webhook injects, and
boto3's own providers do the rest (AssumeRoleWithWebIdentity with the projected token; a GET of
the container credentials endpoint). On the real backend the token is a real one, issued by
kube-apiserver through the TokenRequest API (what ``kubectl create token`` calls) and checked
against the JWKS the API server publishes for its issuer, as IAM's OIDC provider does.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.jwtkit import Issuer
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::444455556666:role/acm-sync-irsa"
ROLE_ACCOUNT = "444455556666"
SERVICE_ACCOUNT = "acm-sync"
AUDIENCE = "sts.amazonaws.com"


class TokenSource:
    """Projected-style service-account tokens, and the OIDC provider that verifies them."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.own = Issuer() if env.kube is not None else None

    def register(self) -> str:
        """Give the emulator's IAM an OIDC provider for the issuer; return the issuer URL."""
        if self.own is not None:
            issuer, jwks = self.own.url, self.own.jwks()
        else:
            api = self.env.cluster.api
            # The raw documents (typed as str, they come back as urllib3 responses): the
            # client's deserializer would turn them into Python reprs.
            discovery: Any = client.WellKnownApi(
                api
            ).get_service_account_issuer_open_id_configuration(_preload_content=False)
            issuer = json.loads(discovery.data)["issuer"]
            keyset: Any = client.OpenidApi(api).get_service_account_issuer_open_id_keyset(
                _preload_content=False
            )
            jwks = json.loads(keyset.data)
        self.env.acm_server.web_identity.add_provider(issuer, jwks)
        return str(issuer)

    def token(self, namespace: str, service_account: str) -> str:
        """A token for ``namespace``/``service_account`` with the IRSA audience."""
        if self.own is not None:
            return self.own.token(namespace, service_account)
        core = self.env.cluster.core
        body = {"metadata": {"name": service_account}}
        core.create_namespaced_service_account(namespace, as_model(client.V1ServiceAccount, body))
        request = as_model(
            client.AuthenticationV1TokenRequest,
            {"spec": {"audiences": [AUDIENCE], "expirationSeconds": 3600}},
        )
        answer = core.create_namespaced_service_account_token(service_account, namespace, request)
        assert answer.status is not None
        return str(answer.status.token)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def tokens(env: Env) -> TokenSource:
    return TokenSource(env)


def _without_static_keys(process: OperatorProcess, **variables: str) -> OperatorProcess:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        process.env.pop(name, None)
    process.env.update(variables)
    return process


def _sync(env: Env, ca: TestCA, ns: str) -> dict[str, Any]:
    c = env.cluster
    material = ca.issue("web.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("web", material)))
    c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
    return c.wait_reason(ns, "web", "Synced", timeout=40)


def _lands_in_role_account(env: Env, obj: dict[str, Any], ns: str) -> None:
    (entry,) = obj["status"]["regions"]
    assert entry["arn"].split(":")[4] == ROLE_ACCOUNT
    held = {c["arn"]: c for c in env.acm_server.certificates("us-east-1", ROLE_ACCOUNT)}
    assert held[entry["arn"]]["tags"]["acmsync.io/owner"].endswith(f"/{ns}/web")
    assert not [c for c in env.acm_server.certificates("us-east-1", "123456789012")
                if c["arn"] == entry["arn"]]  # fmt: skip


def test_irsa_syncs_into_the_roles_account(
    env: Env, tokens: TokenSource, ca: TestCA, tmp_path: Path
) -> None:
    ns = env.cluster.namespace("irsa")
    issuer = tokens.register()
    env.acm_server.web_identity.trust(ROLE, issuer, [f"system:serviceaccount:{ns}:acm-sync"])
    token = tokens.token(ns, SERVICE_ACCOUNT)
    token_file = tmp_path / "token"
    token_file.write_text(token)
    process = _without_static_keys(
        env.operator("--no-leader-election", name="irsa"),
        AWS_ROLE_ARN=ROLE,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
    )
    process.start()
    try:
        _lands_in_role_account(env, _sync(env, ca, ns), ns)
        log = process.log_path.read_text()
        assert f"AWS identity: account {ROLE_ACCOUNT}, arn:aws:sts::{ROLE_ACCOUNT}:" in log
        assert "(credentials from assume-role-with-web-identity)" in log
        assert token not in log
        assert token.split(".")[2] not in log
    finally:
        process.stop()


def test_irsa_token_of_another_service_account_is_refused_readably(
    env: Env, tokens: TokenSource, ca: TestCA, tmp_path: Path
) -> None:
    ns = env.cluster.namespace("irsa-no")
    issuer = tokens.register()
    env.acm_server.web_identity.trust(ROLE, issuer, [f"system:serviceaccount:{ns}:acm-sync"])
    token_file = tmp_path / "token"
    token_file.write_text(tokens.token(ns, "intruder"))
    process = _without_static_keys(
        env.operator("--no-leader-election", name="irsa-refused"),
        AWS_ROLE_ARN=ROLE,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
    )
    held_before = env.acm_server.certificates(account=ROLE_ACCOUNT)
    process.start()
    try:
        c = env.cluster
        material = ca.issue("web.example.com")
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("web", material)))
        c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
        obj = c.wait_reason(ns, "web", "AccessDenied", timeout=40)
        ready = c.condition(ns, "web")
        assert ready["status"] == "False"
        assert "Not authorized to perform sts:AssumeRoleWithWebIdentity" in ready["message"]
        assert "Traceback" not in ready["message"]
        assert not obj["status"].get("regions", [{}])[0].get("arn")
        assert env.acm_server.certificates(account=ROLE_ACCOUNT) == held_before
        wait_for(
            lambda: "AWS identity unknown: AccessDenied" in process.log_path.read_text(),
            what="the start-up log line naming the refusal",
        )
        log = process.log_path.read_text()
        assert "Traceback" not in log
        # botocore's own line about the refused refresh, kept to one line.
        assert "AssumeRoleWithWebIdentity operation: Not authorized" in log
    finally:
        process.stop()


def test_eks_pod_identity_syncs_into_the_roles_account(
    env: Env, ca: TestCA, tmp_path: Path
) -> None:
    ns = env.cluster.namespace("podid")
    token = secrets.token_urlsafe(32)
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text(token)
    env.acm_server.pod_identity.associate(token, ROLE, ns, SERVICE_ACCOUNT)
    process = _without_static_keys(
        env.operator("--no-leader-election", name="pod-identity"),
        AWS_CONTAINER_CREDENTIALS_FULL_URI=env.acm_server.url + "/v1/credentials",
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file),
    )
    process.start()
    try:
        _lands_in_role_account(env, _sync(env, ca, ns), ns)
        log = process.log_path.read_text()
        assert f"AWS identity: account {ROLE_ACCOUNT}" in log
        assert "(credentials from container-role)" in log
        assert token not in log
    finally:
        process.stop()
