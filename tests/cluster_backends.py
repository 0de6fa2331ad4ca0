"""The clusters the integration tests run on, chosen by ``ACM_SYNC_TEST_BACKENDS``.

One suite, several clusters: tests ask for a backend-parametrized fixture (``backend``) and run
once per backend listed (comma-separated) in ``ACM_SYNC_TEST_BACKENDS``:

- ``emulator``: the project's Kubernetes API emulator, in-process (the default; needs nothing).
- ``real``: a real etcd, kube-apiserver, kube-controller-manager and cert-manager built from
  the pinned Go modules (``make cluster-bins``), started once per session on loopback.
- ``real-node``: the same real control plane plus a real node (kubelet, kube-scheduler,
  containerd, runc, CNI: ``make node-bins``) in namespaces of its own, so Pods run. Opt-in
  only (``make test`` does not list it): it needs root and takes about a minute to start.
- ``kubeconfig``: any cluster the file named by ``ACM_SYNC_TEST_KUBECONFIG`` points at (kind,
  EKS, ...). Tests use namespaces of their own and leave the rest of the cluster alone.

``make test`` lists ``real`` whenever the binaries could be built. A test that only a real
cluster can answer (RBAC, CEL, admission, garbage collection, cert-manager) asks for
``real_backend``, which is an error, not a skip, when ``CI=true`` and the real cluster is off.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BACKENDS_VAR = "ACM_SYNC_TEST_BACKENDS"
KUBECONFIG_VAR = "ACM_SYNC_TEST_KUBECONFIG"
KNOWN = ("emulator", "real", "real-node", "kubeconfig")
ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "crds"


def selected() -> list[str]:
    """The backends this run uses, in order; refuses unknown names."""
    names = [n.strip() for n in os.environ.get(BACKENDS_VAR, "emulator").split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise pytest.UsageError(f"{BACKENDS_VAR}: unknown backend(s) {unknown}; known: {KNOWN}")
    return names or ["emulator"]


def playground_apiservers() -> list[str]:
    """``acm-sync playground --apiserver`` values to test: the emulator, and real if selected."""
    return ["emulator", *(["real"] if "real" in selected() else [])]


def remote_backends() -> list[str]:
    """The selected backends that are real API servers (every one but the emulator)."""
    return [n for n in selected() if n != "emulator"]


@dataclass
class RealApi:
    """A real API server the tests share: its admin kubeconfig and, for ``real``, the cluster."""

    name: str
    kubeconfig: Path
    cluster: object | None = None  # acm_sync_testbed.realcluster.cluster.RealCluster
    node: object | None = None  # acm_sync_testbed.realcluster.node.RealNode (real-node)


def _start_real(workdir: Path) -> Generator[RealApi, None, None]:
    from acm_sync_testbed.realcluster import bins
    from acm_sync_testbed.realcluster.cluster import RealCluster

    cluster = RealCluster(bins.find(), workdir=workdir / "cluster", crds=[CRDS])
    cluster.start()
    try:
        yield RealApi("real", cluster.write_kubeconfig(workdir / "admin.kubeconfig"), cluster)
    finally:
        cluster.stop()


def _start_real_node(workdir: Path) -> Generator[RealApi, None, None]:
    from acm_sync_testbed.realcluster import bins
    from acm_sync_testbed.realcluster.cluster import CONTROLLERS, NODE_CONTROLLERS, RealCluster
    from acm_sync_testbed.realcluster.node import RealNode

    node_bins = bins.find_node()
    cluster = RealCluster(
        bins.find(), workdir=workdir / "cluster", crds=[CRDS],
        controllers=(*CONTROLLERS, *NODE_CONTROLLERS),
    )  # fmt: skip
    cluster.start()
    node = RealNode(cluster, node_bins, workdir=workdir / "node")
    try:
        node.start()
        kubeconfig = cluster.write_kubeconfig(workdir / "admin.kubeconfig")
        yield RealApi("real-node", kubeconfig, cluster, node)
    finally:
        try:
            node.stop()
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def real_api_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RealApi]]:
    """Every selected non-emulator backend, started once for the whole session."""
    servers: dict[str, RealApi] = {}
    generators: list[Generator[RealApi, None, None]] = []
    try:
        for name in remote_backends():
            if name in ("real", "real-node"):
                start = _start_real if name == "real" else _start_real_node
                gen = start(tmp_path_factory.mktemp(name))
                generators.append(gen)
                servers[name] = next(gen)
            else:
                path = os.environ.get(KUBECONFIG_VAR)
                if not path:
                    raise pytest.UsageError(f"backend 'kubeconfig' needs {KUBECONFIG_VAR}")
                servers[name] = RealApi(name, Path(path))
        yield servers
    finally:
        for gen in reversed(generators):
            gen.close()


@pytest.fixture(scope="session")
def real_backend(real_api_servers: dict[str, RealApi]) -> RealApi:
    """The ``real`` cluster, for the tests only a real API server can answer."""
    if "real" not in real_api_servers:
        reason = f"the real cluster is not selected ({BACKENDS_VAR}={','.join(selected())})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " but CI must run it: make test builds it (make cluster-bins)")
        pytest.skip(reason + "; run `make test`, or `make cluster-bins` then add 'real'")
    return real_api_servers["real"]


@pytest.fixture(scope="session")
def real_node(real_api_servers: dict[str, RealApi]) -> RealApi:
    """The ``real-node`` cluster (control plane and a node), for tests that run Pods."""
    if "real-node" not in real_api_servers:
        pytest.skip(
            f"the real node is opt-in: {BACKENDS_VAR}=real-node (root; `make node-bins`, "
            "`make image`)"
        )
    return real_api_servers["real-node"]


_ran: Counter[str] = Counter()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The opt-in real node's tests are deselected, never skipped, when it is not chosen: they
    run through ``make node-test``, and a run that did not choose them does not pretend to."""
    if "real-node" in selected():
        return
    dropped = [item for item in items if item.get_closest_marker("real_node")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("real_node")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that asks for ``backend`` once per selected backend.

    ``@pytest.mark.backends("emulator")`` limits a test (or module) to the backends it can run
    on, e.g. one that drives the emulator's fault hooks: it is not collected for the others,
    rather than skipped there.
    """
    if "backend" in metafunc.fixturenames:
        names = selected()
        marker = metafunc.definition.get_closest_marker("backends")
        if marker is not None:
            names = [n for n in names if n in marker.args]
        metafunc.parametrize("backend", names, scope="module", indirect=True)


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend this module's tests are running on."""
    return str(request.param)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the tests that passed per backend, for the closing summary line."""
    if report.when != "call" or not report.passed:
        return
    if "real_node" in report.keywords:
        _ran["real-node"] += 1
        return
    if "real_cluster" in report.keywords:
        _ran["real"] += 1
        return
    for name in KNOWN:
        if f"[{name}" in report.nodeid or f"-{name}]" in report.nodeid:
            _ran[name] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line saying which cluster backends ran and how many tests passed on each."""
    if not _ran:
        return  # no cluster test in this run (e.g. the chart checks)
    parts = [f"{name} ({_ran[name]} passed)" for name in selected()]
    terminalreporter.write_line("cluster backends that ran: " + ", ".join(parts))
