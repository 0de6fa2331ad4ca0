"""The AWS side of the operator tests: what ACM holds, through boto3 where AWS offers it and
the ACM emulator's HTTP control API for call counts, which AWS has no equivalent of."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3


class Acm:
    """AWS-side assertions: boto3 for what AWS offers, the emulator's control API for counts."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, region: str) -> Any:
        """A boto3 ACM client on the emulator."""
        return boto3.client(
            "acm",
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def exists(self, region: str, arn: str) -> bool:
        """Whether ``arn`` exists in ``region``."""
        try:
            self.client(region).describe_certificate(CertificateArn=arn)
        except self.client(region).exceptions.ResourceNotFoundException:
            return False
        return True

    def serial(self, region: str, arn: str) -> str:
        """The serial of the certificate under ``arn``."""
        return str(
            self.client(region).describe_certificate(CertificateArn=arn)["Certificate"]["Serial"]
        )

    def owned_by(self, region: str, owner_suffix: str) -> list[str]:
        """ARNs in ``region`` whose owner tag ends with ``/<namespace>/<name>``."""
        acm = self.client(region)
        arns: list[str] = []
        paginator = acm.get_paginator("list_certificates")
        key_types = [
            "RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096",
            "EC_prime256v1", "EC_secp384r1", "EC_secp521r1",
        ]  # fmt: skip
        for page in paginator.paginate(Includes={"keyTypes": key_types}):
            for summary in page["CertificateSummaryList"]:
                arn = summary["CertificateArn"]
                tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
                owner = next(
                    (t.get("Value", "") for t in tags if t["Key"] == "acmsync.io/owner"), ""
                )
                if owner.endswith("/" + owner_suffix):
                    arns.append(arn)
        return arns

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the emulator's control API."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the emulator over http
            f"{self.url}/_acm_emulator/{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            return json.loads(r.read())

    def calls(self) -> list[dict[str, Any]]:
        """The emulator's call log."""
        return list(self.control("calls")["calls"])

    def writes_since(self, seq: int) -> list[dict[str, Any]]:
        """Calls after ``seq`` other than the sweep's reads."""
        reads = {
            "ListCertificates",
            "DescribeCertificate",
            "ListTagsForCertificate",
            "GetCertificate",
        }
        return [c for c in self.calls() if c["seq"] > seq and c["api"] not in reads]

    def last_seq(self) -> int:
        """The sequence number of the newest call (0 when none)."""
        calls = self.calls()
        return int(calls[-1]["seq"]) if calls else 0
