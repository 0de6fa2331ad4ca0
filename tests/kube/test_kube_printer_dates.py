"""Printer columns of type date, as the API server renders them for `kubectl get`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from acm_sync_testbed.emulators.kube.table import human_duration
from tests.kube.conftest import Kubectl

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "renewals.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "renewals", "singular": "renewal", "kind": "Renewal"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    {"name": "When", "type": "date", "jsonPath": ".spec.when"}
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"when": {"type": "string", "format": "date-time"}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _renewal(name: str, when: datetime) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "example.com/v1",
            "kind": "Renewal",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"when": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        }
    )


def test_a_date_in_the_future_reads_invalid_as_in_kubectl(kubectl: Kubectl) -> None:
    assert kubectl("apply", "-f", "-", stdin=yaml.safe_dump(CRD)).returncode == 0
    now = datetime.now(UTC)
    for name, when in (
        ("past", now - timedelta(days=3, hours=1)),
        ("future", now + timedelta(days=3)),
    ):
        assert kubectl("apply", "-f", "-", stdin=_renewal(name, when)).returncode == 0
    table = kubectl("get", "renewals", "--no-headers").stdout
    cells = {line.split()[0]: line.split()[1] for line in table.splitlines()}
    assert cells == {"future": "<invalid>", "past": "3d1h"}


def test_human_duration_tolerates_a_second_of_clock_skew() -> None:
    assert human_duration(-0.4) == "0s"
    assert human_duration(-1.9) == "0s"
    assert human_duration(-2.0) == "<invalid>"
    assert human_duration(-86400 * 400) == "<invalid>"
    assert human_duration(59.9) == "59s"
    assert human_duration(3 * 86400 + 3600) == "3d1h"
