"""Spec validation helpers the kopf layer uses: ACM tag rules and region/ARN syntax."""

from __future__ import annotations

import pytest

from acm_sync.aws.region_table import acm_regions
from acm_sync.core.regions import region_of_arn, validate_region
from acm_sync.core.tags import tag_delta, tags_hash, validate_tags


def test_valid_tags_have_no_problems() -> None:
    assert validate_tags({"team": "web", "cost center": "a.b:c/d=e+f-g@h_1", "empty": ""}) == []


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({"aws:owner": "x"}, "reserved prefix 'aws:'"),
        ({"AWS:owner": "x"}, "reserved prefix 'aws:'"),
        ({"acmsync.io/owner": "me"}, "reserved prefix 'acmsync.io/'"),
        ({"k" * 128: "x"}, "longer than 127"),
        ({"k": "v" * 256}, "longer than 255"),
        ({"bad#key": "x"}, "characters ACM refuses: '#'"),
        ({"k": "semi;colon"}, "characters ACM refuses: ';'"),
        ({"": "x"}, "empty"),
        ({f"k{i}": "v" for i in range(48)}, "at most 47"),
    ],
)
def test_tag_problems_are_explained(tags: dict[str, str], fragment: str) -> None:
    problems = validate_tags(tags)
    assert any(fragment in p for p in problems), problems


def test_47_user_tags_fit_with_the_three_system_tags() -> None:
    assert validate_tags({f"k{i}": "v" for i in range(47)}) == []


def test_tags_hash_ignores_order_and_sees_changes() -> None:
    assert tags_hash({"a": "1", "b": "2"}) == tags_hash({"b": "2", "a": "1"})
    assert tags_hash({"a": "1"}) != tags_hash({"a": "2"})


def test_tag_delta_removes_only_user_tags_acm_sync_applied() -> None:
    observed = {
        "a": "0",
        "b": "2",
        "CostCenter": "42",  # set by someone else: never acm-sync's to remove
        "aws:cloudformation:x": "y",
        "acmsync.io/stale": "1",  # the IAM policy forbids removing acmsync.io/ tags
    }
    managed = ("a", "b", "aws:cloudformation:x", "acmsync.io/stale")
    add, remove = tag_delta({"a": "1"}, observed, managed)
    assert add == {"a": "1"}
    assert remove == ("b",)


def test_tag_delta_without_recorded_keys_removes_nothing() -> None:
    # A status written before managed keys were recorded: whose tags they are is unknown.
    add, remove = tag_delta({"a": "1"}, {"a": "0", "b": "2", "Name": "prod-lb"}, None)
    assert (add, remove) == ({"a": "1"}, ())


@pytest.mark.parametrize(
    "region",
    [
        "us-east-1",
        "eu-central-2",
        "ap-southeast-5",
        "us-gov-west-1",
        "cn-north-1",
        "il-central-1",
        "us-isob-east-1",
        "eusc-de-east-1",
    ],
)
def test_real_region_names_are_valid(region: str) -> None:
    assert validate_region(region) is None


def test_every_region_botocore_knows_acm_in_is_well_formed() -> None:
    known = acm_regions()
    assert {"us-east-1", "cn-north-1", "us-gov-west-1"} <= known
    assert [r for r in sorted(known) if validate_region(r) is not None] == []


@pytest.mark.parametrize(
    "region",
    ["", "US-EAST-1", "us-east", "useast1", " us-east-1", "global", "us_east_1", "us-east-1a"],
)
def test_bad_region_names_are_explained(region: str) -> None:
    problem = validate_region(region)
    assert problem is not None
    assert problem


def test_region_of_arn() -> None:
    assert region_of_arn("arn:aws:acm:eu-west-1:123456789012:certificate/abc-123") == "eu-west-1"
    assert region_of_arn("arn:aws-cn:acm:cn-north-1:123456789012:certificate/x") == "cn-north-1"
    assert region_of_arn("arn:aws:acm:eu-west-1:123:certificate/abc") is None
    assert region_of_arn("arn:aws:s3:::bucket") is None
    assert region_of_arn("not an arn") is None
