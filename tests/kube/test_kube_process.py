"""`python -m acm_sync_testbed.emulators.kube` as a process, driven over its control endpoint."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube.kubekit import as_model, close, meta, new_client

pytestmark = pytest.mark.integration


def _control(url: str, method: str, action: str, body: dict[str, object] | None = None) -> Any:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, f"/_emulator/{action}", body=payload)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def test_process_writes_a_kubeconfig_serves_and_takes_faults_over_http(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acm_sync_testbed.emulators.kube",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("Kubernetes API emulator ready at http://127.0.0.1:")
        url = ready.rsplit(" ", 1)[1].strip()
        api = new_client(kubeconfig)
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(
            "default", as_model(client.V1ConfigMap, {"metadata": {"name": "kept"}})
        )

        assert _control(url, "POST", "fail-next", {"count": 1, "status": 500}) == {"queued": 1}
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_config_map("default")
        assert caught.value.status == 500

        _control(url, "POST", "restart")
        deadline = time.monotonic() + 10
        while True:  # The restart closes connections; the state survives it.
            try:
                assert meta(core.read_namespaced_config_map("kept", "default")).name == "kept"
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert _control(url, "GET", "state")["state"]["objects"]["configmaps"] == 1
        close(api)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
