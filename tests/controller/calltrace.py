"""A recorder of which operator modules a run goes through, and the path of its writes.

``CallTrace`` records, with ``sys.setprofile`` in every thread (3.11 has no ``sys.monitoring``),
each call into a file of the operator package together with its *logical* stack: the operator
frames above it, continued across the hand-offs a run makes (a thread pool's work item is
called by whoever submitted it, a task by whoever created it), and without the frames that only
ran a function they were handed (``Ports.in_kube_pool`` and its lambda): a reader goes from the
function that names the callable to the callable.

From the record (see docs/architecture.md, "One sync, and a restart"):

* the *path*: every file with a function on the logical stack of a write the run makes (to ACM
  through ``aws/adapter.py``, to the Kubernetes API through ``controller/platform/kubeapi.py``),
  in the order the run first entered the files. The two adapters are the exits, not rows: what
  happens behind them is one request. A call that returns before a write (the certificate core,
  the planner, the decide step, the status fields) is read where it is called and is not on it.
* the *returns to a module already left*: calls between two files of the path (the caller being
  the innermost path file on the callee's logical stack) whose callee's file comes earlier on
  the path than the caller's. Counted once per (caller function, callee function).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import acm_sync

PACKAGE = str(Path(acm_sync.__file__).resolve().parent) + "/"
# The operator's exits, and their calls that write (the milestones of a rotation).
EXITS = {
    "aws/adapter.py": {"import_new", "reimport", "add_tags", "remove_tags", "delete"},
    "controller/platform/kubeapi.py": {
        "patch_status_over",
        "patch_acmcert_status",
        "post_event",
        "create_acmcert",
        "patch_acmcert",
        "delete_acmcert",
        "patch_acmtarget_status",
    },
}
_THREAD_FILE = "concurrent/futures/thread.py"
_LOOP_FILE = "asyncio/base_events.py"

Site = tuple[str, str]  # (file relative to the operator package, function name)


@dataclass(frozen=True, slots=True)
class _Frame:
    site: Site
    code: Any
    # Code objects of the callables the frame holds in its variables (it may run them).
    holds: frozenset[Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One call into the operator: its logical stack, callee first."""

    stack: tuple[Site, ...]

    @property
    def callee(self) -> Site:
        return self.stack[0]

    @property
    def writes(self) -> bool:
        """Whether this is a write through one of the operator's exits."""
        file, function = self.callee
        return function in EXITS.get(file, ())


def _code_of(value: Any) -> Any:
    value = getattr(value, "func", value)  # functools.partial
    value = getattr(value, "__func__", value)  # a bound method
    return getattr(value, "__code__", None)


def _frame(frame: FrameType) -> _Frame:
    held = (_code_of(v) for v in frame.f_locals.values() if callable(v))
    return _Frame(
        (frame.f_code.co_filename[len(PACKAGE) :], frame.f_code.co_name),
        frame.f_code,
        frozenset(c for c in held if c is not None),
    )


def _without_runners(frames: list[_Frame]) -> tuple[Site, ...]:
    """Drop each frame that holds the function it (indirectly) runs: a pool, a trampoline."""
    kept = [frames[0]]
    for frame in frames[1:]:
        if kept[-1].code not in frame.holds:
            kept.append(frame)
    return tuple(f.site for f in kept)


@dataclass
class CallTrace:
    """Installed for a whole test (threads started meanwhile are traced); records when on."""

    calls: list[Call] = field(default_factory=list)
    recording: bool = False
    # The logical stack of whoever submitted a pool's work item (by the item's id) and of
    # whoever created a task (by its coroutine's frame's id); the item or coroutine is kept
    # alongside so that its id is not reused meanwhile.
    _submitted: dict[int, tuple[object, list[_Frame]]] = field(default_factory=dict)
    _created: dict[int, tuple[object, list[_Frame]]] = field(default_factory=dict)
    # In a pool's thread: the stack of whoever submitted the work item it runs.
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _logical(self, frame: FrameType | None) -> list[_Frame]:
        frames: list[_Frame] = []
        while frame is not None:
            if frame.f_code.co_filename.startswith(PACKAGE):
                frames.append(_frame(frame))
            created = self._created.get(id(frame))
            if created is not None:
                return frames + created[1]
            frame = frame.f_back
        return frames + list(getattr(self._local, "submitted", ()))

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not self.recording:
            return
        code = frame.f_code
        filename = code.co_filename
        if filename.endswith(_THREAD_FILE):
            item = frame.f_locals.get("self")
            if code.co_name == "__init__":  # a work item is made
                with self._lock:
                    self._submitted[id(item)] = (item, self._logical(frame.f_back))
            elif code.co_name == "run":  # a pool's thread runs it
                with self._lock:
                    found = self._submitted.pop(id(item), None)
                self._local.submitted = found[1] if found else []
            return
        if filename.endswith(_LOOP_FILE) and code.co_name == "create_task":
            coro = frame.f_locals.get("coro")
            inner = getattr(coro, "cr_frame", None)
            if inner is not None:
                with self._lock:
                    self._created[id(inner)] = (coro, self._logical(frame.f_back))
            return
        if filename.startswith(PACKAGE):
            self.calls.append(Call(_without_runners(self._logical(frame))))

    @contextmanager
    def installed(self) -> Iterator[CallTrace]:
        """Profile this thread and every thread started inside the block."""
        previous = sys.getprofile()
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)
        try:
            yield self
        finally:
            self.recording = False
            sys.setprofile(previous)
            threading.setprofile(None)

    # -- what the record shows -----------------------------------------------------------------

    def first_entries(self) -> list[str]:
        """Every operator file the run entered, in the order it first did."""
        return list(dict.fromkeys(call.callee[0] for call in self.calls))

    def path(self) -> list[str]:
        """The files on the logical stack of a write, in first-entry order (exits left out)."""
        on_path = {site[0] for call in self.calls if call.writes for site in call.stack[1:]}
        on_path -= set(EXITS)
        return [f for f in self.first_entries() if f in on_path]

    def returns_to_left_modules(self) -> list[tuple[Site, Site]]:
        """(caller, callee) between path files whose callee's file is earlier on the path."""
        rank = {f: i for i, f in enumerate(self.path())}
        found: dict[tuple[Site, Site], None] = {}
        for call in self.calls:
            if call.callee[0] not in rank:
                continue
            caller = next((s for s in call.stack[1:] if s[0] in rank), None)
            if caller is not None and rank[call.callee[0]] < rank[caller[0]]:
                found[(caller, call.callee)] = None
        return list(found)
