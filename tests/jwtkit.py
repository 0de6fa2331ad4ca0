"""Service-account tokens as a kube-apiserver signs them, for the tests that run without one.

An RSA key with its JWKS (what ``/openid/v1/jwks`` serves) and JWTs with the claims of a
projected token (``iss``, ``sub`` = ``system:serviceaccount:<ns>:<sa>``, ``aud``, ``exp``).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/ACMSYNCTESTBED"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class Issuer:
    """A service-account token issuer: its key, kid and URL."""

    url: str = ISSUER
    kid: str = "test-key"
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwks(self) -> dict[str, Any]:
        """The JWKS an OIDC provider serves for this issuer."""
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid}
        return {"keys": [{**jwk, "n": _uint(numbers.n), "e": _uint(numbers.e)}]}

    def token(
        self,
        namespace: str,
        service_account: str,
        audience: str = "sts.amazonaws.com",
        lifetime: float = 3600,
        **claims: Any,
    ) -> str:
        """A signed projected-style token for ``namespace``/``service_account``."""
        now = int(time.time())
        body = {
            "iss": self.url,
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": int(now + lifetime),
            **claims,
        }
        header = _b64(json.dumps({"alg": "RS256", "kid": self.kid}).encode())
        payload = _b64(json.dumps(body).encode())
        signed = f"{header}.{payload}".encode()
        signature = self.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{_b64(signature)}"
