"""Transient Kubernetes API errors are weather, not failure: telling them apart, and backing off.

A 429, a 5xx, a reset connection or a timeout says nothing about the request: the same request
later will most likely succeed. Such errors are retried with jittered exponential backoff and
logged at WARNING without a traceback; anything else is a bug and keeps its traceback at ERROR.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TypeVar

import urllib3.exceptions

from acm_sync.controller.platform.kubeerrors import KubeError, NotLeader

log = logging.getLogger(__name__)
T = TypeVar("T")

# 408 Request Timeout and 429 Too Many Requests (also "storage is (re)initializing" right after
# a CRD is established); every 5xx (an API server restarting, etcd leader election).
_TRANSIENT_STATUSES = frozenset({408, 429})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an API error that retrying the same request can cure.

    A write fenced off after leadership was lost counts too: it is expected, and no bug.
    """
    if isinstance(exc, NotLeader):
        return True
    if isinstance(exc, KubeError):
        return exc.status in _TRANSIENT_STATUSES or exc.status >= 500
    # ConnectionError covers resets and refusals; urllib3's errors wrap them (and read
    # timeouts) once its own retries are spent.
    return isinstance(exc, ConnectionError | TimeoutError | urllib3.exceptions.HTTPError)


def backoff(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Seconds before retry number ``attempt`` (1-based): "equal jitter" exponential backoff.

    Half the exponential step is fixed and half random, so replicas and objects that failed
    together do not retry together, yet no retry comes sooner than half its step.
    """
    step = min(cap, base * 2.0 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


def describe(exc: BaseException) -> str:
    """One line for a log: the error without its traceback."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


class StartupAborted(Exception):
    """Stopped (SIGTERM) while still retrying a start-up call."""


def retry_startup(
    what: str,
    call: Callable[[], T],
    stop: threading.Event,
    *,
    attempts: int = 12,
    base: float = 0.5,
    cap: float = 15.0,
) -> T:
    """``call()``, retried on transient errors with jittered backoff; blocking.

    Bounded: after ``attempts`` tries (about two minutes with the defaults) the last error is
    raised, and the process exits for the kubelet to restart it. Each failed attempt is logged
    once, at WARNING. A real error (403, 404, a bug) is raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts:
                raise
            delay = backoff(attempt, base=base, cap=cap)
            log.warning(
                "%s failed (attempt %d of %d, retrying in %.1fs): %s",
                what,
                attempt,
                attempts,
                delay,
                describe(exc),
            )
            if stop.wait(delay):
                raise StartupAborted(what) from None
    raise AssertionError("unreachable")  # the loop returns or raises
