"""Every classified AWS failure ends as a stable reason of core/reasons.py (which the docs'
troubleshooting table explains), never as an internal class name."""

from __future__ import annotations

import pytest

from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.core.reasons import Reason


@pytest.mark.parametrize("error_class", list(ErrorClass))
def test_every_error_class_has_a_documented_reason(error_class: ErrorClass) -> None:
    reason = AwsCallError("ImportCertificate", "eu-west-1", error_class, "Code", "msg").reason
    assert isinstance(reason, Reason)


def test_failures_without_a_reason_of_their_own_are_aws_errors() -> None:
    for error_class in (ErrorClass.PERMANENT, ErrorClass.RETRYABLE):
        err = AwsCallError("DescribeCertificate", "eu-west-1", error_class, "Boom", "msg")
        assert err.reason is Reason.AWS_ERROR
    throttled = AwsCallError("ListCertificates", "us-east-1", ErrorClass.THROTTLED, "T", "m")
    assert throttled.reason is Reason.THROTTLED
