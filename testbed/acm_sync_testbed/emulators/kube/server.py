"""``KubeEmulator``: the API server emulator on an aiohttp app in a background thread.

Fault hooks (``drop_watches``, ``fail_next``, ``restart``) work in-process and over HTTP at
``/_emulator/...`` so that tests can drive an emulator running in another process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from acm_sync_testbed.emulators.kube.errors import ApiError
from acm_sync_testbed.emulators.kube.faults import KubeFault, KubeFaults
from acm_sync_testbed.emulators.kube.handlers import Api
from acm_sync_testbed.emulators.kube.requestlog import RequestCounts
from acm_sync_testbed.emulators.kube.responses import error_response, json_response
from acm_sync_testbed.emulators.kube.store import Store
from acm_sync_testbed.emulators.kube.watch import WatchHub

_START_TIMEOUT = 15.0
_CONTROL = "/_emulator/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class KubeEmulator:
    """A Kubernetes API server emulator: ``start()``, ``url``, ``write_kubeconfig()``, ``stop()``.

    ``store`` is the cluster state; tests may read and write it directly (it is thread-safe).
    ``requests`` counts the API requests served, by verb and resource.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_size: int = 10_000,
        bookmark_interval: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.store = Store(log_size=log_size)
        self.hub = WatchHub(bookmark_interval=bookmark_interval)
        self.api = Api(self.store, self.hub, lambda: f"{self.host}:{self.port}")
        self.faults = KubeFaults()
        self.requests = RequestCounts()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> KubeEmulator:
        """Start serving in a background thread; returns once the port is bound."""
        if self.running:
            return self
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(
            target=self._run, name=f"kube-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the Kubernetes API emulator did not start in time")
        if self._startup_error is not None:
            raise RuntimeError(
                f"the Kubernetes API emulator failed to start: {self._startup_error}"
            )
        return self

    def stop(self) -> None:
        """Close every connection and stop the server thread (the state is kept)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)
        self._thread = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same state, like an API server restart."""
        self.stop()
        self.start()

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:  # Reported to start(), which raises it in the caller.
            self._startup_error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.api.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        hub = self.hub

        def wake() -> None:
            loop.call_soon_threadsafe(hub.wake_all)

        def schedule(work: Callable[[], None]) -> None:
            loop.call_soon_threadsafe(work)

        self.store.listeners[:] = [wake]
        self.store.schedule = schedule

    async def _shutdown(self) -> None:
        self.store.listeners.clear()
        self.store.schedule = lambda fn: fn()
        self.hub.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- fault hooks -------------------------------------------------------------------

    def drop_watches(self) -> int:
        """Cut every open watch connection; returns how many there were."""
        loop = self._loop
        if loop is None or not self.running:
            return 0
        return asyncio.run_coroutine_threadsafe(self._drop(), loop).result(_START_TIMEOUT)

    async def _drop(self) -> int:
        return self.hub.drop_all()

    def fail_next(
        self,
        count: int,
        status: int = 500,
        *,
        path: str | None = None,
        verb: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``count`` API requests (whose path contains ``path`` and whose method
        is ``verb``, when given) fail with ``status`` (429, 500, 503 or 504), after ``delay``."""
        self.faults.add(KubeFault(count, status, delay, path, verb))

    def delay_next(
        self, count: int, delay: float, *, path: str | None = None, verb: str | None = None
    ) -> None:
        """Carry out the next ``count`` matching requests, but answer only ``delay`` s later
        (a client with a shorter timeout sees a timeout; the request took effect)."""
        self.faults.add(KubeFault(count, None, delay, path, verb))

    def compact(self) -> None:
        """Forget the event log: watches from any earlier resourceVersion get 410 Gone."""
        self.store.compact()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_CONTROL):
            return await self._control(request)
        self.requests.note(request.method, request.path, request.query)
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            status, delay = fault
            if status is None:
                # Latency after the work is done: a client that gives up first has lost the
                # answer to a request that took effect.
                response = await handler(request)
                await asyncio.sleep(delay)
                return response
            if delay:
                await asyncio.sleep(delay)
            message = (
                "injected fault" if status != 429 else "too many requests, please try again later"
            )
            return error_response(ApiError(status, message))
        return await handler(request)

    async def _control(self, request: web.Request) -> web.Response:
        action = request.path.removeprefix(_CONTROL).strip("/")
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            params.update(json.loads(raw) if raw else {})
        if request.method != "POST":
            return json_response({"state": self.describe()})
        if action == "drop-watches":
            return json_response({"dropped": self.hub.drop_all()})
        if action == "fail-next":
            self.fail_next(
                int(params.get("count", 1)),
                int(params.get("status", 500)),
                path=params.get("path"),
                verb=params.get("verb"),
                delay=float(params.get("delay", 0.0)),
            )
            return json_response({"queued": self.faults.pending})
        if action == "delay-next":
            self.delay_next(
                int(params.get("count", 1)),
                float(params.get("delay", 1.0)),
                path=params.get("path"),
                verb=params.get("verb"),
            )
            return json_response({"queued": self.faults.pending})
        if action == "compact":
            self.compact()
            return json_response({"compacted": self.store.rv})
        if action == "restart":
            # Restarting stops this very server: do it after the answer has gone out.
            asyncio.get_running_loop().call_later(
                0.05, lambda: threading.Thread(target=self.restart).start()
            )
            return json_response({"restarting": True}, 202)
        return error_response(ApiError(404, f"unknown emulator action {action!r}"))

    def describe(self) -> dict[str, Any]:
        """Counts for humans and tests: objects per resource, resourceVersion, open watches."""
        with self.store.lock:
            counts = {
                f"{p}.{g}" if g else p: len(objs)
                for (g, p), objs in self.store.objects.items()
                if objs
            }
            return {
                "resourceVersion": self.store.rv,
                "objects": counts,
                "watches": len(self.hub.watchers),
            }

    # ---- direct state access -------------------------------------------------------------

    def create_objects(self, documents: Iterable[Mapping[str, Any]]) -> list[str]:
        """Create manifests directly in the store (e.g. CRDs); returns ``kind/name`` for each."""
        created = []
        for doc in documents:
            group, _, version = str(doc.get("apiVersion", "")).rpartition("/")
            rtype = next(
                (
                    t
                    for t in list(self.store.types.values())
                    if t.group == group and t.version == version and t.kind == doc.get("kind")
                ),
                None,
            )
            if rtype is None:
                raise ApiError(
                    404, f"no resource type for {doc.get('apiVersion')} {doc.get('kind')}"
                )
            namespace = str((doc.get("metadata") or {}).get("namespace") or "default")
            obj = self.store.create(rtype, namespace if rtype.namespaced else "", dict(doc))
            created.append(f"{rtype.singular}/{obj['metadata']['name']}")
        return created

    # ---- clients -----------------------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig document pointing at this emulator."""
        name = "acm-sync-emulator"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": self.url}}],
            "users": [{"name": name, "user": {"token": "emulator"}}],
            "contexts": [
                {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
            ],
            "current-context": name,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this emulator (kubectl, kopf, the kubernetes client, Helm)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        return target
