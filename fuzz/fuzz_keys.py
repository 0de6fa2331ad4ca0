"""Key loading: ``load_private_key`` answers any bytes with a key or findings, never raises."""

from __future__ import annotations

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.core.keys import load_private_key

DOCUMENTED: tuple[type[BaseException], ...] = ()


def test_one(data: bytes) -> None:
    key, findings = load_private_key(data)
    assert (key is None) == bool(findings)


def seeds() -> list[bytes]:
    from tests.certkit import ec_key, key_pem, rsa_key

    return [
        key_pem(rsa_key(1024), "traditional"),
        key_pem(ec_key("P-256", 1)),
        key_pem(ec_key("P-384", 1), "traditional"),
        key_pem(ec_key("P-256", 1), password=b"secret"),
        b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        + key_pem(ec_key("P-256", 2), "traditional"),
    ]


main(__name__, test_one, DOCUMENTED)
