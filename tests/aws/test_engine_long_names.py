"""Names of any legal length: the owner tag always fits ACM's 255 characters (issue 14)."""

from __future__ import annotations

import pytest

from acm_sync.aws.engine import Engine
from acm_sync.core.state import MAX_OWNER_TAG_LENGTH, OWNER_TAG, Owner, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import desired_for
from tests.certkit import leaf

# A kube-system uid, the longest namespace (a DNS label) and the longest object name.
CLUSTER = "0f6c8a7e-1b2c-4d5e-8f90-123456789abc"
LONG = Owner(CLUSTER, "n" * 63, "a" * 120 + "." + "b" * 132)


def test_longest_legal_name_imports_with_a_hashed_owner_tag(
    acm: AcmEmulator, engine: Engine
) -> None:
    assert len(LONG.name) == 253
    material = leaf()

    outcome = engine.sync(desired_for(material, owner=LONG), material, {})["us-east-1"]

    assert outcome.state is RegionState.SYNCED, outcome.message
    (stored,) = acm.certificates("us-east-1")
    tag = stored["tags"][OWNER_TAG]
    assert len(tag) <= MAX_OWNER_TAG_LENGTH
    # Cluster and namespace stay readable: IAM conditions and people filter on them.
    assert tag.startswith(f"{CLUSTER}/{'n' * 63}/sha256:")
    imports = [c for c in acm.calls() if c["api"] == "ImportCertificate"]
    assert len(imports) == 1


def test_lost_record_of_a_long_name_is_found_by_its_hashed_tag_not_imported_twice(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    first = engine.sync(desired_for(material, owner=LONG), material, {})["us-east-1"]

    again = engine.sync(desired_for(material, owner=LONG), material, {})["us-east-1"]

    assert again.arn == first.arn
    assert len(acm.certificates("us-east-1")) == 1


def test_short_names_keep_the_readable_form() -> None:
    owner = Owner(CLUSTER, "web", "shop")
    assert owner.tag_value == f"{CLUSTER}/web/shop"
    assert owner.tag_problem() is None


@pytest.mark.parametrize("form", ["plain", "hashed"])
def test_ownership_accepts_both_forms(form: str) -> None:
    owner = Owner("c", "web", "shop")
    value = owner.plain_tag_value if form == "plain" else owner.hashed_tag_value
    assert owner.owns(value)
    assert not Owner("c", "web", "shop2").owns(value)
    assert not owner.owns(None)


def test_a_cluster_id_too_long_for_any_form_is_reported_before_aws() -> None:
    problem = Owner("c" * 300, "web", "shop").tag_problem()
    assert problem is not None
    assert "--cluster-id" in problem
