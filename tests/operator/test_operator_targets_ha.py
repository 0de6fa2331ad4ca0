"""AcmTargets with operators of their own: failover mid-sync, a DEBUG run, operator flags.

No module-wide operator here: each test runs the operators it needs, so that no other replica
acts on its objects.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, wait_for
from tests.operator.targetkit import (
    OWN_ACCOUNT,
    ROLE,
    TARGET_ACCOUNT,
    owned_everywhere,
    pairs_in_status,
    status_entries,
    target,
    target_obj,
    target_ready,
)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def test_failover_mid_sync_with_targets_leaves_no_duplicate_in_any_account(
    env: Env, ca: TestCA
) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-ha", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("ha")
    flags = ("--lease-duration", "3", "--leader-election-namespace", ns)
    rates = {"ACM_SYNC_AWS_RATES": "ImportCertificate=4"}
    a = env.operator(*flags, name="targets-a", **rates).start()
    b = env.operator(*flags, name="targets-b", **rates).start()
    replicas = {a, b}
    names = [f"app{i}" for i in range(8)]
    try:
        for name in names:
            c.core.create_namespaced_secret(
                ns, as_model(client.V1Secret, tls_secret(name, ca.issue(f"{name}.example.com")))
            )
            c.create_cert(
                ns,
                name,
                secretName=name,
                regions=["eu-west-1"],
                targets=[{"target": "edge-ha", "regions": ["us-east-1"]}],
            )
        leader = wait_for(
            lambda: next((p for p in replicas if "acmsync_leader 1.0" in p.metrics()), None),
            what="the leader's metrics",
        )
        wait_for(
            lambda: any((c.cert(ns, n) or {}).get("status", {}).get("regions") for n in names),
            what="the leader started importing",
        )
        leader.kill()  # kill -9, mid-sync
        unfinished = [n for n in names if c.condition(ns, n).get("reason") != "Synced"]
        assert unfinished, "the leader finished before it was killed: the test proves nothing"
        for name in names:
            c.wait_reason(ns, name, "Synced", timeout=60)
        for name in names:
            owned = owned_everywhere(env, ns, name)
            assert owned == pairs_in_status(env, ns, name), (name, owned)
            assert {account for account, _, _ in owned} == {OWN_ACCOUNT, TARGET_ACCOUNT}
    finally:
        for process in replicas:
            process.stop()


def test_no_credentials_in_logs_events_or_status(env: Env, ca: TestCA) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-quiet", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("quiet")
    operator = env.operator(
        "--no-leader-election", "--log-level", "DEBUG", "--sweep-interval", "1", name="quiet"
    ).start()
    try:
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret("q", ca.issue("q.example.com")))
        )
        c.create_cert(
            ns, "q", secretName="q", targets=[{"target": "edge-quiet", "regions": ["us-east-1"]}]
        )
        c.wait_reason(ns, "q", "Synced")
        wait_for(lambda: target_ready(env, "edge-quiet").get("status") == "True", what="Ready")
    finally:
        operator.stop()
    keys = [s["access_key_id"] for s in env.acm_server.sessions()]
    assert keys
    haystacks = {
        "operator log": operator.log_path.read_text(errors="replace"),
        "status": repr(c.cert(ns, "q")),
        "acmtarget": repr(target_obj(env, "edge-quiet")),
        "events": repr([(e.reason, e.message) for e in c.core.list_namespaced_event(ns).items]),
    }
    assert "DEBUG" in haystacks["operator log"]
    for where, text in haystacks.items():
        for key in keys:
            assert key not in text, f"an access key id in {where}"
        assert "SessionToken" not in text, where
        assert "SecretAccessKey" not in text, where


def test_operator_flags_refuse_targets_and_roles(env: Env, ca: TestCA) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-flags", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("flags")
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("f", ca.issue("f.example.com")))
    )
    sessions = len(env.acm_server.sessions())
    # targets.allowedRoleArns: the role is refused by the operator itself, without STS.
    allow = ("--allowed-role-arns", "arn:aws:iam::*:role/other-*")
    operator = env.operator("--no-leader-election", *allow, name="allowlist").start()
    try:
        wait_for(
            lambda: target_ready(env, "edge-flags").get("reason") == "AssumeRoleFailed",
            what="AssumeRoleFailed from the allowlist",
        )
        assert "allowed role ARNs" in target_ready(env, "edge-flags")["message"]
        c.create_cert(
            ns, "f", secretName="f", targets=[{"target": "edge-flags", "regions": ["us-east-1"]}]
        )
        pair = status_entries(c.wait_reason(ns, "f", "AssumeRoleFailed"))[
            ("edge-flags", "us-east-1")
        ]
        assert pair["account"] == TARGET_ACCOUNT
        assert len(env.acm_server.sessions()) == sessions
    finally:
        operator.stop()
    # targets.enabled: false refuses spec.targets outright.
    operator = env.operator("--no-leader-election", "--disable-targets", name="disabled").start()
    try:
        c.patch_cert(ns, "f", {"regions": ["eu-west-1"]})
        obj = c.wait_reason(ns, "f", "PartiallySynced")
        assert status_entries(obj)[("edge-flags", "us-east-1")]["reason"] == "TargetNotAllowed"
        assert len(env.acm_server.sessions()) == sessions
        assert target_obj(env, "edge-flags")["status"]["conditions"]
    finally:
        operator.stop()
