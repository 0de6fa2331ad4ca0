"""The IAM documents for AcmTargets agree with what the operator sends to STS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from acm_sync.aws import credentials

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _statements(name: str) -> dict[str, dict[str, Any]]:
    document = json.loads((DOCS / name).read_text())
    assert document["Version"] == "2012-10-17"
    return {s["Sid"]: s for s in document["Statement"]}


def test_the_trust_policy_allows_exactly_the_session_tags_the_operator_sends() -> None:
    trust = _statements("iam-target-trust-policy.json")
    assume = trust["AssumeFromTheOperatorRole"]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Condition"]["StringEquals"]["sts:ExternalId"] == "EXTERNAL_ID"
    session = assume["Condition"]["StringLike"]["sts:RoleSessionName"]
    assert session == credentials.session_name("CLUSTER_ID")
    tag = trust["SessionTagsNamingTheAcmCertificate"]
    assert tag["Action"] == "sts:TagSession"
    assert set(tag["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) == {
        credentials.SESSION_TAG_CLUSTER,
        credentials.SESSION_TAG_NAMESPACE,
        credentials.SESSION_TAG_NAME,
    }
    for statement in trust.values():
        assert statement["Principal"]["AWS"].endswith(":role/OPERATOR_ROLE_NAME")


def test_the_operator_role_may_assume_only_named_roles() -> None:
    (statement,) = _statements("iam-assume-role-policy.json").values()
    assert set(statement["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    assert statement["Resource"] != "*"
    assert all(":role/" in arn for arn in statement["Resource"])


def test_iam_md_links_both_documents() -> None:
    text = (DOCS / "iam.md").read_text()
    assert "iam-target-trust-policy.json" in text
    assert "iam-assume-role-policy.json" in text
    assert "aws:PrincipalTag/acmsync.io/namespace" in text
