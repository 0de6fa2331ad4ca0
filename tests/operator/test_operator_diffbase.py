"""kopf's record of the last handled spec stays in the operator, not on the object.

``kubectl describe acmcert`` used to show kopf's ``last-handled-configuration`` annotation, a
JSON copy of the spec, to every reader.
"""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from acm_sync.controller.watch.diffbase import LEGACY_ANNOTATION
from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration


def test_no_kopf_bookkeeping_annotation_and_edits_still_apply(
    env: Env, operator: OperatorProcess
) -> None:
    c = env.cluster
    ns = c.namespace("diffbase")
    secret = tls_secret("web", TestCA().issue("web.example.com"))
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
    c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
    c.wait_reason(ns, "web", "Synced")
    annotations = (c.cert(ns, "web") or {})["metadata"].get("annotations") or {}
    assert not [k for k in annotations if k.endswith("last-handled-configuration")]

    # An edit is still an edit: the new region is synced.
    c.patch_cert(ns, "web", {"regions": ["us-east-1", "eu-west-1"]})
    wait_for(
        lambda: (
            {r["region"] for r in (c.cert(ns, "web") or {}).get("status", {}).get("regions", [])}
            == {"us-east-1", "eu-west-1"}
        ),
        what="the added region to sync",
    )


def test_the_annotation_an_older_release_wrote_goes_at_the_next_edit(
    env: Env, operator: OperatorProcess
) -> None:
    c = env.cluster
    ns = c.namespace("diffbase")
    secret = tls_secret("api", TestCA().issue("api.example.com"))
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
    spec = {"secretName": "api", "regions": ["us-east-1"]}
    legacy = {LEGACY_ANNOTATION: json.dumps({"spec": spec})}
    c.custom.create_namespaced_custom_object(
        "acmsync.io", "v1alpha1", ns, "acmcertificates",
        {"apiVersion": "acmsync.io/v1alpha1", "kind": "AcmCertificate",
         "metadata": {"name": "api", "annotations": legacy}, "spec": spec},
    )  # fmt: skip
    c.wait_reason(ns, "api", "Synced")
    c.patch_cert(ns, "api", {"regions": ["eu-west-1"]})
    wait_for(
        lambda: (
            LEGACY_ANNOTATION
            not in ((c.cert(ns, "api") or {})["metadata"].get("annotations") or {})
        ),
        what="the legacy annotation to be removed",
    )
