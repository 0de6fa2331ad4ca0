"""spec.targets, AcmTarget specs and the pair checks: decided before any AWS call."""

from __future__ import annotations

from typing import Any

import pytest

from acm_sync.controller.sync import spec as specs
from acm_sync.controller.watch import annotations as ann
from acm_sync.core import targets as tg
from acm_sync.core.labelselector import SelectorError, parse_selector

ROLE = "arn:aws:iam::222233334444:role/acm-sync-importer"


def test_targets_beside_regions_and_alone() -> None:
    parsed = specs.parse_spec(
        {
            "secretName": "web",
            "regions": ["eu-west-1"],
            "targets": [{"target": "edge", "regions": ["us-east-1"]}],
        }
    )
    assert parsed.regions == ("eu-west-1",)
    assert parsed.targets == (tg.TargetRef("edge", ("us-east-1",)),)
    alone = specs.parse_spec(
        {"secretName": "web", "targets": [{"target": "edge", "regions": ["us-east-1"]}]}
    )
    assert alone.regions == ()


@pytest.mark.parametrize(
    ("spec", "reason", "text"),
    [
        ({"secretName": "w", "regions": [], "targets": []}, "InvalidRegion", "spec.targets"),
        ({"secretName": "w", "targets": [{"target": "edge"}]}, "InvalidSpec", "regions"),
        (
            {"secretName": "w", "targets": [{"target": "e", "regions": ["us-east-1"]}] * 2},
            "InvalidSpec",
            "listed twice",
        ),
        (
            {"secretName": "w", "targets": [{"target": "Edge_1", "regions": ["us-east-1"]}]},
            "InvalidSpec",
            "not an AcmTarget name",
        ),
        (
            {"secretName": "w", "targets": [{"target": "e", "regions": ["US-EAST-1"]}]},
            "InvalidSpec",
            "US-EAST-1",
        ),
    ],
)
def test_bad_targets_are_refused(spec: dict[str, Any], reason: str, text: str) -> None:
    with pytest.raises(specs.SpecError) as caught:
        specs.parse_spec(spec)
    assert caught.value.reason == reason
    assert text in caught.value.message


def test_operator_allowed_regions_apply_to_targets_too() -> None:
    with pytest.raises(specs.SpecError) as caught:
        specs.parse_spec(
            {"secretName": "w", "targets": [{"target": "e", "regions": ["ap-south-1"]}]},
            allowed_regions=frozenset({"us-east-1"}),
        )
    assert caught.value.reason == "RegionNotAllowed"


def test_acmtarget_spec() -> None:
    target = tg.parse_target(
        "edge", {"roleArn": ROLE, "externalId": "xid-1", "regions": ["us-east-1"]}
    )
    assert target.account == "222233334444"
    assert target.regions == frozenset({"us-east-1"})
    with pytest.raises(tg.TargetSpecError):
        tg.parse_target("edge", {"roleArn": "arn:aws:iam::1:user/x"})


@pytest.mark.parametrize(
    ("selector", "labels", "admitted"),
    [
        (None, {}, True),
        ({}, {}, True),
        ({"matchLabels": {"team": "edge"}}, {"team": "edge"}, True),
        ({"matchLabels": {"team": "edge"}}, {"team": "web"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": ""}, False),
    ],
)
def test_namespace_selector(selector: Any, labels: dict[str, str], admitted: bool) -> None:
    assert tg.selector_matches(selector, labels) is admitted


def test_pair_problems_name_the_reason() -> None:
    target = tg.parse_target(
        "edge",
        {
            "roleArn": ROLE,
            "regions": ["us-east-1"],
            "namespaceSelector": {"matchLabels": {"a": "b"}},
        },
    )
    assert tg.pair_problem("edge", "us-east-1", None, "ns", {})[0] == "TargetNotFound"  # type: ignore[index]
    refused = tg.pair_problem("edge", "us-east-1", target, "ns", {"a": "c"})
    assert refused is not None
    assert refused[0] == "TargetNotAllowed"
    assert "ns" in refused[1]
    region = tg.pair_problem("edge", "eu-west-1", target, "ns", {"a": "b"})
    assert region is not None
    assert region[0] == "RegionNotAllowed"
    assert tg.pair_problem("edge", "us-east-1", target, "ns", {"a": "b"}) is None


def test_targets_annotation() -> None:
    assert tg.parse_targets_annotation("edge=us-east-1;shared=us-west-2+eu-west-1") == (
        tg.TargetRef("edge", ("us-east-1",)),
        tg.TargetRef("shared", ("us-west-2", "eu-west-1")),
    )
    for bad in ("edge", "edge=", "edge=US-EAST-1", "e=us-east-1;e=eu-west-1"):
        with pytest.raises(ValueError, match=r"spec\.targets|target=region"):
            tg.parse_targets_annotation(bad)


def test_role_allowlist() -> None:
    assert tg.role_allowed(ROLE, [])
    assert tg.role_allowed(ROLE, ["arn:aws:iam::*:role/acm-sync-*"])
    assert not tg.role_allowed(ROLE, ["arn:aws:iam::999988887777:role/acm-sync-importer"])


def _meta(annotations: dict[str, str]) -> ann.SecretMeta:
    return ann.SecretMeta.of(
        {
            "metadata": {"namespace": "ns", "name": "web", "uid": "u1", "annotations": annotations},
            "type": "kubernetes.io/tls",
        }
    )


def test_targets_annotation_generates_spec_targets() -> None:
    both = _meta(
        {
            "acmsync.io/regions": "eu-west-1",
            "acmsync.io/targets": "edge=us-east-1;shared=us-west-2+eu-west-1",
        }
    )
    spec = ann.desired_spec(both)
    assert spec["regions"] == ["eu-west-1"]
    assert spec["targets"] == [
        {"target": "edge", "regions": ["us-east-1"]},
        {"target": "shared", "regions": ["us-west-2", "eu-west-1"]},
    ]
    # The generated spec is one the operator accepts.
    assert len(specs.parse_spec(spec).targets) == 2
    alone = _meta({"acmsync.io/targets": "edge=us-east-1"})
    assert alone.wants_certificate
    assert ann.desired_spec(alone)["regions"] == []
    assert specs.parse_spec(ann.desired_spec(alone)).regions == ()


@pytest.mark.parametrize("value", ["edge", "edge=", "Edge=us-east-1", "e=US-EAST-1", "e=x;e=y"])
def test_bad_targets_annotation_is_refused(value: str) -> None:
    with pytest.raises(ann.AnnotationError, match=r"acmsync\.io/targets"):
        ann.desired_spec(_meta({"acmsync.io/targets": value}))


def test_a_changed_targets_annotation_patches_the_generated_spec() -> None:
    meta = _meta({"acmsync.io/targets": "edge=us-east-1+eu-west-1"})
    spec = ann.desired_spec(meta)
    current = {
        "metadata": {"ownerReferences": [{"uid": "u1"}]},
        "spec": {**spec, "targets": [{"target": "edge", "regions": ["us-east-1"]}]},
    }
    assert ann.spec_patch(current, spec, meta) == {"spec": {"targets": spec["targets"]}}


def test_certificate_arns_may_name_a_target_region() -> None:
    arn = "arn:aws:acm:us-east-1:222233334444:certificate/0a1b2c3d-1111-2222-3333-444455556666"
    spec = {
        "secretName": "w",
        "targets": [{"target": "edge", "regions": ["us-east-1"]}],
        "certificateArns": {"us-east-1": arn},
    }
    assert specs.parse_spec(spec).adopt_arns == {"us-east-1": arn}
    with pytest.raises(specs.SpecError, match=r"nor in spec\.targets"):
        specs.parse_spec({**spec, "certificateArns": {"eu-west-1": arn}})


def test_the_selector_syntax_is_kubectls() -> None:
    selector = parse_selector("acmsync.io/annotations in (allowed),!frozen")
    assert tg.selector_matches(selector, {"acmsync.io/annotations": "allowed"})
    assert not tg.selector_matches(selector, {"acmsync.io/annotations": "allowed", "frozen": ""})
    assert not tg.selector_matches(selector, {})
    assert tg.selector_matches(parse_selector("team!=shop"), {})
    assert tg.selector_matches(parse_selector(""), {"any": "thing"})
    for bad in ("a in ()", "a=b)", "(a", "a b", "x" * 5000):
        with pytest.raises(SelectorError):
            parse_selector(bad)
