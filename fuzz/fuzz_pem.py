"""PEM splitting: ``parse_pem`` and ``count_blocks`` take any bytes, never raise, in linear time."""

from __future__ import annotations

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.core.pem import count_blocks, parse_pem

DOCUMENTED: tuple[type[BaseException], ...] = ()


def test_one(data: bytes) -> None:
    pem = parse_pem(data)
    # Every block found starts at a BEGIN line, so the count bounds what parsing decodes.
    assert len(pem.blocks) + len(pem.bad_blocks) <= count_blocks(data)


def seeds() -> list[bytes]:
    from tests.certkit import ec_key, key_pem, make_cert

    cert = make_cert(ec_key("P-256", 1)).pem
    return [
        cert,
        cert.replace(b"\n", b"\r\n") + b"trailing prose\n",
        key_pem(ec_key("P-256", 1), "traditional"),
        b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAEC\n"
        b"-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN A-----BEGIN B-----\nAA==\n-----END B-----END A-----",
    ]


main(__name__, test_one, DOCUMENTED)
