"""Every planner rule, table-driven (pure: no emulator, no AWS)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from acm_sync.core.planner import (
    Adopt,
    Blocked,
    Import,
    Lookup,
    Noop,
    Observation,
    Observe,
    ObservedCertificate,
    Reimport,
    Tag,
    plan,
)
from acm_sync.core.state import (
    OWNER_TAG,
    AdoptionMode,
    DesiredState,
    KeyChangePolicy,
    Owner,
    RegionRecord,
)
from acm_sync.core.tags import tags_hash

OWNER = Owner("c-1", "ns", "app")
OTHER = Owner("c-2", "ns", "app")
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/aaaa-1111"
ARN2 = "arn:aws:acm:us-east-1:123456789012:certificate/bbbb-2222"
ARN3 = "arn:aws:acm:us-east-1:123456789012:certificate/cccc-3333"
WEST = "arn:aws:acm:eu-west-1:123456789012:certificate/dddd-4444"
DESIRED = DesiredState(
    owner=OWNER, fingerprint="fp-new", key_algorithm="RSA_2048", regions=("us-east-1",)
)
MY_TAGS = DESIRED.all_tags()
IN_SYNC = RegionRecord("us-east-1", ARN, "fp-new", tags_hash=tags_hash(MY_TAGS))
STALE = RegionRecord("us-east-1", ARN, "fp-old", tags_hash=tags_hash(MY_TAGS))
NONE = RegionRecord("us-east-1")


def cert(
    arn: str = ARN,
    *,
    key: str = "RSA_2048",
    tags: dict[str, str] | None = None,
    matches: bool = False,
    in_use: bool = False,
    year: int = 2026,
    cert_type: str = "IMPORTED",
) -> ObservedCertificate:
    return ObservedCertificate(
        arn=arn,
        key_algorithm=key,
        tags=MY_TAGS if tags is None else tags,
        in_use=in_use,
        imported_at=datetime(year, 1, 1, tzinfo=UTC),
        content_matches=matches,
        cert_type=cert_type,
    )


@dataclass(frozen=True)
class Case:
    id: str
    record: RegionRecord
    observation: Observation
    expected: tuple[Any, ...]
    desired: dict[str, Any] = field(default_factory=dict)
    adoption: AdoptionMode = AdoptionMode.TAGGED
    previous: str | None = None


CASES = [
    Case("in-sync-no-call", IN_SYNC, Observation(), (Noop(ARN),)),
    Case("no-record-looks-up-first", NONE, Observation(), (Lookup(),)),
    Case(
        "no-record-nothing-found-imports",
        NONE,
        Observation(candidates=()),
        (Import(MY_TAGS, None, "Imported"),),
    ),
    Case(
        "no-record-found-same-content",
        NONE,
        Observation(candidates=(cert(matches=True),)),
        (Noop(ARN),),
    ),
    Case(
        "no-record-found-old-content-reimports",
        NONE,
        Observation(candidates=(cert(),)),
        (Reimport(ARN),),
    ),
    Case(
        "another-owners-candidates-are-ignored",
        NONE,
        Observation(candidates=(cert(tags=OTHER.system_tags()),)),
        (Import(MY_TAGS, None, "Imported"),),
    ),
    Case("recorded-arn-is-observed-first", STALE, Observation(), (Observe(ARN),)),
    Case("recorded-arn-renewed", STALE, Observation(target=cert()), (Reimport(ARN),)),
    Case(
        "recorded-arn-gone-looks-up",
        STALE,
        Observation(target_missing=True),
        (Lookup(),),
    ),
    Case(
        "recorded-arn-gone-imports-anew",
        STALE,
        Observation(target_missing=True, candidates=()),
        (Import(MY_TAGS, None, "Recreated"),),
    ),
    Case(
        "recorded-arn-gone-but-lookup-ignores-it",
        STALE,
        Observation(target_missing=True, candidates=(cert(ARN),)),
        (Import(MY_TAGS, None, "Recreated"),),
    ),
    Case(
        "owned-by-another",
        STALE,
        Observation(target=cert(tags=OTHER.system_tags())),
        (Blocked("ForeignCertificate", "*"),),
    ),
    Case(
        "untagged-not-adopted",
        STALE,
        Observation(target=cert(tags={})),
        (Blocked("ForeignCertificate", "*"),),
    ),
    Case(
        # Ownership tags before the reimport (IAM allows reimports only of tagged
        # certificates); the adopted certificate's own tags are kept.
        "adopt-untagged",
        NONE,
        Observation(target=cert(ARN2, tags={"x": "1"})),
        (Adopt(ARN2, MY_TAGS), Reimport(ARN2), Tag(ARN2, {"team": "web"}, ())),
        desired={"adopt_arns": {"us-east-1": ARN2}, "tags": {"team": "web"}},
        adoption=AdoptionMode.ANY,
    ),
    Case(
        # Naming an ARN is no consent: anyone who may create an AcmCertificate could name
        # another team's certificate. Nothing is written, not even the claim.
        "adopt-untagged-needs-consent",
        NONE,
        Observation(target=cert(ARN2, tags={"x": "1"})),
        (Blocked("AdoptionNotAuthorized", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        # The account's owner tagged it for this object: claimed (managed-by, cluster), then
        # reimported.
        "adopt-consented-by-the-owner-tag",
        NONE,
        Observation(target=cert(ARN2, tags={OWNER_TAG: OWNER.tag_value, "x": "1"})),
        (Adopt(ARN2, MY_TAGS), Reimport(ARN2)),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        "adopt-consented-by-the-hashed-owner-tag",
        NONE,
        Observation(target=cert(ARN2, tags={OWNER_TAG: OWNER.hashed_tag_value})),
        (Adopt(ARN2, MY_TAGS), Reimport(ARN2)),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        "adopt-another-namespaces-consent-is-not-ours",
        NONE,
        Observation(target=cert(ARN2, tags={OWNER_TAG: "c-1/other-ns/app"})),
        (Blocked("ForeignCertificate", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        "adopt-acm-issued-never",
        NONE,
        Observation(target=cert(ARN2, tags={}, cert_type="AMAZON_ISSUED")),
        (Blocked("NotImported", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
        adoption=AdoptionMode.ANY,
    ),
    Case(
        "adopt-private-ca-never-even-tagged",
        NONE,
        Observation(target=cert(ARN2, tags={OWNER_TAG: OWNER.tag_value}, cert_type="PRIVATE")),
        (Blocked("NotImported", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        "adopt-with-ownership-tags-already-there",
        NONE,
        Observation(target=cert(ARN2, tags={**MY_TAGS, "x": "1"})),
        (Adopt(ARN2, {}), Reimport(ARN2)),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        # The recorded ARN's managed keys say nothing about a newly adopted certificate.
        "adopt-ignores-the-recorded-arns-managed-keys",
        replace(STALE, managed_tag_keys=("x",)),
        Observation(target=cert(ARN2, tags={"x": "1"}, matches=True)),
        (Adopt(ARN2, MY_TAGS),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
        adoption=AdoptionMode.ANY,
    ),
    Case(
        "adopt-other-owner",
        NONE,
        Observation(target=cert(ARN2, tags=OTHER.system_tags())),
        (Blocked("ForeignCertificate", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        "adopt-disabled",
        NONE,
        Observation(),
        (Blocked("AdoptionDisabled", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
        adoption=AdoptionMode.OFF,
    ),
    Case(
        "adopt-missing",
        NONE,
        Observation(target_missing=True),
        (Blocked("NotFound", "*"),),
        desired={"adopt_arns": {"us-east-1": ARN2}},
    ),
    Case(
        "adopt-wrong-region",
        NONE,
        Observation(),
        (Blocked("InvalidArn", "*"),),
        desired={"adopt_arns": {"us-east-1": WEST}},
    ),
    Case(
        "key-change-blocked",
        STALE,
        Observation(target=cert(key="EC_prime256v1")),
        (Blocked("ReimportKeyChange", "*"),),
    ),
    Case(
        "key-change-import-new-looks-up",
        STALE,
        Observation(target=cert(key="EC_prime256v1")),
        (Lookup(),),
        desired={"on_key_change": KeyChangePolicy.IMPORT_NEW},
    ),
    Case(
        "key-change-import-new",
        STALE,
        Observation(target=cert(key="EC_prime256v1"), candidates=(cert(key="EC_prime256v1"),)),
        (Import(MY_TAGS, ARN, "ImportedNewKey"),),
        desired={"on_key_change": KeyChangePolicy.IMPORT_NEW},
        previous=ARN,
    ),
    Case(
        "key-change-import-new-already-done",
        STALE,
        Observation(
            target=cert(key="EC_prime256v1"),
            candidates=(cert(key="EC_prime256v1"), cert(ARN2, matches=True)),
        ),
        (Noop(ARN2),),
        desired={"on_key_change": KeyChangePolicy.IMPORT_NEW},
        previous=ARN,
    ),
    Case(
        "tags-only-old-status-removes-nothing",
        RegionRecord("us-east-1", ARN, "fp-new", tags_hash="old"),
        Observation(target=cert(matches=True, tags={**MY_TAGS, "gone": "1", "aws:x": "y"})),
        (Tag(ARN, {"team": "web"}, ()),),
        desired={"tags": {"team": "web"}},
    ),
    Case(
        "tags-only-removes-what-acm-sync-applied",
        RegionRecord("us-east-1", ARN, "fp-new", tags_hash="old", managed_tag_keys=("gone",)),
        Observation(target=cert(matches=True, tags={**MY_TAGS, "gone": "1", "Name": "lb"})),
        (Tag(ARN, {"team": "web"}, ("gone",)),),
        desired={"tags": {"team": "web"}},
    ),
    Case(
        "invalid-recorded-arn-looks-up-by-owner-tag",
        replace(IN_SYNC, arn="not-an-arn"),
        Observation(),
        (Lookup(),),
    ),
    Case(
        "recorded-arn-of-another-region-looks-up-by-owner-tag",
        replace(STALE, arn=WEST),
        Observation(candidates=(cert(),)),
        (Reimport(ARN),),
    ),
    Case(
        "duplicates-keep-in-use",
        NONE,
        Observation(candidates=(cert(ARN, year=2026), cert(ARN2, in_use=True, year=2020))),
        (Reimport(ARN2),),
    ),
    Case(
        "duplicates-in-use-beats-same-content",
        NONE,
        Observation(candidates=(cert(ARN, matches=True), cert(ARN2, in_use=True))),
        (Reimport(ARN2),),
    ),
    Case(
        "duplicates-keep-newest",
        NONE,
        Observation(candidates=(cert(ARN, year=2020), cert(ARN3, year=2026))),
        (Reimport(ARN3),),
    ),
]


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Blocked):
        return isinstance(actual, Blocked) and actual.code == expected.code and bool(actual.message)
    if isinstance(expected, Tag) and isinstance(actual, Tag):
        return (
            actual.arn == expected.arn
            and actual.remove == expected.remove
            and all(actual.add.get(k) == v for k, v in expected.add.items())
        )
    return bool(actual == expected)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_planner_rule(case: Case) -> None:
    desired = replace(DESIRED, **case.desired)

    result = plan(desired, case.record, case.observation, adoption=case.adoption)

    assert len(result.actions) == len(case.expected), result.actions
    for actual, expected in zip(result.actions, case.expected, strict=True):
        assert _same(actual, expected), (actual, expected)
    if case.previous is not None:
        assert result.previous_arn == case.previous


def test_duplicates_are_named_in_the_notes() -> None:
    result = plan(DESIRED, NONE, Observation(candidates=(cert(ARN, year=2020), cert(ARN2))))
    assert any(ARN in note for note in result.notes)


def test_an_ignored_recorded_arn_is_named_in_the_notes() -> None:
    result = plan(DESIRED, replace(STALE, arn="not-an-arn"), Observation(candidates=()))
    assert result.actions == (Import(MY_TAGS, None, "Imported"),)
    assert any("'not-an-arn'" in note and "ignored" in note for note in result.notes)


def test_key_change_message_says_how_to_proceed() -> None:
    result = plan(DESIRED, STALE, Observation(target=cert(key="EC_secp384r1")))
    (blocked,) = result.actions
    assert isinstance(blocked, Blocked)
    assert "EC_secp384r1" in blocked.message
    assert "RSA_2048" in blocked.message


def test_a_certificate_of_another_cluster_id_says_only_the_cluster_id_differs() -> None:
    result = plan(DESIRED, STALE, Observation(target=cert(tags=OTHER.system_tags())))
    (blocked,) = result.actions
    assert isinstance(blocked, Blocked)
    assert blocked.code == "ForeignCertificate"
    assert "only the cluster id differs" in blocked.message
    assert "'c-2'" in blocked.message
    assert "'c-1'" in blocked.message
    assert "Cluster id changes" in blocked.message
    # Another object's certificate (same cluster) is plainly foreign.
    someone = Owner("c-1", "ns", "other")
    result = plan(DESIRED, STALE, Observation(target=cert(tags=someone.system_tags())))
    (blocked,) = result.actions
    assert isinstance(blocked, Blocked)
    assert "cluster id" not in blocked.message
    assert "c-1/ns/other" in blocked.message


def test_the_consent_message_gives_the_command_that_tags_the_certificate() -> None:
    desired = replace(DESIRED, adopt_arns={"us-east-1": ARN2})
    (blocked,) = plan(desired, NONE, Observation(target=cert(ARN2, tags={}))).actions
    assert isinstance(blocked, Blocked)
    assert (
        f"aws acm add-tags-to-certificate --region us-east-1 --certificate-arn {ARN2} "
        f"--tags Key=acmsync.io/owner,Value=c-1/ns/app"
    ) in blocked.message
