"""ListCertificates sorted by creation (SortBy=CREATED_AT with SortOrder), over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.certkit import leaf

EVERY_KEY_TYPE = {"keyTypes": ["RSA_2048", "EC_prime256v1"]}


def _import(acm: Any, algorithm: str = "EC_prime256v1", arn: str | None = None) -> str:
    material = leaf(algorithm)
    params: dict[str, Any] = {
        "Certificate": material.certificate,
        "PrivateKey": material.private_key,
        "CertificateChain": material.chain,
    }
    if arn:
        params["CertificateArn"] = arn
    return str(acm.import_certificate(**params)["CertificateArn"])


def _listed(acm: Any, **params: Any) -> list[str]:
    arns: list[str] = []
    while True:
        page = acm.list_certificates(Includes=EVERY_KEY_TYPE, **params)
        arns += [s["CertificateArn"] for s in page["CertificateSummaryList"]]
        if not page.get("NextToken"):
            return arns
        params["NextToken"] = page["NextToken"]


def test_newest_first_across_pages_and_a_reimport_keeps_its_place(
    client: Callable[..., Any],
) -> None:
    acm = client()
    first, second, third = (_import(acm, a) for a in ("EC_prime256v1", "RSA_2048", "EC_prime256v1"))
    _import(acm, arn=first)  # reimported: still the oldest ARN

    newest = _listed(acm, SortBy="CREATED_AT", SortOrder="DESCENDING", MaxItems=2)
    oldest = _listed(acm, SortBy="CREATED_AT", SortOrder="ASCENDING", MaxItems=2)

    assert newest == [third, second, first]
    assert oldest == [first, second, third]
    summaries = acm.list_certificates(
        Includes=EVERY_KEY_TYPE, SortBy="CREATED_AT", SortOrder="DESCENDING"
    )["CertificateSummaryList"]
    assert all(s.get("ImportedAt") for s in summaries)


@pytest.mark.parametrize(
    "params",
    [
        {"SortBy": "CREATED_AT"},
        {"SortOrder": "DESCENDING"},
        {"SortBy": "NOT_AFTER", "SortOrder": "ASCENDING"},
    ],
    ids=["order-missing", "field-missing", "unknown-field"],
)
def test_sort_by_and_sort_order_go_together(
    client: Callable[..., Any], params: dict[str, str]
) -> None:
    acm = client()
    with pytest.raises(ClientError) as err:
        acm.list_certificates(**params)
    assert err.value.response["Error"]["Code"] == "ValidationException"
