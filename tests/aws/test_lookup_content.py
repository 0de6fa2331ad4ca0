"""Content comparison between the Secret's material and what ACM returns."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from acm_sync.aws.lookup import same_content
from acm_sync.core.model import Material
from tests.certkit import ca, leaf


def _reformatted(pem: bytes) -> bytes:
    # Same DER, different line breaks and trailing whitespace.
    lines = pem.decode().strip().splitlines()
    body = "".join(lines[1:-1])
    return (
        lines[0]
        + "\n"
        + "\n".join(body[i : i + 76] for i in range(0, len(body), 76))
        + "\n"
        + lines[-1]
        + "\n\n"
    ).encode()


def test_same_leaf_and_chain_match_whatever_the_line_breaks() -> None:
    material = leaf()
    assert material.chain is not None
    assert same_content(material, _reformatted(material.certificate), _reformatted(material.chain))


def test_a_root_appended_by_acm_still_matches() -> None:
    material = leaf()
    assert material.chain is not None
    root = ca("Test Root").cert.public_bytes(serialization.Encoding.PEM)
    assert same_content(material, material.certificate, material.chain + root)


def test_different_leaf_or_chain_does_not_match() -> None:
    material = leaf()
    other = leaf()
    assert not same_content(material, other.certificate, material.chain)
    assert not same_content(material, material.certificate, None)
    assert material.chain is not None
    no_chain = Material(material.certificate, None, material.private_key)
    # the Secret dropped its intermediate: ACM's extra certificate is not a root, so reimport
    assert not same_content(no_chain, material.certificate, material.chain)
