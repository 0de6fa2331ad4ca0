"""Print how long the certificate core takes on the worst inputs a tenant can write.

A Secret is hostile input (issue 19, item 4): targets are under 50 ms at 150 certificates and
under 1 s at 1 MiB of PEM, for every shape below. Each shape is timed twice: with the
operator's limits (``DEFAULT_LIMITS``: most of these are refused before parsing) and with the
limits lifted, which times the algorithm itself. Certificates are generated first and not
timed; the signature cache is cleared before each run, as for a Secret seen for the first time.

Fuzzing figures (executions per parser, slowest input) come from ``make fuzz``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from acm_sync.core.analyze import analyze
from acm_sync.core.limits import DEFAULT_LIMITS, Limits
from acm_sync.core.x509facts import clear_signature_cache

ROOT = Path(__file__).resolve().parents[1]
# Run as `python bench/bench_analysis.py`: the test kits are the tests package at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.certkit import NOW, Issued, key_pem, make_cert  # noqa: E402

MIB = 1024 * 1024
# Every bound lifted: what the algorithm costs when nothing refuses the input early.
UNLIMITED = Limits(
    field_bytes=64 * MIB,
    bundle_certificates=10**6,
    ca_certificates=10**6,
    certificate_bytes=64 * MIB,
    chain_bytes=64 * MIB,
)
SMALL, TARGET_SMALL, TARGET_MIB = 150, 0.050, 1.0
RUNS = 3


@dataclass(frozen=True)
class Secret:
    """One shape's tls.crt, tls.key and ca.crt."""

    cert: bytes
    key: bytes
    ca: bytes | None = None


def _key(i: int, curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    del i  # a fresh key each call: certificates sharing a name must not share a key
    return ec.generate_private_key(curve or ec.SECP256R1())


_STRANGER = ec.generate_private_key(ec.SECP256R1())
NO_KEY = key_pem(_STRANGER)


def same_named_self_signed(n: int) -> Secret:
    """n self-signed certificates, one subject, n keys, and a key none of them holds."""
    certs = [
        make_cert(_key(i), cn="victim.example.com", sans=("victim.example.com",)) for i in range(n)
    ]
    return Secret(b"".join(c.pem for c in certs), NO_KEY)


def same_named_chain(n: int, curve: ec.EllipticCurve | None = None) -> Secret:
    """n certificates, one subject, each signed by the one before: every one but the last
    issued another, which without a budget costs about n^2/2 verifications."""
    certs: list[Issued] = [make_cert(_key(0, curve), cn="loop.example.com", ca=True)]
    for i in range(1, n):
        certs.append(make_cert(_key(i, curve), cn="loop.example.com", ca=True, issuer=certs[-1]))
    return Secret(b"".join(c.pem for c in certs), NO_KEY)


def long_chain(n: int, *, shuffle: bool, key: bool) -> Secret:
    """A real chain of n distinct names (root, n-2 intermediates, leaf), shuffled or
    reversed, with the leaf's key or none."""
    root = make_cert(_key(0), cn="Bench Root", sans=None, ca=True)
    certs = [root]
    for i in range(1, n - 1):
        certs.append(make_cert(_key(i), cn=f"Bench CA {i}", sans=None, ca=True, issuer=certs[-1]))
    leaf = make_cert(_key(n), cn="leaf.example.com", sans=("leaf.example.com",), issuer=certs[-1])
    certs.append(leaf)
    if shuffle:
        random.Random(19).shuffle(certs)
    else:
        certs.reverse()
        certs = [certs[-1], *certs[:-1]]  # leaf last: the order the leaf search must go through
    return Secret(b"".join(c.pem for c in certs), leaf.key_pem() if key else NO_KEY)


def pem_bomb(size: int) -> Secret:
    """BEGIN lines without END lines: a regex with a lazy body rescans the rest from each."""
    line = b"-----BEGIN CERTIFICATE-----\n"
    return Secret(line * (size // len(line)), NO_KEY)


def many_blocks(size: int) -> Secret:
    """Tiny well-formed blocks that are no certificates: parsing each one costs a little."""
    block = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
    return Secret(block * (size // len(block)), NO_KEY)


def trust_bundle_ca(n: int) -> Secret:
    """A small chain whose ca.crt is a trust bundle of n roots sharing the real root's name."""
    root = make_cert(_key(0), cn="Bench Root", sans=None, ca=True)
    leaf = make_cert(_key(1), cn="leaf.example.com", sans=("leaf.example.com",), issuer=root)
    roots = [make_cert(_key(i), cn="Bench Root", sans=None, ca=True) for i in range(n)]
    return Secret(leaf.pem, leaf.key_pem(), b"".join(r.pem for r in [*roots, root]))


def _size(secret: Secret) -> int:
    return len(secret.cert) + len(secret.ca or b"")


def _per_mib(shape: Callable[[int], Secret]) -> int:
    """How many certificates of ``shape`` make 1 MiB of PEM."""
    each = (_size(shape(6)) - _size(shape(2))) / 4
    return int(MIB * 0.98 / each)  # certificates vary a few bytes in size: stay under 1 MiB


SHAPES: dict[str, Callable[[int], Secret]] = {
    "same-named self-signed, no key": same_named_self_signed,
    "same-named chain, no key": same_named_chain,
    # P-384 verifications cost about three times P-256 ones: the dearest curve ACM takes.
    "same-named chain P-384, no key": lambda n: same_named_chain(n, ec.SECP384R1()),
    "long chain shuffled, key": lambda n: long_chain(n, shuffle=True, key=True),
    "long chain shuffled, no key": lambda n: long_chain(n, shuffle=True, key=False),
    "long chain leaf last, no key": lambda n: long_chain(n, shuffle=False, key=False),
    "ca.crt: n roots share its name": trust_bundle_ca,
}
BYTE_SHAPES: dict[str, Callable[[int], Secret]] = {
    "BEGIN lines without END": pem_bomb,
    "empty certificate blocks": many_blocks,
}


def _time(secret: Secret, limits: Limits) -> tuple[float, str]:
    best, verdict = float("inf"), ""
    for _ in range(RUNS):
        clear_signature_cache()
        start = time.perf_counter()
        analysis = analyze(secret.cert, secret.key, secret.ca, now=NOW, limits=limits)
        best = min(best, time.perf_counter() - start)
        verdict = ",".join(dict.fromkeys(f.code.value for f in analysis.errors)) or "valid"
    return best, verdict


def _row(name: str, size: str, secret: Secret, target: float) -> bool:
    total = _size(secret)
    ok = True
    cells = []
    for label, limits in (("limits", DEFAULT_LIMITS), ("lifted", UNLIMITED)):
        seconds, verdict = _time(secret, limits)
        ok &= seconds < target
        cells.append(f"{label} {seconds * 1000:8.1f} ms {verdict[:34]:<34}")
    flag = "ok " if ok else "SLOW"
    print(f"{flag} {name:<32} {size:>9} {total / 1024:7.0f} KiB  " + "  ".join(cells))
    return ok


def main() -> int:
    """Build every shape at 150 certificates and at 1 MiB, time it, print the table."""
    print(
        f"targets: < {TARGET_SMALL * 1000:.0f} ms at {SMALL} certificates, "
        f"< {TARGET_MIB:.0f} s at 1 MiB"
    )
    ok = True
    at_limit = DEFAULT_LIMITS.bundle_certificates
    for name, shape in SHAPES.items():
        # The largest tls.crt the operator reads, then the sizes.
        ok &= _row(name, f"{at_limit} certs", shape(at_limit), TARGET_SMALL)
        ok &= _row(name, f"{SMALL} certs", shape(SMALL), TARGET_SMALL)
        count = _per_mib(shape)
        ok &= _row(name, f"{count} certs", shape(count), TARGET_MIB)
    for name, make in BYTE_SHAPES.items():
        ok &= _row(name, "1 MiB", make(MIB), TARGET_MIB)
    print("every shape within its target" if ok else "SOME SHAPES MISSED THEIR TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
