"""The path of one rotation, traced, is the one docs/architecture.md shows.

A TLS Secret is renewed; its event reaches the operator through the kopf handler the operator
registers, and the run goes on as in production: the work queue, the reconcile, the real engine
against the strict ACM emulator, the status written through the real Kubernetes client to the
Kubernetes API emulator. ``CallTrace`` records which operator files the run goes through; the
path it derives (the rule is in calltrace.py and in the doc) must be the doc's table, row for
row, in at most 8 files and without a return to a module already left.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import kopf
import pytest
import yaml

from acm_sync.aws.engine import Engine
from acm_sync.controller.handlers import build_registry
from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import GROUP, VERSION, JsonObj, KubeApi
from acm_sync.controller.platform.kubeconfig import load_configuration
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.secretwatch import SecretWatcher
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.watch.view import WatchView
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.aws.acm_testkit import fast_settings, isolate_aws_env
from tests.certkit import TestCA, tls_secret
from tests.controller.calltrace import Call, CallTrace

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
NS, NAME, SECRET = "apps", "web", "web-tls"
MAX_FILES = 8
Handler = Callable[..., Awaitable[Any]]


def doc_path(text: str) -> list[str]:
    """The files of the doc's "One sync" table, in row order (paths under operator/acm_sync/)."""
    section = text.split("## One sync, and a restart", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert [int(n) for n, _ in rows] == list(range(1, len(rows) + 1)), "rows numbered 1..n"
    return [path for _, path in rows]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_env(monkeypatch)


@pytest.fixture
def acm(aws_env: None) -> Iterator[AcmEmulator]:
    emulator = AcmEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[KubeEmulator, KubeApi]]:
    emulator = KubeEmulator().start()
    emulator.create_objects(yaml.safe_load_all((ROOT / "crds" / "acmcertificate.yaml").read_text()))
    emulator.create_objects([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])
    api = KubeApi(load_configuration(str(emulator.write_kubeconfig(tmp_path / "kubeconfig"))))
    yield emulator, api
    api.close()
    emulator.stop()


def secret_manifest(ca: TestCA) -> JsonObj:
    secret = tls_secret(SECRET, ca.issue("web.example.com"))
    secret["metadata"]["namespace"] = NS
    return secret


async def idle(reconciler: Reconciler) -> None:
    for _ in range(1000):
        await asyncio.sleep(0.01)
        if not reconciler.queue.busy:
            return
    raise AssertionError("the work queue is still busy")


def traced_rotation(acm: AcmEmulator, kube: tuple[KubeEmulator, KubeApi]) -> CallTrace:
    """Sync an object once, then renew its Secret's certificate with the trace recording."""
    emulator, api = kube
    ca = TestCA()
    emulator.create_objects([secret_manifest(ca)])
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AcmCertificate",
        "metadata": {"namespace": NS, "name": NAME},
        "spec": {"secretName": SECRET, "regions": ["us-east-1"]},
    }
    emulator.create_objects([manifest])
    trace = CallTrace()

    async def scenario() -> None:
        engine = Engine(fast_settings(acm.url))
        ports = Ports(api, engine, OperatorConfig(), "cluster", Metrics())
        view = WatchView()
        reconciler = Reconciler(ports, view)
        watcher = SecretWatcher(ports, view, reconciler.queue)
        registry = build_registry(ports, view, reconciler, watcher)
        # kopf offers no public accessor of a registry's handlers; these are the functions
        # kopf calls for each event, by the ids the operator gives them.
        handlers: dict[str, Handler] = {
            str(h.id): cast(Handler, h.fn) for h in registry._watching.get_all_handlers()
        }

        async def secret_event(kind: str | None) -> None:
            body = kopf.Body(cast(kopf.RawBody, api.get_secret(NS, SECRET)))
            await handlers["secrets"](type=kind, body=body, logger=None)

        async def object_event(kind: str | None) -> None:
            body = kopf.Body(cast(kopf.RawBody, api.get_acmcert(NS, NAME)))
            await handlers["track"](type=kind, body=body, namespace=NS, name=NAME, logger=None)

        try:
            # The start's listings, the first import, and the watch showing its status write.
            await secret_event(None)
            await object_event(None)
            await idle(reconciler)
            await object_event("MODIFIED")
            await idle(reconciler)
            # The renewal (what cert-manager does), then its event, recorded until the queue
            # is idle again.
            renewed = secret_manifest(ca)
            current = api.get_secret(NS, SECRET) or {}
            renewed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            api.request("PUT", f"/api/v1/namespaces/{NS}/secrets/{SECRET}", body=renewed)
            trace.recording = True
            await secret_event("MODIFIED")
            await idle(reconciler)
            trace.recording = False
        finally:
            await reconciler.close()
            engine.close()

    with trace.installed():
        asyncio.run(asyncio.wait_for(scenario(), 60))
    obj = api.get_acmcert(NS, NAME) or {}
    regions = obj["status"]["regions"]
    # The rotation happened: the certificate was reimported under the same ARN.
    assert [r["reason"] for r in regions] == ["Reimported"], regions
    assert len(acm.certificates()) == 1
    return trace


def test_the_doc_shows_the_traced_path_of_one_rotation(
    acm: AcmEmulator, kube: tuple[KubeEmulator, KubeApi]
) -> None:
    trace = traced_rotation(acm, kube)
    path = trace.path()
    shown = doc_path(DOC.read_text())
    assert path[0] == "controller/handlers.py", "the path starts at the Secret event handler"
    assert shown == path, f"the doc's table {shown}, the traced path {path}"
    assert len(path) <= MAX_FILES, path
    assert trace.returns_to_left_modules() == []


def test_a_call_back_to_a_file_earlier_on_the_path_is_a_return_to_a_module_left() -> None:
    # The Secret handler going through the reconciler to reach the queue: the queue then
    # calls the reconciler, which the path had already left.
    handler = ("controller/handlers.py", "secret_event")
    trigger = ("controller/sync/reconciler.py", "trigger")
    queued = ("controller/watch/workqueue.py", "trigger")
    drive = ("controller/watch/workqueue.py", "_drive")
    run = ("controller/sync/reconciler.py", "_reconcile")
    helper = ("controller/sync/decide.py", "next_run")
    write = ("controller/platform/kubeapi.py", "patch_status_over")
    trace = CallTrace(
        calls=[
            Call((handler,)),
            Call((trigger, handler)),
            Call((queued, trigger, handler)),
            Call((drive, queued, trigger, handler)),
            Call((run, drive, queued, trigger, handler)),
            Call((helper, run, drive, queued, trigger, handler)),
            Call((write, run, drive, queued, trigger, handler)),
        ]
    )
    assert trace.path() == [handler[0], run[0], drive[0]]
    assert trace.returns_to_left_modules() == [(drive, run)]
