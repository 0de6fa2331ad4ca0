"""docs/iam-policy.json: the least ACM actions, and writes only on acm-sync's own certificates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from acm_sync.core.state import CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE, OWNER_TAG
from tests.chart.iam_eval import Request, allowed

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "prod-eu"
OTHER_CLUSTER = "staging"
ACCOUNT = "111122223333"
ARN = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0b1c2d3e-aaaa-bbbb-cccc-123456789012"
# How IAM names the not-yet-existing certificate of a new import.
NEW = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/*"
OURS = {MANAGED_BY_TAG: MANAGED_BY_VALUE, CLUSTER_TAG: CLUSTER, OWNER_TAG: f"{CLUSTER}/web/www"}
THEIRS = {MANAGED_BY_TAG: MANAGED_BY_VALUE, CLUSTER_TAG: OTHER_CLUSTER, OWNER_TAG: "staging/a/b"}
# What adoption adds to a certificate it takes over (core/planner.py, Adopt).
CLAIM = {MANAGED_BY_TAG: MANAGED_BY_VALUE, CLUSTER_TAG: CLUSTER}
# An AWS account administrator's consent to adoption (--adoption tagged): the owner tag alone,
# with this object's owner value, on a certificate that may carry tags of its own.
CONSENTED = {"CostCenter": "42", OWNER_TAG: f"{CLUSTER}/web/www"}

# What the operator calls (aws/adapter.py, aws/owner_index.py); nothing more may be granted.
OPERATOR_ACTIONS = {
    "tag:GetResources",
    "acm:ImportCertificate",
    "acm:ListCertificates",
    "acm:DescribeCertificate",
    "acm:GetCertificate",
    "acm:ListTagsForCertificate",
    "acm:AddTagsToCertificate",
    "acm:RemoveTagsFromCertificate",
    "acm:DeleteCertificate",
}


@pytest.fixture(scope="module")
def raw_policy() -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((ROOT / "docs" / "iam-policy.json").read_text())
    return policy


@pytest.fixture(scope="module")
def policy(raw_policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as a user deploys it: placeholders replaced, as docs/iam.md says."""
    text = json.dumps(raw_policy).replace("ACCOUNT_ID", ACCOUNT).replace("CLUSTER_ID", CLUSTER)
    deployed: dict[str, Any] = json.loads(text)
    return deployed


def test_the_policy_is_an_iam_policy_document_with_unique_statement_ids(
    raw_policy: dict[str, Any],
) -> None:
    assert raw_policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in raw_policy["Statement"]]
    assert len(sids) == len(set(sids))
    assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)


def test_exactly_the_actions_the_operator_calls_are_granted(raw_policy: dict[str, Any]) -> None:
    granted = {a for s in raw_policy["Statement"] for a in s["Action"]}
    assert granted == OPERATOR_ACTIONS
    assert not any("*" in a for a in granted)


def test_placeholders_are_there_to_be_replaced(raw_policy: dict[str, Any]) -> None:
    text = json.dumps(raw_policy)
    assert "ACCOUNT_ID" in text
    assert "CLUSTER_ID" in text
    iam_doc = (ROOT / "docs" / "iam.md").read_text()
    assert "ACCOUNT_ID" in iam_doc
    assert "CLUSTER_ID" in iam_doc


@pytest.mark.parametrize(
    "request_",
    [
        Request("acm:ListCertificates", "*"),
        Request("tag:GetResources", "*"),
        Request("acm:DescribeCertificate", ARN, resource_tags={}),
        Request("acm:ListTagsForCertificate", ARN, resource_tags=THEIRS),
        Request("acm:GetCertificate", ARN, resource_tags={}),
        # A new import must carry the owner tags; a tagged import also checks AddTags.
        Request("acm:ImportCertificate", NEW, request_tags=OURS),
        Request("acm:AddTagsToCertificate", NEW, request_tags=OURS),
        Request("acm:ImportCertificate", ARN, resource_tags=OURS),
        Request("acm:AddTagsToCertificate", ARN, {"team": "web"}, resource_tags=OURS),
        Request("acm:RemoveTagsFromCertificate", ARN, {"team": "web"}, resource_tags=OURS),
        Request("acm:DeleteCertificate", ARN, resource_tags=OURS),
        # Adoption of a certificate an administrator tagged for this cluster's object: the
        # claim adds the ownership tags (the owner tag again, or not); the reimport into it is
        # then the owned reimport above.
        Request("acm:AddTagsToCertificate", ARN, request_tags=CLAIM, resource_tags=CONSENTED),
        Request("acm:AddTagsToCertificate", ARN, request_tags=OURS, resource_tags=CONSENTED),
    ],
    ids=lambda r: f"{r.action}",
)
def test_what_the_operator_does_is_allowed(policy: dict[str, Any], request_: Request) -> None:
    assert allowed(policy, request_)


@pytest.mark.parametrize(
    ("why", "request_"),
    [
        ("new import without owner tags", Request("acm:ImportCertificate", NEW)),
        (
            "new import tagged for another cluster",
            Request("acm:ImportCertificate", NEW, request_tags=THEIRS),
        ),
        ("reimport over an untagged certificate", Request("acm:ImportCertificate", ARN, {}, {})),
        ("reimport over another cluster's", Request("acm:ImportCertificate", ARN, {}, THEIRS)),
        ("delete an untagged certificate", Request("acm:DeleteCertificate", ARN, {}, {})),
        ("delete another cluster's", Request("acm:DeleteCertificate", ARN, {}, THEIRS)),
        (
            "claim another cluster's certificate",
            Request("acm:AddTagsToCertificate", ARN, OURS, THEIRS),
        ),
        (
            "tag a certificate an administrator marked managed-by=none (docs/iam.md)",
            Request("acm:AddTagsToCertificate", ARN, OURS, {MANAGED_BY_TAG: "none"}),
        ),
        (
            "reimport over a certificate marked managed-by=none",
            Request("acm:ImportCertificate", ARN, {}, {MANAGED_BY_TAG: "none"}),
        ),
        (
            "claim an untagged certificate",
            Request("acm:AddTagsToCertificate", ARN, CLAIM, {"CostCenter": "42"}),
        ),
        (
            "claim a certificate consented to another cluster",
            Request("acm:AddTagsToCertificate", ARN, CLAIM, {OWNER_TAG: "staging/web/www"}),
        ),
        (
            "claim a consented certificate, rewriting its owner to another cluster",
            Request(
                "acm:AddTagsToCertificate",
                ARN,
                {**CLAIM, OWNER_TAG: "staging/web/www"},
                CONSENTED,
            ),
        ),
        (
            "new import whose owner tag names another cluster",
            Request("acm:AddTagsToCertificate", NEW, {**CLAIM, OWNER_TAG: "staging/web/www"}),
        ),
        (
            "retag an owned certificate to another cluster",
            Request("acm:AddTagsToCertificate", ARN, {CLUSTER_TAG: OTHER_CLUSTER}, OURS),
        ),
        (
            "strip the managed-by tag from an owned certificate",
            Request(
                "acm:RemoveTagsFromCertificate", ARN, resource_tags=OURS, tag_keys=[MANAGED_BY_TAG]
            ),
        ),
        (
            "remove tags of an untagged certificate",
            Request("acm:RemoveTagsFromCertificate", ARN, {"team": "web"}, {}),
        ),
        ("export a private key", Request("acm:ExportCertificate", ARN, {}, OURS)),
        ("request an Amazon-issued certificate", Request("acm:RequestCertificate", NEW, OURS)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_what_would_touch_foreign_certificates_is_denied(
    policy: dict[str, Any], why: str, request_: Request
) -> None:
    assert not allowed(policy, request_), why


def test_the_evaluator_refuses_operators_it_does_not_model() -> None:
    odd = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "acm:*",
                "Resource": "*",
                "Condition": {"NumericLessThan": {"aws:RequestTag/x": "1"}},
            }
        ]
    }
    with pytest.raises(NotImplementedError):
        allowed(odd, Request("acm:ListCertificates", "*"))


def test_the_planners_adoption_writes_are_allowed_in_order(policy: dict[str, Any]) -> None:
    # Walks the planner's actions for adopting a certificate an administrator tagged for this
    # object (someone else's tags on it too, spec.tags set), tracking the certificate's tags,
    # and asks IAM about every write.
    from acm_sync.core.planner import Adopt, Observation, ObservedCertificate, Reimport, Tag, plan
    from acm_sync.core.state import DesiredState, Owner, RegionRecord

    owner = Owner(CLUSTER, "web", "www")
    desired = DesiredState(
        owner=owner,
        fingerprint="fp",
        key_algorithm="RSA_2048",
        regions=("eu-west-1",),
        tags={"team": "web"},
        adopt_arns={"eu-west-1": ARN},
    )
    tags = dict(CONSENTED)
    seen = ObservedCertificate(ARN, "RSA_2048", tags=dict(tags))
    actions = plan(desired, RegionRecord("eu-west-1"), Observation(target=seen)).actions
    assert [type(a) for a in actions] == [Adopt, Reimport, Tag]
    for action in actions:
        if isinstance(action, Adopt | Tag):
            add = action.tags if isinstance(action, Adopt) else action.add
            assert allowed(policy, Request("acm:AddTagsToCertificate", ARN, add, dict(tags)))
            tags |= add
        if isinstance(action, Tag) and action.remove:
            removal = Request(
                "acm:RemoveTagsFromCertificate", ARN, {}, dict(tags), list(action.remove)
            )
            assert allowed(policy, removal)
        if isinstance(action, Reimport):
            assert allowed(policy, Request("acm:ImportCertificate", ARN, {}, dict(tags)))
    assert tags == {"CostCenter": "42", "team": "web", **OURS}


def _looser_claim_statement() -> dict[str, Any]:
    doc = (ROOT / "docs" / "iam.md").read_text()
    section = doc.split("### `adoption.mode: any`", 1)[1]
    block = section.split("```json", 1)[1].split("```", 1)[0]
    statement: dict[str, Any] = json.loads(block)
    return statement


def test_adoption_any_needs_the_looser_statement_docs_iam_md_gives(
    policy: dict[str, Any],
) -> None:
    untagged_claim = Request("acm:AddTagsToCertificate", ARN, CLAIM, {"CostCenter": "42"})
    assert not allowed(policy, untagged_claim)
    text = json.dumps(_looser_claim_statement())
    looser = json.loads(text.replace("ACCOUNT_ID", ACCOUNT).replace("CLUSTER_ID", CLUSTER))
    widened = {**policy, "Statement": [*policy["Statement"], looser]}
    assert allowed(widened, untagged_claim)
    # Still never another cluster's certificate.
    assert not allowed(widened, Request("acm:AddTagsToCertificate", ARN, CLAIM, THEIRS))
