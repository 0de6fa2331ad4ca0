"""Spec validation and annotation mode parsing: invalid input is refused before any AWS call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from acm_sync.controller.sync import spec as specs
from acm_sync.controller.watch import annotations as ann

ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"


def _reason(spec: Mapping[str, object], **kwargs: object) -> str:
    with pytest.raises(specs.SpecError) as caught:
        specs.parse_spec(spec, **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


def test_a_valid_spec_is_parsed_with_defaults() -> None:
    parsed = specs.parse_spec({"secretName": "web", "regions": ["us-east-1", "eu-west-1"]})
    assert parsed.regions == ("us-east-1", "eu-west-1")
    assert parsed.deletion_policy.value == "Retain"
    assert parsed.on_key_change.value == "Block"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"regions": ["us-east-1"]}, "InvalidSpec"),
        ({"secretName": "web", "regions": []}, "InvalidRegion"),
        ({"secretName": "web", "regions": ["us-east-1", "us-east-1"]}, "InvalidRegion"),
        ({"secretName": "web", "regions": ["US_EAST"]}, "InvalidRegion"),
        ({"secretName": "web", "regions": ["us-east-1"], "tags": {"aws:x": "1"}}, "InvalidTags"),
        (
            {"secretName": "web", "regions": ["us-east-1"], "tags": {"acmsync.io/owner": "me"}},
            "InvalidTags",
        ),
        (
            {"secretName": "web", "regions": ["us-east-1"], "certificateArns": {"us-east-1": ARN}},
            "ArnRegionMismatch",
        ),
        (
            {"secretName": "web", "regions": ["us-east-1"], "deletionPolicy": "Orphan"},
            "InvalidSpec",
        ),
    ],
)
def test_invalid_specs_have_specific_reasons(spec: dict[str, object], reason: str) -> None:
    assert _reason(spec) == reason


def test_operator_wide_rules() -> None:
    spec = {"secretName": "web", "regions": ["eu-west-1"], "certificateArns": {"eu-west-1": ARN}}
    assert specs.parse_spec(spec).adopt_arns == {"eu-west-1": ARN}
    assert _reason(spec, adoption_enabled=False) == "AdoptionDisabled"
    assert _reason(spec, allowed_regions=frozenset({"us-east-1"})) == "RegionNotAllowed"


def test_secret_checks_come_before_the_core() -> None:
    now = datetime.now(UTC)
    with pytest.raises(specs.SpecError) as missing:
        specs.analyze_secret(None, now=now, expiry_warning_days=30)
    assert missing.value.reason == "SecretNotFound"
    with pytest.raises(specs.SpecError) as opaque:
        specs.analyze_secret({"type": "Opaque", "data": {}}, now=now, expiry_warning_days=30)
    assert opaque.value.reason == "NotTLSSecret"


def _meta(annotations: dict[str, str]) -> ann.SecretMeta:
    return ann.SecretMeta.of(
        {
            "metadata": {
                "namespace": "ns",
                "name": "web",
                "uid": "u1",
                "resourceVersion": "7",
                "annotations": {
                    **annotations,
                    "kubectl.kubernetes.io/last-applied-configuration": "{...data...}",
                },
            },
            "type": "kubernetes.io/tls",
        }
    )


def test_annotations_become_a_spec() -> None:
    meta = _meta(
        {
            "acmsync.io/regions": "us-east-1, eu-west-1,us-east-1",
            "acmsync.io/tags": "team=web, env=prod",
            "acmsync.io/deletion-policy": "Delete",
            "acmsync.io/on-key-change": "ImportNew",
        }
    )
    assert "kubectl.kubernetes.io/last-applied-configuration" not in meta.annotations
    assert ann.desired_spec(meta) == {
        "secretName": "web",
        "regions": ["us-east-1", "eu-west-1"],
        "tags": {"team": "web", "env": "prod"},
        "deletionPolicy": "Delete",
        "onKeyChange": "ImportNew",
    }


def test_bad_annotations_are_refused() -> None:
    with pytest.raises(ann.AnnotationError):
        ann.desired_spec(_meta({"acmsync.io/regions": " , "}))
    with pytest.raises(ann.AnnotationError, match="Retain or Delete, not 'x'"):
        ann.desired_spec(
            _meta({"acmsync.io/regions": "us-east-1", "acmsync.io/deletion-policy": "x"})
        )
    with pytest.raises(ann.AnnotationError, match="on-key-change must be Block or ImportNew"):
        ann.desired_spec(
            _meta({"acmsync.io/regions": "us-east-1", "acmsync.io/on-key-change": "importnew"})
        )


def test_removing_a_choice_annotation_puts_the_crds_default_back() -> None:
    asked = _meta({"acmsync.io/regions": "us-east-1", "acmsync.io/on-key-change": "ImportNew"})
    generated = ann.manifest(asked, ann.desired_spec(asked))
    assert generated["spec"]["onKeyChange"] == "ImportNew"
    dropped = _meta({"acmsync.io/regions": "us-east-1"})
    assert ann.spec_patch(generated, ann.desired_spec(dropped), dropped) == {
        "spec": {"onKeyChange": "Block"}
    }


def test_generated_objects_are_told_apart_from_user_objects() -> None:
    meta = _meta({"acmsync.io/regions": "us-east-1"})
    generated = ann.manifest(meta, ann.desired_spec(meta))
    assert ann.generated_from(generated, "web")
    user_made = {"metadata": {"name": "web"}, "spec": {"secretName": "web"}}
    assert not ann.generated_from(user_made, "web")
    # In line: nothing to patch (the CRD's default for deletionPolicy counts as unchanged).
    generated["spec"]["deletionPolicy"] = "Retain"
    assert ann.spec_patch(generated, ann.desired_spec(meta), meta) is None
    changed = _meta({"acmsync.io/regions": "us-east-1,eu-west-1"})
    assert ann.spec_patch(generated, ann.desired_spec(changed), changed) == {
        "spec": {"regions": ["us-east-1", "eu-west-1"]}
    }


@pytest.mark.parametrize(
    "name", ["../../team-b/secrets/x", "a/b", "..", "Web", "web_tls", "-web", "x" * 254, "a%2fb"]
)
def test_a_secret_name_that_is_no_object_name_is_refused(name: str) -> None:
    # The CRD's pattern says the same; the operator checks again before the name reaches the
    # path of a GET, so that no other namespace's Secret can ever be read.
    assert _reason({"secretName": name, "regions": ["us-east-1"]}) == "InvalidSpec"


def test_every_api_path_segment_is_encoded() -> None:
    from acm_sync.controller.platform.kubeapi import KubeApi, seg

    assert seg("../x") == "..%2Fx"
    assert KubeApi._cr_path("ns", "a/../b").endswith("/namespaces/ns/acmcertificates/a%2F..%2Fb")
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError, match="not an object name"):
            seg(bad)


def test_the_target_tag_counts_against_acms_fifty() -> None:
    forty_seven = {f"k{i}": "v" for i in range(47)}
    own = {"secretName": "web", "regions": ["us-east-1"], "tags": forty_seven}
    assert specs.parse_spec(own).tags == forty_seven  # 47 + 3 system tags = 50
    targeted = {
        "secretName": "web",
        "targets": [{"target": "edge", "regions": ["us-east-1"]}],
        "tags": forty_seven,
    }
    with pytest.raises(specs.SpecError, match="at most 46 are allowed") as caught:
        specs.parse_spec(targeted)
    assert caught.value.reason == "InvalidTags"
    forty_six = {**targeted, "tags": {f"k{i}": "v" for i in range(46)}}
    assert len(specs.parse_spec(forty_six).tags) == 46


def test_tag_patch_sends_null_for_removed_keys() -> None:
    meta = ann.SecretMeta.of(
        {
            "metadata": {
                "namespace": "ns",
                "name": "web",
                "uid": "u1",
                "annotations": {"acmsync.io/regions": "us-east-1", "acmsync.io/tags": "k=v,k2="},
            },
            "type": "kubernetes.io/tls",
        }
    )
    spec = ann.desired_spec(meta)
    assert spec["tags"] == {"k": "v", "k2": ""}  # "k2=" is an explicitly empty value
    generated = ann.manifest(meta, {**spec, "tags": {"bad": "", "k": "v"}})
    # A JSON merge patch keeps keys it does not mention: "bad" must be sent as null.
    assert ann.spec_patch(generated, spec, meta) == {
        "spec": {"tags": {"bad": None, "k": "v", "k2": ""}}
    }
