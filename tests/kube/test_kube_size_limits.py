"""Objects over the API server's size limits are refused, with the answers a real one gives.

A Secret's data (decoded, stringData folded in) and a ConfigMap's data plus binaryData may
total at most 1 MiB (``core.MaxSecretSize``, checked by validation: 422 Invalid); any request
body over 3 MiB is refused before it is decoded (``MaxRequestBodyBytes``: 413).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube.kubekit import as_model

# Every test runs on each selected cluster backend (see conftest.py).
pytestmark = pytest.mark.usefixtures("backend")

MIB = 1024 * 1024
TOO_LONG = "Too long: may not be more than 1048576 bytes"


def _b64(size: int, fill: bytes = b"x") -> str:
    return base64.b64encode(fill * size).decode()


def _secret(name: str, **fields: object) -> client.V1Secret:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}
    return as_model(client.V1Secret, body)


def _refusal(error: ApiException) -> dict[str, Any]:
    assert error.body is not None, "the API server answered an error without a Status body"
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == error.status
    return body


def _assert_too_long(error: ApiException, kind: str, name: str, field: str) -> None:
    status = _refusal(error)
    assert error.status == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == f'{kind} "{name}" is invalid: {field}: {TOO_LONG}'
    assert status["details"]["name"] == name
    assert status["details"]["kind"] == kind
    assert status["details"]["causes"] == [
        {"reason": "FieldValueTooLong", "message": TOO_LONG, "field": field}
    ]


def test_a_secret_whose_data_totals_just_over_1_mib_is_invalid(
    core: client.CoreV1Api, ns: str
) -> None:
    # Two keys, each under the limit: it is their sum that counts.
    half = MIB // 2
    data = {"tls.crt": _b64(half), "tls.key": _b64(half + 1)}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(ns, _secret("big", data=data))
    _assert_too_long(caught.value, "Secret", "big", "data")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_secret("big", ns)
    assert missing.value.status == 404


def test_a_secret_of_exactly_1_mib_is_stored_whole(core: client.CoreV1Api, ns: str) -> None:
    data = {"tls.crt": _b64(MIB // 2, b"c"), "tls.key": _b64(MIB // 2, b"k")}
    core.create_namespaced_secret(ns, _secret("full", data=data))
    assert core.read_namespaced_secret("full", ns).data == data


def test_string_data_counts_towards_the_limit(core: client.CoreV1Api, ns: str) -> None:
    # Under the limit in data alone; stringData's one more byte is folded in before the check.
    fields = {"data": {"a": _b64(MIB)}, "stringData": {"b": "x"}}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(ns, _secret("folded", **fields))
    _assert_too_long(caught.value, "Secret", "folded", "data")


def test_an_update_over_the_limit_is_refused_and_leaves_the_secret_as_it_was(
    core: client.CoreV1Api, ns: str
) -> None:
    small = {"tls.crt": _b64(10)}
    core.create_namespaced_secret(ns, _secret("grow", data=small))
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_secret("grow", ns, _secret("grow", data={"tls.crt": _b64(MIB + 1)}))
    _assert_too_long(caught.value, "Secret", "grow", "data")
    with pytest.raises(ApiException) as patched:
        core.patch_namespaced_secret("grow", ns, {"data": {"tls.key": _b64(MIB)}})
    _assert_too_long(patched.value, "Secret", "grow", "data")
    assert core.read_namespaced_secret("grow", ns).data == small


def test_a_config_map_over_1_mib_is_invalid_as_a_whole(core: client.CoreV1Api, ns: str) -> None:
    # data counts in bytes and binaryData decoded; the error names the object, not a field.
    body = {
        "metadata": {"name": "big"},
        "data": {"a": "é" * (MIB // 4)},
        "binaryData": {"b": _b64(MIB // 2 + 1)},
    }
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(ns, as_model(client.V1ConfigMap, body))
    _assert_too_long(caught.value, "ConfigMap", "big", "[]")
    body["binaryData"] = {"b": _b64(MIB // 2)}
    core.create_namespaced_config_map(ns, as_model(client.V1ConfigMap, body))
    assert core.read_namespaced_config_map("big", ns).binary_data == body["binaryData"]


def test_a_request_body_over_3_mib_is_refused_before_it_is_decoded(
    core: client.CoreV1Api, ns: str
) -> None:
    # 2.5 MiB of data is 3.3 MiB once base64 encoded in the JSON body.
    body = {"metadata": {"name": "huge"}, "binaryData": {"b": _b64(MIB * 5 // 2)}}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(ns, as_model(client.V1ConfigMap, body))
    status = _refusal(caught.value)
    assert caught.value.status == 413
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == "Request entity too large: limit is 3145728"
