"""An annotated Secret in a namespace being deleted: no AcmCertificate, and no error.

Deleting a namespace deletes its Secrets, but the watch may deliver an annotated Secret before
its deletion, while the namespace already refuses new content (403 from the API server's
namespace lifecycle admission). That is the namespace going away, not a failure: the operator
logged it as an unexpected error with a traceback and retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.platform.kubeerrors import KubeError
from acm_sync.controller.secretwatch import SecretWatcher
from tests.controller.ctrlkit import FakeEngine, FakeKube, Harness

TERMINATING = KubeError(
    403,
    'acmcertificates.acmsync.io "web" is forbidden: unable to create new content in namespace '
    "ns because it is being terminated",
)


class TerminatingKube(FakeKube):
    def __init__(self) -> None:
        super().__init__()
        self.creates = 0

    def create_acmcert(self, namespace: str, manifest: JsonObj) -> JsonObj | None:
        self.creates += 1
        raise TERMINATING


def annotated_secret() -> JsonObj:
    return {
        "metadata": {
            "namespace": "ns", "name": "web", "uid": "uid-web", "resourceVersion": "1",
            "annotations": {"acmsync.io/regions": "us-east-1"},
        },
        "type": "kubernetes.io/tls",
    }  # fmt: skip


def test_an_annotated_secret_in_a_terminating_namespace_is_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kube = TerminatingKube()

    async def scenario() -> None:
        h = Harness(kube, FakeEngine())
        watcher = SecretWatcher(h.ports, h.view, h.reconciler.queue)
        watcher.on_event("ADDED", annotated_secret())
        for _ in range(500):
            await asyncio.sleep(0.01)
            if kube.creates and not watcher.queue.busy:
                break
        # A failure would come back after the queue's backoff (1 s at first).
        await asyncio.sleep(1.5)
        await watcher.queue.close()
        await h.close()

    with caplog.at_level(logging.INFO, logger="acm_sync"):
        asyncio.run(scenario())
    assert kube.creates == 1, "the create was retried"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "namespace is being deleted" in caplog.text
