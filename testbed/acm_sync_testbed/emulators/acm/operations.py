"""ACM's API operations on one account's certificates, as :class:`StrictAcm` serves them.

moto keeps the certificates (one ``AWSCertificateManagerBackend`` per region); the operations
add what real ACM does and moto does not: tags refused together with ``CertificateArn``, tags
and in-use marks kept on reimport, ACM's documented import and reimport rules (rules.py,
written from the documentation, not the operator's code), ``ResourceInUseException`` on
delete, ``LimitExceededException`` past an import quota, real ACM's ListCertificates key-type
default, pagination and sorting. :meth:`StrictAcm.handle` dispatches ``api`` to ``_api_<api>``.
"""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend

from acm_sync_testbed.emulators.acm import rules
from acm_sync_testbed.emulators.acm.certfacts import DEFAULT_LISTED_KEY_TYPES
from acm_sync_testbed.emulators.acm.errors import AcmError
from acm_sync_testbed.emulators.acm.faults import Faults
from acm_sync_testbed.emulators.acm.pem import stored_private_key
from acm_sync_testbed.emulators.acm.regions import region_of_arn

MAX_PAGE = 1000
# ListCertificates' SortBy and SortOrder (API_ListCertificates: each requires the other).
SORT_FIELDS = frozenset({"CREATED_AT"})
SORT_ORDERS = frozenset({"ASCENDING", "DESCENDING"})


class CertificateOperations:
    """The ``_api_*`` operations and the certificate lookups they share; a base of StrictAcm.

    Called with StrictAcm's lock held. The attributes below are StrictAcm's, set in its
    ``__init__``; they are declared here so that each operation is type-checked.
    """

    account_id: str
    limits: rules.Limits
    import_quota: int | None
    reimport_counts_toward_quota: bool
    faults: Faults
    _regions: dict[str, AWSCertificateManagerBackend]
    _order: dict[str, list[str]]  # region -> ARNs in import order (paging)
    _imports: Counter[str]

    # ----- helpers -----
    def _backend(self, region: str) -> AWSCertificateManagerBackend:
        if region not in self._regions:
            self._regions[region] = AWSCertificateManagerBackend(region, self.account_id)
            self._order[region] = []
        return self._regions[region]

    def _region_for(self, arn: str) -> str:
        region = region_of_arn(arn)
        if region is None:
            raise AcmError("InvalidArnException", f"{arn} is not a valid ARN")
        return region

    def _bundle(self, region: str, arn: Any) -> Any:
        if not isinstance(arn, str) or not arn:
            raise AcmError("ValidationException", "CertificateArn is required")
        if self._region_for(arn) != region:
            raise AcmError("InvalidArnException", f"{arn} is not in region {region}")
        backend = self._backend(region)
        if arn not in backend._certificates:
            raise AcmError(
                "ResourceNotFoundException",
                f"Could not find certificate {arn}.",
            )
        return backend._certificates[arn]

    @staticmethod
    def _decode(params: dict[str, Any], name: str) -> bytes:
        value = params.get(name)
        if value is None:
            raise AcmError("ValidationException", f"{name} is required")
        try:
            return base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            raise AcmError("ValidationException", f"{name} is not valid base64") from None

    @staticmethod
    def _validate_tags(tags: Any) -> list[dict[str, str]]:
        if not isinstance(tags, list) or not tags:
            raise AcmError("ValidationException", "Tags must be a non-empty list")
        for tag in tags:
            key = tag.get("Key", "") if isinstance(tag, dict) else ""
            if not key or len(key) > 127 or len(str(tag.get("Value", ""))) > 255:
                raise AcmError(
                    "InvalidTagException", f"Tag key or value has an invalid length: {key}"
                )
            if key.lower().startswith("aws:"):
                raise AcmError(
                    "InvalidTagException", f"Tag key {key} uses the reserved prefix aws:"
                )
        return tags

    # ----- the API -----
    def _api_ImportCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        certificate = self._decode(params, "Certificate")
        private_key = self._decode(params, "PrivateKey")
        chain = self._decode(params, "CertificateChain") if "CertificateChain" in params else None
        arn = params.get("CertificateArn")
        tags = params.get("Tags")
        if arn is not None and tags:
            raise AcmError("InvalidParameterException", "Tagging is not permitted on re-import.")
        if tags:
            tags = self._validate_tags(tags)
            if len(tags) > 50:
                raise AcmError("TooManyTagsException", "The request contains too many tags.")
        if problem := rules.check_import(certificate, private_key, chain, limits=self.limits):
            raise AcmError(*problem)
        old = self._bundle(region, arn) if arn is not None else None
        if old is not None and (problem := rules.check_reimport(old.cert, certificate)):
            raise AcmError(*problem)
        counts = old is None or self.reimport_counts_toward_quota
        if counts and self.import_quota is not None and self._imports[region] >= self.import_quota:
            raise AcmError(
                "LimitExceededException",
                "Error importing certificate: you have reached your limit of imported "
                "certificates for this account.",
            )
        backend = self._backend(region)
        try:
            # moto reads LF-only PEM and no EC PARAMETERS block; ACM accepts both.
            new_arn = backend.import_certificate(
                certificate.replace(b"\r\n", b"\n"),
                stored_private_key(private_key),
                chain.replace(b"\r\n", b"\n") if chain is not None else None,
                arn,
                [],
            )
        except Exception as err:  # moto's own validation (dates, PEM): pass its text on
            raise AcmError(
                getattr(err, "error_type", "ValidationException"),
                getattr(err, "message", "The certificate is not valid."),
            ) from None
        bundle: Any = backend._certificates[new_arn]
        # moto stores what you gave plus a made-up root; ACM gives back what you imported.
        bundle.chain = chain
        if old is not None:
            # Real ACM keeps tags and associations on reimport; moto makes a fresh bundle.
            bundle.tags = old.tags
            bundle.in_use_by = old.in_use_by
        else:
            self._order[region].append(new_arn)
            if tags:
                bundle.tags.add(tags)
        if counts:
            self._imports[region] += 1
        if old is None:
            self.faults.after_import(region, new_arn)
        return {"CertificateArn": new_arn}

    def _api_RequestCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """An ACM-issued (AMAZON_ISSUED) certificate: the kind acm-sync must never claim. It
        stays PENDING_VALIDATION here, as a real one does until its DNS record exists."""
        domain = str(params.get("DomainName") or "")
        if not domain:
            raise AcmError("ValidationException", "DomainName is required.")
        tags = self._validate_tags(params.get("Tags")) if params.get("Tags") else []
        token = str(params.get("IdempotencyToken") or uuid.uuid4().hex)
        names = list(params.get("SubjectAlternativeNames") or [domain])
        arn = self._backend(region).request_certificate(domain, token, names, tags)
        self._order[region].append(arn)
        return {"CertificateArn": arn}

    def _api_DescribeCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        described: dict[str, Any] = bundle.describe()
        cert = described["Certificate"]
        cert["InUseBy"] = list(bundle.in_use_by)
        if cert.get("Type") != "IMPORTED":
            return described
        cert["Serial"] = ":".join(
            f"{b:02x}"
            for b in bundle._cert.serial_number.to_bytes(
                (bundle._cert.serial_number.bit_length() + 7) // 8 or 1, "big"
            )
        )
        return described

    def _api_GetCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        result = {"Certificate": bundle.cert.decode()}
        if bundle.chain:
            result["CertificateChain"] = bundle.chain.decode()
        return result

    def _api_ListTagsForCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        return {"Tags": [{"Key": k, "Value": v or ""} for k, v in bundle.tags.items()]}

    def _api_AddTagsToCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        tags = self._validate_tags(params.get("Tags"))
        merged = {**bundle.tags, **{t["Key"]: t.get("Value", "") for t in tags}}
        if len(merged) > 50:
            raise AcmError("TooManyTagsException", "The certificate would have more than 50 tags.")
        bundle.tags.add(tags)
        return {}

    def _api_RemoveTagsFromCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        bundle = self._bundle(region, params.get("CertificateArn"))
        bundle.tags.remove(self._validate_tags(params.get("Tags")))
        return {}

    def _api_DeleteCertificate(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        arn = str(params.get("CertificateArn"))
        bundle = self._bundle(region, arn)
        if bundle.in_use_by:
            raise AcmError(
                "ResourceInUseException",
                f"Certificate {arn} in account {self.account_id} is in use.",
            )
        del self._backend(region)._certificates[arn]
        self._order[region].remove(str(arn))
        return {}

    def _api_ListCertificates(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        includes = params.get("Includes") or {}
        key_types = includes.get("keyTypes") or list(DEFAULT_LISTED_KEY_TYPES)
        statuses = params.get("CertificateStatuses") or []
        page = int(params.get("MaxItems") or MAX_PAGE)
        if not 1 <= page <= MAX_PAGE:
            raise AcmError("ValidationException", f"MaxItems must be between 1 and {MAX_PAGE}")
        start = 0
        if token := params.get("NextToken"):
            try:
                start = int(base64.b64decode(token).decode())
            except ValueError:
                raise AcmError("InvalidArgsException", "NextToken is not valid") from None
        backend = self._backend(region)
        matching = []
        for arn in _sorted(self._order[region], params):
            bundle = backend.get_certificate(arn)
            described = bundle.describe()["Certificate"]
            if described["KeyAlgorithm"] in key_types and (
                not statuses or described["Status"] in statuses
            ):
                matching.append(_summary(described, bundle))
        result: dict[str, Any] = {"CertificateSummaryList": matching[start : start + page]}
        if start + page < len(matching):
            result["NextToken"] = base64.b64encode(str(start + page).encode()).decode()
        return result


def _sorted(arns: list[str], params: dict[str, Any]) -> list[str]:
    """``arns`` (in creation order) as ListCertificates' SortBy/SortOrder ask.

    CreatedAt is documented for ACM-issued certificates only; the emulator sorts imported ones
    by when their ARN was created (a reimport keeps its place), which is the order it keeps.
    """
    sort_by, order = params.get("SortBy"), params.get("SortOrder")
    if sort_by is None and order is None:
        return arns
    if sort_by is None or order is None:
        raise AcmError("ValidationException", "SortBy and SortOrder must be given together")
    if sort_by not in SORT_FIELDS:
        raise AcmError("ValidationException", f"SortBy must be one of {sorted(SORT_FIELDS)}")
    if order not in SORT_ORDERS:
        raise AcmError("ValidationException", f"SortOrder must be one of {sorted(SORT_ORDERS)}")
    return arns[::-1] if order == "DESCENDING" else list(arns)


def _summary(described: dict[str, Any], bundle: Any) -> dict[str, Any]:
    """A CertificateSummary with real ACM's field names (no Serial, no InUseBy list)."""
    sans = list(described.get("SubjectAlternativeNames") or [])
    return {
        "CertificateArn": described["CertificateArn"],
        "DomainName": described["DomainName"],
        "SubjectAlternativeNameSummaries": sans[:100],
        "HasAdditionalSubjectAlternativeNames": len(sans) > 100,
        "Status": described["Status"],
        "Type": described["Type"],
        "KeyAlgorithm": described["KeyAlgorithm"],
        "KeyUsages": [],
        "ExtendedKeyUsages": [],
        "InUse": bool(bundle.in_use_by),
        "Exported": False,
        "RenewalEligibility": "INELIGIBLE",
        "NotBefore": described["NotBefore"],
        "NotAfter": described["NotAfter"],
        "ImportedAt": described.get("ImportedAt"),
    }
