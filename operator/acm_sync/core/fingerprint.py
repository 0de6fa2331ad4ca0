"""The material fingerprint: what the planner compares to decide whether to reimport."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def fingerprint(leaf_der: bytes, chain_ders: Iterable[bytes] = ()) -> str:
    """SHA-256 hex over the leaf DER followed by the chain DERs, in chain order.

    DER is the one encoding every textual variant (CRLF, wrapping, surrounding text) shares,
    so the same certificate and chain always give the same fingerprint. The key is left out:
    a certificate binds exactly one public key, so the key cannot change without the leaf.
    """
    digest = hashlib.sha256(leaf_der)
    for der in chain_ders:
        digest.update(der)
    return digest.hexdigest()
