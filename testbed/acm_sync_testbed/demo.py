"""``acm-sync demo``: the whole product on the embedded emulators, step by step.

It starts the playground in-process (the Kubernetes API emulator with the CRD, the strict ACM
emulator, the operator), then walks through what a user does, printing each step and checking
that it did what it says. The exit code is 0 only when every step did.
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HELP = "walk through the whole product on the embedded emulators"
T = TypeVar("T")
GROUP, VERSION, PLURAL = "acmsync.io", "v1alpha1", "acmcertificates"
NS = "demo"
REGIONS = ["us-east-1", "eu-west-1"]


class StepFailed(Exception):
    """A step did not do what it said."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``acm-sync demo`` flags."""
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds each step may take (default: 30)"
    )


# ---- a tiny CA, so that the demo needs nothing but Python -------------------------------


class DemoCA:
    """A self-signed CA issuing EC P-256 leaves, as cert-manager's CA issuer would."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acm-sync demo CA")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def secret(
        self, name: str, dns: str, annotations: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A kubernetes.io/tls Secret with a fresh leaf for ``dns``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        key_pem = key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "annotations": annotations or {}},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(leaf.public_bytes(pem)).decode(),
                "tls.key": base64.b64encode(key_pem).decode(),
                "ca.crt": base64.b64encode(self.cert.public_bytes(pem)).decode(),
            },
        }


# ---- the walk-through ---------------------------------------------------------------------


class Demo:
    """Holds the clients and prints the steps."""

    def __init__(self, kubeconfig: Path, acm_url: str, timeout: float) -> None:
        import boto3
        from kubernetes import client, config

        # Manifests are plain dicts, as a user's YAML would be; the client accepts them.
        self.api: Any = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig)
        )
        self.core: Any = client.CoreV1Api(self.api)
        self.custom: Any = client.CustomObjectsApi(self.api)
        self.acm = {r: boto3.client("acm", region_name=r, endpoint_url=acm_url) for r in REGIONS}
        self.acm_url = acm_url
        self.timeout = timeout
        self.ca = DemoCA()
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n[{self.step_no}] {title}", flush=True)

    @staticmethod
    def ok(text: str) -> None:
        print(f"    ok: {text}", flush=True)

    def wait(self, probe: Callable[[], T | None], what: str) -> T:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.1)
        raise StepFailed(f"timed out after {self.timeout:.0f}s waiting for {what}")

    def cert(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client import ApiException

        try:
            return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def ready(self, name: str) -> dict[str, Any]:
        conditions = ((self.cert(name) or {}).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == "Ready"), {})

    def arns(self, name: str) -> dict[str, str]:
        regions = ((self.cert(name) or {}).get("status") or {}).get("regions") or []
        return {r["region"]: r["arn"] for r in regions if r.get("arn")}

    def serial_in_acm(self, region: str, arn: str) -> str:
        return str(
            self.acm[region].describe_certificate(CertificateArn=arn)["Certificate"]["Serial"]
        )

    def exists_in_acm(self, region: str, arn: str) -> bool:
        try:
            self.acm[region].describe_certificate(CertificateArn=arn)
        except self.acm[region].exceptions.ResourceNotFoundException:
            return False
        return True

    def acm_writes(self) -> int:
        import json
        import urllib.request

        url = f"{self.acm_url}/_acm_emulator/calls"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            calls = json.loads(response.read())["calls"]
        reads = {"ListCertificates", "DescribeCertificate", "ListTagsForCertificate"}
        return sum(1 for c in calls if c["api"] not in reads)

    def wiring(self) -> None:
        """An Ingress opted in to wiring gets the ARN where the load balancer reads it."""
        from kubernetes import client

        self.step("An Ingress annotated acmsync.io/certificates: api (wiring, us-east-1)")
        networking: Any = client.NetworkingV1Api(self.api)
        networking.create_namespaced_ingress(NS, {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop", "annotations": {"acmsync.io/certificates": "api"}},
            "spec": {"defaultBackend": {"service": {"name": "shop", "port": {"number": 80}}}},
        })  # fmt: skip
        arn = self.arns("api")["us-east-1"]
        key = "alb.ingress.kubernetes.io/certificate-arn"

        def carried() -> bool:
            meta = networking.read_namespaced_ingress("shop", NS).metadata
            return bool((meta.annotations or {}).get(key) == arn)

        self.wait(carried, "the Ingress to carry api's ARN")
        self.ok(f"Ingress 'shop' carries {key}: {arn}")

    def second_account(self) -> None:
        """An AcmTarget and an AcmCertificate synced into two accounts."""
        from acm_sync_testbed.playground import PLAYGROUND_ROLES

        role, external_id = next(iter(PLAYGROUND_ROLES.items()))
        account = role.split(":")[4]
        self.step(f"A second AWS account: AcmTarget 'edge' (role in {account}) and 'edge-web'")
        self.custom.create_cluster_custom_object(GROUP, VERSION, "acmtargets", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmTarget", "metadata": {"name": "edge"},
            "spec": {"roleArn": role, "externalId": external_id, "regions": ["us-east-1"]},
        })  # fmt: skip
        target = self.wait(lambda: self._target_ready("edge"), "AcmTarget 'edge' to be Ready")
        self.ok(f"AcmTarget edge: Ready, account {target['account']}")
        self.custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmCertificate",
            "metadata": {"name": "edge-web"},
            "spec": {"secretName": "web", "regions": ["eu-west-1"], "deletionPolicy": "Delete",
                     "targets": [{"target": "edge", "regions": ["us-east-1"]}]},
        })  # fmt: skip
        self.wait(lambda: self.ready("edge-web").get("reason") == "Synced", "edge-web Synced")
        status = (self.cert("edge-web") or {})["status"]
        for entry in status["regions"]:
            via = f" through {entry['target']}" if entry.get("target") else ""
            self.ok(f"account {entry['account']} {entry['region']}{via}: {entry['arn']}")
        (edge,) = [e for e in status["regions"] if e.get("target") == "edge"]
        assumed = self._assumed_acm(role, external_id, "us-east-1")
        assumed.describe_certificate(CertificateArn=edge["arn"])
        if self.exists_in_acm("us-east-1", edge["arn"]):
            raise StepFailed("the second account's certificate is visible in the first")
        self.ok(f"seen with credentials assumed for {role}; invisible to the operator's account")
        self.ok(f"Targets {status['pairs']}")

    def _target_ready(self, name: str) -> dict[str, Any] | None:
        obj = self.custom.get_cluster_custom_object(GROUP, VERSION, "acmtargets", name)
        status: dict[str, Any] = dict(obj).get("status") or {}
        conditions: list[dict[str, Any]] = status.get("conditions") or []
        ready = next((c for c in conditions if c["type"] == "Ready"), {})
        return status if ready.get("status") == "True" else None

    def _assumed_acm(self, role: str, external_id: str, region: str) -> Any:
        import boto3

        sts = boto3.client("sts", region_name=region, endpoint_url=self.acm_url)
        creds = sts.assume_role(RoleArn=role, RoleSessionName="demo", ExternalId=external_id)
        keys = creds["Credentials"]
        return boto3.client(
            "acm",
            region_name=region,
            endpoint_url=self.acm_url,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )

    def run(self) -> None:
        self.core.create_namespace({"metadata": {"name": NS}})

        self.step("A CA-signed TLS Secret 'web' and an AcmCertificate for us-east-1 and eu-west-1")
        self.core.create_namespaced_secret(NS, self.ca.secret("web", "web.demo.example"))
        self.custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmCertificate",
            "metadata": {"name": "web"},
            "spec": {"secretName": "web", "regions": REGIONS, "deletionPolicy": "Delete",
                     "tags": {"team": "web"}},
        })  # fmt: skip
        self.wait(lambda: self.ready("web").get("reason") == "Synced", "web to be Synced")
        arns = self.arns("web")
        if set(arns) != set(REGIONS):
            raise StepFailed(f"expected an ARN per region, got {arns}")
        serial = str((self.cert("web") or {})["status"]["secret"]["serialNumber"])
        for region, arn in arns.items():
            self.ok(f"{region}: {arn}")
        self.ok(f"Ready=True (Synced), serial {serial}")

        self.step("Rotate the Secret (what cert-manager does on renewal)")
        self.core.replace_namespaced_secret("web", NS, self.ca.secret("web", "web.demo.example"))
        self.wait(
            lambda: (
                (self.cert("web") or {}).get("status", {}).get("secret", {}).get("serialNumber")
                != serial
                and self.ready("web").get("reason") == "Synced"
            ),
            "the new serial to be synced",
        )
        new_serial = str((self.cert("web") or {})["status"]["secret"]["serialNumber"])
        if self.arns("web") != arns:
            raise StepFailed(f"the ARNs changed: {arns} -> {self.arns('web')}")
        for region, arn in arns.items():
            if self.serial_in_acm(region, arn) != new_serial:
                raise StepFailed(f"ACM in {region} does not hold serial {new_serial}")
        self.ok(f"reimported: same ARNs, ACM now holds serial {new_serial}")

        self.step("A Secret annotated acmsync.io/regions (cert-manager's secretTemplate does this)")
        self.core.create_namespaced_secret(NS, self.ca.secret(
            "api", "api.demo.example",
            {"acmsync.io/regions": "us-east-1", "acmsync.io/deletion-policy": "Delete"},
        ))  # fmt: skip
        generated = self.wait(lambda: self.cert("api"), "the generated AcmCertificate 'api'")
        owners = generated["metadata"].get("ownerReferences") or []
        if [(o.get("kind"), o.get("name")) for o in owners] != [("Secret", "api")]:
            raise StepFailed(f"'api' is not owned by its Secret: {owners}")
        self.ok("AcmCertificate 'api' appeared, owned by the Secret")
        self.wait(lambda: self.ready("api").get("reason") == "Synced", "api to be Synced")
        self.ok(f"synced: {self.arns('api')['us-east-1']}")

        self.wiring()
        self.second_account()

        self.step("An invalid Secret: the certificate and key do not match")
        writes = self.acm_writes()
        bad = self.ca.secret("broken", "broken.demo.example")
        bad["data"]["tls.key"] = self.ca.secret("x", "x.demo.example")["data"]["tls.key"]
        self.core.create_namespaced_secret(NS, bad)
        self.custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmCertificate",
            "metadata": {"name": "broken"}, "spec": {"secretName": "broken", "regions": REGIONS},
        })  # fmt: skip
        self.wait(lambda: self.ready("broken").get("reason"), "a condition on 'broken'")
        condition = self.ready("broken")
        if condition.get("status") != "False" or condition.get("reason") != "KeyMismatch":
            raise StepFailed(f"expected Ready=False KeyMismatch, got {condition}")
        if self.acm_writes() != writes:
            raise StepFailed("an invalid Secret reached ACM")
        self.ok(f"Ready=False, reason {condition['reason']}: {condition.get('message')}")
        self.ok("no AWS call was made")

        self.step("Delete AcmCertificate 'web' (deletionPolicy: Delete)")
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "web")
        self.wait(lambda: self.cert("web") is None, "'web' to be deleted")
        for region, arn in arns.items():
            self.wait(lambda r=region, a=arn: not self.exists_in_acm(r, a), f"{arn} gone")  # type: ignore[misc]
            self.ok(f"{region}: {arn} deleted from ACM")


def main(args: argparse.Namespace) -> int:
    """Run the walk-through; 0 only when every step did what it said."""
    from acm_sync.controller.platform.flags import OperatorConfig
    from acm_sync.controller.platform.redaction import configure_logging
    from acm_sync.controller.runtime import OperatorThread
    from acm_sync_testbed.emulators.acm.server import AcmEmulator
    from acm_sync_testbed.emulators.kube.server import KubeEmulator
    from acm_sync_testbed.playground import (
        PLAYGROUND_AWS_ENV,
        PLAYGROUND_ROLES,
        apply_crds,
        find_crds,
    )

    configure_logging("ERROR")
    print("acm-sync demo: a local Kubernetes API, a strict ACM emulator and the operator")
    stoppers: list[Callable[[], None]] = []
    try:
        with TemporaryDirectory(prefix="acm-sync-demo-") as tmp:
            kube = KubeEmulator().start()
            stoppers.append(kube.stop)
            crds = find_crds(None)
            if crds is None:
                print("FAILED: the CRDs installed with the test bed were not found")
                return 1
            apply_crds(kube, crds)
            acm = AcmEmulator(roles=dict(PLAYGROUND_ROLES)).start()
            stoppers.append(acm.stop)
            os.environ.update(PLAYGROUND_AWS_ENV)
            os.environ["AWS_ENDPOINT_URL"] = acm.url
            # The emulator has no rate limits to protect; ACM's 1 import/s would only slow it.
            os.environ.setdefault("ACM_SYNC_AWS_RATES", "ImportCertificate=20")
            kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")
            operator = OperatorThread(
                OperatorConfig(
                    kubeconfig=str(kubeconfig),
                    leader_election=False,
                    metrics_port=0,
                    wiring_enabled=True,
                    wiring_region="us-east-1",
                )
            ).start()
            stoppers.append(operator.stop)
            print(f"Kubernetes API: {kube.url}   ACM (all regions): {acm.url}")
            Demo(kubeconfig, acm.url, args.timeout).run()
    except StepFailed as failure:
        print(f"\nFAILED: {failure}", flush=True)
        return 1
    finally:
        for stop in reversed(stoppers):
            stop()
    print("\nEvery step did what it said.", flush=True)
    return 0
