"""Differential test: the emulator's ACM rules (the oracle) against the operator's core.

The emulator's rules are written from ACM's documentation and import none of the operator's
code, so agreement between the two is evidence, not a tautology. Every case is a request
(previous certificate for a reimport, then certificate, key, chain) with the verdict ACM's
documentation gives (``accept``); the test asserts:

* the emulator, driven through its API, gives the documented verdict;
* the core (``analyze`` over the same bytes as tls.crt / tls.key / ca.crt, and for reimports
  ``check_reimport``) gives the same verdict, unless the case is pinned in :data:`DISAGREE`
  or :data:`REPAIRED` with the reason;
* whatever the core accepts, the material it would send is accepted by the emulator.

Checked to fail: with the emulator's EKU rule broken to let serverAuth go, the
serverAuth-removed and EKU-extension-dropped cases fail in both tests.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Severity
from acm_sync.core.reimport import check_reimport as core_check_reimport
from acm_sync_testbed.emulators.acm import rules
from acm_sync_testbed.emulators.acm.backend import AcmError, StrictAcm

NOW = datetime.now(UTC)
Key = CertificateIssuerPrivateKeyTypes


@functools.cache
def make_key(kind: str, slot: int = 0) -> Key:
    """One key per (kind, slot) for the module; RSA generation is the slow part."""
    del slot  # part of the cache key only: distinct slots give distinct keys
    if kind.startswith("RSA_"):
        return rsa.generate_private_key(65537, int(kind[4:]))
    curves: dict[str, ec.EllipticCurve] = {
        "EC_prime256v1": ec.SECP256R1(),
        "EC_secp384r1": ec.SECP384R1(),
        "EC_secp521r1": ec.SECP521R1(),
        "EC_secp256k1": ec.SECP256K1(),
    }
    if kind in curves:
        return ec.generate_private_key(curves[kind])
    if kind == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "DSA_2048":
        return dsa.generate_private_key(2048)
    raise ValueError(kind)


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


@dataclass(frozen=True)
class _Ca:
    cert: x509.Certificate
    key: Key

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@functools.cache
def root() -> _Ca:
    key = make_key("EC_prime256v1", 100)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Oracle Root"))
        .issuer_name(_name("Oracle Root"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=10))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _Ca(cert, key)


@functools.cache
def intermediate() -> _Ca:
    key = make_key("EC_prime256v1", 101)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Oracle Intermediate"))
        .issuer_name(root().cert.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - timedelta(days=10))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root().key, hashes.SHA256())
    )
    return _Ca(cert, key)


_EKU = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
}
_KU_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


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
        key = make_key(self.key, self.key_slot)
        signer, issuer_name = intermediate().key, intermediate().cert.subject
        if self.self_signed:
            signer, issuer_name = key, _name(self.cn)
        if self.empty_issuer:
            issuer_name = x509.Name([])
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(self.cn))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + self.not_before)
            .not_valid_after(NOW + self.not_after)
        )
        if self.sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in self.sans]), False
            )
        if self.ku is not None:
            flags = {name: name in self.ku for name in _KU_FIELDS}
            builder = builder.add_extension(
                x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), True
            )
        if self.eku is not None:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([_EKU[u] for u in self.eku]), False
            )
        if self.ocsp_url is not None:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self.ocsp_url),
                        )
                    ]
                ),
                False,
            )
        algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        return builder.sign(signer, algorithm)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: Key, fmt: str = "pkcs8", password: bytes | None = None) -> bytes:
    form = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if fmt == "traditional"
        else serialization.PrivateFormat.PKCS8
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, form, encryption)


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
    key = make_key(case.new.key, case.new.key_slot)
    keys: dict[str, Callable[[], bytes]] = {
        "own": lambda: _key_pem(key),
        "traditional": lambda: _key_pem(key, "traditional"),
        "ec-parameters": lambda: (
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
            b"-----END EC PARAMETERS-----\n" + _key_pem(key, "traditional")
        ),
        "encrypted": lambda: _key_pem(key, password=b"secret"),
        "mismatch": lambda: _key_pem(make_key(case.new.key, case.new.key_slot + 1)),
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
        "with-leaf": lambda: _pem(cert) + intermediate().pem,
        "unrelated": lambda: _pem(unrelated.build()),
        "root-only": lambda: root().pem,
        "der": lambda: intermediate().cert.public_bytes(serialization.Encoding.DER),
    }
    chain = chains[case.chain]()
    if case.new.self_signed and case.chain == "issuer":
        chain = None
    certificate = _pem(cert)
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
        previous = _pem(case.previous.build())
        previous_key = _key_pem(make_key(case.previous.key, case.previous.key_slot))
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
    *(Case(f"key-{k}", True, IMPORT, Leaf(key=k)) for k in rules.KEY_ALGORITHMS if "EC" in k),
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


@pytest.fixture(scope="module")
def acm() -> StrictAcm:
    return StrictAcm()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def emulator_verdict(acm: StrictAcm, request: Request) -> tuple[bool, str]:
    """Send the request through the emulator's API (a reimport after importing ``previous``)."""
    acm.reset()
    params: dict[str, Any] = {}
    if request.previous is not None and request.previous_key is not None:
        # A reimport: the previous certificate must itself be an accepted import.
        seeded = acm.handle(
            "us-east-1",
            "ImportCertificate",
            {
                "Certificate": _b64(request.previous),
                "PrivateKey": _b64(request.previous_key),
                "CertificateChain": _b64(intermediate().pem),
            },
        )
        params["CertificateArn"] = seeded["CertificateArn"]
    try:
        params.update(Certificate=_b64(request.certificate), PrivateKey=_b64(request.private_key))
        if request.chain is not None:
            params["CertificateChain"] = _b64(request.chain)
        acm.handle("us-east-1", "ImportCertificate", params)
    except AcmError as err:
        return False, f"{err.error_type}: {err.message}"
    return True, "accepted"


def core_verdict(request: Request) -> tuple[bool, Any]:
    analysis = analyze(
        request.certificate,
        request.private_key,
        request.chain,
        now=datetime.now(UTC),
        previous_certificate=request.previous,
    )
    return not analysis.errors, analysis


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_emulator_and_core_agree(acm: StrictAcm, case: Case) -> None:
    request = build(case)
    emulator_accepts, why = emulator_verdict(acm, request)
    assert emulator_accepts is case.accept, f"emulator: {why}"

    core_accepts, analysis = core_verdict(request)
    expected_core = DISAGREE.get(case.name, (case.accept, ""))[0]
    if case.name in REPAIRED:
        expected_core = True
    assert core_accepts is expected_core, f"core: {[f.message for f in analysis.errors]}"

    if core_accepts and case.name not in DISAGREE:
        # Whatever the operator would send must be what ACM accepts.
        material = analysis.material
        assert material is not None
        sent = replace(
            request,
            certificate=material.certificate,
            private_key=material.private_key,
            chain=material.chain,
        )
        accepted, why = emulator_verdict(acm, sent)
        assert accepted, f"the core's material is refused by the emulator: {why}"


PAIRS = [c for c in CASES if c.previous is not None and c.key == "own"]


@pytest.mark.parametrize("case", PAIRS, ids=lambda c: c.name)
def test_reimport_rules_agree(case: Case) -> None:
    """The reimport rules alone: the emulator's ``check_reimport`` against the core's."""
    request = build(case)
    assert request.previous is not None
    oracle = rules.check_reimport(request.previous, request.certificate) is None
    core = not [
        f
        for f in core_check_reimport(request.previous, request.certificate)
        if f.severity is Severity.ERROR
    ]
    # Cases refused for an import rule (not a reimport rule) pass the reimport rules.
    import_ok = rules.check_import(request.certificate, request.private_key, request.chain) is None
    if import_ok:
        assert oracle is case.accept
    expected_core = DISAGREE.get(case.name, (oracle, ""))[0] if import_ok else oracle
    assert core is expected_core


def test_regions_and_arns_agree() -> None:
    """The emulator reads regions and ARNs on its own; the operator must read them alike."""
    from acm_sync.aws.region_table import acm_regions as operator_regions
    from acm_sync.core.regions import region_of_arn as operator_region_of_arn
    from acm_sync_testbed.emulators.acm.regions import acm_regions, region_of_arn

    assert acm_regions() == operator_regions()
    for arn in (
        "arn:aws:acm:us-east-1:123456789012:certificate/0b1f2c3d-aaaa-bbbb-cccc-000000000000",
        "arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc",
        "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/abc",
        "arn:aws:acm:us-east-1:12345:certificate/abc",
        "arn:aws:iam::123456789012:server-certificate/abc",
        "not an arn",
    ):
        assert region_of_arn(arn) == operator_region_of_arn(arn), arn
