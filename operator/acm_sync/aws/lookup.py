"""Finding certificates in ACM: by owner tag, and by ARN with tags and content.

Lookup by owner tag lists every summary (all seven key types, 1,000 per page) and reads the
tags of imported certificates. Owner tags are cached per ARN, since acm-sync writes an owner
tag once, at import: a repeated lookup only reads tags of ARNs it has not seen. Matches are
re-read fresh before anyone acts on them. (The Resource Groups Tagging API would be one call,
but it is eventually consistent, and a lookup right after a lost import response must see the
new certificate.)
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from acm_sync.aws.adapter import AcmAdapter, utc
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.core.model import Material
from acm_sync.core.planner import ObservedCertificate
from acm_sync.core.state import OWNER_TAG, Owner

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def pem_bodies(data: bytes | None) -> tuple[bytes, ...]:
    """The base64 bodies of the CERTIFICATE blocks, whitespace removed (format-blind compare)."""
    return tuple(re.sub(rb"\s+", b"", m) for m in _PEM_BLOCK.findall(data or b""))


def same_content(material: Material, certificate: bytes, chain: bytes | None) -> bool:
    """Whether ACM holds ``material``'s leaf and chain.

    The leaf must be identical; the chain ACM returns must be the desired chain, optionally
    followed by one self-issued root (a root appended on ACM's side is not a reason to spend
    an import; a dropped intermediate is).
    """
    wanted = pem_bodies(material.chain)
    held = pem_bodies(chain)
    extra = held[len(wanted) :]
    return (
        pem_bodies(material.certificate) == pem_bodies(certificate)
        and held[: len(wanted)] == wanted
        and (not extra or (len(extra) == 1 and _is_root(extra[0])))
    )


def _is_root(body: bytes) -> bool:
    """A self-issued certificate (what a CA's root is), from a PEM body."""
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(body))
    except ValueError:
        return False
    return bool(cert.subject == cert.issuer)


def observed(
    arn: str,
    described: dict[str, Any],
    tags: dict[str, str],
    *,
    content_matches: bool,
) -> ObservedCertificate:
    """The planner's view of a described certificate (or a summary: same field names)."""
    return ObservedCertificate(
        arn=arn,
        key_algorithm=str(described.get("KeyAlgorithm", "")),
        tags=tags,
        in_use=bool(described.get("InUse") or described.get("InUseBy")),
        imported_at=utc(described.get("ImportedAt")),
        not_after=utc(described.get("NotAfter")),
        content_matches=content_matches,
        serial=str(described["Serial"]) if described.get("Serial") else None,
        in_use_by=in_use_of(described),
    )


def in_use_of(described: Mapping[str, Any]) -> tuple[str, ...] | None:
    """DescribeCertificate's InUseBy, sorted; None for a summary, which carries no list."""
    users = described.get("InUseBy")
    if not isinstance(users, list):
        return None
    return tuple(sorted(str(u) for u in users))


class Finder:
    """Lookups through one adapter; thread-safe, with the per-ARN owner-tag cache."""

    def __init__(self, adapter: AcmAdapter) -> None:
        self._adapter = adapter
        self._lock = threading.Lock()
        self._owners: dict[str, str | None] = {}  # ARN -> owner tag value (None: untagged)

    def describe(
        self, region: str, arn: str, material: Material | None
    ) -> tuple[ObservedCertificate, bytes] | None:
        """The certificate under ``arn`` and its PEM, or None when ACM says it does not exist."""
        try:
            described = self._adapter.describe(region, arn)
            tags = self._adapter.list_tags(region, arn)
            certificate, chain = self._adapter.get_pem(region, arn)
        except AwsCallError as err:
            if err.error_class is ErrorClass.NOT_FOUND:
                return None
            raise
        self._remember(arn, tags)
        matches = material is not None and same_content(material, certificate, chain)
        return observed(arn, described, tags, content_matches=matches), certificate

    def by_owner(
        self, region: str, owner: Owner, material: Material | None
    ) -> tuple[ObservedCertificate, ...]:
        """Every certificate in ``region`` whose owner tag is ``owner``'s, freshly read.

        With ``material`` each match's content is read and compared (GetCertificate); with
        None it is not (``content_matches`` is False).
        """
        found = []
        for summary in self._adapter.list_all(region):
            arn = str(summary["CertificateArn"])
            if summary.get("Type", "IMPORTED") != "IMPORTED":
                continue
            with self._lock:
                known = arn in self._owners
                cached = self._owners.get(arn)
            if known and not owner.owns(cached):
                continue
            try:
                tags = self._adapter.list_tags(region, arn)
                self._remember(arn, tags)
                if not owner.owns(tags.get(OWNER_TAG)):
                    continue
                # Without material (a deletion) there is no content to compare.
                matches = material is not None and same_content(
                    material, *self._adapter.get_pem(region, arn)
                )
            except AwsCallError as err:
                if err.error_class is ErrorClass.NOT_FOUND:
                    continue  # deleted between the list and the read
                raise
            found.append(observed(arn, summary, tags, content_matches=matches))
        return tuple(found)

    def _remember(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._owners[arn] = tags.get(OWNER_TAG)
