"""STS AssumeRoleWithWebIdentity as IRSA uses it, and the IAM OIDC providers it checks against.

On EKS the kubelet mounts a projected service-account token (a JWT from the cluster's
kube-apiserver, audience ``sts.amazonaws.com``) and boto3 trades it, unsigned, for a role's
credentials. AWS accepts the token when the account has an IAM OIDC identity provider for the
token's issuer (whose JWKS verifies its signature), the audience is one the provider lists, the
token has not expired, and the role's trust policy allows it: ``Federated`` the provider and a
``StringEquals`` condition on ``<issuer>:sub`` naming ``system:serviceaccount:<ns>:<sa>``.
The emulator does the same checks: a provider is an issuer with its JWKS (RS256 and ES256
keys, what kube-apiserver signs with), a role's web-identity trust is its provider and the
subjects it admits. The token itself is never logged or kept.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from acm_sync_testbed.emulators.acm.sts import DEFAULT_DURATION, Sts, StsError, xml_answer

IRSA_AUDIENCE = "sts.amazonaws.com"
_SUBJECT_RE = re.compile(r"system:serviceaccount:[a-z0-9.-]+:[a-z0-9.-]+")
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}")
_CURVES = {"P-256": (ec.SECP256R1(), hashes.SHA256(), 32)}
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True, slots=True)
class WebIdentityTrust:
    """A role's trust policy for web identities: the provider (issuer) it federates and the
    ``sub`` values its ``StringEquals`` condition admits."""

    issuer: str
    subjects: frozenset[str]
    audience: str = IRSA_AUDIENCE


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _int(value: str) -> int:
    return int.from_bytes(_b64(value), "big")


def public_keys(jwks: Mapping[str, Any]) -> dict[str, PublicKey]:
    """kid -> public key, from a JWKS document (RSA and P-256 keys; others ignored)."""
    keys: dict[str, PublicKey] = {}
    for jwk in jwks.get("keys", []):
        kid = str(jwk.get("kid", ""))
        if jwk.get("kty") == "RSA":
            keys[kid] = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
        elif jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES:
            curve = _CURVES[jwk["crv"]][0]
            numbers = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve)
            keys[kid] = numbers.public_key()
    return keys


def _invalid(message: str) -> StsError:
    return StsError("InvalidIdentityToken", message, 400)


def _verify(key: PublicKey, alg: str, signed: bytes, signature: bytes) -> None:
    """Raise InvalidSignature unless ``signature`` is ``key``'s over ``signed``."""
    if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    else:
        raise InvalidSignature


class WebIdentity:
    """OIDC providers and web-identity trust; answers AssumeRoleWithWebIdentity. Thread-safe."""

    def __init__(self, sts: Sts) -> None:
        self._sts = sts
        self._lock = threading.Lock()
        self._providers: dict[str, tuple[dict[str, PublicKey], frozenset[str]]] = {}
        self._trust: dict[str, WebIdentityTrust] = {}

    def reset(self) -> None:
        """Forget every provider and web-identity trust."""
        with self._lock:
            self._providers.clear()
            self._trust.clear()

    def add_provider(
        self, issuer: str, jwks: Mapping[str, Any], audiences: Iterable[str] = (IRSA_AUDIENCE,)
    ) -> None:
        """Register an IAM OIDC provider: ``issuer``'s JWKS and its client ids (audiences)."""
        keys = public_keys(jwks)
        if not keys:
            raise ValueError(f"the JWKS for {issuer!r} holds no RSA or P-256 key")
        with self._lock:
            self._providers[issuer.rstrip("/")] = (keys, frozenset(audiences))

    def trust(self, role_arn: str, issuer: str, subjects: Iterable[str]) -> None:
        """Let tokens of ``issuer`` whose ``sub`` is one of ``subjects`` assume ``role_arn``."""
        subjects = frozenset(subjects)
        bad = [s for s in subjects if not _SUBJECT_RE.fullmatch(s)]
        if bad:
            raise ValueError(f"not system:serviceaccount:<namespace>:<name> subjects: {bad}")
        with self._lock:
            self._trust[role_arn] = WebIdentityTrust(issuer.rstrip("/"), subjects)

    def distrust(self, role_arn: str) -> None:
        """Refuse AssumeRoleWithWebIdentity for ``role_arn`` from now on."""
        with self._lock:
            self._trust.pop(role_arn, None)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its issuer, signature, audience and expiry check out."""
        parts = token.strip().split(".")
        if len(parts) != 3:
            raise _invalid("The web identity token is not a JWT")
        try:
            header, claims = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
            signature = _b64(parts[2])
        except (ValueError, TypeError):
            raise _invalid("The web identity token could not be decoded") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise _invalid("The web identity token could not be decoded")
        issuer = str(claims.get("iss", "")).rstrip("/")
        with self._lock:
            provider = self._providers.get(issuer)
        if provider is None:
            raise _invalid(f"No OpenIDConnect provider found in your account for {issuer}")
        keys, audiences = provider
        key = keys.get(str(header.get("kid", "")))
        if key is None and len(keys) == 1 and "kid" not in header:
            key = next(iter(keys.values()))
        if key is None:
            raise _invalid("Couldn't retrieve verification key from your identity provider")
        try:
            _verify(key, str(header.get("alg", "")), f"{parts[0]}.{parts[1]}".encode(), signature)
        except InvalidSignature:
            raise _invalid("The web identity token's signature is not valid") from None
        aud = claims.get("aud")
        if not (set(aud if isinstance(aud, list) else [aud]) & audiences):
            raise _invalid("Incorrect token audience")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= self._sts.clock():
            raise StsError("ExpiredTokenException", "Token expired: the JWT's exp has passed", 400)
        return claims

    def handle(self, params: Mapping[str, str]) -> str:
        """Answer AssumeRoleWithWebIdentity (an unsigned request) with its XML; raise StsError."""
        role_arn = params.get("RoleArn", "")
        session_name = params.get("RoleSessionName", "")
        if not _SESSION_NAME_RE.fullmatch(session_name):
            raise StsError("ValidationError", "RoleSessionName is not valid", 400)
        claims = self.claims(params.get("WebIdentityToken", ""))
        issuer, subject = str(claims["iss"]).rstrip("/"), str(claims.get("sub", ""))
        with self._lock:
            trust = self._trust.get(role_arn)
        if trust is None or trust.issuer != issuer or subject not in trust.subjects:
            raise StsError(
                "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"
            )
        duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
        issued = self._sts.issue(role_arn, session_name, {}, duration)
        aud = claims["aud"][0] if isinstance(claims["aud"], list) else claims["aud"]
        return xml_answer(
            "AssumeRoleWithWebIdentity",
            issued.credentials_xml()
            + f"<SubjectFromWebIdentityToken>{escape(subject)}</SubjectFromWebIdentityToken>"
            + issued.assumed_role_user_xml()
            + f"<Provider>{escape(issuer.removeprefix('https://'))}</Provider>"
            + f"<Audience>{escape(str(aud))}</Audience>",
        )

    def configure(self, body: Mapping[str, Any]) -> None:
        """The control API's form: ``providers`` (issuer -> {jwks, audiences}), ``trust``
        (role ARN -> {issuer, subjects}) and ``distrust`` (role ARNs)."""
        for issuer, provider in dict(body.get("providers", {})).items():
            audiences = provider.get("audiences") or [IRSA_AUDIENCE]
            self.add_provider(str(issuer), provider["jwks"], [str(a) for a in audiences])
        for role_arn, trust in dict(body.get("trust", {})).items():
            self.trust(str(role_arn), str(trust["issuer"]), [str(s) for s in trust["subjects"]])
        for role_arn in body.get("distrust", []):
            self.distrust(str(role_arn))
