"""Helpers for the chart checks: the Kubernetes API emulator as a process, a tiny REST client,
Helm (helm-sdkpy) actions, and the real Helm binary for lint and template where it is built.

This module runs in .venv-chart (Python >= 3.12, helm-sdkpy); the emulator runs from the main
.venv (Python 3.11) as a subprocess, so the two environments never share an interpreter.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_sdkpy
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "acm-sync"
START_TIMEOUT = 30.0
# The real Helm binary (make cluster-bins), set by .ci/chart-check when it is built.
HELM_BIN_VAR = "ACM_SYNC_HELM_BIN"
HELM_SEVERITY_WARNING = 2  # helm-sdkpy's lint message severities: 1 info, 2 warning, 3 error

# kind -> (API path prefix, plural, namespaced) for every kind the chart can render, plus the
# ones the checks create themselves.
RESOURCES: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("v1", "Service"): ("/api/v1", "services", True),
    ("v1", "Secret"): ("/api/v1", "secrets", True),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments", True),
    ("policy/v1", "PodDisruptionBudget"): ("/apis/policy/v1", "poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): (
        "/apis/networking.k8s.io/v1",
        "networkpolicies",
        True,
    ),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): (
        "/apis/rbac.authorization.k8s.io/v1",
        "clusterroles",
        False,
    ),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): (
        "/apis/rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        False,
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): (
        "/apis/rbac.authorization.k8s.io/v1",
        "rolebindings",
        True,
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): (
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        False,
    ),
    ("acmsync.io/v1alpha1", "AcmCertificate"): (
        "/apis/acmsync.io/v1alpha1",
        "acmcertificates",
        True,
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "/apis/monitoring.coreos.com/v1",
        "servicemonitors",
        True,
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        "/apis/monitoring.coreos.com/v1",
        "prometheusrules",
        True,
    ),
}


class ApiError(Exception):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


@dataclass
class Api:
    """Just enough of a Kubernetes REST client to create fixtures and read objects back."""

    url: str

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        if not self.url.startswith("http://127.0.0.1:"):
            raise ValueError(f"the chart checks talk to the loopback emulator only: {self.url}")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - loopback http, checked above
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace")) from exc

    def path_for(self, obj: Mapping[str, Any], namespace: str | None = None) -> str:
        prefix, plural, namespaced = RESOURCES[(obj["apiVersion"], obj["kind"])]
        ns = obj["metadata"].get("namespace") or namespace
        base = f"{prefix}/namespaces/{ns}/{plural}" if namespaced else f"{prefix}/{plural}"
        return f"{base}/{obj['metadata']['name']}"

    def get(self, obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.request("GET", self.path_for(obj, namespace))
        return found

    def exists(self, obj: Mapping[str, Any], namespace: str | None = None) -> bool:
        try:
            self.get(obj, namespace)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        path = self.path_for(obj).rsplit("/", 1)[0]
        created: dict[str, Any] = self.request("POST", path, obj)
        return created

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[Any]:
        prefix, plural, namespaced = RESOURCES[(api_version, kind)]
        path = f"{prefix}/namespaces/{namespace}/{plural}" if namespaced and namespace else None
        items: list[Any] = self.request("GET", path or f"{prefix}/{plural}")["items"]
        return items


class Emulator:
    """``python -m acm_sync_testbed.emulators.kube`` as a child process, on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.kubeconfig = workdir / "kubeconfig"
        self.log = workdir / "emulator.log"
        python = os.environ.get("ACM_SYNC_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
        self._log_file = self.log.open("wb")
        self._proc = subprocess.Popen(
            [
                python,
                *("-m", "acm_sync_testbed.emulators.kube", "--host", "127.0.0.1", "--port", "0"),
                *("--kubeconfig", str(self.kubeconfig)),
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.api = Api(self._wait_for_server())

    def _wait_for_server(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the emulator exited early:\n{self.log.read_text()}")
            if self.kubeconfig.exists():
                try:
                    config = yaml.safe_load(self.kubeconfig.read_text())
                    url: str = config["clusters"][0]["cluster"]["server"]
                    Api(url).request("GET", "/version")
                except (OSError, TypeError, KeyError, IndexError, yaml.YAMLError, ApiError):
                    pass
                else:
                    return url
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the emulator did not serve within {START_TIMEOUT}s:\n{self.logs()}")

    def logs(self) -> str:
        """The emulator's output so far (for failure messages)."""
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Terminate the emulator and wait for it (bounded)."""
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._log_file.close()


class Helm:
    """Helm actions against one cluster. Releases are stored the default way, as Secrets
    (``sh.helm.release.v1.<release>.v<revision>``) in the release namespace."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self._configs: dict[str, helm_sdkpy.Configuration] = {}

    def _config(self, namespace: str) -> helm_sdkpy.Configuration:
        if namespace not in self._configs:
            self._configs[namespace] = helm_sdkpy.Configuration(
                namespace=namespace, kubeconfig=str(self.kubeconfig)
            )
        return self._configs[namespace]

    def install(
        self, release: str, namespace: str, values: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``helm install RELEASE charts/acm-sync -n NAMESPACE --create-namespace``, without
        --wait: the emulator runs no pods, so nothing would ever become ready."""
        install = helm_sdkpy.Install(self._config(namespace))
        result: dict[str, Any] = asyncio.run(
            install.run(
                release,
                str(CHART),
                values=dict(values or {}),
                create_namespace=True,
                wait=False,
                timeout=60,
            )
        )
        return result

    def upgrade(
        self, release: str, namespace: str, values: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``helm upgrade RELEASE charts/acm-sync -n NAMESPACE`` with ``values`` (not reused)."""
        upgrade = helm_sdkpy.Upgrade(self._config(namespace))
        result: dict[str, Any] = asyncio.run(
            upgrade.run(release, str(CHART), values=dict(values or {}), wait=False, timeout=60)
        )
        return result

    def uninstall(self, release: str, namespace: str) -> None:
        """``helm uninstall RELEASE -n NAMESPACE``."""
        uninstall = helm_sdkpy.Uninstall(self._config(namespace))
        asyncio.run(uninstall.run(release, wait=False, timeout=60))


def helm_binary() -> Path | None:
    """The real Helm binary .ci/chart-check found, or None (helm-sdkpy lints then)."""
    path = os.environ.get(HELM_BIN_VAR)
    return Path(path) if path else None


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    """The real Helm binary with ``args``; never raises on failure. Only when it is built."""
    binary = helm_binary()
    if binary is None:
        raise RuntimeError(f"no real Helm binary ({HELM_BIN_VAR} is not set)")
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120, check=False
    )


@dataclass
class LintReport:
    """What ``helm lint`` said, whichever Helm ran it."""

    helm: str
    charts_linted: int
    problems: list[str]  # warnings and errors; infos (e.g. "icon is recommended") are not


def merged_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged over ``base``, as Helm merges --values over values.yaml."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merged_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def helm_lint(
    chart: Path, values: Mapping[str, Any], workdir: Path, kube_version: str
) -> LintReport:
    """``helm lint CHART --values`` (``values`` over the chart's values.yaml): by the real Helm
    binary where it is built, for Kubernetes ``kube_version``; else by helm-sdkpy."""
    if helm_binary() is not None:
        values_file = workdir / "lint-values.yaml"
        values_file.write_text(yaml.safe_dump(dict(values)))
        result = run_helm(
            "lint", str(chart), "--values", str(values_file), "--kube-version", kube_version
        )
        problems = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if line.startswith(("[WARNING]", "[ERROR]"))
        ]
        if result.returncode != 0 and not problems:
            problems.append(f"exit {result.returncode}: {result.stderr.strip()}")
        linted = re.search(r"^(\d+) chart\(s\) linted", result.stdout, re.MULTILINE)
        return LintReport(
            f"real Helm {helm_binary()}", int(linted.group(1)) if linted else 0, problems
        )
    # helm-sdkpy's Lint takes no values: lint a copy whose values.yaml carries them.
    if values:
        copied = workdir / chart.name
        shutil.copytree(chart, copied)
        defaults = yaml.safe_load((chart / "values.yaml").read_text())
        (copied / "values.yaml").write_text(yaml.safe_dump(merged_values(defaults, values)))
        chart = copied
    config = helm_sdkpy.Configuration(namespace="default")
    report: dict[str, Any] = asyncio.run(helm_sdkpy.Lint(config).run(str(chart)))
    problems = [
        f"{m['Severity']}: {m}"
        for m in report["Messages"]
        if m["Severity"] >= HELM_SEVERITY_WARNING
    ]
    problems += [str(e) for e in report["Errors"] or []]
    return LintReport("helm-sdkpy", report["TotalChartsLinted"], problems)


def helm_template(
    release: str, namespace: str, values: Mapping[str, Any], workdir: Path, kube_version: str
) -> subprocess.CompletedProcess[str]:
    """``helm template RELEASE CHART -n NAMESPACE --values ... --kube-version`` by the real
    Helm binary."""
    values_file = workdir / f"template-{release}.yaml"
    values_file.write_text(yaml.safe_dump(dict(values)))
    # Always explicit: without it Helm assumes the Kubernetes version baked in at build time by
    # -ldflags, which a plain `go build` of the module leaves at 1.20, older than the chart's
    # kubeVersion (>=1.25), so every render would be refused.
    return run_helm(
        *("template", release, str(CHART), "--namespace", namespace),
        *("--values", str(values_file), "--kube-version", kube_version),
    )


def manifest_objects(release: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The objects of a release's rendered manifest."""
    docs = yaml.safe_load_all(release["manifest"])
    return [d for d in docs if d]


def crd_objects() -> Iterator[dict[str, Any]]:
    """The CRDs the chart ships (files/crds/, rendered by templates/crds.yaml)."""
    for path in sorted((CHART / "files" / "crds").glob("*.yaml")):
        yield from (d for d in yaml.safe_load_all(path.read_text()) if d)


_PARSE_RUN_ARGS = """
import argparse, dataclasses, json, sys
from acm_sync.controller.main import add_arguments
from acm_sync.controller.platform.flags import config_from_args
parser = argparse.ArgumentParser()
add_arguments(parser)
config = config_from_args(parser.parse_args(json.loads(sys.argv[1])))
fields = {**dataclasses.asdict(config), "adoption_enabled": config.adoption_enabled}
print(json.dumps(fields, default=sorted))
"""


def operator_config(args: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    """What the real ``acm-sync run`` makes of a container's args and env (main .venv)."""
    python = os.environ.get("ACM_SYNC_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("ACM_SYNC_")}
    result = subprocess.run(
        [python, "-c", _PARSE_RUN_ARGS, json.dumps(args)],
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"acm-sync run refused {args}: {result.stderr[-2000:]}")
    config: dict[str, Any] = json.loads(result.stdout)
    return config
