"""The examples/ manifests are valid: the CRD accepts them and the operator can act on them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from acm_sync.controller.sync.spec import parse_spec
from acm_sync.controller.watch import annotations as ann
from acm_sync.core.analyze import analyze
from acm_sync.core.model import Analysis, CertificateFacts
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.kube.kubekit import as_dict
from tests.operator.opkit import GROUP, PLURAL, VERSION, Cluster
from tests.playground.playkit import EXAMPLES, examples_generator

# The demo material must outlive releases made from today's tree by years, not weeks.
MIN_REMAINING_VALIDITY = timedelta(days=5 * 365)


def _docs(kind: str, root: Path = EXAMPLES) -> list[dict[str, Any]]:
    """Every document of ``kind`` under ``root``, subfolders (cert-manager/, advanced/) too."""
    docs = [
        d
        for path in sorted(root.rglob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d and d.get("kind") == kind
    ]
    assert docs, f"no {kind} example"
    return docs


def _analyzed_secrets(root: Path, now: datetime) -> dict[str, tuple[dict[str, Any], Analysis]]:
    """Secret name -> (manifest without its PEM values, analyze() of its PEM values)."""
    result = {}
    for secret in _docs("Secret", root):
        pem = {k: v.encode() for k, v in secret.pop("stringData").items()}
        analysis = analyze(pem["tls.crt"], pem["tls.key"], pem.get("ca.crt"), now=now)
        result[secret["metadata"]["name"]] = (secret, analysis)
    return result


def _shape(facts: CertificateFacts) -> tuple[object, ...]:
    """What generate.py decides; the keys, serials and so fingerprints differ every run."""
    return (
        facts.domains,
        facts.key_algorithm,
        facts.not_before,
        facts.not_after,
        facts.issuer,
        facts.subject,
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    kube = KubeEmulator().start()
    try:
        c = Cluster(kube.write_kubeconfig(tmp_path / "kc"))
        c.install_crd()
        yield c
        c.close()
    finally:
        kube.stop()


def test_acmcertificate_examples_pass_the_crd_and_the_operator(cluster: Cluster) -> None:
    # Created in a namespace of their own: the examples apply wherever the user's context is.
    ns = cluster.namespace("examples")
    for doc in _docs("AcmCertificate"):
        parse_spec(doc["spec"])
        created = as_dict(
            cluster.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, doc)
        )
        assert created["spec"]["secretName"] == doc["spec"]["secretName"]


def test_no_example_is_tied_to_a_namespace() -> None:
    # `kubectl apply -n team-a -f examples/` must not fail with a namespace mismatch.
    tied = [
        (path.relative_to(EXAMPLES).as_posix(), doc["metadata"]["name"])
        for path in sorted(EXAMPLES.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and "namespace" in doc.get("metadata", {})
    ]
    assert tied == []


def test_generate_py_help_describes_it_and_writes_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "generate.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OUTPUT_DIR" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_crd_refuses_what_the_operator_would(cluster: Cluster) -> None:
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AcmCertificate",
        "metadata": {"name": "bad"},
        "spec": {"secretName": "x", "regions": [], "deletionPolicy": "Orphan"},
    }
    with pytest.raises(client.ApiException) as refused:
        cluster.custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    assert refused.value.status == 422


def test_cert_manager_example_annotations_make_a_valid_spec() -> None:
    (certificate,) = _docs("Certificate")
    annotations = certificate["spec"]["secretTemplate"]["annotations"]
    meta = ann.SecretMeta.of(
        {
            "metadata": {
                "namespace": "default",
                "name": certificate["spec"]["secretName"],
                "annotations": annotations,
            },
            "type": "kubernetes.io/tls",
        }
    )
    spec = ann.desired_spec(meta)
    parsed = parse_spec(spec)
    assert parsed.regions == ("us-east-1", "eu-west-1")
    assert parsed.tags == {"team": "shop", "env": "prod"}


def test_annotated_secret_example_makes_the_same_valid_spec_as_cert_manager_would() -> None:
    (certificate,) = _docs("Certificate")
    annotated = [
        s
        for s in _docs("Secret")
        if ann.REGIONS_ANNOTATION in (s["metadata"].get("annotations") or {})
    ]
    assert [s["metadata"]["name"] for s in annotated] == [certificate["spec"]["secretName"]]
    assert (
        annotated[0]["metadata"]["annotations"]
        == (certificate["spec"]["secretTemplate"]["annotations"])
    )
    spec = ann.desired_spec(ann.SecretMeta.of(annotated[0]))
    assert parse_spec(spec).regions == ("us-east-1", "eu-west-1")


def test_demo_material_is_what_generate_py_makes_and_stays_valid_for_years(
    tmp_path: Path,
) -> None:
    later = datetime.now(UTC) + MIN_REMAINING_VALIDITY
    committed = _analyzed_secrets(EXAMPLES, later)
    generator = examples_generator()
    assert sorted(committed) == sorted(demo.name for demo in generator.DEMOS)
    for name, (_, analysis) in committed.items():
        assert analysis.valid, (name, analysis.errors)
        assert analysis.facts is not None
        # ca.crt signed the leaf, so ACM gets it as the chain.
        assert analysis.material is not None
        assert analysis.material.chain is not None, name

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    generator.generate(fresh_dir)
    fresh = _analyzed_secrets(fresh_dir, later)
    assert sorted(fresh) == sorted(committed)
    for name, (manifest, analysis) in committed.items():
        fresh_manifest, fresh_analysis = fresh[name]
        assert manifest == fresh_manifest, name
        assert analysis.facts is not None
        assert fresh_analysis.facts is not None
        assert _shape(analysis.facts) == _shape(fresh_analysis.facts), name


def test_the_ingress_examples_ask_for_what_exists() -> None:
    """The wiring examples: the top-level Ingress names an AcmCertificate the examples define
    (in the playground's wiring region), and the cert-manager one's annotations make a valid
    spec, with ImportNew, for each Secret its spec.tls names."""
    ingresses = {d["metadata"]["name"]: d for d in _docs("Ingress")}
    certificates = {d["metadata"]["name"]: d for d in _docs("AcmCertificate", EXAMPLES)}
    named = ingresses["web"]["metadata"]["annotations"]["acmsync.io/certificates"].split(",")
    assert named == ["web"]
    assert "us-east-1" in certificates["web"]["spec"]["regions"]
    shimmed = ingresses["shop-web"]
    annotations = shimmed["metadata"]["annotations"]
    assert annotations["acmsync.io/import"] == "true"
    assert annotations["cert-manager.io/issuer"]
    for tls in shimmed["spec"]["tls"]:
        meta = ann.SecretMeta.of(
            {
                "metadata": {
                    "name": tls["secretName"],
                    "annotations": {**annotations, ann.REGIONS_ANNOTATION: "us-east-1"},
                }
            }
        )
        spec = ann.desired_spec(meta)
        assert (spec["onKeyChange"], spec["deletionPolicy"]) == ("ImportNew", "Delete")
        assert parse_spec(spec).regions == ("us-east-1",)
