"""Finding certificates in ACM: by owner tag, and by ARN with tags and content.

Lookup by owner tag asks the region's shared owner-tag index (aws/owner_index.py: the Tagging
API's GetResources, or a listing with cached tag reads) which ARNs carry the owner's tag, then
reads each match afresh (DescribeCertificate, ListTagsForCertificate, and GetCertificate when
there is content to compare) before anyone acts on it. The lookup right after an ambiguous
import must see a certificate created a moment ago, which the eventually consistent Tagging
API may not list yet: it lists the region now instead (``fresh=True``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Literal

from cryptography import x509

from acm_sync.aws.adapter import AcmAdapter, utc
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.owner_index import OwnerIndex
from acm_sync.core.model import Material
from acm_sync.core.planner import ObservedCertificate
from acm_sync.core.reimport import ReimportProfile
from acm_sync.core.state import OWNER_TAG, Owner, RegionRecord
from acm_sync.core.x509facts import key_algorithm_from_pem

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
        cert_type=str(described.get("Type") or "IMPORTED"),
    )


def in_use_of(described: Mapping[str, Any]) -> tuple[str, ...] | None:
    """DescribeCertificate's InUseBy, sorted; None for a summary, which carries no list."""
    users = described.get("InUseBy")
    if not isinstance(users, list):
        return None
    return tuple(sorted(str(u) for u in users))


class Finder:
    """Lookups through one adapter and its owner-tag index; thread-safe."""

    def __init__(self, adapter: AcmAdapter, index: OwnerIndex) -> None:
        self._adapter = adapter
        self.index = index

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
                self.index.forget(region, arn)
                return None
            raise
        self.index.remember(region, arn, tags)
        matches = material is not None and same_content(material, certificate, chain)
        return observed(arn, described, tags, content_matches=matches), certificate

    def owner_tag(self, region: str, arn: str) -> str | None:
        """The owner tag of one certificate (one ListTagsForCertificate), remembered."""
        try:
            tags = self._adapter.list_tags(region, arn)
        except AwsCallError as err:
            if err.error_class is ErrorClass.NOT_FOUND:
                return None  # gone: the full read that follows says so
            raise
        self.index.remember(region, arn, tags)
        return tags.get(OWNER_TAG)

    def content(
        self, region: str, record: RegionRecord, tags: Mapping[str, str], material: Material
    ) -> tuple[ObservedCertificate, bytes] | Literal["unreadable"] | None:
        """The certificate under ``record.arn`` from one GetCertificate, the rest from the
        record (``tags`` are those the record says ACM holds); None when it does not exist.

        "unreadable": ACM's certificate could not be parsed, so read it in full instead.
        """
        assert record.arn is not None
        try:
            certificate, chain = self._adapter.get_pem(region, record.arn)
        except AwsCallError as err:
            if err.error_class is ErrorClass.NOT_FOUND:
                self.index.forget(region, record.arn)
                return None
            raise
        algorithm = key_algorithm_from_pem(certificate)
        if algorithm is None:
            return "unreadable"
        seen = ObservedCertificate(
            arn=record.arn,
            key_algorithm=algorithm,
            tags=dict(tags),
            in_use=bool(record.in_use_by),
            imported_at=record.imported_at,
            not_after=record.not_after,
            content_matches=same_content(material, certificate, chain),
            serial=record.serial,
            in_use_by=record.in_use_by,
        )
        return seen, certificate

    def by_owner(
        self,
        region: str,
        owner: Owner,
        material: Material | None,
        *,
        fresh: bool = False,
        reload: bool = False,
        held: dict[str, ReimportProfile | None] | None = None,
    ) -> tuple[ObservedCertificate, ...]:
        """Every certificate in ``region`` whose owner tag is ``owner``'s, freshly read.

        With ``material`` each match's content is read and compared (GetCertificate); with
        None it is not (``content_matches`` is False). ``fresh`` lists the region now rather
        than trusting the shared index (after an ambiguous import); ``reload`` asks the index
        for a load that starts now (a deletion: see ``OwnerIndex.owned_by``). ``held`` receives
        the reimport rules' facts of each match read with content, so that a plan reimporting
        one is checked against ACM's rules before anything (a tag) is written to it.
        """
        if fresh:
            listed = self.index.listed_now(region)
            arns = sorted(arn for arn, tag in listed.items() if owner.owns(tag))
        else:
            arns = self.index.owned_by(region, owner.owns, reload=reload)
        found = []
        for arn in arns:
            try:
                described = self._adapter.describe(region, arn)
                if described.get("Type", "IMPORTED") != "IMPORTED":
                    continue
                tags = self._adapter.list_tags(region, arn)
                self.index.remember(region, arn, tags)
                if not owner.owns(tags.get(OWNER_TAG)):
                    continue  # retagged since the index read it
                # Without material (a deletion) there is no content to compare.
                matches = False
                if material is not None:
                    certificate, chain = self._adapter.get_pem(region, arn)
                    matches = same_content(material, certificate, chain)
                    if held is not None:
                        held[arn] = ReimportProfile.of(certificate)
            except AwsCallError as err:
                if err.error_class is ErrorClass.NOT_FOUND:
                    self.index.forget(region, arn)
                    continue  # deleted since the index listed it
                raise
            found.append(observed(arn, described, tags, content_matches=matches))
        return tuple(found)

    def imported(self, region: str, arn: str, tags: Mapping[str, str]) -> None:
        """This process imported ``arn`` with ``tags``: lookups find it from now on."""
        self.index.remember(region, arn, tags, imported=True)

    def forget(self, region: str, arn: str) -> None:
        """``arn`` was deleted."""
        self.index.forget(region, arn)
