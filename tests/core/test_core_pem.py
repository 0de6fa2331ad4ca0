"""PEM parsing and encoding, serial formatting, key algorithm names; and the promise that no
input bytes make the core raise."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acm_sync.core.analyze import analyze_unchecked
from acm_sync.core.pem import encode_pem, parse_pem
from acm_sync.core.x509facts import format_serial, key_algorithm_from_pem
from tests.certkit import NOW, ec_key, make_cert, make_pki, rsa_key


def test_encode_pem_wraps_at_64_with_one_trailing_newline() -> None:
    pem = encode_pem("CERTIFICATE", bytes(range(256)) * 2)
    lines = pem.split(b"\n")
    assert lines[0] == b"-----BEGIN CERTIFICATE-----"
    assert all(len(line) == 64 for line in lines[1:-3])
    assert 0 < len(lines[-3]) <= 64
    assert lines[-2:] == [b"-----END CERTIFICATE-----", b""]


def test_parse_pem_reads_headers_and_skips_prose() -> None:
    text = (
        b"Bag Attributes\r\n  friendlyName: x\r\n"
        b"-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\n"
        b"DEK-Info: AES-256-CBC,00\r\n\r\nAAEC\r\n-----END RSA PRIVATE KEY-----\r\n"
        b"-----BEGIN CERTIFICATE-----\n  AAEC  \n\n-----END CERTIFICATE-----"
    )
    pem = parse_pem(text)
    assert [b.label for b in pem.blocks] == ["RSA PRIVATE KEY", "CERTIFICATE"]
    assert pem.blocks[0].encrypted
    assert not pem.blocks[1].encrypted
    assert pem.blocks[1].der == b"\x00\x01\x02"


def test_mismatched_end_label_is_not_a_block() -> None:
    assert parse_pem(b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END PRIVATE KEY-----\n").empty


def test_block_repr_never_shows_its_bytes() -> None:
    key = make_cert(ec_key("P-256")).key_pem()
    (block,) = parse_pem(key).blocks
    assert base64.b64encode(block.der)[:16].decode() not in repr(block)


def test_serial_format_matches_acm() -> None:
    assert format_serial(0) == "00"
    assert format_serial(0xABC) == "0a:bc"
    assert format_serial(0xFF00FF) == "ff:00:ff"


def test_key_algorithm_from_pem() -> None:
    assert key_algorithm_from_pem(make_pki(rsa_key(3072)).leaf.pem) == "RSA_3072"
    assert key_algorithm_from_pem(make_cert(ec_key("P-384")).pem) == "EC_secp384r1"
    assert key_algorithm_from_pem(b"not a certificate") is None


_LEAF = make_pki(ec_key("P-256"))
_BLOCK_LABELS = st.sampled_from(
    ["CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "EC PARAMETERS"]
)


@st.composite
def pem_like(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, arbitrary DER in PEM armour, or real PEM with bytes flipped."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=400))
    if kind == 1:
        return encode_pem(draw(_BLOCK_LABELS), draw(st.binary(min_size=1, max_size=300)))
    real = bytearray(
        draw(st.sampled_from([_LEAF.leaf.pem, _LEAF.intermediate.pem, _LEAF.leaf.key_pem()]))
    )
    for _ in range(draw(st.integers(1, 4))):
        real[draw(st.integers(0, len(real) - 1))] = draw(st.integers(0, 255))
    return bytes(real)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cert=pem_like(), key=st.none() | pem_like(), ca=st.none() | pem_like())
def test_arbitrary_bytes_only_ever_give_findings(
    cert: bytes, key: bytes | None, ca: bytes | None
) -> None:
    analysis = analyze_unchecked(cert, key, ca, now=NOW)
    assert analysis.valid == (not analysis.errors)
    if not analysis.valid:
        assert analysis.errors
        assert analysis.material is None
