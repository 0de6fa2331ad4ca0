"""The AcmTarget tests' kit: the second account, AcmTarget objects, and what each account holds.

Shared by test_operator_targets.py and test_operator_targets_ha.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from acm_sync.controller.platform.kubeapi import GROUP, VERSION
from tests.kube.kubekit import as_dict
from tests.operator.opkit import Env, OperatorProcess

ROLE = "arn:aws:iam::222233334444:role/acm-sync-importer"
TARGET_ACCOUNT = "222233334444"
OWN_ACCOUNT = "123456789012"
SELECTOR = {"matchLabels": {"acmsync.io/edge": "allowed"}}


def target(env: Env, name: str, **spec: Any) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AcmTarget",
        "metadata": {"name": name},
        "spec": spec,
    }
    env.cluster.custom.create_cluster_custom_object(GROUP, VERSION, "acmtargets", body)


def target_obj(env: Env, name: str) -> dict[str, Any]:
    return as_dict(env.cluster.custom.get_cluster_custom_object(GROUP, VERSION, "acmtargets", name))


def target_ready(env: Env, name: str) -> dict[str, Any]:
    status = target_obj(env, name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})


def labelled_namespace(env: Env) -> str:
    ns = env.cluster.namespace("tgt")
    env.cluster.core.patch_namespace(ns, {"metadata": {"labels": {"acmsync.io/edge": "allowed"}}})
    return ns


def status_entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e.get("target", ""), e["region"]): e for e in obj["status"]["regions"]}


def assumed_acm(env: Env, region: str) -> Any:
    """What a user would do: assume the role through the emulator's STS, list with boto3."""
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=env.acm_server.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    creds = sts.assume_role(RoleArn=ROLE, RoleSessionName="me", ExternalId="edge-xid")[
        "Credentials"
    ]
    return boto3.client(
        "acm",
        region_name=region,
        endpoint_url=env.acm_server.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def exported(operator: OperatorProcess, *series: str) -> Callable[[], bool]:
    """A probe: every one of ``series`` is on the operator's /metrics."""
    return lambda: all(line in operator.metrics() for line in series)


def target_account_calls(env: Env) -> int:
    return sum(1 for c in env.acm_server.calls() if c["account"] == TARGET_ACCOUNT)


def owned_everywhere(env: Env, ns: str, name: str) -> list[tuple[str, str, str]]:
    """(account, region, ARN) of every certificate in any account owned by ns/name."""
    return sorted(
        (h["account"], h["region"], h["arn"])
        for h in env.acm_server.certificates()
        if h["tags"].get("acmsync.io/owner", "").endswith(f"/{ns}/{name}")
    )


def pairs_in_status(env: Env, ns: str, name: str) -> list[tuple[str, str, str]]:
    entries = status_entries(env.cluster.cert(ns, name) or {})
    return sorted((e["account"], e["region"], e["arn"]) for e in entries.values())
