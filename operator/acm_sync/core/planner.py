"""The planner: (desired state, what ACM reports) -> what to do in one region. Pure.

The engine asks :func:`plan` (sync) or :func:`~acm_sync.core.deletion_planner.plan_deletion`
(deletionPolicy ``Delete``); when the answer is :class:`Observe` (read an ARN) or
:class:`Lookup` (find certificates by owner tag) it looks and asks again; otherwise it executes
the actions in order. Rules:

- fingerprint, tags and ARN unchanged since the last sync: :class:`Noop` with no AWS call;
- the recorded ARN is gone from ACM: import anew (after a lookup) and say so;
- the key algorithm or size changed: ``Blocked(ReimportKeyChange)``, or with the opt-in
  ``ImportNew`` policy a new ARN with the old one kept as ``previous_arn``;
- a certificate owned by someone else, or untagged and not explicitly adopted, is never
  reimported, tagged or deleted: ``Blocked(ForeignCertificate)``;
- adoption needs consent where the certificate lives: under ``AdoptionMode.TAGGED`` (the
  default) the certificate must already carry this object's owner tag, else
  ``Blocked(AdoptionNotAuthorized)`` with the command that gives it; a certificate ACM issued
  (or a private CA did) is never claimed, tagged or reimported: ``Blocked(NotImported)``;
- only a certificate whose owner tag is exactly this owner's and whose managed-by tag is
  acm-sync's is deleted; a recorded ARN that is gone is a :class:`Noop` ("already gone");
- adopting tags the certificate as ours before reimporting it, and only user tags acm-sync
  applied (``RegionRecord.managed_tag_keys``) are ever removed;
- a recorded ARN that is not an ACM ARN of its region counts as no record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from acm_sync.core.findings import Code

# The value types live in core/observed.py; re-exported for the planner's callers.
from acm_sync.core.observed import Drift as Drift
from acm_sync.core.observed import DriftKind as DriftKind
from acm_sync.core.observed import Observation as Observation
from acm_sync.core.observed import ObservedCertificate as ObservedCertificate
from acm_sync.core.reasons import Reason, WriteReason
from acm_sync.core.regions import region_of_arn
from acm_sync.core.state import (
    OWNER_TAG,
    AdoptionMode,
    DesiredState,
    KeyChangePolicy,
    Owner,
    RegionRecord,
)
from acm_sync.core.tags import owner_of, tag_delta, tags_hash

IMPORTED_TYPE = "IMPORTED"


@dataclass(frozen=True, slots=True)
class Observe:
    """Read ``arn`` (a sync describes it with tags and content; a deletion reads its tags)."""

    arn: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Look up certificates by owner tag, then plan again with the candidates."""


@dataclass(frozen=True, slots=True)
class Import:
    """Import under a new ARN, tags included in the same call."""

    tags: Mapping[str, str]
    previous_arn: str | None = None
    reason: str = WriteReason.IMPORTED  # or RECREATED, IMPORTED_NEW_KEY


@dataclass(frozen=True, slots=True)
class Reimport:
    """Reimport into the same ARN (never with tags)."""

    arn: str


@dataclass(frozen=True, slots=True)
class Adopt:
    """Take over an explicitly adopted certificate (followed by Reimport and/or Tag).

    ``tags`` are the ownership tags to add first (none when it carries them already): the IAM
    policy lets acm-sync reimport only a certificate that carries them.
    """

    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tag:
    """Reconcile tags with AddTagsToCertificate / RemoveTagsFromCertificate."""

    arn: str
    add: Mapping[str, str]
    remove: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete a certificate proven acm-sync's and this owner's by its tags."""

    arn: str
    found: bool = False  # found by the owner-tag lookup rather than recorded


@dataclass(frozen=True, slots=True)
class Noop:
    """Nothing to write: ACM holds the desired certificate and tags (or, deleting, it is gone)."""

    arn: str


@dataclass(frozen=True, slots=True)
class Blocked:
    """Nothing may be written; ``code`` is the stable reason, ``message`` says why."""

    code: str
    message: str


Action = Observe | Lookup | Import | Reimport | Adopt | Tag | Delete | Noop | Blocked


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """The actions for one region, in order, plus remarks for the status message."""

    actions: tuple[Action, ...]
    previous_arn: str | None = None
    notes: tuple[str, ...] = ()


def recorded_arn_problem(record: RegionRecord) -> str | None:
    """Why the recorded ARN cannot be used (not an ACM ARN in the record's region), or None.

    Such a record (a status edited by hand, say) is treated as holding no ARN: sending the
    ARN could only ever fail, while the owner-tag lookup finds the real certificate.
    """
    if record.arn is None or region_of_arn(record.arn) == record.region:
        return None
    return (
        f"the recorded ARN {record.arn!r} is not an ACM certificate ARN in {record.region}; "
        "it was ignored and the certificate looked up by owner tag"
    )


def in_sync(desired: DesiredState, record: RegionRecord) -> bool:
    """True when the record proves ACM already holds what is desired: no AWS call needed."""
    adopt = desired.adopt_arns.get(record.region)
    return (
        record.arn is not None
        and record.fingerprint == desired.fingerprint
        and record.tags_hash == tags_hash(desired.all_tags())
        and adopt in (None, record.arn)
    )


def plan(
    desired: DesiredState,
    record: RegionRecord,
    observation: Observation,
    *,
    adoption: AdoptionMode = AdoptionMode.TAGGED,
) -> RegionPlan:
    """What to do in ``record.region`` to make ACM hold ``desired``."""
    if problem := recorded_arn_problem(record):
        result = plan(desired, replace(record, arn=None), observation, adoption=adoption)
        return replace(result, notes=(problem, *result.notes))
    region = record.region
    adopt = desired.adopt_arns.get(region)
    if adopt is not None and adoption is AdoptionMode.OFF:
        return _blocked(Reason.ADOPTION_DISABLED, "adopting existing certificates is disabled")
    if adopt is not None and region_of_arn(adopt) != region:
        return _blocked(Reason.INVALID_ARN, f"{adopt} is not an ACM certificate ARN in {region}")
    if in_sync(desired, record):
        assert record.arn is not None
        return RegionPlan((Noop(record.arn),), record.previous_arn)
    target = adopt or record.arn
    if target is None:
        return _from_lookup(desired, record, observation, gone=None)
    if observation.target_missing:
        if adopt is not None and adopt != record.arn:
            return _blocked(Reason.NOT_FOUND, f"the certificate to adopt, {adopt}, does not exist")
        return _from_lookup(desired, record, observation, gone=target)
    cert = observation.target
    if cert is None or cert.arn != target:
        return RegionPlan((Observe(target),))
    if cert.cert_type != IMPORTED_TYPE:
        return _blocked(
            Reason.NOT_IMPORTED,
            f"{cert.arn} is a {cert.cert_type} certificate: ACM renews it itself, and acm-sync "
            "only ever writes to certificates imported into ACM",
        )
    if blocked := _foreign(cert, desired.owner, adopted=cert.arn == adopt, adoption=adoption):
        return blocked
    if cert.key_algorithm != desired.key_algorithm:
        return _key_change(desired, record, observation, cert)
    # Still adopting while the ownership tags are missing (the claim failed last time).
    claimed = all(cert.tags.get(k) == v for k, v in desired.owner.system_tags().items())
    adopting = adopt is not None and (adopt != record.arn or not claimed)
    return _update(desired, record, cert, adopting=adopting, previous_arn=record.previous_arn)


def _blocked(code: str, message: str) -> RegionPlan:
    return RegionPlan((Blocked(code, message),))


def _foreign(
    cert: ObservedCertificate, owner: Owner, *, adopted: bool, adoption: AdoptionMode
) -> RegionPlan | None:
    """Why ``cert`` is not this owner's to write to, or None when it is."""
    tagged = owner_of(cert.tags)
    if tagged is not None and not owner.owns(tagged):
        if problem := cluster_id_changed(cert.arn, tagged, owner):
            return _blocked(Reason.FOREIGN_CERTIFICATE, problem)
        return _blocked(
            Reason.FOREIGN_CERTIFICATE,
            f"{cert.arn} belongs to {tagged}; acm-sync will not touch it",
        )
    if tagged is None and not adopted:
        return _blocked(
            Reason.FOREIGN_CERTIFICATE,
            f"{cert.arn} carries no acm-sync owner tag; list it under spec.certificateArns "
            "to adopt it explicitly",
        )
    if tagged is None and adoption is not AdoptionMode.ANY:
        return _blocked(Reason.ADOPTION_NOT_AUTHORIZED, consent_message(cert.arn, owner))
    return None


def consent_message(arn: str, owner: Owner) -> str:
    """Why an untagged certificate is not adopted, and how its account's owner consents.

    Listing an ARN proves nothing about who may change it: anyone who can create an
    AcmCertificate could name another team's certificate. The tag is written where the
    certificate lives, by someone the AWS account trusts with it.
    """
    region = region_of_arn(arn) or "REGION"
    return (
        f"{arn} is not tagged for adoption by this AcmCertificate; nothing was written to it. "
        "To hand it over, whoever controls the AWS account tags it: aws acm "
        f"add-tags-to-certificate --region {region} --certificate-arn {arn} --tags "
        f"Key={OWNER_TAG},Value={owner.tag_value}"
    )


def cluster_id_changed(arn: str, tagged: str, owner: Owner) -> str | None:
    """The message for an owner tag that differs from ours only in the cluster id, or None.

    The usual cause is a new cluster (or a lost kube-system uid) running the same manifests:
    the certificate is this object's, created under the old cluster id.
    """
    cluster, sep, rest = tagged.rpartition("/")
    cluster, sep2, namespace = cluster.rpartition("/")
    if not (sep and sep2) or (namespace, rest) != (owner.namespace, owner.name):
        return None
    if cluster == owner.cluster_id:
        return None
    return (
        f"{arn} was created by acm-sync for {owner.namespace}/{owner.name} under cluster id "
        f"'{cluster}', and this operator's cluster id is '{owner.cluster_id}': only the "
        "cluster id differs. Keep the cluster id across cluster migrations (set clusterId / "
        f"--cluster-id to '{cluster}'), or take the certificate over deliberately by retagging "
        "it (docs/install.md, 'Cluster id changes'); acm-sync never takes it over by itself"
    )


def _update(
    desired: DesiredState,
    record: RegionRecord,
    cert: ObservedCertificate,
    *,
    adopting: bool,
    previous_arn: str | None,
    notes: Sequence[str] = (),
) -> RegionPlan:
    actions: list[Action] = []
    tags = cert.tags
    if adopting:
        # Ownership tags first: the reimport is allowed only on a certificate carrying them.
        system = desired.owner.system_tags()
        claim = system if any(tags.get(k) != v for k, v in system.items()) else {}
        actions.append(Adopt(cert.arn, claim))
        tags = {**tags, **claim}
    if not cert.content_matches:
        actions.append(Reimport(cert.arn))
    # The recorded keys describe the recorded certificate only; for any other (adopted,
    # found by owner tag) nothing is known, so no user tag is removed from it.
    managed = record.managed_tag_keys if cert.arn == record.arn else None
    add, remove = tag_delta(desired.all_tags(), tags, managed)
    if add or remove:
        actions.append(Tag(cert.arn, add, remove))
    return RegionPlan(tuple(actions) or (Noop(cert.arn),), previous_arn, tuple(notes))


def _choose(
    candidates: Sequence[ObservedCertificate], desired: DesiredState
) -> tuple[ObservedCertificate, list[ObservedCertificate]]:
    """Keep the best match; the rest are reported as extra, never deleted.

    Same key type first (only it can be reimported), then in use (a load balancer may depend
    on it, so it must get the new content), then already holding the content, then newest.
    """

    def rank(c: ObservedCertificate) -> tuple[bool, bool, bool, float, str]:
        stamp = c.imported_at.timestamp() if c.imported_at else 0.0
        same_key = c.key_algorithm == desired.key_algorithm
        return (same_key, c.in_use, c.content_matches, stamp, c.arn)

    ordered = sorted(candidates, key=rank, reverse=True)
    return ordered[0], ordered[1:]


def _mine(observation: Observation, owner: Owner, exclude: str | None) -> list[ObservedCertificate]:
    return [
        c for c in observation.candidates or () if owner.owns(owner_of(c.tags)) and c.arn != exclude
    ]


def _from_lookup(
    desired: DesiredState, record: RegionRecord, observation: Observation, *, gone: str | None
) -> RegionPlan:
    if observation.candidates is None:
        return RegionPlan((Lookup(),))
    mine = _mine(observation, desired.owner, gone)
    if not mine:
        reason = WriteReason.RECREATED if gone else WriteReason.IMPORTED
        gone_note = (f"the recorded certificate {gone} no longer exists in ACM",) if gone else ()
        action = Import(desired.all_tags(), record.previous_arn, reason)
        return RegionPlan((action,), record.previous_arn, gone_note)
    chosen, others = _choose(mine, desired)
    notes = [f"found {chosen.arn} by owner tag"]
    if others:
        extra = ", ".join(c.arn for c in others)
        notes.append(f"other certificates with the same owner tag were left alone: {extra}")
    if chosen.key_algorithm != desired.key_algorithm:
        if desired.on_key_change is KeyChangePolicy.BLOCK:
            return RegionPlan(
                (Blocked(Code.REIMPORT_KEY_CHANGE, _key_message(desired, chosen)),),
                notes=tuple(notes),
            )
        action = Import(desired.all_tags(), chosen.arn, WriteReason.IMPORTED_NEW_KEY)
        return RegionPlan((action,), chosen.arn, tuple(notes))
    return _update(
        desired, record, chosen, adopting=False, previous_arn=record.previous_arn, notes=notes
    )


def _key_message(desired: DesiredState, cert: ObservedCertificate) -> str:
    return (
        f"the Secret's key is {desired.key_algorithm} but {cert.arn} holds "
        f"{cert.key_algorithm}; ACM cannot change the key type of an ARN. Set "
        "onKeyChange: ImportNew to import under a new ARN, or keep the old key type"
    )


def _key_change(
    desired: DesiredState,
    record: RegionRecord,
    observation: Observation,
    cert: ObservedCertificate,
) -> RegionPlan:
    if desired.on_key_change is KeyChangePolicy.BLOCK:
        return _blocked(Code.REIMPORT_KEY_CHANGE, _key_message(desired, cert))
    # Before a new import, make sure an earlier attempt did not already create it.
    if observation.candidates is None:
        return RegionPlan((Lookup(),))
    same_key = [
        c
        for c in _mine(observation, desired.owner, cert.arn)
        if c.key_algorithm == desired.key_algorithm
    ]
    if same_key:
        chosen, _ = _choose(same_key, desired)
        return _update(
            desired,
            record,
            chosen,
            adopting=False,
            previous_arn=cert.arn,
            notes=(f"found {chosen.arn} (new key) by owner tag",),
        )
    notes = (f"key changed to {desired.key_algorithm}; {cert.arn} kept as the previous ARN",)
    return RegionPlan(
        (Import(desired.all_tags(), cert.arn, WriteReason.IMPORTED_NEW_KEY),), cert.arn, notes
    )
