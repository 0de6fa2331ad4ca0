"""Chain ordering and the whole analysis: ``analyze_unchecked`` (``analyze`` without its
last-resort guard, so that a bug shows) takes any tls.crt, tls.key and ca.crt.

Random bytes rarely make a certificate, so most of the input picks certificates from a pool
(a real chain, certificates sharing names, an impostor), in any order and number, and mixes
in raw bytes; the key is the leaf's, a stranger's or raw bytes.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import atheris

from fuzz.harness import instrumented, main

with instrumented():
    from acm_sync.core.analyze import analyze_unchecked

DOCUMENTED: tuple[type[BaseException], ...] = ()
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@functools.cache
def _pool() -> tuple[list[bytes], list[bytes]]:
    """(certificate PEMs, key PEMs)."""
    from tests.certkit import ec_key, make_cert, make_pki

    pki = make_pki(ec_key("P-256", 7))
    same = [make_cert(ec_key("P-256", 60 + i), cn="victim.example.com", ca=True) for i in range(4)]
    loop = [make_cert(ec_key("P-256", 70), cn="loop.example.com", ca=True)]
    for i in range(1, 4):
        loop.append(
            make_cert(ec_key("P-256", 70 + i), cn="loop.example.com", ca=True, issuer=loop[-1])
        )
    impostor = make_cert(
        ec_key("P-256", 42), cn="Test Intermediate 0", sans=None, ca=True, issuer=pki.root
    )
    certs = [pki.leaf, pki.intermediate, pki.root, impostor, *same, *loop]
    keys = [
        pki.leaf.key_pem(),
        pki.leaf.key_pem("traditional"),
        same[0].key_pem(),
        loop[-1].key_pem(),
    ]
    return [c.pem for c in certs], keys


def _bundle(fdp: atheris.FuzzedDataProvider, certs: list[bytes]) -> bytes:
    parts = []
    for _ in range(fdp.ConsumeIntInRange(0, 12)):
        if fdp.ConsumeIntInRange(0, 7) == 0:
            parts.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64)))
        else:
            parts.append(fdp.PickValueInList(certs))
    return b"".join(parts)


def test_one(data: bytes) -> None:
    certs, keys = _pool()
    fdp = atheris.FuzzedDataProvider(data)
    cert = _bundle(fdp, certs)
    ca = _bundle(fdp, certs) if fdp.ConsumeBool() else None
    key = fdp.PickValueInList(keys) if fdp.ConsumeBool() else fdp.ConsumeBytes(256)
    analysis = analyze_unchecked(cert, key, ca, now=NOW)
    assert analysis.valid == (not analysis.errors and analysis.material is not None)


def seeds() -> list[bytes]:
    return [bytes([3, i, i + 1, i + 2, 1, 1, 0]) for i in range(0, 12)] + [b"\x00" * 8]


main(__name__, test_one, DOCUMENTED)
