"""What stock kubectl shows of AcmCertificates and AcmTargets, on every cluster backend.

cert-manager's Certificate is the model: READY, SECRET, the regions as a plain list, TARGETS
only where spec.targets is used, EXPIRES, AGE; ``-o wide`` adds the ARN and the Ready message.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import GROUP, VERSION, Env, OperatorProcess, wait_for
from tests.playground.playkit import run_kubectl

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]


def kubectl(env: Env, *args: str) -> str:
    result: subprocess.CompletedProcess[str] = run_kubectl(
        env.kubeconfig, *args, cache=env.workdir / "kubectl-cache", home=env.workdir
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def table(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(headers, name -> column -> cell) of kubectl's table, cut at the header's columns."""
    lines = text.rstrip("\n").split("\n")
    header = lines[0]
    # Columns are padded apart by at least 3 spaces; a header may hold one (LAST CHECKED).
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\S {3})|(?<= {4}))\S", header)]
    starts = [p for p in starts if p == 0 or header[p - 2 : p] == "  "]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    names = [header[a:b].strip() for a, b in bounds]
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in bounds]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return names, rows


def test_acmcertificate_columns_plain_and_wide(env: Env, operator: OperatorProcess) -> None:
    c = env.cluster
    ns = c.namespace()
    issued = TestCA().issue("web.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("web-tls", issued)))
    c.create_cert(ns, "web", secretName="web-tls", regions=["us-east-1", "eu-west-1"])
    c.create_cert(ns, "lost", secretName="nowhere-tls", regions=["eu-west-1"])
    web = c.wait_reason(ns, "web", "Synced")
    c.wait_reason(ns, "lost", "SecretNotFound")

    headers, rows = table(kubectl(env, "get", "acmcert", "-n", ns))
    assert headers == ["NAME", "READY", "SECRET", "REGIONS", "TARGETS", "EXPIRES", "AGE"]
    assert rows["web"]["READY"] == "True"
    assert rows["web"]["SECRET"] == "web-tls"
    assert rows["web"]["REGIONS"] == "us-east-1,eu-west-1"  # not ["us-east-1","eu-west-1"]
    assert rows["web"]["TARGETS"] == ""  # no 2/2 on an object without targets
    assert rows["web"]["EXPIRES"] == issued.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows["lost"]["READY"] == "False"
    assert rows["lost"]["SECRET"] == "nowhere-tls"

    headers, rows = table(kubectl(env, "get", "acmcert", "-n", ns, "-o", "wide"))
    assert headers[-2:] == ["ARN", "MESSAGE"]
    assert rows["web"]["ARN"] == web["status"]["regions"][0]["arn"]
    assert rows["web"]["MESSAGE"].startswith("imported in ")
    assert rows["lost"]["ARN"] == ""
    assert f"the Secret {ns}/nowhere-tls does not exist" in rows["lost"]["MESSAGE"]
    # No filler: the Warnings condition's "NoWarnings" is not a column.
    assert "NoWarnings" not in kubectl(env, "get", "acmcert", "-n", ns, "-o", "wide")

    described = kubectl(env, "describe", "acmcert", "-n", ns, "web")
    # Digests sit under Internal, after what people read; none beside the Secret's facts.
    secret_part = described.split("  Secret:", 1)[1].split("\n  Internal:", 1)[0]
    assert "Fingerprint" not in secret_part
    assert "Content Hash" not in secret_part
    assert "Tags Hash" not in described.split("  Regions:", 1)[1].split("\n  Internal:", 1)[0]
    assert "Internal:" in described


def test_acmtarget_columns(env: Env, operator: OperatorProcess) -> None:
    name = f"columns-{uuid.uuid4().hex[:8]}"
    c = env.cluster
    c.custom.create_cluster_custom_object(
        GROUP,
        VERSION,
        "acmtargets",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AcmTarget",
            "metadata": {"name": name},
            "spec": {"roleArn": "arn:aws:iam::222233334444:role/acm-sync-importer"},
        },
    )
    try:
        # The operator assumes the role (or tries to) and says when in status.lastChecked.
        def target() -> dict[str, Any]:
            found = c.custom.get_cluster_custom_object(GROUP, VERSION, "acmtargets", name)
            assert isinstance(found, dict)
            return found

        assert wait_for(
            lambda: target().get("status", {}).get("lastChecked"),
            what="the operator's check of the AcmTarget",
        )
        obj = target()
        ready = next(x for x in obj["status"]["conditions"] if x["type"] == "Ready")
        headers, rows = table(kubectl(env, "get", "acmtarget", name))
        assert headers == ["NAME", "READY", "ACCOUNT", "LAST CHECKED", "AGE"]
        row = rows[name]
        assert (row["READY"], row["ACCOUNT"]) == (ready["status"], "222233334444")
        assert re.fullmatch(r"\d+(s|m\d*s?)", row["LAST CHECKED"]), row  # how long ago
        headers, rows = table(kubectl(env, "get", "acmtarget", name, "-o", "wide"))
        assert headers[-2:] == ["ROLE", "MESSAGE"]
        assert rows[name]["ROLE"] == "arn:aws:iam::222233334444:role/acm-sync-importer"
        assert rows[name]["MESSAGE"] == ready["message"]
    finally:
        c.custom.delete_cluster_custom_object(GROUP, VERSION, "acmtargets", name)
