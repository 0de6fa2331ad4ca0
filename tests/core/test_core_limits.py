"""Hostile Secrets (issue 19, item 4): each bound of core/limits.py gives its own finding, and
the shapes that made the analysis quadratic cost a bounded number of signature checks.

No timings here (those are bench/bench_analysis.py's); the signature checks are counted,
which is deterministic.
"""

from __future__ import annotations

import math
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from acm_sync.core import chain
from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code
from acm_sync.core.limits import DEFAULT_LIMITS, Limits
from acm_sync.core.pem import _spans, count_blocks, parse_pem
from acm_sync.core.x509facts import format_serial, issued_by
from tests.certkit import NOW, Issued, Pki, ec_key, make_cert, make_pki, rsa_key

MIB = 1024 * 1024
VICTIM = "victim.example.com"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki(ec_key("P-256", 7))


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many signatures the chain module verified (one entry per verification)."""
    seen: list[int] = []

    def counting(child: x509.Certificate, parent: x509.Certificate) -> bool:
        seen.append(1)
        return issued_by(child, parent)

    monkeypatch.setattr(chain, "issued_by", counting)
    return seen


def same_named(n: int) -> list[Issued]:
    """n self-signed certificates with one subject and n different keys."""
    return [make_cert(ec_key("P-256", 300 + i), cn=VICTIM, sans=(VICTIM,)) for i in range(n)]


def same_named_chain(n: int) -> list[Issued]:
    """n certificates with one subject, each signed by the one before it."""
    certs = [make_cert(ec_key("P-256", 300), cn=VICTIM, sans=(VICTIM,), ca=True)]
    for i in range(1, n):
        key = ec_key("P-256", 300 + i)
        certs.append(make_cert(key, cn=VICTIM, sans=(VICTIM,), ca=True, issuer=certs[-1]))
    return certs


def codes(analysis_errors: tuple[object, ...]) -> list[Code]:
    return [f.code for f in analysis_errors]  # type: ignore[attr-defined]


def test_a_mebibyte_of_pem_blocks_is_refused_before_any_is_decoded(pki: Pki) -> None:
    block = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
    bomb = block * (MIB // len(block))
    analysis = analyze(bomb, pki.leaf.key_pem(), now=NOW)
    assert codes(analysis.errors) == [Code.TOO_MANY_CERTIFICATES]
    assert (
        f"tls.crt holds {MIB // len(block):,} PEM blocks; at most 102" in analysis.errors[0].message
    )
    assert analysis.material is None


def test_a_mebibyte_of_begin_lines_without_end_is_refused(pki: Pki) -> None:
    line = b"-----BEGIN CERTIFICATE-----\n"
    analysis = analyze(line * (MIB // len(line)), pki.leaf.key_pem(), now=NOW)
    assert codes(analysis.errors) == [Code.TOO_MANY_CERTIFICATES]


def test_the_bundle_limit_is_the_number_of_blocks(pki: Pki) -> None:
    limit = DEFAULT_LIMITS.bundle_certificates
    at_limit = pki.leaf.pem + pki.intermediate.pem * (limit - 1)
    assert count_blocks(at_limit) == limit
    assert analyze(at_limit, pki.leaf.key_pem(), now=NOW).valid  # repeats are dropped
    over = analyze(at_limit + pki.intermediate.pem, pki.leaf.key_pem(), now=NOW)
    assert codes(over.errors) == [Code.TOO_MANY_CERTIFICATES]


def test_a_trust_bundle_in_ca_crt_has_its_own_limit(pki: Pki) -> None:
    material = (pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem())
    bundle = pki.root.pem * DEFAULT_LIMITS.ca_certificates
    assert analyze(*material, bundle, now=NOW).valid
    over = analyze(*material, bundle + pki.root.pem, now=NOW)
    assert codes(over.errors) == [Code.TOO_MANY_CERTIFICATES]
    assert over.errors[0].message.startswith("ca.crt holds 1,001 PEM blocks")


def test_input_larger_than_any_secret_is_not_read(pki: Pki) -> None:
    padding = b"#" * MIB  # prose around PEM is allowed, but not this much
    analysis = analyze(pki.leaf.pem + padding, pki.leaf.key_pem(), now=NOW)
    assert codes(analysis.errors) == [Code.INPUT_TOO_LARGE]
    assert "1,048,576" in analysis.errors[0].message


def test_a_key_file_too_large_to_hold_a_key_acm_takes_is_not_parsed(pki: Pki) -> None:
    key = pki.leaf.key_pem() + b"\n" * DEFAULT_LIMITS.key_file_bytes
    analysis = analyze(pki.leaf.pem + pki.intermediate.pem, key, now=NOW)
    assert codes(analysis.errors) == [Code.KEY_TOO_LARGE]
    assert "5,120" in analysis.errors[0].message


def test_acm_sizes_for_certificate_and_chain_are_settings(pki: Pki) -> None:
    bundle, key = pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem()
    assert analyze(bundle, key, now=NOW).valid
    tight = Limits(
        certificate_bytes=len(pki.leaf.pem) - 1, chain_bytes=len(pki.intermediate.pem) - 1
    )
    analysis = analyze(bundle, key, now=NOW, limits=tight)
    assert codes(analysis.errors) == [Code.CERTIFICATE_TOO_LARGE, Code.CHAIN_TOO_LARGE]
    assert f"ACM allows at most {len(pki.leaf.pem) - 1:,}" in analysis.errors[0].message


def test_same_named_certificates_without_the_key_name_the_first_as_the_leaf(
    checks: list[int],
) -> None:
    certs = same_named(40)
    stranger = make_cert(ec_key("P-256", 299)).key_pem()
    analysis = analyze(b"".join(c.pem for c in certs), stranger, now=NOW)
    assert codes(analysis.errors) == [Code.KEY_MISMATCH, Code.BROKEN_CHAIN]
    assert (
        f"the leaf 'CN={VICTIM}' holds a different EC_prime256v1 key" in analysis.errors[0].message
    )
    assert analysis.facts is not None
    assert analysis.facts.serial == format_serial(certs[0].cert.serial_number)
    # The old search verified all 40 * 39 pairs; the budget is one per certificate plus 16.
    assert len(checks) <= DEFAULT_LIMITS.signature_checks(40)
    # The BrokenChain message names five of the 39 others, not all of them.
    assert "and 34 more do(es) not certify the chain" in analysis.errors[1].message


def test_a_chain_of_same_named_certificates_spends_the_budget_and_says_so(
    checks: list[int],
) -> None:
    certs = same_named_chain(60)
    analysis = analyze(b"".join(c.pem for c in certs), certs[-1].key_pem(), now=NOW)
    assert len(checks) == DEFAULT_LIMITS.signature_checks(60)
    assert Code.BROKEN_CHAIN in codes(analysis.errors)
    assert any("signature checks" in f.message for f in analysis.errors)
    assert analysis.material is None


def test_a_real_chain_costs_one_check_per_certificate(checks: list[int]) -> None:
    # Root, 20 intermediates and the leaf, root first: the leaf is found without its key by
    # checking which certificate issued none, and the walk reuses those verdicts.
    certs = [make_cert(ec_key("P-256", 200), cn="Root", sans=None, ca=True)]
    for i in range(1, 21):
        certs.append(
            make_cert(ec_key("P-256", 200 + i), cn=f"CA {i}", sans=None, ca=True, issuer=certs[-1])
        )
    leaf = make_cert(ec_key("P-256", 250), issuer=certs[-1])
    bundle = b"".join(c.pem for c in [*certs, leaf])
    analysis = analyze(bundle, make_cert(ec_key("P-256", 251)).key_pem(), now=NOW)
    assert codes(analysis.errors) == [Code.KEY_MISMATCH]
    assert analysis.facts is not None
    assert analysis.facts.subject == "CN=www.example.com"
    assert len(checks) <= len(certs) + 1
    checks.clear()
    assert analyze(bundle, leaf.key_pem(), now=NOW).valid
    assert len(checks) <= len(certs) + 1


def test_a_parent_with_an_oversized_rsa_exponent_signed_nothing() -> None:
    # A 3,000-bit exponent makes each verification a hundred times dearer; no CA has one.
    numbers = rsa_key(1024, 3).private_numbers()
    p, q = numbers.p, numbers.q
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    e = next(e for e in range(2**1000 + 1, 2**1000 + 10**6, 2) if math.gcd(e, lam) == 1)
    d = pow(e, -1, lam)
    public = rsa.RSAPublicNumbers(e, p * q)
    key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public)
    parent = make_cert(key.private_key(unsafe_skip_rsa_key_validation=True), cn="Odd CA", ca=True)
    child = make_cert(ec_key("P-256", 8), issuer=parent)
    child.cert.verify_directly_issued_by(parent.cert)  # it did sign it
    assert not issued_by(child.cert, parent.cert)


# The block regex the linear scanner replaced: quadratic, but the reference for what a block is.
_REFERENCE = re.compile(rb"-----BEGIN ([A-Z0-9][A-Z0-9 ]{0,62})-----(.*?)-----END \1-----", re.S)
_PIECES = st.sampled_from(
    [
        b"-----BEGIN CERTIFICATE-----",
        b"-----END CERTIFICATE-----",
        b"-----BEGIN A-----",
        b"-----END A-----",
        b"-----BEGIN ",
        b"-----END ",
        b"-----",
        b"A",
        b"MAA=",
        b"\n",
        b"Proc-Type: 4,ENCRYPTED\n",
        b" ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=24).map(b"".join))
def test_the_linear_scanner_finds_the_blocks_the_regex_found(data: bytes) -> None:
    expected = [(m.group(1), m.group(2)) for m in _REFERENCE.finditer(data)]
    assert [(label, data[start:stop]) for label, start, stop in _spans(data)] == expected
    pem = parse_pem(data)
    assert len(pem.blocks) + len(pem.bad_blocks) == len(expected)
