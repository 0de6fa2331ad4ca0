"""ImportCertificate's three PEM parameters read as ACM reads them, for the rules in rules.py.

Written from ``/work/shared/reference/acm-facts.md`` ("What ImportCertificate accepts"), never
from the operator's own PEM code. A parameter ACM refuses gives a :data:`Problem`, the
``(error type, message)`` the emulator answers; the messages never echo key material.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

Problem = tuple[str, str]

INVALID = "ValidationException"
_KEY_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\n")
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")


def pem_blocks(data: bytes, field: str) -> list[tuple[str, bytes]] | Problem:
    """The (label, DER) blocks of a PEM parameter, refusing DER and text around the blocks.

    acm-facts.md: "Certificate, chain and key are three separate PEM parameters. DER is
    rejected. No extra blank lines or whitespace around PEM blocks." CRLF line ends are read
    as LF: they are how a PEM file saved on Windows looks, not extra whitespace.
    """
    text = data.replace(b"\r\n", b"\n")
    if not text.startswith(b"-----BEGIN "):
        if text[:1] == b"\x30":
            return (INVALID, f"The {field} is DER-encoded; ACM accepts only PEM-encoded input.")
        if text[:1].isspace():
            return (
                INVALID,
                f"The {field} has whitespace before its PEM block. Remove it and try again.",
            )
        return (INVALID, f"Unable to parse the {field}. Please ensure it is in PEM format.")
    blocks: list[tuple[str, bytes]] = []
    position = 0
    while position < len(text):
        begin = _BEGIN.match(text, position)
        if begin is None:
            return (
                INVALID,
                f"The {field} has extra blank lines, whitespace or text around its PEM "
                "blocks. Remove them and try again.",
            )
        label = begin.group(1).decode()
        end_marker = f"-----END {label}-----".encode()
        end = text.find(end_marker, begin.end())
        if end < 0:
            return (INVALID, f"Unable to parse the {field}. Please ensure it is in PEM format.")
        body = text[begin.end() : end]
        # Headers (Proc-Type, DEK-Info) only appear in encrypted traditional keys.
        if b"Proc-Type:" in body and b"ENCRYPTED" in body:
            return (INVALID, f"The {field} is encrypted. Provide an unencrypted {field}.")
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if not lines or not all(_BASE64_LINE.fullmatch(line) for line in lines):
            return (
                INVALID,
                f"The {field} has extra blank lines, whitespace or text inside a PEM block. "
                "Remove them and try again.",
            )
        try:
            der = base64.b64decode(b"".join(lines), validate=True)
        except (binascii.Error, ValueError):
            return (INVALID, f"Unable to parse the {field}. Please ensure it is in PEM format.")
        blocks.append((label, der))
        position = end + len(end_marker)
        # One line end separates blocks and may end the parameter; a second is a blank line.
        if text.startswith(b"\n", position):
            position += 1
    return blocks


def certificates(data: bytes, field: str) -> list[x509.Certificate] | Problem:
    """Every certificate of a PEM parameter (the chain), refusing any other kind of block."""
    blocks = pem_blocks(data, field)
    if isinstance(blocks, tuple):
        return blocks
    parsed = []
    for label, der in blocks:
        if label != "CERTIFICATE":
            return (INVALID, f"The {field} contains a {label} block; expected CERTIFICATE.")
        try:
            parsed.append(x509.load_der_x509_certificate(der))
        except ValueError:
            return (INVALID, f"Unable to parse the {field}. The certificate is not valid.")
    return parsed


def one_certificate(certificate: bytes) -> x509.Certificate | Problem:
    """The Certificate parameter's single certificate (ACM refuses a bundle there)."""
    parsed = certificates(certificate, "certificate")
    if isinstance(parsed, tuple):
        return parsed
    if len(parsed) != 1:
        return (
            INVALID,
            "The certificate field contains more than one certificate. "
            "You can specify only one certificate in this field.",
        )
    return parsed[0]


def parse_private_key(data: bytes) -> PrivateKeyTypes | Problem:
    """The PrivateKey parameter's one unencrypted key, after an optional EC PARAMETERS block."""
    blocks = pem_blocks(data, "private key")
    if isinstance(blocks, tuple):
        return blocks
    # acm-facts.md: an "EC PARAMETERS" block before an EC key is stripped by ACM.
    ec_parameters = blocks[0][0] == "EC PARAMETERS"
    if ec_parameters:
        blocks = blocks[1:]
    if len(blocks) != 1:
        return (INVALID, "The private key field must contain exactly one private key.")
    label, der = blocks[0]
    if label == "ENCRYPTED PRIVATE KEY":
        return (INVALID, "The private key is encrypted. Provide an unencrypted private key.")
    if label not in _KEY_LABELS:
        return (INVALID, f"The private key field contains a {label} block, not a private key.")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except TypeError:
        return (INVALID, "The private key is encrypted. Provide an unencrypted private key.")
    except (ValueError, UnsupportedAlgorithm):
        return (INVALID, "The private key is not supported.")
    if ec_parameters and not isinstance(key, ec.EllipticCurvePrivateKey):
        return (INVALID, "The private key has EC PARAMETERS but is not an EC key.")
    return key


def stored_private_key(private_key: bytes) -> bytes:
    """The key as ACM keeps it: without a leading EC PARAMETERS block, LF line ends."""
    text = private_key.replace(b"\r\n", b"\n")
    if text.startswith(b"-----BEGIN EC PARAMETERS-----\n"):
        end = b"-----END EC PARAMETERS-----\n"
        text = text[text.index(end) + len(end) :]
    return text
