"""Helpers for the real-cluster tests: the real Helm binary, ServiceAccount tokens, and an
``Env`` (opkit) on the shared real cluster."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.cluster_backends import ROOT, RealApi
from tests.operator.opkit import Env, open_env
from tests.playground.playkit import run_kubectl

CHART = ROOT / "charts" / "acm-sync"


def cluster_bins() -> Any:
    """The built real-cluster programs (acm_sync_testbed.realcluster.bins.ClusterBins)."""
    from acm_sync_testbed.realcluster import bins

    return bins.find()


def helm(*args: str, kubeconfig: Path | None = None, home: Path, timeout: float = 120) -> str:
    """Run the real Helm binary (built from the pinned module); its stdout. Fails loudly."""
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    result = subprocess.run(
        [str(cluster_bins().path("helm")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def render_chart(release: str, namespace: str, home: Path, *values: str) -> list[dict[str, Any]]:
    """``helm template`` of the chart with ``--set`` values: the manifests it would install."""
    sets = [arg for value in values for arg in ("--set", value)]
    out = helm("template", release, str(CHART), "--namespace", namespace, *sets, home=home)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def kubectl(api: RealApi, tmp: Path, *args: str, stdin: str | None = None) -> str:
    """Stock kubectl as the admin; fails the test when kubectl does."""
    result = run_kubectl(api.kubeconfig, *args, stdin=stdin, cache=tmp / "kube-cache")
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def token_kubeconfig(api: RealApi, tmp: Path, namespace: str, account: str) -> Path:
    """A kubeconfig that authenticates as ServiceAccount ``namespace/account`` (TokenRequest)."""
    token = kubectl(api, tmp, "create", "token", account, "-n", namespace, "--duration=2h").strip()
    admin = yaml.safe_load(api.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    name = f"{namespace}-{account}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path = tmp / f"{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def b64(text: str) -> str:
    """Base64 of UTF-8 text."""
    return base64.b64encode(text.encode()).decode()


@contextmanager
def real_env(api: RealApi, tmp: Path) -> Iterator[Env]:
    """An Env (opkit) on the shared real cluster, with an ACM emulator of its own."""
    gen = open_env(tmp, api.name, {api.name: api})
    try:
        yield next(gen)
    finally:
        gen.close()
