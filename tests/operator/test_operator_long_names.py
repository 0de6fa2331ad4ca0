"""An AcmCertificate whose name is as long as Kubernetes allows syncs and gets its Events."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess

pytestmark = pytest.mark.integration

# 253 characters: the longest legal object name (a DNS subdomain of 63-character labels).
NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


def test_a_253_character_name_syncs_with_a_fitting_owner_tag_and_gets_events(
    env: Env, operator: OperatorProcess
) -> None:
    assert len(NAME) == 253
    c = env.cluster
    ns = c.namespace()
    cert = TestCA().issue("long.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("web", cert)))
    c.create_cert(ns, NAME, secretName="web", regions=["us-east-1"])

    obj = c.wait_reason(ns, NAME, "Synced")

    (entry,) = obj["status"]["regions"]
    # One import, accepted at once: no InvalidTagException and no retries.
    imports = [call for call in env.acm.calls() if call["api"] == "ImportCertificate"]
    assert len(imports) == 1, imports
    assert env.acm.exists("us-east-1", entry["arn"])
    events = c.wait_event(ns, "Imported", name=NAME)
    assert any(e[1] == NAME and e[2] == "Synced" for e in c.wait_event(ns, "Synced", name=NAME))
    assert len(events) >= 1
