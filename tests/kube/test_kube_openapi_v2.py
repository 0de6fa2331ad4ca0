"""OpenAPI v2 in the forms kubectl asks for, so that its client-side validation behaves."""

from __future__ import annotations

from tests.kube.conftest import Http, Kubectl

CERT_MANAGER_CERTIFICATE = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: shop
  namespace: default
spec:
  secretName: shop-tls
  dnsNames: [shop.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer}
"""


def test_apply_of_an_unknown_kind_says_to_install_the_crd(kubectl: Kubectl) -> None:
    result = kubectl("apply", "-f", "-", stdin=CERT_MANAGER_CERTIFICATE)
    assert result.returncode == 1
    assert 'no matches for kind "Certificate" in version "cert-manager.io/v1"' in result.stderr
    assert "ensure CRDs are installed first" in result.stderr
    assert "content type" not in result.stderr


def test_openapi_v2_is_served_as_protobuf_and_as_json(http: Http) -> None:
    for accept in (
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    ):
        status, headers, body = http("GET", "/openapi/v2", headers={"Accept": accept})
        assert status == 200
        # The answer names the subtype without "@", which Go's mime parser accepts.
        assert headers["Content-Type"] == (
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        )
        assert body.startswith(b"\x0a\x032.0")  # field 1 (swagger) = "2.0"
        assert b"x-kubernetes-group-version-kind" in body
    status, headers, body = http("GET", "/openapi/v2", headers={"Accept": "application/json"})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body.startswith(b"{")
    status, _, _ = http("GET", "/openapi/v2", headers={"Accept": "text/html"})
    assert status == 406
