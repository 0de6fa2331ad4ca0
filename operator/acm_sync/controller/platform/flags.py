"""The operator's configuration: the ``acm-sync run`` flags, most also read from ``ACM_SYNC_*``.

The kubelet injects Docker-link variables for every Service in a pod's namespace
(``<SERVICE>_PORT=tcp://10.96.0.1:8080``, ``<SERVICE>_SERVICE_HOST``, ...), so a Service named
``acm-sync-metrics`` sets ``ACM_SYNC_METRICS_PORT``. No setting is read from a variable whose name
a Service can produce (:func:`service_link_shadowable`): the metrics endpoint is configured by
``ACM_SYNC_METRICS_BIND_ADDRESS``, and ``--metrics-port`` is a flag only.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from acm_sync.core.labelselector import SelectorError, parse_selector
from acm_sync.core.regions import validate_region
from acm_sync.core.roots import NO_PRIVATE_ROOTS, PrivateRoots, private_roots
from acm_sync.core.state import AdoptionMode

ENV_PREFIX = "ACM_SYNC_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ANNOTATION_MODES = ("all", "selector", "off")


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """Everything ``acm-sync run`` can be told; defaults match docs/architecture.md."""

    namespaces: tuple[str, ...] = ()  # empty: the whole cluster
    cluster_id: str | None = None  # None: the uid of the kube-system namespace
    metrics_port: int = 8080
    log_format: str = "text"
    log_level: str = "INFO"
    expiry_warning_days: int = 30
    allowed_regions: frozenset[str] = field(default_factory=frozenset)  # empty: all
    adoption: AdoptionMode = AdoptionMode.TAGGED
    annotation_mode: str = "all"  # all | selector | off
    annotation_namespace_selector: str = ""
    # AcmTargets (other accounts): off refuses spec.targets; the allowlist bounds the roles
    # the operator will ever assume, whatever an AcmTarget names (empty: any).
    targets_enabled: bool = True
    allowed_role_arns: tuple[str, ...] = ()
    sweep_interval: float = 600.0
    leader_election: bool = True
    leader_election_namespace: str | None = None
    lease_duration: float = 15.0
    kubeconfig: str | None = None
    metrics_host: str = "0.0.0.0"
    # Roots the user says clients hold (--private-root-ca-file): no ChainIncomplete for them.
    private_roots: PrivateRoots = NO_PRIVATE_ROOTS
    # Wiring (--wiring): Ingresses and Services opted in get their load balancer annotation
    # set to the ARNs of the own account's pair in wiring_region; off, neither is ever read.
    wiring_enabled: bool = False
    wiring_region: str = ""

    @property
    def adoption_enabled(self) -> bool:
        """Whether spec.certificateArns is accepted at all."""
        return self.adoption is not AdoptionMode.OFF

    @property
    def clusterwide(self) -> bool:
        """Watch every namespace when none was named."""
        return not self.namespaces


# What kubelet's service links define for a Service named X (pkg/kubelet/envvars): X_SERVICE_HOST,
# X_SERVICE_PORT, X_SERVICE_PORT_<PORTNAME>, X_PORT, X_PORT_<N>_<PROTO> and its _PROTO, _PORT
# and _ADDR companions, with X upper-cased and '-' turned into '_'.
_SERVICE_LINK = re.compile(
    r"^[A-Z][A-Z0-9_]*_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)"
    r"(_(PROTO|PORT|ADDR))?)?)$"
)
# Every variable a setting is read from; tests/controller/test_controller_pod_env.py checks all.
ENV_NAMES: set[str] = set()


def service_link_shadowable(variable: str) -> bool:
    """Whether some Service's link variables could define ``variable`` in a pod."""
    return bool(_SERVICE_LINK.match(variable))


def env_name(name: str) -> str:
    """The variable a setting is read from; refuses a name a Service could shadow."""
    variable = ENV_PREFIX + name.upper().replace("-", "_")
    if service_link_shadowable(variable):
        raise AssertionError(f"{variable} can be set by a Service's link variables")
    ENV_NAMES.add(variable)
    return variable


def _env(name: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(env_name(name))
    return value if value not in (None, "") else None


def parse_bind_address(value: str) -> tuple[str, int]:
    """``[HOST]:PORT`` (controller-runtime's form; ``[::1]:8080`` for IPv6) or ``0`` (off).

    An empty host means every address. Returns (host, port); port 0 means do not serve.
    """
    text = value.strip()
    if text == "0":
        return "0.0.0.0", 0
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if (
        not sep
        or not port.isdigit()
        or not 0 <= int(port) <= 65535
        or not re.fullmatch(r"[A-Za-z0-9.:-]*", host)
    ):
        raise argparse.ArgumentTypeError(
            f"not an address: {value!r} (want HOST:PORT, :PORT or 0 to turn metrics off)"
        )
    return host or "0.0.0.0", int(port)


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


def add_run_arguments(
    parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None
) -> None:
    """Declare the ``acm-sync run`` flags; defaults come from ``ACM_SYNC_*`` when set."""
    env = dict(os.environ if environ is None else environ)

    def default(name: str, fallback: object) -> object:
        value = _env(name, env)
        return fallback if value is None else value

    def flag(name: str, fallback: bool) -> bool:
        try:
            return _bool(str(default(name, fallback)))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{env_name(name)}: {exc}")

    namespaces_env = _env("namespace", env)
    parser.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        default=None,
        metavar="NS",
        help="watch only this namespace (repeatable; env: comma-separated ACM_SYNC_NAMESPACE)",
    )
    parser.set_defaults(
        namespaces_env=[n.strip() for n in namespaces_env.split(",") if n.strip()]
        if namespaces_env
        else []
    )
    parser.add_argument(
        "--all-namespaces",
        action="store_true",
        default=flag("all-namespaces", False),
        help="watch the whole cluster (the default when no --namespace is given)",
    )
    parser.add_argument(
        "--cluster-id", default=default("cluster-id", None), help="owner tag prefix"
    )
    parser.add_argument(
        "--metrics-bind-address",
        type=parse_bind_address,
        default=str(default("metrics-bind-address", ":8080")),
        metavar="[HOST]:PORT",
        help="where /metrics, /healthz and /readyz are served (0: not at all; "
        "env ACM_SYNC_METRICS_BIND_ADDRESS)",
    )
    # No variable: ACM_SYNC_METRICS_PORT is what a Service named acm-sync-metrics defines.
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="port of the metrics endpoint; overrides the port of --metrics-bind-address "
        "(0: do not serve)",
    )
    parser.add_argument(
        "--log-format", choices=("text", "json"), default=default("log-format", "text")
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=str(default("log-level", "INFO")).upper(),
    )
    parser.add_argument(
        "--expiry-warning-days",
        type=int,
        default=str(default("expiry-warning-days", 30)),
        help="the Expiring condition turns true this many days before notAfter",
    )
    parser.add_argument(
        "--allowed-regions",
        default=default("allowed-regions", ""),
        help="comma-separated regions; others are refused with RegionNotAllowed (default: all)",
    )
    parser.add_argument(
        "--adoption",
        choices=[m.value for m in AdoptionMode],
        default=str(default("adoption", AdoptionMode.TAGGED.value)),
        help="which certificates spec.certificateArns may take over: tagged (only those the "
        "AWS account tagged with the object's owner value), any (any imported certificate no "
        "other owner claims: single-tenant clusters), off",
    )
    parser.add_argument(
        "--disable-adoption",
        action="store_true",
        default=flag("disable-adoption", False),
        help="the same as --adoption off",
    )
    parser.add_argument(
        "--annotation-mode",
        choices=ANNOTATION_MODES,
        default=default("annotation-mode", "all"),
        help="which namespaces' Secrets may get an AcmCertificate from acmsync.io/regions",
    )
    parser.add_argument(
        "--annotation-namespace-selector",
        default=default("annotation-namespace-selector", ""),
        metavar="SELECTOR",
        help="label selector of those namespaces, with --annotation-mode=selector",
    )
    parser.add_argument(
        "--disable-targets",
        action="store_true",
        default=flag("disable-targets", False),
        help="refuse spec.targets (no AcmTarget is read, no role assumed)",
    )
    parser.add_argument(
        "--allowed-role-arns",
        default=default("allowed-role-arns", ""),
        help="comma-separated role ARNs or patterns (arn:aws:iam::*:role/acm-sync-*) the "
        "operator may assume; other AcmTargets get AssumeRoleFailed (default: any)",
    )
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=str(default("sweep-interval", 600)),
        help="seconds between drift and expiry sweeps",
    )
    parser.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=flag("leader-election", True),
        help="only the replica holding the Lease acts",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=default("leader-election-namespace", None),
        help="namespace of the Lease (default: the pod's namespace, else 'default')",
    )
    parser.add_argument(
        "--lease-duration",
        type=float,
        default=str(default("lease-duration", 15)),
        help="seconds; a standby takes over within about twice this",
    )
    parser.add_argument(
        "--private-root-ca-file",
        default=default("private-root-ca-file", None),
        metavar="FILE",
        help="PEM bundle of the private roots your clients trust: a chain that ends where one "
        "of them signed it gets no ChainIncomplete or IntermediateMissing warning",
    )
    parser.add_argument(
        "--wiring",
        action=argparse.BooleanOptionalAction,
        default=flag("wiring", False),
        help="set the load balancer annotation of opted-in Ingresses and Services "
        "(acmsync.io/certificates, acmsync.io/import) to the ARNs; needs RBAC on them",
    )
    parser.add_argument(
        "--wiring-region",
        default=default("wiring-region", None),
        metavar="REGION",
        help="the load balancers' region, whose ARNs are wired (default: the operator's AWS "
        "region, AWS_REGION or AWS_DEFAULT_REGION)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=default("kubeconfig", None),
        help="kubeconfig file (default: in-cluster credentials, then $KUBECONFIG)",
    )


def config_from_args(args: argparse.Namespace) -> OperatorConfig:
    """Turn parsed flags into an :class:`OperatorConfig`; raises ValueError on bad combinations."""
    namespaces = tuple(args.namespaces or getattr(args, "namespaces_env", []) or ())
    if args.all_namespaces and args.namespaces:
        raise ValueError("--all-namespaces and --namespace are mutually exclusive")
    if args.all_namespaces:
        namespaces = ()
    if args.lease_duration <= 0 or args.sweep_interval <= 0:
        raise ValueError("--lease-duration and --sweep-interval must be positive")
    if args.expiry_warning_days < 0:
        raise ValueError("--expiry-warning-days must not be negative")
    allowed = frozenset(r.strip() for r in str(args.allowed_regions or "").split(",") if r.strip())
    metrics_host, metrics_port = args.metrics_bind_address
    if args.annotation_mode == "selector" and not args.annotation_namespace_selector:
        raise ValueError("--annotation-mode=selector needs --annotation-namespace-selector")
    try:
        parse_selector(args.annotation_namespace_selector)
    except SelectorError as exc:
        raise ValueError(f"--annotation-namespace-selector: {exc}") from None
    if args.metrics_port is not None:
        metrics_port = args.metrics_port
    wiring_region = str(
        args.wiring_region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or ""
    ).strip()
    if args.wiring and not wiring_region:
        raise ValueError("--wiring needs --wiring-region (or AWS_REGION)")
    if args.wiring and (problem := validate_region(wiring_region)):
        raise ValueError(f"--wiring-region: {problem}")
    return OperatorConfig(
        private_roots=_load_private_roots(getattr(args, "private_root_ca_file", None)),
        namespaces=namespaces,
        cluster_id=args.cluster_id,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        log_format=args.log_format,
        log_level=args.log_level,
        expiry_warning_days=args.expiry_warning_days,
        allowed_regions=allowed,
        adoption=AdoptionMode.OFF if args.disable_adoption else AdoptionMode(args.adoption),
        annotation_mode=args.annotation_mode,
        annotation_namespace_selector=args.annotation_namespace_selector,
        targets_enabled=not args.disable_targets,
        allowed_role_arns=tuple(
            a.strip() for a in str(args.allowed_role_arns or "").split(",") if a.strip()
        ),
        sweep_interval=args.sweep_interval,
        leader_election=args.leader_election,
        leader_election_namespace=args.leader_election_namespace,
        lease_duration=args.lease_duration,
        kubeconfig=args.kubeconfig,
        wiring_enabled=args.wiring,
        wiring_region=wiring_region if args.wiring else "",
    )


def _load_private_roots(path: str | None) -> PrivateRoots:
    """The ``--private-root-ca-file`` bundle; a file that cannot be used stops the start."""
    if not path:
        return NO_PRIVATE_ROOTS
    try:
        with open(path, "rb") as bundle:
            roots = private_roots(bundle.read())
    except OSError as exc:
        raise ValueError(f"--private-root-ca-file: cannot read {path}: {exc.strerror}") from None
    if not roots:
        raise ValueError(f"--private-root-ca-file: {path} holds no PEM certificate")
    return roots
