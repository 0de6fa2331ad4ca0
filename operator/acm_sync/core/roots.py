"""The well-known public roots (Mozilla's store as certifi ships it), by subject name, and the
private roots the user says clients trust (``--private-root-ca-file``).

Used only to tell a chain that merely leaves out a public root (normal, harmless) from one
whose leaf stops at an issuer nobody can find. Without certifi the set is empty, and every
such leaf is reported as missing its intermediate, the cautious side. A chain that ends where
a listed private root signed it is complete as far as its clients are concerned: no warning.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class PrivateRoots:
    """Roots of private PKIs whose clients hold them, indexed by DER subject name.

    Matched by name and then by signature (chain.py), never by name alone: a chain from
    another CA that happens to reuse the name still gets its warning.
    """

    by_subject: Mapping[bytes, tuple[x509.Certificate, ...]] = field(default_factory=dict)

    def named_as_issuer_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """The listed roots whose subject is ``cert``'s issuer (signatures not checked)."""
        return self.by_subject.get(cert.issuer.public_bytes(), ())

    def __len__(self) -> int:
        return sum(len(roots) for roots in self.by_subject.values())


NO_PRIVATE_ROOTS = PrivateRoots()


def private_roots(bundle: bytes) -> PrivateRoots:
    """The certificates of a PEM bundle as :class:`PrivateRoots` (those that parse)."""
    by_subject: dict[bytes, tuple[x509.Certificate, ...]] = {}
    for root in load_each(bundle):
        name = root.subject.public_bytes()
        by_subject[name] = (*by_subject.get(name, ()), root)
    return PrivateRoots(by_subject)
