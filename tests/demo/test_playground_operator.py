"""`acm-sync playground` runs the operator: an AcmCertificate made with kubectl's client syncs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes import client, config

from tests.certkit import self_signed_tls_secret
from tests.playground.playkit import running_playground

pytestmark = pytest.mark.integration


def test_playground_syncs_an_acmcertificate(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACM_SYNC_"))}
    # Leaving the block sends SIGTERM and asserts that the playground exits 0.
    with running_playground(tmp_path, env=env, ready_timeout=30) as playground:
        # The client leaves new_client_from_config unannotated; it returns an ApiClient.
        api = config.new_client_from_config(config_file=str(playground.kubeconfig))  # type: ignore[no-untyped-call]
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        # validate_call builds the V1Secret the client declares from the manifest dict.
        secret = self_signed_tls_secret("pg", "pg.example.com")
        core.create_namespaced_secret("default", cast(client.V1Secret, secret))
        custom.create_namespaced_custom_object(
            "acmsync.io", "v1alpha1", "default", "acmcertificates",
            {"apiVersion": "acmsync.io/v1alpha1", "kind": "AcmCertificate",
             "metadata": {"name": "pg"}, "spec": {"secretName": "pg", "regions": ["us-east-1"]}},
        )  # fmt: skip
        reason = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = custom.get_namespaced_custom_object(
                "acmsync.io", "v1alpha1", "default", "acmcertificates", "pg"
            )
            assert isinstance(raw, dict)  # a custom object is its JSON dict
            obj: dict[str, Any] = raw
            conditions = (obj.get("status") or {}).get("conditions") or []
            reason = next((c["reason"] for c in conditions if c["type"] == "Ready"), None)
            if reason == "Synced":
                break
            time.sleep(0.1)
        assert reason == "Synced"
        assert obj["status"]["regions"][0]["arn"].startswith("arn:aws:acm:us-east-1:")
        api.close()
