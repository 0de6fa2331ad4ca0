"""`acm-sync playground` as a subprocess, stock kubectl, and the test material fed to both.

Shared by tests/playground, tests/demo and tests/kube (kubectl), which import it as
tests.playground.playkit.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import boto3
import pytest

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient

ACM_SYNC = Path(sys.executable).with_name("acm-sync")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
READY = "acm-sync playground is ready"


def kubectl_binary() -> str:
    """The stock kubectl on PATH; fails the test when there is none."""
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is required for these tests and is not on PATH")
    return binary


def run_kubectl(
    kubeconfig: Path,
    *args: str,
    cache: Path,
    stdin: str | None = None,
    home: Path | None = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run stock kubectl with default flags against ``kubeconfig``; never raises on failure.

    ``cache`` is a private discovery/OpenAPI cache: ports are reused across tests, and a shared
    cache would serve one server's discovery to the next.
    """
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(cache)}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [kubectl_binary(), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Playground:
    """A running ``acm-sync playground`` and the lines it printed up to its ready line."""

    process: subprocess.Popen[str]
    kubeconfig: Path
    cache: Path
    lines: list[str] = field(default_factory=list)
    # Everything printed so far, the ready line and after included (the operator's log).
    output: list[str] = field(default_factory=list)

    def url(self, prefix: str) -> str:
        """The URL on the printed line that starts with ``prefix`` (``prefix: URL``)."""
        return next(line.split(": ", 1)[1] for line in self.lines if line.startswith(prefix))

    def acm(self, region: str) -> ACMClient:
        """A boto3 ACM client for ``region`` on the playground's ACM emulator."""
        return boto3.client(
            "acm",
            region_name=region,
            endpoint_url=self.url("ACM emulator (every region)"),
            aws_access_key_id="playground",
            aws_secret_access_key="playground",
        )

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 30) -> str:
        """kubectl's stdout against the playground; the test fails if kubectl does."""
        result = run_kubectl(self.kubeconfig, *args, cache=self.cache, stdin=stdin, timeout=timeout)
        assert result.returncode == 0, result.stderr
        return result.stdout


def _wait_ready(playground: Playground, timeout: float) -> None:
    """Collect the output up to the ready line; fail if it exits or stalls first."""
    process = playground.process
    output: queue.Queue[str | None] = queue.Queue()

    # A thread, so that every wait is bounded even when the process prints nothing.
    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            playground.output.append(line.rstrip("\n"))
            output.put(line.rstrip("\n"))
        output.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while READY not in playground.lines:
        try:
            line = output.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no ready line within {timeout} s; output so far: {playground.lines}")
        if line is None:
            pytest.fail(f"playground exited early ({process.wait()}): {playground.lines}")
        playground.lines.append(line)


@contextmanager
def running_playground(
    tmp_path: Path,
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    stop: signal.Signals = signal.SIGTERM,
    ready_timeout: float = 60,
) -> Iterator[Playground]:
    """``acm-sync playground`` on free ports in ``tmp_path``, from its ready line to its stop.

    When the block ends normally, the playground is sent ``stop`` and must exit 0 within 20 s,
    as a user's Ctrl-C or ``kill`` would have it. When the block fails, it is killed instead,
    so that its exit code does not hide the first failure.
    """
    kubeconfig = tmp_path / "playground.kubeconfig"
    process = subprocess.Popen(
        [
            ACM_SYNC,
            "playground",
            "--port",
            "0",
            "--acm-port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            *extra_args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=None if env is None else dict(env),
    )
    playground = Playground(process, kubeconfig, tmp_path / "kube-cache")
    try:
        _wait_ready(playground, ready_timeout)
        yield playground
        process.send_signal(stop)
        code = process.wait(20)
        assert code == 0, f"playground exited {code} on {stop.name}, not 0"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def examples_generator() -> ModuleType:
    """examples/generate.py as a module: its DEMOS say what each example Secret holds."""
    spec = importlib.util.spec_from_file_location("examples_generate", EXAMPLES / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module
