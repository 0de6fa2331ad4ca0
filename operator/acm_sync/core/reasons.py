"""Every reason acm-sync shows a user, defined once: conditions, ``status.regions[]``, Events.

These values are public API: users alert on them, ``kubectl get -o wide`` shows them, metrics
carry them as labels and docs/install.md explains each one (a test keeps the docs and these
enums equal). Never rename a value. Certificate findings keep their own codes
(:class:`~acm_sync.core.findings.Code`); where a finding is also a reason (``Expired``,
``ReimportKeyChange``, ``NoCertificate``, ...) the ``Code`` member is used, never a copy.
"""

from __future__ import annotations

from enum import StrEnum


class ConditionType(StrEnum):
    """The conditions of an AcmCertificate (an AcmTarget has ``Ready`` only)."""

    READY = "Ready"
    EXPIRING = "Expiring"
    WARNINGS = "Warnings"


class Reason(StrEnum):
    """Reasons of ``Ready`` and of ``status.regions[]`` besides the finding codes.

    Each one has a row in docs/install.md's "Troubleshooting by condition reason".
    """

    # The object as a whole, decided by the kopf layer before any AWS call.
    SYNCED = "Synced"
    PARTIALLY_SYNCED = "PartiallySynced"
    PENDING = "Pending"
    SUSPENDED = "Suspended"
    SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 - a reason, not a password
    NOT_TLS_SECRET = "NotTLSSecret"  # noqa: S105 - a reason, not a password
    INVALID_SPEC = "InvalidSpec"
    INVALID_TAGS = "InvalidTags"
    INVALID_REGION = "InvalidRegion"
    ARN_REGION_MISMATCH = "ArnRegionMismatch"
    DELETION_BLOCKED = "DeletionBlocked"
    # A generated AcmCertificate whose Secret's acmsync.io/* annotations cannot be used: it
    # keeps syncing its last good spec, and says so (the Secret gets the Event of that name).
    INVALID_ANNOTATIONS = "InvalidAnnotations"
    # A (target, region) pair refused before any AWS call.
    REGION_NOT_ALLOWED = "RegionNotAllowed"
    TARGET_NOT_FOUND = "TargetNotFound"
    TARGET_NOT_ALLOWED = "TargetNotAllowed"
    ASSUME_ROLE_FAILED = "AssumeRoleFailed"
    # The planner refused to write (ReimportKeyChange is findings.Code's).
    FOREIGN_CERTIFICATE = "ForeignCertificate"
    ADOPTION_DISABLED = "AdoptionDisabled"
    # spec.certificateArns names a certificate the AWS account has not tagged for this object.
    ADOPTION_NOT_AUTHORIZED = "AdoptionNotAuthorized"
    # The certificate was issued by ACM or a private CA: never claimed, tagged or reimported.
    NOT_IMPORTED = "NotImported"
    # Also a done deletion's reason: the certificate was already gone.
    NOT_FOUND = "NotFound"
    INVALID_ARN = "InvalidArn"
    # AWS refused or failed a call.
    QUOTA_EXCEEDED = "QuotaExceeded"
    ACCESS_DENIED = "AccessDenied"
    THROTTLED = "Throttled"
    RESOURCE_IN_USE = "ResourceInUse"
    # A certificate to delete is named by a load balancer acm-sync wired (status.consumers[]):
    # its deletion waits until no wired consumer names it.
    IN_USE_BY_CONSUMER = "InUseByConsumer"
    NOT_LEADER = "NotLeader"
    NO_CREDENTIALS = "NoCredentials"
    AWS_ERROR = "AwsError"
    # A bug in acm-sync while syncing a region; the other regions go on.
    INTERNAL_ERROR = "InternalError"


class WriteReason(StrEnum):
    """What a pair's sync wrote to ACM: the reason of a ``Synced`` ``status.regions[]`` entry.

    A pair with nothing to write keeps :attr:`Reason.SYNCED`.
    """

    IMPORTED = "Imported"
    RECREATED = "Recreated"  # imported anew: the recorded certificate was gone from ACM
    IMPORTED_NEW_KEY = "ImportedNewKey"  # onKeyChange ImportNew: a new ARN for the new key type
    REIMPORTED = "Reimported"
    ADOPTED = "Adopted"
    TAGS_UPDATED = "TagsUpdated"
    DELETED = "Deleted"


# The write reasons that created a new ARN.
NEW_ARN_REASONS = frozenset(
    {WriteReason.IMPORTED, WriteReason.RECREATED, WriteReason.IMPORTED_NEW_KEY}
)


class QuietReason(StrEnum):
    """Reasons of conditions that report nothing wrong (besides :attr:`Reason.SYNCED`)."""

    NOT_EXPIRING = "NotExpiring"  # Expiring False
    NO_WARNINGS = "NoWarnings"  # Warnings False
    ASSUMED = "Assumed"  # an AcmTarget's Ready True: its role was assumed


class EventType(StrEnum):
    """Kubernetes Event types."""

    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(StrEnum):
    """Reasons of the Events that say what acm-sync did (condition changes use their reason)."""

    IMPORTED = "Imported"
    REIMPORTED = "Reimported"
    TAGS_UPDATED = "TagsUpdated"
    ADOPTED = "Adopted"
    DELETED = "Deleted"
    RETAINED = "Retained"
    KEY_TYPE_CHANGED = "KeyTypeChanged"
    # deletionPolicy Delete: the ARN an ImportNew replaced was deleted once nothing named it.
    PREVIOUS_DELETED = "PreviousDeleted"
    # On a Secret carrying acmsync.io/* annotations.
    INVALID_ANNOTATIONS = "InvalidAnnotations"
    ACMCERTIFICATE_EXISTS = "AcmCertificateExists"
    # The operator's --annotation-mode does not let this Secret's namespace use annotations.
    ANNOTATIONS_IGNORED = "AnnotationsIgnored"
    # The answer to acmsync.io/resync-requested-at: every pair re-read from ACM, and how it was
    # (Verified), or why nothing could be checked (ResyncSkipped: invalid input, suspended).
    VERIFIED = "Verified"
    RESYNC_SKIPPED = "ResyncSkipped"
    # On an Ingress or Service opted in to wiring (acmsync.io/certificates, acmsync.io/import):
    # its load balancer annotation set to the ARNs (or given back on opt-out), or why not.
    CERTIFICATE_WIRED = "CertificateWired"
    WIRING_BLOCKED = "WiringBlocked"
