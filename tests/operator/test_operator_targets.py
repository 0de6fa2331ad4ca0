"""AcmTargets end to end: a second AWS account through an assumed role, as a user sees it.

The operator runs as a process against the Kubernetes API and the ACM emulator, whose STS
hands out credentials for account 222233334444 and keeps each account's certificates apart.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from acm_sync.controller.platform.kubeapi import GROUP, VERSION
from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for
from tests.operator.targetkit import (
    OWN_ACCOUNT,
    ROLE,
    SELECTOR,
    TARGET_ACCOUNT,
    assumed_acm,
    exported,
    labelled_namespace,
    owned_everywhere,
    pairs_in_status,
    status_entries,
    target,
    target_account_calls,
    target_obj,
    target_ready,
)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def test_a_certificate_in_two_accounts_rotated_and_deleted(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(
        env,
        "edge",
        roleArn=ROLE,
        externalId="edge-xid",
        regions=["us-east-1"],
        namespaceSelector=SELECTOR,
    )
    wait_for(lambda: target_ready(env, "edge").get("status") == "True", what="edge Ready")
    status = target_obj(env, "edge")["status"]
    assert status["account"] == TARGET_ACCOUNT
    assert status["lastChecked"]

    c = env.cluster
    ns = labelled_namespace(env)
    first = ca.issue("edge.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("web", first)))
    c.create_cert(
        ns,
        "web",
        secretName="web",
        regions=["eu-west-1"],
        targets=[{"target": "edge", "regions": ["us-east-1"]}],
        deletionPolicy="Delete",
    )
    obj = c.wait_reason(ns, "web", "Synced")
    entries = status_entries(obj)
    assert set(entries) == {("", "eu-west-1"), ("edge", "us-east-1")}
    own, edge = entries[("", "eu-west-1")], entries[("edge", "us-east-1")]
    assert own["account"] == OWN_ACCOUNT
    assert edge["account"] == TARGET_ACCOUNT
    assert f":{TARGET_ACCOUNT}:certificate/" in edge["arn"]
    assert obj["status"]["pairs"] == "2/2"
    # Metrics carry the account where they carry the region (exported after the status).
    for account, region in ((TARGET_ACCOUNT, "us-east-1"), (OWN_ACCOUNT, "eu-west-1")):
        imports = f'acmsync_imports_total{{account="{account}",region="{region}"}}'
        expiry = (
            "acmsync_certificate_not_after_timestamp_seconds"
            f'{{account="{account}",name="web",namespace="{ns}",region="{region}"}}'
        )
        wait_for(exported(operator, imports, expiry), what=f"the metrics of {account} {region}")

    # Seen as a user would: the target account holds it, the operator's account does not.
    target_acm = assumed_acm(env, "us-east-1")
    listed = target_acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})
    assert [s["CertificateArn"] for s in listed["CertificateSummaryList"]] == [edge["arn"]]
    tags = {
        t["Key"]: t["Value"]
        for t in target_acm.list_tags_for_certificate(CertificateArn=edge["arn"])["Tags"]
    }
    assert tags["acmsync.io/target"] == "edge"
    assert tags["acmsync.io/owner"].endswith(f"/{ns}/web")
    assert env.acm.owned_by("us-east-1", f"{ns}/web") == []
    assert env.acm.owned_by("eu-west-1", f"{ns}/web") == [own["arn"]]
    sessions = [s for s in env.acm_server.sessions() if s["tags"].get("acmsync.io/name") == "web"]
    assert sessions
    assert {s["tags"]["acmsync.io/namespace"] for s in sessions} == {ns}
    assert all(s["session_name"].startswith("acm-sync-") for s in sessions)

    # Rotation: both accounts get the new certificate under the same ARNs.
    second = ca.issue("edge.example.com", "www.edge.example.com")
    c.core.replace_namespaced_secret(
        "web", ns, as_model(client.V1Secret, tls_secret("web", second))
    )
    wait_for(
        lambda: (
            ((c.cert(ns, "web") or {}).get("status", {}).get("secret") or {}).get("serialNumber")
            == serial_hex(second.serial)
            and c.condition(ns, "web").get("reason") == "Synced"
        ),
        what="the rotated serial, synced",
    )
    rotated = status_entries(c.cert(ns, "web") or {})
    assert rotated[("edge", "us-east-1")]["arn"] == edge["arn"]
    assert rotated[("", "eu-west-1")]["arn"] == own["arn"]
    described = target_acm.describe_certificate(CertificateArn=edge["arn"])["Certificate"]
    assert described["Serial"] == serial_hex(second.serial)
    assert env.acm.serial("eu-west-1", own["arn"]) == serial_hex(second.serial)
    held = env.acm_server.certificates()
    assert len([h for h in held if h["arn"] in (own["arn"], edge["arn"])]) == 2

    # Deletion under Delete removes both.
    c.delete_cert(ns, "web")
    wait_for(lambda: c.cert(ns, "web") is None, what="the AcmCertificate to go")
    remaining = {h["arn"] for h in env.acm_server.certificates()}
    assert own["arn"] not in remaining
    assert edge["arn"] not in remaining


def test_refused_pairs_make_no_aws_call_and_the_others_sync(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(
        env,
        "edge-only",
        roleArn=ROLE,
        externalId="edge-xid",
        regions=["us-east-1"],
        namespaceSelector=SELECTOR,
    )
    c = env.cluster
    ns = c.namespace("outside")  # not labelled: outside the selector
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("app", ca.issue("app.example.com")))
    )
    before = target_account_calls(env)
    c.create_cert(
        ns,
        "app",
        secretName="app",
        regions=["eu-west-1"],
        targets=[
            {"target": "edge-only", "regions": ["us-east-1"]},
            {"target": "missing", "regions": ["us-east-1"]},
        ],
    )
    obj = c.wait_reason(ns, "app", "PartiallySynced")
    entries = status_entries(obj)
    assert entries[("", "eu-west-1")]["state"] == "Synced"
    assert entries[("edge-only", "us-east-1")]["reason"] == "TargetNotAllowed"
    assert ns in entries[("edge-only", "us-east-1")]["message"]
    assert entries[("missing", "us-east-1")]["reason"] == "TargetNotFound"
    assert obj["status"]["pairs"] == "1/3"
    assert "TargetNotAllowed" in c.condition(ns, "app")["message"]
    assert target_account_calls(env) == before
    assert not [s for s in env.acm_server.sessions() if s["tags"].get("acmsync.io/name") == "app"]

    # A region the AcmTarget does not allow, in an admitted namespace.
    allowed_ns = labelled_namespace(env)
    c.core.create_namespaced_secret(
        allowed_ns, as_model(client.V1Secret, tls_secret("app", ca.issue("app.example.com")))
    )
    c.create_cert(
        allowed_ns,
        "app",
        secretName="app",
        targets=[{"target": "edge-only", "regions": ["ap-south-1"]}],
    )
    refused = c.wait_reason(allowed_ns, "app", "RegionNotAllowed")
    assert status_entries(refused)[("edge-only", "ap-south-1")]["state"] == "Blocked"
    assert target_account_calls(env) == before


def test_a_role_that_cannot_be_assumed(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    broken_role = "arn:aws:iam::333344445555:role/not-trusted"
    target(env, "broken", roleArn=broken_role)
    wait_for(
        lambda: target_ready(env, "broken").get("reason") == "AssumeRoleFailed",
        what="broken AssumeRoleFailed",
    )
    ready = target_ready(env, "broken")
    assert ready["status"] == "False"
    assert "not authorized to perform: sts:AssumeRole" in ready["message"]
    c = env.cluster
    ns = c.namespace("broken")
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("app", ca.issue("app.example.com")))
    )
    c.create_cert(
        ns,
        "app",
        secretName="app",
        regions=["eu-west-1"],
        targets=[{"target": "broken", "regions": ["us-east-1"]}],
    )
    obj = c.wait_reason(ns, "app", "PartiallySynced")
    entries = status_entries(obj)
    assert entries[("", "eu-west-1")]["state"] == "Synced"
    pair = entries[("broken", "us-east-1")]
    assert pair["reason"] == "AssumeRoleFailed"
    assert pair["state"] == "Pending"
    assert pair["account"] == "333344445555"
    assert not [c for c in env.acm_server.calls() if c["account"] == "333344445555"]
    # Once the trust policy allows it, the retry syncs the pair.
    env.acm_server.trust_role(broken_role)
    c.wait_reason(ns, "app", "Synced", timeout=90)
    wait_for(lambda: target_ready(env, "broken").get("status") == "True", what="broken recovers")


def test_a_lost_import_response_in_the_target_account_leaves_no_duplicate(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-chaos", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("chaos")
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("lost", ca.issue("lost.example.com")))
    )
    env.acm_server.lose_import_responses(1, region="ap-south-1")
    c.create_cert(
        ns, "lost", secretName="lost", targets=[{"target": "edge-chaos", "regions": ["ap-south-1"]}]
    )
    c.wait_reason(ns, "lost", "Synced", timeout=60)
    lost = [c for c in env.acm_server.calls() if c["outcome"] == "ResponseLost"]
    assert lost
    assert lost[-1]["account"] == TARGET_ACCOUNT
    assert owned_everywhere(env, ns, "lost") == pairs_in_status(env, ns, "lost")
    assert len(owned_everywhere(env, ns, "lost")) == 1


def test_annotation_mode_with_targets(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-ann", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("ann")
    annotations = {"acmsync.io/targets": "edge-ann=us-east-1+eu-west-1"}
    c.core.create_namespaced_secret(
        ns,
        as_model(
            client.V1Secret,
            tls_secret("shop", ca.issue("shop.example.com"), annotations=annotations),
        ),
    )
    obj = wait_for(lambda: c.cert(ns, "shop"), what="the generated AcmCertificate")
    assert obj["spec"]["targets"] == [{"target": "edge-ann", "regions": ["us-east-1", "eu-west-1"]}]
    synced = c.wait_reason(ns, "shop", "Synced")
    assert {(e["target"], e["account"]) for e in synced["status"]["regions"]} == {
        ("edge-ann", TARGET_ACCOUNT)
    }
    # A malformed value is refused like the other annotations: a Warning on the Secret.
    bad = {"acmsync.io/targets": "edge-ann"}
    c.core.create_namespaced_secret(
        ns,
        as_model(client.V1Secret, tls_secret("bad", ca.issue("bad.example.com"), annotations=bad)),
    )
    c.wait_event(ns, "InvalidAnnotations", "bad")
    assert c.cert(ns, "bad") is None


def test_an_acmtarget_moved_to_another_account_imports_there(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    other = "arn:aws:iam::444455556666:role/acm-sync-importer"
    env.acm_server.trust_role(ROLE, "edge-xid")
    env.acm_server.trust_role(other, "edge-xid")
    target(env, "edge-move", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("move")
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("m", ca.issue("m.example.com")))
    )
    c.create_cert(
        ns, "m", secretName="m", targets=[{"target": "edge-move", "regions": ["us-east-1"]}]
    )
    first = status_entries(c.wait_reason(ns, "m", "Synced"))[("edge-move", "us-east-1")]
    assert first["account"] == TARGET_ACCOUNT
    c.custom.patch_cluster_custom_object(
        GROUP, VERSION, "acmtargets", "edge-move", {"spec": {"roleArn": other}}
    )
    wait_for(
        lambda: (
            status_entries(c.cert(ns, "m") or {})[("edge-move", "us-east-1")].get("account")
            == "444455556666"
            and c.condition(ns, "m").get("reason") == "Synced"
        ),
        what="the pair in the new account",
    )
    moved = status_entries(c.cert(ns, "m") or {})[("edge-move", "us-east-1")]
    assert ":444455556666:" in moved["arn"]
    assert [h["arn"] for h in env.acm_server.certificates(account="444455556666")] == [moved["arn"]]


def test_adoption_happens_in_the_account_the_arn_names(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-adopt", roleArn=ROLE, externalId="edge-xid")
    old = ca.issue("legacy.example.com")
    target_acm = assumed_acm(env, "us-east-1")
    c = env.cluster
    ns = c.namespace("adopt")
    adopted = target_acm.import_certificate(
        Certificate=old.cert_pem, PrivateKey=old.key_pem, Tags=[c.owner_tag(ns, "legacy")]
    )["CertificateArn"]
    foreign = target_acm.import_certificate(
        Certificate=old.cert_pem,
        PrivateKey=old.key_pem,
        Tags=[{"Key": "acmsync.io/owner", "Value": "other-cluster/x/y"}],
    )["CertificateArn"]
    renewed = ca.issue("legacy.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("legacy", renewed)))
    c.create_cert(
        ns,
        "legacy",
        secretName="legacy",
        regions=["us-east-1"],
        targets=[{"target": "edge-adopt", "regions": ["us-east-1"]}],
        certificateArns={"us-east-1": adopted},
    )
    entries = status_entries(c.wait_reason(ns, "legacy", "Synced"))
    # Same region in both accounts: the ARN is adopted in its own account (the target's),
    # while the operator's account gets a new import.
    assert entries[("edge-adopt", "us-east-1")]["arn"] == adopted
    assert entries[("", "us-east-1")]["account"] == OWN_ACCOUNT
    described = target_acm.describe_certificate(CertificateArn=adopted)["Certificate"]
    assert described["Serial"] == serial_hex(renewed.serial)
    tags = {
        t["Key"]: t["Value"]
        for t in target_acm.list_tags_for_certificate(CertificateArn=adopted)["Tags"]
    }
    assert tags["acmsync.io/owner"].endswith(f"/{ns}/legacy")
    assert tags["acmsync.io/target"] == "edge-adopt"
    # A certificate another owner tagged is refused in the target account too.
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("theirs", renewed)))
    c.create_cert(
        ns,
        "theirs",
        secretName="theirs",
        targets=[{"target": "edge-adopt", "regions": ["us-east-1"]}],
        certificateArns={"us-east-1": foreign},
    )
    c.wait_reason(ns, "theirs", "ForeignCertificate")


def test_the_sweep_repairs_a_target_certificate_deleted_out_of_band(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    env.acm_server.trust_role(ROLE, "edge-xid")
    target(env, "edge-sweep", roleArn=ROLE, externalId="edge-xid")
    c = env.cluster
    ns = c.namespace("sweep")
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("s", ca.issue("s.example.com")))
    )
    c.create_cert(
        ns, "s", secretName="s", targets=[{"target": "edge-sweep", "regions": ["us-east-1"]}]
    )
    first = status_entries(c.wait_reason(ns, "s", "Synced"))[("edge-sweep", "us-east-1")]["arn"]
    assumed_acm(env, "us-east-1").delete_certificate(CertificateArn=first)
    # The operator's sweep (every 2 s here) lists the target account's region, sees it gone,
    # and imports it again; nothing else triggers this object.
    wait_for(
        lambda: (
            status_entries(c.cert(ns, "s") or {})[("edge-sweep", "us-east-1")].get("arn")
            not in (None, first)
        ),
        timeout=30,
        what="the re-import after the sweep",
    )
    again = status_entries(c.cert(ns, "s") or {})[("edge-sweep", "us-east-1")]
    assert again["account"] == TARGET_ACCOUNT
    assert owned_everywhere(env, ns, "s") == [(TARGET_ACCOUNT, "us-east-1", again["arn"])]
