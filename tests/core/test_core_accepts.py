"""Material ACM accepts, in every shape Secrets arrive in, comes out canonical and identical."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code
from acm_sync.core.fingerprint import fingerprint
from acm_sync.core.model import Analysis
from tests.certkit import NOW, Issued, Key, Pki, ec_key, make_cert, make_pki, rsa_key

# The named-curve OID of P-256, as `openssl ecparam` writes it before an EC key.
P256_PARAMETERS = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
CANONICAL_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z ]+)-----\n(?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/]{1,63}=*\n-----END \1-----\n"
)


def run(cert: bytes, key: bytes | None, ca: bytes | None = None, **kw: object) -> Analysis:
    return analyze(cert, key, ca, now=NOW, **kw)  # type: ignore[arg-type]


def assert_canonical(pem: bytes, blocks: int) -> None:
    matches = CANONICAL_BLOCK.findall(pem)
    assert len(matches) == blocks
    assert b"".join(m.group(0) for m in CANONICAL_BLOCK.finditer(pem)) == pem


@dataclass(frozen=True)
class Variant:
    """How to lay out one Secret, and what ACM should receive from it."""

    build: Callable[[Pki], tuple[bytes, bytes, bytes | None]]
    chain: Callable[[Pki], list[Issued]]
    warnings: frozenset[Code] = frozenset()


def leaf_inter(p: Pki) -> list[Issued]:
    return [p.intermediate]


def full(p: Pki) -> list[Issued]:
    return [p.intermediate, p.root]


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def messy(data: bytes) -> bytes:
    """Trailing spaces on every line, blank lines and prose around the blocks."""
    lines = [line + b"  \t" for line in data.split(b"\n")]
    return b"subject=CN = whatever\n\n\n" + b"\n".join(lines) + b"\n\n# trailing comment\n"


INCOMPLETE = frozenset({Code.CHAIN_INCOMPLETE})
VARIANTS: dict[str, Variant] = {
    "leaf+intermediate": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem, p.leaf.key_pem(), None), leaf_inter, INCOMPLETE
    ),
    "full chain in order": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem + p.root.pem, p.leaf.key_pem(), None), full
    ),
    "chain reversed": Variant(
        lambda p: (p.root.pem + p.intermediate.pem + p.leaf.pem, p.leaf.key_pem(), None), full
    ),
    "leaf repeated in chain": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem + p.leaf.pem, p.leaf.key_pem(), None),
        leaf_inter,
        INCOMPLETE,
    ),
    "duplicate intermediate": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem * 2, p.leaf.key_pem(), None),
        leaf_inter,
        INCOMPLETE,
    ),
    "CRLF everywhere": Variant(
        lambda p: (crlf(p.leaf.pem + p.intermediate.pem), crlf(p.leaf.key_pem()), None),
        leaf_inter,
        INCOMPLETE,
    ),
    "trailing spaces, blank lines, prose": Variant(
        lambda p: (messy(p.leaf.pem + p.intermediate.pem), messy(p.leaf.key_pem()), None),
        leaf_inter,
        INCOMPLETE,
    ),
    "PKCS#1 key": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem, p.leaf.key_pem("traditional"), None),
        leaf_inter,
        INCOMPLETE,
    ),
    "ca.crt is the root": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem, p.leaf.key_pem(), p.root.pem), full
    ),
    "ca.crt completes a bare leaf": Variant(
        lambda p: (p.leaf.pem, p.leaf.key_pem(), p.intermediate.pem + p.root.pem), full
    ),
    "ca.crt unrelated": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem, p.leaf.key_pem(), make_pki(slot=7).root.pem),
        leaf_inter,
        INCOMPLETE,
    ),
    "ca.crt bundle, unrelated CA first": Variant(
        lambda p: (
            p.leaf.pem + p.intermediate.pem,
            p.leaf.key_pem(),
            make_pki(slot=7).root.pem + p.root.pem,
        ),
        full,
    ),
    "ca.crt repeats the intermediate": Variant(
        lambda p: (p.leaf.pem + p.intermediate.pem, p.leaf.key_pem(), p.intermediate.pem),
        leaf_inter,
        INCOMPLETE,
    ),
}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_accepted_layouts_give_canonical_material(pki: Pki, name: str) -> None:
    variant = VARIANTS[name]
    cert, key, ca = variant.build(pki)
    analysis = run(cert, key, ca)
    assert analysis.valid, analysis.errors
    assert {w.code for w in analysis.warnings} == variant.warnings
    expected_chain = variant.chain(pki)
    assert analysis.material is not None
    assert analysis.material.certificate == pki.leaf.pem
    assert analysis.material.chain == b"".join(c.pem for c in expected_chain)
    assert_canonical(analysis.material.certificate, 1)
    assert analysis.material.chain is not None
    assert_canonical(analysis.material.chain, len(expected_chain))
    assert_canonical(analysis.material.private_key, 1)
    assert analysis.facts is not None
    assert analysis.facts.fingerprint == fingerprint(pki.leaf.der, [c.der for c in expected_chain])


def test_every_textual_variant_of_one_bundle_has_one_fingerprint(pki: Pki) -> None:
    base = pki.leaf.pem + pki.intermediate.pem + pki.root.pem
    variants = [
        base,
        crlf(base),
        messy(base),
        pki.root.pem + pki.intermediate.pem + pki.leaf.pem,
        pki.leaf.pem + base,
        base.replace(b"\n-----BEGIN", b"\n\n\n-----BEGIN"),
    ]
    results = {run(v, pki.leaf.key_pem()).facts.fingerprint for v in variants}  # type: ignore[union-attr]
    assert len(results) == 1
    # A different chain is different material, so the fingerprint must move.
    shorter = run(pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem()).facts
    assert shorter is not None
    assert shorter.fingerprint not in results


KEYS: dict[str, Callable[[], Key]] = {
    "RSA_1024": lambda: rsa_key(1024),
    "RSA_2048": lambda: rsa_key(2048),
    "RSA_3072": lambda: rsa_key(3072),
    "RSA_4096": lambda: rsa_key(4096),
    "EC_prime256v1": lambda: ec_key("P-256"),
    "EC_secp384r1": lambda: ec_key("P-384"),
    "EC_secp521r1": lambda: ec_key("P-521"),
}


@pytest.mark.parametrize("algorithm", list(KEYS))
@pytest.mark.parametrize("encoding", ["pkcs8", "traditional"])
def test_every_supported_key_algorithm_and_encoding(algorithm: str, encoding: str) -> None:
    pki = make_pki(KEYS[algorithm]())
    analysis = run(pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem(encoding), pki.root.pem)
    assert analysis.valid, analysis.errors
    assert analysis.facts is not None
    assert analysis.facts.key_algorithm == algorithm
    cloudfront = {w.code for w in analysis.warnings} == {Code.CLOUDFRONT_INCOMPATIBLE}
    assert cloudfront == (algorithm in {"EC_secp384r1", "EC_secp521r1"})
    label = {
        ("pkcs8", "R"): b"PRIVATE KEY",
        ("pkcs8", "E"): b"PRIVATE KEY",
        ("traditional", "R"): b"RSA PRIVATE KEY",
        ("traditional", "E"): b"EC PRIVATE KEY",
    }[(encoding, algorithm[0])]
    assert analysis.material is not None
    assert analysis.material.private_key.startswith(b"-----BEGIN " + label + b"-----\n")


def test_ec_parameters_block_before_the_key_is_dropped() -> None:
    pki = make_pki(ec_key("P-256"))
    analysis = run(pki.leaf.pem, P256_PARAMETERS + pki.leaf.key_pem("traditional"), pki.root.pem)
    assert analysis.valid, analysis.errors
    assert analysis.material is not None
    assert b"EC PARAMETERS" not in analysis.material.private_key
    assert analysis.material.private_key == pki.leaf.key_pem("traditional")


def test_self_signed_leaf_needs_no_chain() -> None:
    leaf = make_cert(ec_key("P-256", 3))
    analysis = run(leaf.pem, leaf.key_pem(), leaf.pem)  # cert-manager's selfsigned: ca.crt = leaf
    assert analysis.valid
    assert analysis.warnings == ()
    assert analysis.material is not None
    assert analysis.material.chain is None


def test_facts_report_what_acm_shows(pki: Pki) -> None:
    leaf = make_cert(
        ec_key("P-256"),
        issuer=pki.intermediate,
        sans=("a.example.com", "10.0.0.1", "2001:db8::1"),
        serial=0x80FF01,
    )
    facts = run(leaf.pem + pki.intermediate.pem, leaf.key_pem()).facts
    assert facts is not None
    assert facts.serial == "80:ff:01"
    assert facts.domains == ("a.example.com", "10.0.0.1", "2001:db8::1")
    assert facts.issuer == "CN=Test Intermediate 0"
    assert facts.subject == "CN=www.example.com"
    assert facts.not_before == leaf.cert.not_valid_before_utc
    assert facts.not_after == leaf.cert.not_valid_after_utc
    cn_only = make_cert(
        ec_key("P-256"), cn="cn-only.example.com", sans=None, issuer=pki.intermediate
    )
    cn_facts = run(cn_only.pem, cn_only.key_pem()).facts
    assert cn_facts is not None
    assert cn_facts.domains == ("cn-only.example.com",)
    assert run(make_cert(ec_key("P-256"), serial=5).pem, None).facts.serial == "05"  # type: ignore[union-attr]
