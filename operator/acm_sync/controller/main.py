"""``acm-sync run``: the operator's entry point (flags in docs/architecture.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from acm_sync.controller.platform.flags import OperatorConfig, add_run_arguments, config_from_args
from acm_sync.controller.platform.redaction import configure_logging
from acm_sync.controller.runtime import EXIT_STARTUP_FAILED, OperatorRuntime, OperatorThread

log = logging.getLogger("acm_sync")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``acm-sync run`` flags (each also read from ``ACM_SYNC_*``)."""
    add_run_arguments(parser)


def main(args: argparse.Namespace) -> int:
    """Run the operator until SIGTERM/SIGINT; return the process exit code."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"acm-sync run: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    runtime = OperatorRuntime(config)
    stop = threading.Event()
    # A standby (waiting for the Lease) stops on these; once kopf runs, it installs its own
    # handlers on the loop and stops cleanly.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        code = asyncio.run(runtime.run(stop))
    except Exception as exc:
        log.error("acm-sync run failed: %s", exc, exc_info=config.log_level == "DEBUG")
        code = EXIT_STARTUP_FAILED
    finally:
        runtime.stop_serving()
    exit_now(code)
    return code  # not reached; keeps the signature honest for type checkers


def exit_now(code: int) -> None:
    """End the process at once, once logs are flushed.

    A normal interpreter exit joins every worker thread, and threads still blocked in the AWS
    SDK (read timeouts) or the client-side rate limiter would hold the exit for tens of seconds.
    Their work is safe to abandon: ACM writes are fenced, and an import whose answer is lost is
    found by owner tag on the next start.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_in_thread(
    *, kubeconfig: Path | str, acm_url: str | None = None, **overrides: object
) -> Callable[[], None]:
    """Start the operator in a background thread (the playground's hook); return its stopper.

    ``acm_url`` is informational: boto3 takes the endpoint from ``AWS_ENDPOINT_URL``, which
    the caller sets for the whole process. Leader election is off and no metrics port is
    opened unless ``metrics_port`` is given, since the playground runs exactly one operator
    on loopback. A ``log_level`` override (re)configures the process's logging at that level.
    """
    if "log_level" in overrides:
        configure_logging(str(overrides["log_level"]))
    elif not logging.getLogger().handlers:
        configure_logging("WARNING")
    options: dict[str, object] = {
        "kubeconfig": str(kubeconfig),
        "leader_election": False,
        "metrics_port": 0,
        **overrides,
    }
    thread = OperatorThread(OperatorConfig(**options)).start()  # type: ignore[arg-type]
    log.info("Operator started in-process against %s (ACM: %s)", kubeconfig, acm_url)
    return thread.stop
