"""``acm-sync playground``: a local Kubernetes API, the strict ACM emulator and the operator.

Everything runs in this one process until Ctrl-C or SIGTERM: the Kubernetes API emulator with
the project's CRDs applied, the ACM emulator serving every region, and (once the operator
provides ``acm_sync.controller.main.run_in_thread``) the operator itself. It writes a
kubeconfig and prints how to point kubectl and the AWS CLI or boto3 at them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from acm_sync.core.keys import ACM_KEY_ALGORITHMS
from acm_sync.emulators.kube.server import KubeEmulator

DEFAULT_KUBECONFIG = "playground.kubeconfig"
DEFAULT_PORT = 6443
DEFAULT_ACM_PORT = 4566
READY = "acm-sync playground is ready"
# The emulators accept any credentials; these keep boto3 from looking for real ones.
PLAYGROUND_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "playground",
    "AWS_SECRET_ACCESS_KEY": "playground",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``acm-sync playground`` flags."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="Kubernetes API port; 0 picks one (default: %(default)s)",
    )
    parser.add_argument(
        "--acm-port",
        type=int,
        default=DEFAULT_ACM_PORT,
        help="ACM emulator port; 0 picks one (default: %(default)s)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=DEFAULT_KUBECONFIG,
        help="where to write the kubeconfig (default: ./%(default)s)",
    )
    parser.add_argument(
        "--crds",
        type=Path,
        help="directory of CRD manifests to apply (default: the project's crds/)",
    )
    parser.add_argument("--no-operator", action="store_true", help="run only the emulators")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve the operator's /metrics on this port; 0 turns it off (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the operator's log level, on stderr; INFO shows imports, reimports, deletions "
        "(default: %(default)s)",
    )


def find_crds(explicit: Path | None) -> Path | None:
    """The CRD directory: the flag, else ./crds, else the source checkout's crds/."""
    if explicit is not None:
        return explicit
    for candidate in (Path.cwd() / "crds", Path(__file__).resolve().parents[2] / "crds"):
        if candidate.is_dir():
            return candidate
    return None


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _as_kubectl_applied(doc: dict[str, Any]) -> dict[str, Any]:
    """The manifest with the annotation ``kubectl apply`` would store, byte for byte.

    With it, a later ``kubectl apply -f crds/`` answers "unchanged" instead of warning about a
    missing annotation. kubectl stores Go's JSON: sorted keys, compact, HTML characters escaped.
    """
    applied = json.loads(json.dumps(doc))
    applied.setdefault("metadata", {}).setdefault("annotations", {})
    text = json.dumps(applied, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    result: dict[str, Any] = json.loads(json.dumps(doc))
    result.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = text + "\n"
    return result


def apply_crds(kube: KubeEmulator, directory: Path) -> list[str]:
    """Create every manifest of ``directory`` (``*.yaml``/``*.yml``) as ``kubectl apply`` would."""
    documents: list[dict[str, Any]] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        documents.extend(
            _as_kubectl_applied(doc) for doc in yaml.safe_load_all(path.read_text()) if doc
        )
    return kube.create_objects(documents)


def _start_acm(host: str, port: int) -> Any | None:
    """Start the strict ACM emulator; None (with a note) if it is not available."""
    try:
        server = importlib.import_module("acm_sync.emulators.acm.server")
    except ImportError as error:
        print(f"note: the ACM emulator is not available ({error}); running without it", flush=True)
        return None
    return server.AcmEmulator(host=host, port=port).start()


class _ThreadSignalWarningFilter(logging.Filter):
    """Drop kopf's "OS signals are ignored" warning: the playground handles signals itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("OS signals are ignored: running not in the main")


def _quiet_kopf_signal_warning() -> None:
    # kopf warns when its reactor runs outside the main thread, as the playground's operator does.
    running = logging.getLogger("kopf._core.reactor.running")
    if not any(isinstance(f, _ThreadSignalWarningFilter) for f in running.filters):
        running.addFilter(_ThreadSignalWarningFilter())


def _start_operator(
    kubeconfig: Path,
    acm_url: str,
    metrics_port: int = 0,
    log_level: str = "WARNING",
    host: str = "127.0.0.1",
) -> Callable[[], None] | None:
    """Start the operator in-process; returns a function that stops it, or None.

    This is the playground's single hook for the operator: it calls
    ``acm_sync.controller.main.run_in_thread(kubeconfig=..., acm_url=...)``, which must start the
    operator in a background thread against that kubeconfig and ACM endpoint and return a
    callable that stops it and waits for it to finish.
    """
    try:
        controller = importlib.import_module("acm_sync.controller.main")
    except ImportError as error:
        print(
            f"note: the operator is not available ({error}); running the emulators only", flush=True
        )
        return None
    run_in_thread = getattr(controller, "run_in_thread", None)
    if run_in_thread is None:
        print(
            "note: this build cannot start the operator in-process yet; run it in another "
            f"terminal with: acm-sync run --kubeconfig {kubeconfig} --no-leader-election",
            flush=True,
        )
        return None
    _quiet_kopf_signal_warning()
    stop: Callable[[], None] = run_in_thread(
        kubeconfig=kubeconfig,
        acm_url=acm_url,
        metrics_port=metrics_port,
        metrics_host=host,
        log_level=log_level,
    )
    return stop


def _instructions(kube: KubeEmulator, kubeconfig: Path, acm_url: str | None, operator: bool) -> str:
    lines = [
        f"Kubernetes API emulator: {kube.url}",
        "Operator: " + ("running in this process" if operator else "not running"),
        "",
        "Point kubectl at it (in another terminal):",
        f"  export KUBECONFIG={kubeconfig}",
        "  kubectl get acmcertificates --all-namespaces",
    ]
    if acm_url:
        lines += [
            "",
            f"ACM emulator (every region): {acm_url}",
            "Point the AWS CLI or boto3 at it:",
            f"  export AWS_ENDPOINT_URL={acm_url}",
            "  export AWS_ACCESS_KEY_ID=playground AWS_SECRET_ACCESS_KEY=playground",
            "  # without --includes, ListCertificates shows RSA_1024 and RSA_2048 only:",
            "  aws acm list-certificates --region us-east-1 \\",
            f"      --includes keyTypes={','.join(ACM_KEY_ALGORITHMS)}",
        ]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run the playground until SIGINT or SIGTERM; exit 0 after a clean shutdown."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    kube = KubeEmulator(host=args.host, port=args.port)
    try:
        kube.start()
    except RuntimeError as error:
        print(
            f"acm-sync playground: {error} (is port {args.port} in use? try --port 0)",
            file=sys.stderr,
        )
        return 1
    stoppers: list[Callable[[], None]] = [kube.stop]
    try:
        crds = find_crds(args.crds)
        if crds is None:
            print("note: no crds/ directory found; no CRDs applied (use --crds DIR)", flush=True)
        else:
            for created in apply_crds(kube, crds):
                print(f"applied {created}", flush=True)
        acm = _start_acm(args.host, args.acm_port)
        acm_url = acm.url if acm is not None else None
        if acm is not None:
            stoppers.append(acm.stop)
            os.environ.update(PLAYGROUND_AWS_ENV)
            # In-process clients (the operator's boto3) must reach the emulator, never AWS.
            os.environ["AWS_ENDPOINT_URL"] = acm_url or ""
        kubeconfig = kube.write_kubeconfig(Path(args.kubeconfig).resolve())
        stop_operator = None
        if not args.no_operator and acm_url is not None:
            stop_operator = _start_operator(
                kubeconfig, acm_url, args.metrics_port, args.log_level, args.host
            )
            if stop_operator is not None:
                stoppers.append(stop_operator)
        print(_instructions(kube, kubeconfig, acm_url, stop_operator is not None), flush=True)
        if stop_operator is not None and args.metrics_port:
            print(f"Operator metrics: http://{args.host}:{args.metrics_port}/metrics", flush=True)
        print(READY, flush=True)
        while not stop.wait(0.5):
            pass
        print("acm-sync playground: stopping", flush=True)
    finally:
        for stopper in reversed(stoppers):
            stopper()
    return 0
