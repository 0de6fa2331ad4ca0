"""The oracle differential's cases: requests (previous certificate for a reimport, then
certificate, key, chain) with the verdict ACM's documentation gives, and the pinned exceptions.

test_oracle_differential.py drives each through the emulator and the core.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from acm_sync_testbed.emulators.acm import certfacts
from tests.certkit import Issued, acm_key, key_pem, make_cert, pem

NOW = datetime.now(UTC)


@functools.cache
def root() -> Issued:
    # Key slots of their own (2000, 2001): no other test's CA shares these keys.
    return make_cert(
        acm_key("EC_prime256v1", 2000),
        cn="Oracle Root",
        sans=None,
        serial=1,
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=3650),
        ca=True,
    )


@functools.cache
def intermediate() -> Issued:
    return make_cert(
        acm_key("EC_prime256v1", 2001),
        cn="Oracle Intermediate",
        sans=None,
        issuer=root(),
        serial=2,
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=3650),
        ca=True,
        path_length=0,
    )


_EKU = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
}


@dataclass(frozen=True)
class Leaf:
    """A leaf certificate's parameters; the defaults are an ordinary cert-manager leaf."""

    key: str = "RSA_2048"
    key_slot: int = 0
    cn: str | None = "app.example.com"
    sans: tuple[str, ...] = ("app.example.com", "www.example.com")
    ku: tuple[str, ...] | None = ("digital_signature", "key_encipherment")
    eku: tuple[str, ...] | None = ("serverAuth", "clientAuth")
    not_before: timedelta = timedelta(days=-1)
    not_after: timedelta = timedelta(days=90)
    self_signed: bool = False
    empty_issuer: bool = False
    ocsp_url: str | None = None

    def build(self) -> x509.Certificate:
        """The certificate, signed by the oracle's intermediate unless self-signed."""
        return make_cert(
            acm_key(self.key, self.key_slot),
            cn=self.cn,
            sans=self.sans or None,
            issuer=None if self.self_signed else intermediate(),
            issuer_name=x509.Name([]) if self.empty_issuer else None,
            not_before=NOW + self.not_before,
            not_after=NOW + self.not_after,
            basic_constraints=False,
            key_usage=None if self.ku is None else frozenset(self.ku),
            eku=None if self.eku is None else tuple(_EKU[u] for u in self.eku),
            ocsp_url=self.ocsp_url,
        ).cert


@dataclass(frozen=True)
class Case:
    """One ImportCertificate request and ACM's documented verdict on it.

    ``key``: own (PKCS#8), traditional, ec-parameters, encrypted, mismatch, der.
    ``chain``: issuer, none, full (intermediate + root), wrong-order, with-leaf, unrelated,
    root-only, der.
    ``form``: pem, der, blank-line, leading-space, two-certs, crlf.
    """

    name: str
    accept: bool
    source: str  # the facts-file section the verdict comes from
    new: Leaf = field(default_factory=Leaf)
    previous: Leaf | None = None
    key: str = "own"
    chain: str = "issuer"
    form: str = "pem"


@dataclass(frozen=True)
class Request:
    previous: bytes | None  # the certificate held under the ARN, imported with its own key
    previous_key: bytes | None
    certificate: bytes
    private_key: bytes
    chain: bytes | None


def build(case: Case) -> Request:
    """The bytes of ``case``'s request."""
    cert = case.new.build()
    key = acm_key(case.new.key, case.new.key_slot)
    keys: dict[str, Callable[[], bytes]] = {
        "own": lambda: key_pem(key),
        "traditional": lambda: key_pem(key, "traditional"),
        "ec-parameters": lambda: (
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
            b"-----END EC PARAMETERS-----\n" + key_pem(key, "traditional")
        ),
        "encrypted": lambda: key_pem(key, password=b"secret"),
        "mismatch": lambda: key_pem(acm_key(case.new.key, case.new.key_slot + 1)),
        "der": lambda: key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    private_key = keys[case.key]()
    unrelated = Leaf(self_signed=True, key="EC_prime256v1", key_slot=7, cn="other.example.org")
    chains: dict[str, Callable[[], bytes | None]] = {
        "issuer": lambda: intermediate().pem,
        "none": lambda: None,
        "full": lambda: intermediate().pem + root().pem,
        "wrong-order": lambda: root().pem + intermediate().pem,
        "with-leaf": lambda: pem(cert) + intermediate().pem,
        "unrelated": lambda: pem(unrelated.build()),
        "root-only": lambda: root().pem,
        "der": lambda: intermediate().cert.public_bytes(serialization.Encoding.DER),
    }
    chain = chains[case.chain]()
    if case.new.self_signed and case.chain == "issuer":
        chain = None
    certificate = pem(cert)
    if case.form == "der":
        certificate = cert.public_bytes(serialization.Encoding.DER)
    elif case.form == "blank-line":
        certificate += b"\n"
    elif case.form == "leading-space":
        certificate = b" " + certificate
    elif case.form == "two-certs":
        certificate += intermediate().pem
    elif case.form == "crlf":
        certificate = certificate.replace(b"\n", b"\r\n")
    previous, previous_key = None, None
    if case.previous is not None:
        previous = pem(case.previous.build())
        previous_key = key_pem(acm_key(case.previous.key, case.previous.key_slot))
    return Request(previous, previous_key, certificate, private_key, chain)


RSA = Leaf()
EC = Leaf(key="EC_prime256v1")
IMPORT = "What ImportCertificate accepts"
REIMPORT = "Reimport (same ARN)"

CASES: list[Case] = [
    # ----- single imports -----
    Case("rsa-2048", True, IMPORT),
    *(Case(f"key-{k}", True, IMPORT, Leaf(key=k)) for k in ("RSA_3072", "RSA_4096")),
    Case("key-RSA_1024", True, IMPORT, Leaf(key="RSA_1024")),
    *(Case(f"key-{k}", True, IMPORT, Leaf(key=k)) for k in certfacts.KEY_ALGORITHMS if "EC" in k),
    Case("key-RSA_1536-unsupported-size", False, IMPORT, Leaf(key="RSA_1536")),
    Case("key-EC_secp256k1", False, IMPORT, Leaf(key="EC_secp256k1")),
    Case("key-Ed25519", False, IMPORT, Leaf(key="Ed25519"), chain="none"),
    Case("key-DSA", False, IMPORT, Leaf(key="DSA_2048")),
    Case("key-traditional-pkcs1", True, IMPORT, key="traditional"),
    Case("key-ec-parameters-block", True, IMPORT, EC, key="ec-parameters"),
    Case("key-encrypted", False, IMPORT, key="encrypted"),
    Case("key-mismatch", False, IMPORT, key="mismatch"),
    Case("self-signed", True, IMPORT, Leaf(self_signed=True), chain="none"),
    Case("no-chain", True, IMPORT, chain="none"),
    Case("chain-with-root", True, IMPORT, chain="full"),
    Case("chain-wrong-order", False, IMPORT, chain="wrong-order"),
    Case("chain-repeats-leaf", False, IMPORT, chain="with-leaf"),
    Case("chain-unrelated", False, IMPORT, chain="unrelated"),
    Case("chain-root-only", False, IMPORT, chain="root-only"),
    Case("chain-der", False, IMPORT, chain="der"),
    Case("key-der", False, IMPORT, key="der"),
    Case("cert-der", False, IMPORT, form="der"),
    Case("cert-extra-blank-line", False, IMPORT, form="blank-line"),
    Case("cert-leading-space", False, IMPORT, form="leading-space"),
    Case("cert-field-two-certificates", False, IMPORT, form="two-certs"),
    Case("cert-crlf-line-ends", True, IMPORT, form="crlf"),
    Case("expired", False, IMPORT, Leaf(not_before=timedelta(-90), not_after=timedelta(-1))),
    Case("not-yet-valid", False, IMPORT, Leaf(not_before=timedelta(1), not_after=timedelta(90))),
    Case("cn-only-no-san", True, IMPORT, Leaf(sans=())),
    Case("no-fqdn-single-label", False, IMPORT, Leaf(cn="localhost", sans=("localhost",))),
    Case("no-names-at-all", False, IMPORT, Leaf(cn=None, sans=())),
    Case("fqdn-only-in-cn", True, IMPORT, Leaf(sans=("localhost",))),
    Case("san-only-no-cn", True, IMPORT, Leaf(cn=None)),
    Case("wildcard-only", True, IMPORT, Leaf(cn="*.example.com", sans=("*.example.com",))),
    Case("empty-issuer", False, IMPORT, Leaf(empty_issuer=True), chain="none"),
    Case("ocsp-url-1000", True, IMPORT, Leaf(ocsp_url="http://o.example.com/" + "a" * 979)),
    Case("ocsp-url-1001", False, IMPORT, Leaf(ocsp_url="http://o.example.com/" + "a" * 980)),
    # ----- reimports -----
    Case("re-same-everything", True, REIMPORT, RSA, RSA),
    Case("re-RSA_2048-to-RSA_4096", False, REIMPORT, Leaf(key="RSA_4096"), RSA),
    Case("re-RSA-to-EC_P256", False, REIMPORT, EC, RSA),
    Case("re-EC_P256-to-P384", False, REIMPORT, Leaf(key="EC_secp384r1"), EC),
    Case("re-new-key-same-type", True, REIMPORT, Leaf(key_slot=1), RSA),
    Case("re-eku-serverAuth-removed", False, REIMPORT, Leaf(eku=("clientAuth",)), RSA),
    Case("re-eku-clientAuth-removed", True, REIMPORT, Leaf(eku=("serverAuth",)), RSA),
    Case(
        "re-eku-clientAuth-added",
        True,
        REIMPORT,
        RSA,
        Leaf(eku=("serverAuth",)),
    ),
    Case("re-eku-extension-added", False, REIMPORT, RSA, Leaf(eku=None)),
    Case("re-eku-extension-dropped", False, REIMPORT, Leaf(eku=None), RSA),
    Case("re-ku-digitalSignature-removed", False, REIMPORT, Leaf(ku=("key_encipherment",)), RSA),
    Case(
        "re-ku-keyEncipherment-removed-rsa", False, REIMPORT, Leaf(ku=("digital_signature",)), RSA
    ),
    Case(
        "re-ku-keyEncipherment-removed-ecdsa",
        True,
        REIMPORT,
        Leaf(key="EC_prime256v1", ku=("digital_signature",)),
        EC,
    ),
    Case(
        "re-ku-value-added",
        True,
        REIMPORT,
        Leaf(ku=("digital_signature", "key_encipherment", "data_encipherment")),
        RSA,
    ),
    Case("re-ku-extension-added", False, REIMPORT, RSA, Leaf(ku=None)),
    Case("re-san-added", True, REIMPORT, Leaf(sans=(*RSA.sans, "api.example.com")), RSA),
    Case("re-san-one-removed", True, REIMPORT, Leaf(sans=("app.example.com",)), RSA),
    Case(
        "re-all-domain-names-replaced",
        False,
        REIMPORT,
        Leaf(cn="new.example.net", sans=("new.example.net",)),
        RSA,
    ),
    Case(
        "re-cn-changed-sans-kept",
        True,
        REIMPORT,
        Leaf(cn="www.example.com"),
        RSA,
    ),
    Case(
        "re-only-the-cn-kept",
        True,
        REIMPORT,
        Leaf(sans=("api.example.com",)),
        Leaf(sans=("www.example.com",)),
    ),
    Case("re-validity-shorter", True, REIMPORT, Leaf(not_after=timedelta(days=10)), RSA),
    Case("re-validity-longer", True, REIMPORT, Leaf(not_after=timedelta(days=3000)), RSA),
    Case(
        "re-expired-new",
        False,
        REIMPORT,
        Leaf(not_before=timedelta(-30), not_after=timedelta(-1)),
        RSA,
    ),
    Case("re-self-signed-new", True, REIMPORT, Leaf(self_signed=True), RSA, chain="none"),
    Case("re-mismatched-key", False, REIMPORT, RSA, RSA, key="mismatch"),
]

# Cases where the core's verdict differs from ACM's on the same bytes: case name -> the
# core's verdict and which side the documentation backs. Empty since the core learnt the two
# rules this test found missing (a lone single-label name, in "What ImportCertificate
# accepts"; a reimport dropping every previous domain name, in "Reimport (same ARN)").
DISAGREE: dict[str, tuple[bool, str]] = {}

# Inputs ACM would refuse as sent, that the core accepts because the operator rewrites them
# (re-encodes PEM, orders and completes the chain from ca.crt, drops certificates that are
# not the leaf's issuers) before importing. Not a disagreement about ACM: the test checks
# that the rewritten material is accepted by the emulator.
REPAIRED: dict[str, str] = {
    "chain-wrong-order": "the core orders the chain from ca.crt, leaf's issuer first",
    "chain-repeats-leaf": "the core drops the leaf from the chain",
    "chain-unrelated": "the core ignores a ca.crt that did not issue the leaf",
    "chain-root-only": "the core ignores a ca.crt that did not issue the leaf",
    "cert-extra-blank-line": "the core re-encodes every PEM block",
    "cert-leading-space": "the core re-encodes every PEM block",
    "cert-field-two-certificates": "the core splits tls.crt into leaf and chain",
}
