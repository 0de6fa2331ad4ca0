"""Every validation rule of crds/ against the real API server: one value it must accept and one
it must refuse, sent through stock kubectl (server-side dry run, so nothing is stored).

The emulator prunes, defaults and checks the OpenAPI schema but does not evaluate CEL; these
cases are what the real kube-apiserver says. A completeness check walks the CRD's schema and
fails when a rule has no case here, so a rule added to crds/ must be added to this table.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster_backends import CRDS, RealApi
from tests.playground.playkit import run_kubectl

pytestmark = [pytest.mark.real_cluster, pytest.mark.kubectl]

CRD = yaml.safe_load((CRDS / "acmcertificate.yaml").read_text())
VALID_SPEC: dict[str, Any] = {
    "secretName": "web-tls",
    "regions": ["us-east-1", "eu-west-1"],
    "tags": {"team": "web", "Cost Center": "a/b=c+d@e_f.g:h-1"},
    "deletionPolicy": "Retain",
    "onKeyChange": "Block",
    "certificateArns": {
        "us-east-1": "arn:aws:acm:us-east-1:123456789012:certificate/"
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    },
}
_ARN_PREFIX = "arn:aws:acm:us-east-1:123456789012:certificate/"
LONG_ARN = _ARN_PREFIX + "a" * (2049 - len(_ARN_PREFIX))


def _t(target: str, regions: list[str] | None = None) -> dict[str, Any]:
    return {"target": target, "regions": ["us-east-1"] if regions is None else regions}


T_EDGE = _t("edge")

# (schema path of the rule, keyword, accepted spec patch, refused spec patch, refusal text).
# A patch replaces top-level spec fields of VALID_SPEC; None deletes the field.
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ("spec", "required", {}, {"secretName": None}, "spec.secretName: Required value"),
    ("spec", "x-kubernetes-validations[0]", {"regions": [], "targets": [T_EDGE]},
     {"regions": [], "targets": []}, "cannot both be empty"),
    ("spec.secretName", "minLength", {"secretName": "a"}, {"secretName": ""}, "spec.secretName"),
    ("spec.secretName", "maxLength", {"secretName": "a" * 253}, {"secretName": "a" * 254},
     "spec.secretName: Too long"),
    ("spec.secretName", "pattern", {"secretName": "web.tls-1"}, {"secretName": "Web_TLS"},
     "spec.secretName: Invalid value"),
    ("spec.regions", "maxItems", {"regions": [f"eu-west-{i}" for i in range(64)]},
     {"regions": [f"eu-west-{i}" for i in range(65)]}, "spec.regions: Too many"),
    ("spec.regions", "x-kubernetes-list-type", {"regions": ["us-east-1", "us-west-2"]},
     {"regions": ["us-east-1", "us-east-1"]}, "spec.regions[1]: Duplicate value"),
    ("spec.regions[]", "minLength", {"regions": ["me-south-1"]}, {"regions": ["a-b-1"]},
     "spec.regions[0]"),
    ("spec.regions[]", "maxLength", {"regions": ["ap-" + "a" * 27 + "-1"]},
     {"regions": ["ap-" + "a" * 28 + "-1"]}, "spec.regions[0]: Too long"),
    ("spec.regions[]", "pattern", {"regions": ["us-gov-west-1"]}, {"regions": ["US-EAST-1"]},
     "spec.regions[0]: Invalid value"),
    ("spec.tags", "maxProperties", {"tags": {f"k{i}": "v" for i in range(47)}},
     {"tags": {f"k{i}": "v" for i in range(48)}}, "spec.tags: Too many"),
    ("spec.tags", "x-kubernetes-validations[0]", {"tags": {"awsx": "1", "acmsync.iox": "1"}},
     {"tags": {"aws:cloudformation": "1"}}, "reserved"),
    ("spec.tags", "x-kubernetes-validations[0]", {"tags": {"acmsync.io": "1"}},
     {"tags": {"acmsync.io/owner": "1"}}, "reserved"),
    ("spec.tags", "x-kubernetes-validations[1]", {"tags": {"k" * 127: "1", "é ü": "1"}},
     {"tags": {"k" * 128: "1"}}, "tag keys are 1-127 characters"),
    ("spec.tags", "x-kubernetes-validations[1]", {"tags": {"a+b=c": "1"}},
     {"tags": {"team#1": "1"}}, "tag keys are 1-127 characters"),
    ("spec.tags", "x-kubernetes-validations[2]", {"tags": {"k": ""}}, {"tags": {"k": "a#b"}},
     "tag values are letters"),
    ("spec.tags{}", "maxLength", {"tags": {"k": "v" * 255}}, {"tags": {"k": "v" * 256}},
     "Too long"),
    ("spec.deletionPolicy", "enum", {"deletionPolicy": "Delete"}, {"deletionPolicy": "Keep"},
     'spec.deletionPolicy: Unsupported value: "Keep"'),
    ("spec.onKeyChange", "enum", {"onKeyChange": "ImportNew"}, {"onKeyChange": "Replace"},
     'spec.onKeyChange: Unsupported value: "Replace"'),
    ("spec.certificateArns{}", "pattern",
     {"certificateArns": {"cn-north-1": "arn:aws-cn:acm:cn-north-1:123456789012:certificate/x-1"}},
     {"certificateArns": {"us-east-1": "arn:aws:s3:::bucket"}}, "Invalid value"),
    ("spec.certificateArns{}", "maxLength", {}, {"certificateArns": {"us-east-1": LONG_ARN}},
     "Too long"),
    ("spec.targets", "maxItems", {"targets": [_t(f"t{i}") for i in range(16)]},
     {"targets": [_t(f"t{i}") for i in range(17)]}, "spec.targets: Too many"),
    ("spec.targets", "x-kubernetes-list-type", {"targets": [_t("a"), _t("b")]},
     {"targets": [_t("a"), _t("a")]}, "Duplicate value"),
    ("spec.targets[]", "required", {}, {"targets": [{"target": "edge"}]},
     "spec.targets[0].regions: Required value"),
    ("spec.targets[].target", "minLength", {"targets": [_t("e")]}, {"targets": [_t("")]},
     "spec.targets[0].target"),
    ("spec.targets[].target", "maxLength", {"targets": [_t("e" * 253)]},
     {"targets": [_t("e" * 254)]}, "spec.targets[0].target: Too long"),
    ("spec.targets[].target", "pattern", {"targets": [_t("edge.prod-1")]},
     {"targets": [_t("Edge_1")]}, "spec.targets[0].target: Invalid value"),
    ("spec.targets[].regions", "minItems", {}, {"targets": [_t("edge", [])]},
     "spec.targets[0].regions"),
    ("spec.targets[].regions", "maxItems",
     {"targets": [_t("e", [f"eu-west-{i}" for i in range(64)])]},
     {"targets": [_t("e", [f"eu-west-{i}" for i in range(65)])]}, "Too many"),
    ("spec.targets[].regions", "x-kubernetes-list-type", {},
     {"targets": [_t("e", ["us-east-1", "us-east-1"])]}, "Duplicate value"),
    ("spec.targets[].regions[]", "minLength", {}, {"targets": [_t("e", ["a-b-1"])]},
     "spec.targets[0].regions[0]"),
    ("spec.targets[].regions[]", "maxLength", {"targets": [_t("e", ["ap-" + "a" * 27 + "-1"])]},
     {"targets": [_t("e", ["ap-" + "a" * 28 + "-1"])]}, "Too long"),
    ("spec.targets[].regions[]", "pattern", {}, {"targets": [_t("e", ["US-EAST-1"])]},
     "Invalid value"),
]  # fmt: skip


def _walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """(path, keyword) of every validation rule under ``schema``."""
    keywords = ("required", "minLength", "maxLength", "pattern", "minItems", "maxItems",
                "maxProperties", "enum", "x-kubernetes-list-type")  # fmt: skip
    for keyword in keywords:
        if keyword in schema:
            yield path, keyword
    for index, _rule in enumerate(schema.get("x-kubernetes-validations") or []):
        yield path, f"x-kubernetes-validations[{index}]"
    for name, sub in (schema.get("properties") or {}).items():
        yield from _walk(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


def test_every_spec_rule_of_the_crd_has_a_case() -> None:
    schema = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rules = {(p, k) for p, k in _walk(schema, "") if p.startswith("spec")}
    covered = {(path, keyword) for path, keyword, *_ in CASES}
    assert rules - covered == set(), "CRD rules without a case in CASES"
    assert covered - rules == set(), "cases for rules the CRD no longer has"


def _manifest(patch: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(VALID_SPEC)
    for key, value in patch.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return {
        "apiVersion": "acmsync.io/v1alpha1",
        "kind": "AcmCertificate",
        "metadata": {"name": "rules", "namespace": "default"},
        "spec": spec,
    }


def _dry_run(
    api: RealApi, tmp: Path, manifest: dict[str, Any], *flags: str
) -> tuple[int, str, str]:
    result = run_kubectl(
        api.kubeconfig,
        "create", "--dry-run=server", "-o", "json", *flags, "-f", "-",
        stdin=json.dumps(manifest),
        cache=tmp / "kube-cache",
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("path", "keyword", "accepted", "refused", "message"),
    CASES,
    ids=[f"{c[0]}:{c[1]}:{i}" for i, c in enumerate(CASES)],
)
def test_the_api_server_accepts_and_refuses(
    real_backend: RealApi,
    tmp_path: Path,
    path: str,
    keyword: str,
    accepted: dict[str, Any],
    refused: dict[str, Any],
    message: str,
) -> None:
    code, _out, err = _dry_run(real_backend, tmp_path, _manifest(accepted))
    assert code == 0, f"{path} {keyword}: a value it must accept was refused: {err}"
    code, _out, err = _dry_run(real_backend, tmp_path, _manifest(refused))
    assert code != 0, f"{path} {keyword}: a value it must refuse was accepted"
    assert message in err, f"{path} {keyword}: refused, but not for this rule: {err}"


def test_defaults_are_applied_by_the_api_server(real_backend: RealApi, tmp_path: Path) -> None:
    code, out, err = _dry_run(
        real_backend, tmp_path, _manifest({"deletionPolicy": None, "onKeyChange": None})
    )
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert (spec["deletionPolicy"], spec["onKeyChange"]) == ("Retain", "Block")


def test_unknown_fields_are_refused_by_strict_kubectl_and_pruned_otherwise(
    real_backend: RealApi, tmp_path: Path
) -> None:
    manifest = _manifest({})
    manifest["spec"]["secretname"] = "typo"
    # kubectl's default --validate=strict asks the server for fieldValidation=Strict.
    code, _out, err = _dry_run(real_backend, tmp_path, manifest)
    assert code != 0
    assert 'strict decoding error: unknown field "spec.secretname"' in err
    code, out, err = _dry_run(real_backend, tmp_path, manifest, "--validate=false")
    assert code == 0, err
    assert "secretname" not in json.loads(out)["spec"]
