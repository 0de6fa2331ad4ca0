"""ACM's reimport rules: what a renewed certificate may and may not change under one ARN."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from acm_sync.core.analyze import analyze
from acm_sync.core.findings import Code
from acm_sync.core.reimport import ReimportProfile, check_reimport, check_reimport_profile
from tests.certkit import (
    CLIENT_AUTH,
    NOW,
    SERVER_AUTH,
    Key,
    Pki,
    ec_key,
    make_cert,
    make_pki,
    rsa_key,
)

SIG_ENC = frozenset({"digital_signature", "key_encipherment"})
SIG = frozenset({"digital_signature"})


@dataclass(frozen=True)
class Spec:
    key: str = "rsa2048"
    ku: frozenset[str] | None = None
    eku: tuple[x509.ObjectIdentifier, ...] | None = None


def key_for(name: str) -> Key:
    builders: dict[str, Callable[[], Key]] = {
        "rsa2048": lambda: rsa_key(2048),
        "rsa2048b": lambda: rsa_key(2048, 1),
        "rsa4096": lambda: rsa_key(4096),
        "p256": lambda: ec_key("P-256"),
        "p256b": lambda: ec_key("P-256", 1),
        "p384": lambda: ec_key("P-384"),
    }
    return builders[name]()


CASES: dict[str, tuple[Spec, Spec, set[Code]]] = {
    "identical profile, new key of same size": (Spec(), Spec(key="rsa2048b"), set()),
    "RSA 2048 -> RSA 4096": (Spec(), Spec(key="rsa4096"), {Code.REIMPORT_KEY_CHANGE}),
    "RSA -> EC": (Spec(), Spec(key="p256"), {Code.REIMPORT_KEY_CHANGE}),
    "P-256 -> P-384": (Spec(key="p256"), Spec(key="p384"), {Code.REIMPORT_KEY_CHANGE}),
    "RSA drops keyEncipherment": (
        Spec(ku=SIG_ENC),
        Spec(ku=SIG),
        {Code.REIMPORT_USAGE_REMOVED},
    ),
    "EC drops keyEncipherment (allowed)": (
        Spec(key="p256", ku=SIG_ENC),
        Spec(key="p256b", ku=SIG),
        set(),
    ),
    "EC drops digitalSignature": (
        Spec(key="p256", ku=SIG_ENC),
        Spec(key="p256", ku=frozenset({"key_encipherment"})),
        {Code.REIMPORT_USAGE_REMOVED},
    ),
    "KeyUsage extension removed entirely": (
        Spec(ku=SIG),
        Spec(),
        {Code.REIMPORT_USAGE_REMOVED},
    ),
    "key usage value added": (Spec(ku=SIG), Spec(ku=SIG_ENC), set()),
    "clientAuth dropped (allowed)": (
        Spec(eku=(SERVER_AUTH, CLIENT_AUTH)),
        Spec(eku=(SERVER_AUTH,)),
        set(),
    ),
    "serverAuth dropped": (
        Spec(eku=(SERVER_AUTH, CLIENT_AUTH)),
        Spec(eku=(CLIENT_AUTH,)),
        {Code.REIMPORT_USAGE_REMOVED},
    ),
    "KeyUsage extension added": (Spec(), Spec(ku=SIG), {Code.REIMPORT_EXTENSION_ADDED}),
    "ExtendedKeyUsage extension added": (
        Spec(),
        Spec(eku=(SERVER_AUTH,)),
        {Code.REIMPORT_EXTENSION_ADDED},
    ),
    "everything at once": (
        Spec(ku=SIG_ENC, eku=(SERVER_AUTH,)),
        Spec(key="p256", ku=SIG),
        {Code.REIMPORT_KEY_CHANGE, Code.REIMPORT_USAGE_REMOVED},
    ),
}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def issue(pki: Pki, spec: Spec) -> x509.Certificate:
    return make_cert(
        key_for(spec.key), issuer=pki.intermediate, key_usage=spec.ku, eku=spec.eku
    ).cert


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


@pytest.mark.parametrize("name", list(CASES))
def test_reimport_rules(pki: Pki, name: str) -> None:
    before, after, expected = CASES[name]
    findings = check_reimport(pem(issue(pki, before)), pem(issue(pki, after)))
    assert {f.code for f in findings} == expected


@pytest.mark.parametrize("name", list(CASES))
def test_a_remembered_profile_gives_the_verdict_of_the_certificate(pki: Pki, name: str) -> None:
    before, after, expected = CASES[name]
    previous = ReimportProfile.of(pem(issue(pki, before)))
    assert previous is not None
    findings = check_reimport_profile(previous, pem(issue(pki, after)))
    assert {f.code for f in findings} == expected


def test_a_profile_is_small_and_holds_no_certificate_or_key(pki: Pki) -> None:
    renewed = make_cert(
        rsa_key(2048),
        cn="www.example.com",
        sans=("www.example.com", "api.example.com"),
        issuer=pki.intermediate,
        key_usage=SIG_ENC,
        eku=(SERVER_AUTH, CLIENT_AUTH),
    )
    profile = ReimportProfile.of(renewed.pem)
    assert profile is not None
    assert profile.key_algorithm == "RSA_2048"
    assert profile.names == ("api.example.com", "www.example.com")
    assert profile.key_usages == ("digital_signature", "key_encipherment")
    assert profile.extended_key_usages == ("clientAuth", "serverAuth")
    text = repr(profile)
    key_body = b"".join(renewed.key_pem().splitlines()[1:-1]).decode()
    assert "BEGIN" not in text
    assert key_body[:40] not in text
    assert ReimportProfile.of(b"garbage") is None


def test_messages_name_what_changed(pki: Pki) -> None:
    findings = check_reimport(
        pem(issue(pki, Spec(ku=SIG_ENC, eku=(SERVER_AUTH, CLIENT_AUTH)))),
        pem(issue(pki, Spec(key="rsa4096", ku=SIG, eku=(CLIENT_AUTH,)))),
    )
    text = " | ".join(f.message for f in findings)
    assert "RSA_2048 to RSA_4096" in text
    assert "keyEncipherment" in text
    assert "serverAuth" in text
    assert "clientAuth" not in text


def test_analyze_applies_reimport_rules_when_given_the_previous_certificate(pki: Pki) -> None:
    previous = make_cert(rsa_key(2048), issuer=pki.intermediate, key_usage=SIG_ENC)
    renewed = make_cert(ec_key("P-256"), issuer=pki.intermediate, key_usage=SIG)
    analysis = analyze(
        renewed.pem + pki.intermediate.pem,
        renewed.key_pem(),
        pki.root.pem,
        now=NOW,
        previous_certificate=previous.pem,
    )
    assert [f.code for f in analysis.errors] == [Code.REIMPORT_KEY_CHANGE]
    assert analysis.material is None
    # Without the previous certificate the same material is a fine first import.
    assert analyze(renewed.pem + pki.intermediate.pem, renewed.key_pem(), now=NOW).valid


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (("www.example.com", "example.com"), ("api.example.com", "example.com"), set()),
        (("www.example.com",), ("WWW.example.com.", "api.example.com"), set()),
        (("www.example.com", "example.com"), ("new.example.net",), {Code.REIMPORT_DOMAINS_REMOVED}),
        # The CN is the certificate's DomainName in ACM, so keeping it keeps a name.
        (("www.example.com", "api.example.com"), ("www.example.com", "new.example.net"), set()),
    ],
)
def test_domain_names_may_change_but_not_all_go(
    pki: Pki, before: tuple[str, ...], after: tuple[str, ...], expected: set[Code]
) -> None:
    key = rsa_key(2048)
    old = make_cert(key, cn=before[0], sans=before[1:] or before, issuer=pki.intermediate)
    new = make_cert(key, cn=after[0], sans=after[1:] or after, issuer=pki.intermediate)
    assert {f.code for f in check_reimport(old.pem, new.pem)} == expected


def test_unreadable_input_is_a_finding_not_an_exception(pki: Pki) -> None:
    assert [f.code for f in check_reimport(b"garbage", pki.leaf.pem)] == [Code.NO_CERTIFICATE]
    assert [f.code for f in check_reimport(pki.leaf.pem, b"")] == [Code.NO_CERTIFICATE]
    assert [f.code for f in check_reimport_profile(None, pki.leaf.pem)] == [Code.NO_CERTIFICATE]
