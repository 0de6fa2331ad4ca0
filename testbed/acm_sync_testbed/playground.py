"""``acm-sync playground``: a local Kubernetes API, the strict ACM emulator and the operator.

Everything runs until Ctrl-C or SIGTERM: a Kubernetes API with the project's CRDs applied, the
ACM emulator serving every region, and the operator itself (in this process). It writes a
kubeconfig and prints how to point kubectl and the AWS CLI or boto3 at them.

The Kubernetes API is the embedded emulator by default (nothing to install). With
``--apiserver real`` it is a real etcd, kube-apiserver, kube-controller-manager and cert-manager
started as child processes from the binaries ``make cluster-bins`` builds (see
``acm_sync_testbed.realcluster``).
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
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import yaml

from acm_sync.core.keys import ACM_KEY_ALGORITHMS
from acm_sync_testbed import packagedata
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from acm_sync_testbed.realcluster import bins
from acm_sync_testbed.realcluster.cluster import RealCluster
from acm_sync_testbed.realcluster.processes import ProcessFailed

HELP = "run a local Kubernetes API emulator, ACM emulator and the operator"
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
        help="directory of CRD manifests to apply (default: the CRDs installed with acm-sync)",
    )
    parser.add_argument("--no-operator", action="store_true", help="run only the emulators")
    parser.add_argument(
        "--apiserver",
        choices=("emulator", "real"),
        default="emulator",
        help="emulator: the embedded Kubernetes API emulator (default); real: etcd, "
        "kube-apiserver, kube-controller-manager and cert-manager built by `make cluster-bins`",
    )
    parser.add_argument(
        "--cluster-bin-dir",
        type=Path,
        help="with --apiserver real: the folder `make cluster-bins` printed last "
        "(default: $ACM_SYNC_CLUSTER_BIN_DIR, else .cluster-bins in this checkout)",
    )
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


def find_crds(explicit: Path | None) -> Traversable | None:
    """The CRD directory: the ``--crds`` flag, else the CRDs installed with the test bed.

    The installed copy (package data) makes the playground work from any directory and from a
    wheel, not only from a checkout. None if neither is a directory.
    """
    directory = explicit if explicit is not None else packagedata.crds()
    return directory if directory.is_dir() else None


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


def manifests(directory: Traversable) -> list[dict[str, Any]]:
    """Every document of ``directory``'s ``*.yaml``/``*.yml`` files, in file-name order."""
    # A Traversable, not a Path: the default directory is package data (importlib.resources).
    paths = sorted(
        (p for p in directory.iterdir() if p.is_file() and p.name.endswith((".yaml", ".yml"))),
        key=lambda p: p.name,
    )
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def apply_crds(kube: KubeEmulator, directory: Traversable) -> list[str]:
    """Create every manifest of ``directory`` (``*.yaml``/``*.yml``) as ``kubectl apply`` would."""
    return kube.create_objects([_as_kubectl_applied(doc) for doc in manifests(directory)])


# Role ARN -> external id the playground's STS lets the operator assume (examples/acmtarget.yaml).
PLAYGROUND_ROLES = {"arn:aws:iam::222233334444:role/acm-sync-importer": "playground-edge"}


def _start_acm(host: str, port: int) -> Any | None:
    """Start the strict ACM emulator; None (with a note) if it is not available."""
    try:
        server = importlib.import_module("acm_sync_testbed.emulators.acm.server")
    except ImportError as error:
        print(f"note: the ACM emulator is not available ({error}); running without it", flush=True)
        return None
    # The role and external id of examples/acmtarget.yaml: the second account's STS trusts it.
    return server.AcmEmulator(host=host, port=port, roles=dict(PLAYGROUND_ROLES)).start()


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
        # Wiring on: an Ingress annotated acmsync.io/certificates gets its ARN (us-east-1).
        wiring_enabled=True,
        wiring_region="us-east-1",
    )
    return stop


class _KubeApi(Protocol):
    """What the playground needs of its Kubernetes API, emulated or real."""

    label: str
    url: str

    def apply_crds(self, directory: Traversable) -> list[str]: ...

    def write_kubeconfig(self, path: Path) -> Path: ...

    def stop(self) -> None: ...


class _Emulated:
    """The embedded emulator."""

    label = "Kubernetes API emulator"

    def __init__(self, kube: KubeEmulator) -> None:
        self.kube = kube
        self.url = kube.url

    def apply_crds(self, directory: Traversable) -> list[str]:
        return apply_crds(self.kube, directory)

    def write_kubeconfig(self, path: Path) -> Path:
        return self.kube.write_kubeconfig(path)

    def stop(self) -> None:
        self.kube.stop()


class _Real:
    """A real cluster (acm_sync_testbed.realcluster), started as child processes."""

    label = "Kubernetes API server, real (kube-apiserver, etcd, controller-manager, cert-manager)"

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster
        self.url = cluster.url

    def apply_crds(self, directory: Traversable) -> list[str]:
        created = self.cluster.apply_crds(manifests(directory))
        return [f"customresourcedefinition/{name}" for name in created]

    def write_kubeconfig(self, path: Path) -> Path:
        return self.cluster.write_kubeconfig(path)

    def stop(self) -> None:
        self.cluster.stop()


def _start_kube(args: argparse.Namespace) -> _KubeApi | str:
    """Start the chosen Kubernetes API; a one-line error message when it cannot start."""
    if args.apiserver == "real":
        if args.host not in ("127.0.0.1", "localhost"):
            return "--apiserver real serves on loopback only (127.0.0.1); drop --host"
        try:
            cluster = RealCluster(
                bins.find(args.cluster_bin_dir),
                port=args.port,
                say=lambda line: print(line, flush=True),
            )
            return _Real(cluster.start())
        except bins.BinariesMissing as error:
            return str(error)
        except ProcessFailed as error:
            return f"the real cluster did not start: {error}"
    kube = KubeEmulator(host=args.host, port=args.port)
    try:
        kube.start()
    except RuntimeError as error:
        return f"{error} (is port {args.port} in use? try --port 0)"
    return _Emulated(kube)


def _instructions(kube: _KubeApi, kubeconfig: Path, acm_url: str | None, operator: bool) -> str:
    lines = [
        f"{kube.label}: {kube.url}",
        "Operator: " + ("running in this process" if operator else "not running"),
        "",
        "Point kubectl at it (in another terminal):",
        f"  export KUBECONFIG={kubeconfig}",
        "  kubectl get acmcertificates --all-namespaces",
    ]
    examples = packagedata.examples()
    # Only a directory on disk can be handed to kubectl (not one inside a zip).
    if isinstance(examples, Path) and examples.is_dir():
        lines.append(f"  kubectl apply -f {examples}   # example Secrets and AcmCertificates")
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
            "A second account (222233334444, the AcmTarget of examples/acmtarget.yaml): its STS",
            "lets you assume the role, then list with those credentials:",
            "  aws sts assume-role --role-arn "
            + next(iter(PLAYGROUND_ROLES))
            + " --role-session-name me --external-id "
            + next(iter(PLAYGROUND_ROLES.values())),
        ]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run the playground until SIGINT or SIGTERM; exit 0 after a clean shutdown."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    kube = _start_kube(args)
    if isinstance(kube, str):
        print(f"acm-sync playground: {kube}", file=sys.stderr)
        return 1
    stoppers: list[Callable[[], None]] = [kube.stop]
    try:
        crds = find_crds(args.crds)
        if crds is None:
            print("note: no CRD directory found; no CRDs applied (use --crds DIR)", flush=True)
        else:
            for created in kube.apply_crds(crds):
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
