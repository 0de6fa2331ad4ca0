"""The ACM side: the only package (with the ACM emulator) that imports boto3/botocore.

Importing this package is cheap; ``acm_sync.aws.engine`` pulls in boto3.
"""

from acm_sync.aws.settings import DEFAULT_RATES, AwsSettings
from acm_sync.core.planner import Drift, DriftKind

__all__ = ["DEFAULT_RATES", "AwsSettings", "Drift", "DriftKind"]
