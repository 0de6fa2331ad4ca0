"""PEM parsing and canonical encoding.

Secrets arrive in every textual shape people and tools produce: CRLF line ends, blank lines,
trailing whitespace, comments or ``openssl x509 -text`` output around the blocks. Parsing is
lenient about all of that; encoding is strict, because ACM wants no extra blank lines or
whitespace around PEM blocks: 64-character base64 lines, LF, one trailing newline.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Markers are found by lookahead, so that overlapping ones ("-----BEGIN A-----BEGIN B-----")
# are all seen, each match costing at most a label's length: one linear pass per marker kind.
# A single regex with a lazy body and a back-reference (BEGIN (L) .*? END \1) rescans the rest
# of the input from every BEGIN without its END: quadratic, minutes for 1 MiB of BEGIN lines.
_LABEL = rb"([A-Z0-9][A-Z0-9 ]{0,62})-----"
_BEGIN = re.compile(rb"(?=-----BEGIN " + _LABEL + rb")")
_END = re.compile(rb"(?=-----END " + _LABEL + rb")")
_WHITESPACE = re.compile(rb"\s+")

CERTIFICATE = "CERTIFICATE"
# Legacy aliases some tools still write for certificates.
CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})
PKCS8_KEY = "PRIVATE KEY"
PKCS1_KEY = "RSA PRIVATE KEY"
SEC1_KEY = "EC PRIVATE KEY"
ENCRYPTED_PKCS8_KEY = "ENCRYPTED PRIVATE KEY"
EC_PARAMETERS = "EC PARAMETERS"
KEY_LABELS = frozenset({PKCS8_KEY, PKCS1_KEY, SEC1_KEY, ENCRYPTED_PKCS8_KEY, "DSA PRIVATE KEY"})


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One decoded PEM block. ``der`` is excluded from ``repr``: it may be a private key."""

    label: str
    der: bytes = field(repr=False)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def encrypted(self) -> bool:
        """True for PKCS#8 encrypted keys and for legacy ``Proc-Type: 4,ENCRYPTED`` blocks."""
        if self.label == ENCRYPTED_PKCS8_KEY:
            return True
        return any(
            name.lower() == "proc-type" and "ENCRYPTED" in value.upper()
            for name, value in self.headers
        )


@dataclass(frozen=True, slots=True)
class BadBlock:
    """A block whose BEGIN/END lines were found but whose body is not valid base64."""

    label: str
    index: int  # 1-based position among the blocks of the file, for messages


@dataclass(frozen=True, slots=True)
class PemFile:
    """Everything found in one file's bytes."""

    blocks: tuple[PemBlock, ...]
    bad_blocks: tuple[BadBlock, ...]

    @property
    def empty(self) -> bool:
        """True when no BEGIN/END pair was found at all."""
        return not self.blocks and not self.bad_blocks

    def with_label(self, labels: frozenset[str]) -> tuple[PemBlock, ...]:
        """The decoded blocks whose label is one of ``labels``, in file order."""
        return tuple(b for b in self.blocks if b.label in labels)


def _split_headers(body: bytes) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """Separate RFC 1421 headers (``Name: value`` lines before a blank line) from base64."""
    lines = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    headers: list[tuple[str, str]] = []
    index = 0
    # Skip blank lines right after BEGIN, then read header lines while they look like headers.
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines) and b":" in lines[index]:
        name, _, value = lines[index].decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
        index += 1
    return tuple(headers), b"".join(lines[index:])


def count_blocks(data: bytes) -> int:
    """How many BEGIN lines ``data`` holds: a linear scan that decodes nothing."""
    return sum(1 for _ in _BEGIN.finditer(data))


def _spans(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(label, body start, body end) of each block, as ``BEGIN (L) .*? END L`` would match.

    The label is matched again at END so that a truncated block cannot swallow the next one
    of another kind. A BEGIN without its END is skipped, and the next BEGIN tried.
    """
    ends: dict[bytes, list[int]] = {}
    for match in _END.finditer(data):
        ends.setdefault(match.group(1), []).append(match.start())
    position = 0
    for match in _BEGIN.finditer(data):
        if match.start() < position:
            continue
        label = match.group(1)
        body = match.start() + len(b"-----BEGIN -----") + len(label)
        candidates = ends.get(label, [])
        index = bisect.bisect_left(candidates, body)
        if index == len(candidates):
            continue
        yield label, body, candidates[index]
        position = candidates[index] + len(b"-----END -----") + len(label)


def parse_pem(data: bytes) -> PemFile:
    """Find every PEM block in ``data``; never raises. Linear in ``len(data)``."""
    blocks: list[PemBlock] = []
    bad: list[BadBlock] = []
    for position, (raw_label, start, stop) in enumerate(_spans(data), start=1):
        label = raw_label.decode("ascii")
        headers, body = _split_headers(data[start:stop])
        try:
            der = base64.b64decode(_WHITESPACE.sub(b"", body), validate=True)
        except (binascii.Error, ValueError):
            bad.append(BadBlock(label, position))
            continue
        if not der:
            bad.append(BadBlock(label, position))
            continue
        blocks.append(PemBlock(label, der, headers))
    return PemFile(tuple(blocks), tuple(bad))


def encode_pem(label: str, der: bytes) -> bytes:
    """Canonical PEM: 64-character lines, LF line ends, one trailing newline, no headers."""
    b64 = base64.b64encode(der)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    head = f"-----BEGIN {label}-----\n".encode("ascii")
    tail = f"-----END {label}-----\n".encode("ascii")
    return head + b"\n".join(lines) + b"\n" + tail


def looks_like_der(data: bytes) -> bool:
    """A DER SEQUENCE at the start: the usual reason a file has no PEM block."""
    return len(data) > 1 and data[0] == 0x30 and data[1] in (0x81, 0x82, 0x83)
