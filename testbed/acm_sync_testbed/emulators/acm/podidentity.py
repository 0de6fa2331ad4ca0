"""The EKS Pod Identity agent's credentials endpoint, as boto3's container provider calls it.

On EKS the Pod Identity webhook sets ``AWS_CONTAINER_CREDENTIALS_FULL_URI``
(``http://169.254.170.23/v1/credentials``) and ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (a
projected service-account token); boto3 GETs the URI with the file's content as the
``Authorization`` header, and the agent answers the associated role's credentials
(AssumeRoleForPodIdentity). Here an association maps a token to a role ARN and the namespace
and service account it stands for; the credentials are an STS session of the emulator, so they
act in the role's account like AssumeRole's. Tokens are compared, never logged or returned.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from dataclasses import dataclass

from acm_sync_testbed.emulators.acm.sts import Sts, StsError

PATH = "/v1/credentials"
CLUSTER = "acm-sync-testbed"
DURATION = 6 * 3600  # what the agent hands out: six hours
_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Association:
    """``aws eks create-pod-identity-association``: a service account's role."""

    role_arn: str
    namespace: str
    service_account: str


class PodIdentity:
    """Associations by token, and the endpoint's answer. Thread-safe."""

    def __init__(self, sts: Sts) -> None:
        self._sts = sts
        self._lock = threading.Lock()
        self._associations: dict[str, Association] = {}

    def reset(self) -> None:
        """Forget every association."""
        with self._lock:
            self._associations.clear()

    def associate(self, token: str, role_arn: str, namespace: str, service_account: str) -> None:
        """Answer ``role_arn``'s credentials to a request presenting ``token``."""
        if not token or "\n" in token or "\r" in token:
            raise ValueError("a token is one non-empty line (boto3 sends it as a header)")
        for name in (namespace, service_account):
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"{name!r} is not a Kubernetes name")
        with self._lock:
            self._associations[token] = Association(role_arn, namespace, service_account)

    def _find(self, authorization: str) -> Association | None:
        with self._lock:
            for token, association in self._associations.items():
                if hmac.compare_digest(token.encode(), authorization.encode()):
                    return association
        return None

    def handle(self, authorization: str | None) -> tuple[int, str]:
        """(HTTP status, JSON body) for a GET of :data:`PATH`."""
        if not authorization:
            return 401, json.dumps({"message": "Authorization header is missing"})
        association = self._find(authorization)
        if association is None:
            return 403, json.dumps({"message": "The service account token is not associated"})
        tags = {
            "eks-cluster-name": CLUSTER,
            "kubernetes-namespace": association.namespace,
            "kubernetes-service-account": association.service_account,
        }
        session_name = f"eks-{CLUSTER}-{association.service_account}"[:64]
        try:
            issued = self._sts.issue(association.role_arn, session_name, tags, DURATION)
        except StsError as err:
            return 400, json.dumps({"message": err.message})
        body = {
            "AccessKeyId": issued.session.access_key_id,
            "SecretAccessKey": issued.secret_access_key,
            "Token": issued.session_token,
            "AccountId": issued.session.account,
            "Expiration": issued.expiration,
        }
        return 200, json.dumps(body)

    def configure(self, body: dict[str, object]) -> None:
        """The control API's form: ``associations``, a list of {token, role_arn, namespace,
        service_account}."""
        associations = body.get("associations", [])
        if not isinstance(associations, list):
            raise TypeError("associations is a list")
        for a in associations:
            self.associate(
                str(a["token"]), str(a["role_arn"]), str(a["namespace"]), str(a["service_account"])
            )
