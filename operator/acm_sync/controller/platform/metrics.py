"""Prometheus metrics and the /metrics, /healthz, /readyz endpoint.

Metric names are a contract with the Helm chart's PrometheusRule: never rename one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

NOT_AFTER = "acmsync_certificate_not_after_timestamp_seconds"
NOT_AFTER_HELP = (
    "notAfter of the certificate ACM holds for an AcmCertificate, per account and region "
    "(unix time)"
)
IN_SYNC = "acmsync_certificate_in_sync"
IN_SYNC_HELP = (
    "1 when the region's ACM certificate is the Secret's current one, else 0; reason "
    "says why not (the region's or the Ready condition's reason)"
)
# One object's series: (region, account, notAfter or None, in sync, reason) per pair.
_Row = tuple[str, str, float | None, bool, str]


class ObjectSeries(Collector):
    """The per-object gauges (notAfter served, in sync) as one table, rendered on scrape.

    Holds a tuple per (object, region) instead of a prometheus_client child per series; the
    strings repeated across objects (regions, accounts, reasons) are interned.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], tuple[_Row, ...]] = {}

    def set(
        self,
        namespace: str,
        name: str,
        pairs: dict[tuple[str, str], tuple[float | None, bool, str]],
    ) -> None:
        """Replace an object's series (none: drop them)."""
        rows = tuple(
            (
                sys.intern(str(region)),
                sys.intern(str(account)),
                not_after,
                in_sync,
                sys.intern(str(reason)),
            )
            for (account, region), (not_after, in_sync, reason) in pairs.items()
        )
        with self._lock:
            if rows:
                self._rows[(namespace, name)] = rows
            else:
                self._rows.pop((namespace, name), None)

    def collect(self) -> Iterator[Metric]:
        """Both families, in the order the objects were first exported."""
        with self._lock:
            items = list(self._rows.items())
        not_after = GaugeMetricFamily(
            NOT_AFTER, NOT_AFTER_HELP, labels=["namespace", "name", "region", "account"]
        )
        in_sync = GaugeMetricFamily(
            IN_SYNC, IN_SYNC_HELP, labels=["namespace", "name", "region", "account", "reason"]
        )
        for (namespace, name), rows in items:
            for region, account, when, synced, reason in rows:
                if when is not None:
                    not_after.add_metric([namespace, name, region, account], when)
                in_sync.add_metric([namespace, name, region, account, reason], 1 if synced else 0)
        yield not_after
        yield in_sync


class Metrics:
    """The operator's metrics, on a registry of their own (several operators per test process)."""

    def __init__(self) -> None:
        # The operator's own account id for the account label ('' until known).
        self.own_account = ""
        self.registry = CollectorRegistry()
        # Per object and region, the two certificate gauges are served from one compact table
        # rather than as prometheus_client children (six objects with a lock each, ~5 KB per
        # AcmCertificate at three regions); the exposition is the same.
        self.objects = ObjectSeries()
        self.registry.register(self.objects)
        self.syncs = Counter(
            "acmsync_sync_total",
            "Reconciliations of an AcmCertificate by result and Ready reason",
            ["result", "reason"],
            registry=self.registry,
        )
        self.failures = Counter(
            "acmsync_sync_failures_total",
            "Reconciliations that left an AcmCertificate not Ready, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.aws_calls = Counter(
            "acmsync_aws_calls_total",
            "ACM API calls by API, account, region and outcome",
            ["api", "region", "outcome", "account"],
            registry=self.registry,
        )
        self.imports = Counter(
            "acmsync_imports_total",
            "Successful ImportCertificate calls (first imports and reimports) per account and "
            "region",
            ["region", "account"],
            registry=self.registry,
        )
        self.quota_exceeded = Counter(
            "acmsync_quota_exceeded_total",
            "Imports refused because an ACM quota was exceeded, per account and region",
            ["region", "account"],
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "acmsync_reconcile_duration_seconds",
            "Time to reconcile one AcmCertificate, Kubernetes and AWS calls included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.wired_consumers = Gauge(
            "acmsync_wired_consumers",
            "Ingresses and Services whose load balancer annotation holds what acm-sync wrote "
            "(wiring), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "acmsync_leader",
            "1 while this replica holds the leader Lease (or leader election is off)",
            registry=self.registry,
        )

    def observe_aws_call(self, api: str, region: str, outcome: str, account: str = "") -> None:
        """The engine's CallObserver: count every ACM call (``account``: '' when unknown)."""
        self.aws_calls.labels(api=api, region=region, outcome=outcome, account=account).inc()
        if api == "ImportCertificate" and outcome in ("success", "ok", "Success"):
            self.imports.labels(region=region, account=account).inc()

    def observer_for(self, account: str) -> Callable[[str, str, str], None]:
        """A CallObserver labelling the calls of one account's engine."""
        return lambda api, region, outcome: self.observe_aws_call(api, region, outcome, account)

    def count_sync(self, ready: bool, reason: str, quota_exceeded: list[tuple[str, str]]) -> None:
        """One reconciliation: its result and reason, and the (account, region) pairs refused
        for quota."""
        self.syncs.labels(result="success" if ready else "failure", reason=reason).inc()
        if not ready:
            self.failures.labels(reason=reason).inc()
        for account, region in quota_exceeded:
            self.quota_exceeded.labels(region=region, account=account).inc()

    def export_object(
        self,
        namespace: str,
        name: str,
        pairs: dict[tuple[str, str], tuple[float | None, bool, str]],
    ) -> None:
        """Replace an object's series: (account, region) -> (notAfter, in sync, reason)."""
        self.objects.set(namespace, name, pairs)

    def forget(self, namespace: str, name: str) -> None:
        """Drop the per-object series of a deleted AcmCertificate."""
        self.objects.set(namespace, name, {})

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


class Health:
    """What the probes report; flipped by the runtime as it starts and stops."""

    def __init__(self) -> None:
        self.alive = True
        self.ready = False


class _Handler(BaseHTTPRequestHandler):
    metrics: ClassVar[Metrics]
    health: ClassVar[Health]

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.metrics.render(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok = self.health.alive
            self._send(200 if ok else 503, b"ok\n" if ok else b"dead\n")
        elif path == "/readyz":
            ok = self.health.ready
            self._send(200 if ok else 503, b"ok\n" if ok else b"not ready\n")
        else:
            self._send(404, b"not found\n")

    def _send(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Probes every few seconds would drown the operator's own log.
        return


class MetricsServer:
    """A threaded HTTP server for the metrics and probe endpoints."""

    def __init__(self, metrics: Metrics, health: Health, host: str, port: int) -> None:
        handler = type("Handler", (_Handler,), {"metrics": metrics, "health": health})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="acm-sync-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
