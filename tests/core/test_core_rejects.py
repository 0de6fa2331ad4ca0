"""Every error and warning code, each from material that really has the problem."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import certifi
import pytest
from cryptography.hazmat.primitives import serialization

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code
from acm_sync.core.model import Analysis
from acm_sync.core.roots import load_each, well_known_root_names
from tests.certkit import (
    NOW,
    Issued,
    Pki,
    ec_key,
    ed25519_key,
    make_cert,
    make_pki,
    rsa_key,
)

Inputs = tuple[bytes | None, bytes | None, bytes | None]


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 128:
        return bytes([tag, size]) + body
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _sequence_body(der: bytes) -> bytes:
    assert der[0] == 0x30
    if der[1] < 128:
        return der[2 : 2 + der[1]]
    width = der[1] & 0x7F
    size = int.from_bytes(der[2 : 2 + width], "big")
    return der[2 + width : 2 + width + size]


def oversized_pkcs8(key_pem: bytes) -> bytes:
    """A valid P-256 PKCS#8 key made larger than 5,120 bytes by a PKCS#9-style attribute."""
    der = serialization.load_pem_private_key(key_pem, None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    attribute = _tlv(0x30, _tlv(0x06, b"\x2a\x03\x04") + _tlv(0x31, _tlv(0x04, b"x" * 4200)))
    big = _tlv(0x30, _sequence_body(der) + _tlv(0xA0, attribute))
    body = base64.encodebytes(big)
    return b"-----BEGIN PRIVATE KEY-----\n" + body + b"-----END PRIVATE KEY-----\n"


def encrypted(issued: Issued, fmt: serialization.PrivateFormat) -> bytes:
    return issued.key.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.BestAvailableEncryption(b"secret")
    )


@dataclass(frozen=True)
class Case:
    build: Callable[[Pki], Inputs]
    code: Code
    message_has: str = ""
    now_shift: timedelta = timedelta()


def ok(p: Pki) -> Inputs:
    return p.leaf.pem + p.intermediate.pem, p.leaf.key_pem(), p.root.pem


def leaf_with(**kw: object) -> Callable[[Pki], Inputs]:
    def build(p: Pki) -> Inputs:
        leaf = make_cert(ec_key("P-256", 9), issuer=p.intermediate, **kw)  # type: ignore[arg-type]
        return leaf.pem + p.intermediate.pem, leaf.key_pem(), p.root.pem

    return build


def self_signed(key_fn: Callable[[], object]) -> Callable[[Pki], Inputs]:
    def build(_p: Pki) -> Inputs:
        leaf = make_cert(key_fn())  # type: ignore[arg-type]
        return leaf.pem, leaf.key_pem(), None

    return build


ERRORS: dict[str, Case] = {
    "tls.crt is DER": Case(lambda p: (p.leaf.der, p.leaf.key_pem(), None), Code.NOT_PEM, "DER"),
    "tls.key is DER": Case(
        lambda p: (
            p.leaf.pem,
            p.leaf.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            None,
        ),
        Code.NOT_PEM,
        "tls.key",
    ),
    "ca.crt is DER": Case(lambda p: (ok(p)[0], ok(p)[1], p.root.der), Code.NOT_PEM, "ca.crt"),
    "certificate base64 broken": Case(
        lambda p: (p.leaf.pem.replace(b"\n", b"\n!", 3), p.leaf.key_pem(), None),
        Code.NOT_PEM,
        "base64",
    ),
    "certificate DER garbage": Case(
        lambda p: (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            p.leaf.key_pem(),
            None,
        ),
        Code.NOT_PEM,
        "not a valid X.509",
    ),
    "tls.crt empty": Case(lambda p: (b"", p.leaf.key_pem(), None), Code.NO_CERTIFICATE),
    "tls.crt holds only a key": Case(
        lambda p: (p.leaf.key_pem(), p.leaf.key_pem(), None), Code.NO_CERTIFICATE, "PRIVATE KEY"
    ),
    "tls.key missing": Case(lambda p: (p.leaf.pem, None, None), Code.NO_PRIVATE_KEY),
    "tls.key holds a certificate": Case(
        lambda p: (p.leaf.pem, p.leaf.pem, None), Code.NO_PRIVATE_KEY, "CERTIFICATE"
    ),
    "PKCS#8 encrypted": Case(
        lambda p: (p.leaf.pem, encrypted(p.leaf, serialization.PrivateFormat.PKCS8), None),
        Code.ENCRYPTED_KEY,
        "ENCRYPTED PRIVATE KEY",
    ),
    "PKCS#1 encrypted (Proc-Type)": Case(
        lambda p: (
            p.leaf.pem,
            encrypted(p.leaf, serialization.PrivateFormat.TraditionalOpenSSL),
            None,
        ),
        Code.ENCRYPTED_KEY,
        "RSA PRIVATE KEY",
    ),
    "key of another certificate": Case(
        lambda p: (
            p.leaf.pem + p.intermediate.pem,
            make_pki(rsa_key(2048, 1)).leaf.key_pem(),
            None,
        ),
        Code.KEY_MISMATCH,
        "CN=www.example.com",
    ),
    "Ed25519": Case(self_signed(ed25519_key), Code.UNSUPPORTED_KEY_ALGORITHM, "Ed25519"),
    "secp256k1": Case(
        self_signed(lambda: ec_key("secp256k1")), Code.UNSUPPORTED_KEY_ALGORITHM, "secp256k1"
    ),
    "key over 5,120 bytes": Case(
        lambda p: (
            (leaf := make_cert(ec_key("P-256", 9), issuer=p.intermediate)).pem,
            oversized_pkcs8(leaf.key_pem()),
            p.intermediate.pem,
        ),
        Code.KEY_TOO_LARGE,
        "5,120",
    ),
    "no names at all": Case(leaf_with(cn=None, sans=None), Code.NO_DOMAIN),
    "single-label name only": Case(
        leaf_with(cn="localhost", sans=("localhost",)), Code.NO_DOMAIN, "fully qualified"
    ),
    "empty issuer": Case(
        lambda p: (
            (c := make_cert(ec_key("P-256", 9), issuer_cn="")).pem,
            c.key_pem(),
            None,
        ),
        Code.EMPTY_ISSUER,
    ),
    "not yet valid": Case(
        leaf_with(not_before=NOW + timedelta(days=1)), Code.NOT_YET_VALID, "2026-06-02"
    ),
    "expired": Case(leaf_with(not_after=NOW - timedelta(seconds=1)), Code.EXPIRED, "2026-06-01"),
    "unrelated intermediate": Case(
        lambda p: (p.leaf.pem + make_pki(slot=5).intermediate.pem, p.leaf.key_pem(), None),
        Code.BROKEN_CHAIN,
        "'CN=Test Intermediate 5'",
    ),
    "extra certificate beyond a complete chain": Case(
        lambda p: (
            p.leaf.pem + p.intermediate.pem + p.root.pem + make_pki(slot=5).root.pem,
            p.leaf.key_pem(),
            None,
        ),
        Code.BROKEN_CHAIN,
        "'CN=Test Root 5'",
    ),
    "OCSP URL of 1,001 characters": Case(
        leaf_with(ocsp_url="http://ocsp.example.com/" + "a" * 977), Code.OCSP_URL_TOO_LONG, "1001"
    ),
}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def key_fragments(key_pem: bytes | None) -> list[str]:
    """Slices of the key's base64 body: none may ever appear in any output."""
    if not key_pem or b"-----BEGIN" not in key_pem:
        return []
    body = b"".join(
        line.strip() for line in key_pem.splitlines() if line and not line.startswith(b"-----")
    ).decode("ascii", "replace")
    return [body[i : i + 24] for i in range(0, max(len(body) - 24, 1), 200)]


def assert_no_key_material(analysis: Analysis, key: bytes | None) -> None:
    text = repr(analysis) + "".join(f.message for f in analysis.errors + analysis.warnings)
    for fragment in key_fragments(key):
        assert fragment not in text


@pytest.mark.parametrize("name", list(ERRORS))
def test_error_codes(pki: Pki, name: str) -> None:
    case = ERRORS[name]
    cert, key, ca = case.build(pki)
    analysis = analyze(cert, key, ca, now=NOW)
    assert not analysis.valid
    assert analysis.material is None
    codes = {f.code for f in analysis.errors}
    assert case.code in codes, analysis.errors
    message = next(f.message for f in analysis.errors if f.code == case.code)
    assert case.message_has in message
    assert_no_key_material(analysis, key)


def test_broken_chain_names_the_certificate_whose_issuer_is_missing(pki: Pki) -> None:
    other = make_pki(slot=5)
    analysis = analyze(pki.leaf.pem + other.intermediate.pem, pki.leaf.key_pem(), now=NOW)
    (finding,) = analysis.errors
    assert "issuer of 'CN=www.example.com' ('CN=Test Intermediate 0') is missing" in finding.message


def impostor(real: Issued, signer: Issued | None = None) -> Issued:
    """Same subject name as ``real``, different key: only a signature check tells them apart."""
    cn = real.cert.subject.rfc4514_string().removeprefix("CN=")
    return make_cert(ec_key("P-256", 42), cn=cn, sans=None, ca=True, issuer=signer)


def test_a_same_named_intermediate_with_another_key_breaks_the_chain(pki: Pki) -> None:
    fake = impostor(pki.intermediate, signer=pki.root)
    analysis = analyze(pki.leaf.pem + fake.pem, pki.leaf.key_pem(), now=NOW)
    assert [f.code for f in analysis.errors] == [Code.BROKEN_CHAIN]


def test_ca_crt_with_the_root_name_but_another_key_is_not_appended(pki: Pki) -> None:
    analysis = analyze(
        pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem(), impostor(pki.root).pem, now=NOW
    )
    assert analysis.valid
    assert [f.code for f in analysis.warnings] == [Code.CHAIN_INCOMPLETE]
    assert analysis.material is not None
    assert analysis.material.chain == pki.intermediate.pem


def test_key_mismatch_still_describes_the_leaf(pki: Pki) -> None:
    reversed_bundle = pki.root.pem + pki.intermediate.pem + pki.leaf.pem
    analysis = analyze(reversed_bundle, make_cert(ec_key("P-256", 4)).key_pem(), now=NOW)
    assert [f.code for f in analysis.errors] == [Code.KEY_MISMATCH]
    assert analysis.facts is not None
    assert analysis.facts.subject == "CN=www.example.com"


def test_problems_are_all_reported_together(pki: Pki) -> None:
    leaf = make_cert(
        ec_key("P-256", 9),
        cn=None,
        sans=None,
        issuer_cn="Some CA",
        not_after=NOW - timedelta(days=1),
    )
    analysis = analyze(leaf.pem, encrypted(leaf, serialization.PrivateFormat.PKCS8), now=NOW)
    assert {f.code for f in analysis.errors} == {Code.ENCRYPTED_KEY, Code.NO_DOMAIN, Code.EXPIRED}


@pytest.mark.parametrize(
    ("days_left", "threshold", "warned"),
    [(10, 30, True), (29, 30, True), (31, 30, False), (10, 5, False), (10, 11, True)],
)
def test_expires_soon_follows_the_threshold(
    pki: Pki, days_left: int, threshold: int, warned: bool
) -> None:
    leaf = make_cert(
        ec_key("P-256", 9), issuer=pki.intermediate, not_after=NOW + timedelta(days=days_left)
    )
    analysis = analyze(
        leaf.pem + pki.intermediate.pem,
        leaf.key_pem(),
        pki.root.pem,
        now=NOW,
        expiry_warning_days=threshold,
    )
    assert analysis.valid
    assert ({f.code for f in analysis.warnings} == {Code.EXPIRES_SOON}) is warned
    if warned:
        assert f"in {days_left} day(s)" in analysis.warnings[0].message


def test_a_leaf_without_its_intermediate_warns_intermediate_missing(pki: Pki) -> None:
    analysis = analyze(pki.leaf.pem, pki.leaf.key_pem(), make_pki(slot=6).root.pem, now=NOW)
    assert analysis.valid  # ACM accepts it; clients will not
    (warning,) = analysis.warnings
    assert warning.code is Code.INTERMEDIATE_MISSING
    assert "'CN=Test Intermediate 0'" in warning.message


def test_a_chain_that_only_omits_the_root_is_the_mild_chain_incomplete(pki: Pki) -> None:
    analysis = analyze(pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem(), now=NOW)
    assert analysis.valid
    assert [f.code for f in analysis.warnings] == [Code.CHAIN_INCOMPLETE]


def test_a_leaf_issued_by_a_well_known_root_is_not_missing_an_intermediate() -> None:
    # Issued in the name of a root in certifi's bundle (signed by another key: only the
    # issuer name decides), the chain merely omits that root.

    key = ec_key("P-256", 9)
    bundle = Path(certifi.where()).read_bytes()
    root_name = next(
        c.subject for c in load_each(bundle) if "ISRG Root X1" in c.subject.rfc4514_string()
    )
    assert root_name.public_bytes() in well_known_root_names()
    leaf = make_cert(key)
    cert = make_cert(
        key,
        issuer=make_cert(ec_key("P-256", 8)),
        issuer_name=root_name,
        serial=7,
        basic_constraints=False,
    ).cert
    pem = cert.public_bytes(serialization.Encoding.PEM)
    analysis = analyze(pem, leaf.key_pem(), now=NOW)
    assert analysis.valid, analysis.errors
    assert [f.code for f in analysis.warnings] == [Code.CHAIN_INCOMPLETE]


def test_cloudfront_warning_names_the_algorithm() -> None:
    pki = make_pki(ec_key("P-521"))
    analysis = analyze(
        pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem(), pki.root.pem, now=NOW
    )
    assert analysis.valid
    (warning,) = analysis.warnings
    assert warning.code is Code.CLOUDFRONT_INCOMPATIBLE
    assert "EC_secp521r1" in warning.message


def test_naive_now_is_a_caller_bug(pki: Pki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        analyze(pki.leaf.pem, pki.leaf.key_pem(), now=NOW.replace(tzinfo=None))


def test_a_fully_qualified_cn_beside_single_label_sans_is_enough(pki: Pki) -> None:
    # ACM shows the CN as the certificate's DomainName, so it names the site too.
    cert, key, ca = leaf_with(cn="app.example.com", sans=("localhost",))(pki)
    assert analyze(cert, key, ca, now=NOW).valid
