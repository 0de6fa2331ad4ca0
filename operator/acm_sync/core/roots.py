"""The well-known public roots (Mozilla's store as certifi ships it), by subject name.

Used only to tell a chain that merely leaves out a public root (normal, harmless) from one
whose leaf stops at an issuer nobody can find. Without certifi the set is empty, and every
such leaf is reported as missing its intermediate, the cautious side.
"""

from __future__ import annotations

import re
import warnings
from functools import cache

from cryptography import x509

_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@cache
def well_known_root_names() -> frozenset[bytes]:
    """DER subject names of the roots in certifi's bundle (empty when it is unavailable)."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with the AWS and Kubernetes SDKs
        return frozenset()
    try:
        with open(certifi.where(), "rb") as bundle:
            text = bundle.read()
    except OSError:  # pragma: no cover - a broken install: be cautious
        return frozenset()
    return frozenset(root.subject.public_bytes() for root in load_each(text))


def load_each(bundle: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle that parses, one by one.

    One at a time, so that a single root a newer cryptography refuses (some carry a
    non-positive serial, which it deprecates) does not take the whole store with it.
    """
    found = []
    for block in _BLOCK.findall(bundle):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return found


def is_well_known_root_name(name: x509.Name) -> bool:
    """Whether ``name`` is the subject of a well-known public root."""
    return name.public_bytes() in well_known_root_names()
