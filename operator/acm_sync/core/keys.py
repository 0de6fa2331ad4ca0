"""Private keys: loading every encoding ACM accepts, and ACM's names for key algorithms."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from acm_sync.core.findings import Code, Finding
from acm_sync.core.limits import ACM_KEY_BYTES, DEFAULT_LIMITS, Limits
from acm_sync.core.pem import EC_PARAMETERS, KEY_LABELS, encode_pem, looks_like_der, parse_pem

# ACM's KeyAlgorithm values for everything ImportCertificate accepts, in ACM's order (the
# adapter names them all in ListCertificates; the emulator enforces them).
ACM_KEY_ALGORITHMS = (
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
)
SUPPORTED_KEY_ALGORITHMS = frozenset(ACM_KEY_ALGORITHMS)
# CloudFront takes RSA 1024-4096 and P-256 only (see the facts file, "Regions").
CLOUDFRONT_KEY_ALGORITHMS = frozenset(
    {"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1"}
)
MAX_KEY_BYTES = ACM_KEY_BYTES

_CURVE_NAMES = {"secp256r1": "prime256v1", "prime256v1": "prime256v1"}

AnyPublicKey = PublicKeyTypes


def key_algorithm_name(public_key: AnyPublicKey) -> str:
    """ACM's name for a key (``RSA_2048``, ``EC_prime256v1``); a readable name if unsupported."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA_{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        name = public_key.curve.name
        return f"EC_{_CURVE_NAMES.get(name, name)}"
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"DSA_{public_key.key_size}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(public_key, x25519.X25519PublicKey):
        return "X25519"
    if isinstance(public_key, x448.X448PublicKey):
        return "X448"
    return type(public_key).__name__


def spki(public_key: AnyPublicKey) -> bytes:
    """The SubjectPublicKeyInfo DER: equal for equal keys whatever object produced them."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True, slots=True)
class LoadedKey:
    """A private key and the canonical PEM that goes to ACM. Nothing here appears in repr."""

    key: PrivateKeyTypes = field(repr=False)
    pem: bytes = field(repr=False)

    @property
    def public_spki(self) -> bytes:
        """SubjectPublicKeyInfo of the matching public key."""
        return spki(self.key.public_key())

    @property
    def algorithm(self) -> str:
        """ACM's name for this key's algorithm."""
        return key_algorithm_name(self.key.public_key())


def _rsa_consistent(key: rsa.RSAPrivateKey) -> bool:
    """Cheap algebraic consistency check of an RSA key.

    OpenSSL's full check (primality tests of p and q) costs about 40 ms per 2048-bit key, which
    would dominate validation, so it is skipped at load time. These identities still catch a
    corrupted or hand-edited key at the cost of a few big-integer products.
    """
    n = key.private_numbers()
    p, q, d, e = n.p, n.q, n.d, n.public_numbers.e
    return (
        p > 1
        and q > 1
        and p * q == n.public_numbers.n
        and (e * d) % (p - 1) == 1 % (p - 1)
        and (e * d) % (q - 1) == 1 % (q - 1)
        and n.dmp1 == d % (p - 1)
        and n.dmq1 == d % (q - 1)
        and (n.iqmp * q) % p == 1 % p
    )


def _encryption_marker(label: str) -> str:
    """How the encryption shows in the file: the PKCS#8 label, or PKCS#1's Proc-Type header."""
    if label.startswith("ENCRYPTED"):
        return f"-----BEGIN {label}-----"
    return f"-----BEGIN {label}----- with Proc-Type: 4,ENCRYPTED"


def too_large(size: int, limit: int) -> Finding:
    """KeyTooLarge: ACM limits the private key PEM it receives to 5,120 bytes."""
    return Finding(
        Code.KEY_TOO_LARGE, f"the private key PEM is {size:,} bytes; ACM allows at most {limit:,}"
    )


def load_private_key(
    data: bytes | None, limits: Limits = DEFAULT_LIMITS
) -> tuple[LoadedKey | None, tuple[Finding, ...]]:
    """Load ``tls.key``: PKCS#1, PKCS#8 or SEC1, an optional EC PARAMETERS block ignored.

    Returns the key or the findings explaining why there is none. Messages name the key's
    encoding and algorithm, never its bytes. Sizes are checked before anything is parsed.
    """
    if data is None or not data.strip():
        return None, (Finding(Code.NO_PRIVATE_KEY, "tls.key is missing or empty"),)
    if len(data) > limits.key_file_bytes:
        return None, (
            Finding(
                Code.KEY_TOO_LARGE,
                f"tls.key is {len(data):,} bytes, more than the {limits.key_file_bytes:,} read; "
                f"ACM allows at most {limits.key_bytes:,} bytes of private key PEM",
            ),
        )
    pem = parse_pem(data)
    if pem.empty:
        hint = " (it looks like DER; ACM needs PEM)" if looks_like_der(data) else ""
        return None, (Finding(Code.NOT_PEM, f"tls.key contains no PEM block{hint}"),)
    bad_keys = [b for b in pem.bad_blocks if b.label in KEY_LABELS]
    if bad_keys:
        return None, (
            Finding(Code.NOT_PEM, f"tls.key: the {bad_keys[0].label} block is not valid base64"),
        )
    blocks = pem.with_label(KEY_LABELS)
    if not blocks:
        labels = ", ".join(sorted({b.label for b in pem.blocks} - {EC_PARAMETERS})) or "none"
        return None, (
            Finding(Code.NO_PRIVATE_KEY, f"tls.key holds no private key block (found: {labels})"),
        )
    block = blocks[0]
    if block.encrypted:
        return None, (
            Finding(
                Code.ENCRYPTED_KEY,
                f"tls.key is encrypted ({_encryption_marker(block.label)}); "
                "ACM needs an unencrypted key",
            ),
        )
    canonical = encode_pem(block.label, block.der)
    if len(canonical) > limits.key_bytes:
        # Before the DER is parsed: an RSA key's size is what makes loading it expensive.
        return None, (too_large(len(canonical), limits.key_bytes),)
    try:
        key = serialization.load_der_private_key(
            block.der, password=None, unsafe_skip_rsa_key_validation=True
        )
    except UnsupportedAlgorithm:
        return None, (
            Finding(
                Code.UNSUPPORTED_KEY_ALGORITHM,
                f"tls.key: the {block.label} uses an algorithm that cannot be read; ACM accepts "
                "RSA 1024-4096 and EC P-256, P-384, P-521",
            ),
        )
    except TypeError:
        # Raised for a DER-level encrypted key that came without the PEM markers of one.
        return None, (Finding(Code.ENCRYPTED_KEY, "tls.key is encrypted"),)
    except ValueError:
        return None, (
            Finding(Code.NOT_PEM, f"tls.key: the {block.label} block is not a valid private key"),
        )
    if isinstance(key, rsa.RSAPrivateKey) and not _rsa_consistent(key):
        return None, (
            Finding(Code.KEY_MISMATCH, "tls.key: the RSA private key is internally inconsistent"),
        )
    # The original encoding is kept (ACM accepts all three); only the text is canonicalised,
    # and an EC PARAMETERS block is left out, as ACM would strip it anyway.
    return LoadedKey(key, canonical), ()
