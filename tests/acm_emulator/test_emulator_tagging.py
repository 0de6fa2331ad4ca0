"""The Resource Groups Tagging API's GetResources at the emulator's endpoint."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.certkit import leaf

MANAGED = {"Key": "acmsync.io/managed-by", "Values": ["acm-sync"]}


def _tagging(acm: AcmEmulator, region: str = "us-east-1") -> Any:
    return boto3.client("resourcegroupstaggingapi", region_name=region, endpoint_url=acm.url)


def _import(client: Any, tags: dict[str, str]) -> str:
    material = leaf()
    params: dict[str, Any] = {
        "Certificate": material.certificate,
        "PrivateKey": material.private_key,
    }
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return str(client.import_certificate(**params)["CertificateArn"])


def _all_pages(tagging: Any, **params: Any) -> tuple[dict[str, dict[str, str]], int]:
    found: dict[str, dict[str, str]] = {}
    pages = 0
    token = ""
    while True:
        page = tagging.get_resources(PaginationToken=token, **params)
        pages += 1
        for item in page["ResourceTagMappingList"]:
            found[item["ResourceARN"]] = {t["Key"]: t["Value"] for t in item["Tags"]}
        token = page.get("PaginationToken", "")
        if not token:
            return found, pages


def test_get_resources_filters_by_tag_pages_and_returns_tags(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    acm_client = client("eu-west-1")
    ours = [
        _import(acm_client, {"acmsync.io/managed-by": "acm-sync", "acmsync.io/owner": f"c/ns/{i}"})
        for i in range(5)
    ]
    _import(acm_client, {"acmsync.io/managed-by": "someone-else"})
    _import(acm_client, {"team": "web"})
    _import(acm_client, {})  # untagged: GetResources never returns it
    _import(client("us-east-1"), {"acmsync.io/managed-by": "acm-sync"})  # another region

    found, pages = _all_pages(
        _tagging(acm, "eu-west-1"),
        ResourceTypeFilters=["acm:certificate"],
        TagFilters=[MANAGED],
        ResourcesPerPage=2,
    )
    assert set(found) == set(ours)
    assert pages == 3
    assert found[ours[3]]["acmsync.io/owner"] == "c/ns/3"
    everything, _ = _all_pages(_tagging(acm, "eu-west-1"))
    assert len(everything) == 7
    assert {c["api"] for c in acm.calls() if c["region"] == "eu-west-1"} >= {"GetResources"}


def test_get_resources_refuses_more_than_100_per_page(acm: AcmEmulator) -> None:
    with pytest.raises(ClientError) as err:
        _tagging(acm).get_resources(ResourcesPerPage=101)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_get_resources_can_be_denied_per_account_until_reset(
    acm: AcmEmulator, client: Callable[..., Any]
) -> None:
    _import(client(), {"acmsync.io/managed-by": "acm-sync"})
    acm.deny_tagging()
    with pytest.raises(ClientError) as err:
        _tagging(acm).get_resources(TagFilters=[MANAGED])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert [c["outcome"] for c in acm.calls() if c["api"] == "GetResources"] == [
        "AccessDeniedException"
    ]
    acm.deny_tagging(False)
    acm.deny_tagging(account="999999999999")  # another account: this one still answers
    assert len(_tagging(acm).get_resources(TagFilters=[MANAGED])["ResourceTagMappingList"]) == 1
    request = urllib.request.Request(  # noqa: S310 (the emulator on loopback)
        acm.url + "/_acm_emulator/tagging/deny",
        data=json.dumps({"denied": True}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
        assert answer.status == 200
    with pytest.raises(ClientError):
        _tagging(acm).get_resources()
    acm.reset()
    assert _tagging(acm).get_resources()["ResourceTagMappingList"] == []
