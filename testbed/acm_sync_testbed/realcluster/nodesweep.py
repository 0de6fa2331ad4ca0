"""What a killed test run leaves of its node, found and removed by the next run.

``RealNode.stop()`` leaves nothing, but a run killed with SIGKILL never calls it: containerd,
the kubelet, the shims, the containers and the holder of the node's namespaces keep running,
and its cgroups ``/acm-sync-node-<id>`` stay. Several runs may share the machine (other
worktrees, other sessions), so a leftover is recognised by its owner being gone, never by its
name alone:

- each node takes an exclusive ``flock`` on ``<STATE_DIR>/<id>.lock`` for its lifetime; the
  kernel drops it when the owning process dies, however it dies;
- every program the node starts carries ``ACM_SYNC_NODE_ID=<id>`` in its environment
  (containerd passes its environment on to the shims); containers are found by their cgroups.

``sweep()`` takes each lock it can get (its owner is dead), kills that node's marked processes
and everything in its cgroups, removes the cgroups and the lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

MARKER = "ACM_SYNC_NODE_ID"
STATE_DIR = Path("/run/acm-sync-nodes")
CGROUP_PREFIX = "acm-sync-node-"
_CGROUP_FS = Path("/sys/fs/cgroup")


def claim(node_id: str, state_dir: Path = STATE_DIR, note: str = "") -> int:
    """Take node ``node_id``'s lock; the open descriptor (close it, or die, to release).

    ``note`` (one line) is kept in the lock file for whoever sweeps it (``owner_note``).
    """
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state_dir / f"{node_id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{os.getpid()}\n{note}\n".encode())
    return fd


def owner_note(lock: Path) -> str:
    """The ``note`` a lock file's owner left (its second line), "" if none."""
    try:
        lines = lock.read_text().splitlines()
    except OSError:
        return ""
    return lines[1] if len(lines) > 1 else ""


def release(fd: int, node_id: str, state_dir: Path = STATE_DIR) -> None:
    """Give up the lock ``claim`` returned, after the node has stopped cleanly."""
    with contextlib.suppress(OSError):
        (state_dir / f"{node_id}.lock").unlink()
    os.close(fd)


def sweep(state_dir: Path = STATE_DIR, cgroup_fs: Path = _CGROUP_FS) -> list[str]:
    """Remove the leftovers of every node whose owner is gone; the ids swept."""
    return sweep_dead_owners(state_dir, lambda node_id, _lock: remove_node(node_id, cgroup_fs))


def sweep_dead_owners(state_dir: Path, remove: Callable[[str, Path], None]) -> list[str]:
    """``remove(id, lock)`` for every lock in ``state_dir`` nobody holds; the ids swept."""
    swept: list[str] = []
    if not state_dir.is_dir():
        return swept
    for lock in sorted(state_dir.glob("*.lock")):
        node_id = lock.stem
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run owns it
            remove(node_id, lock)
            lock.unlink(missing_ok=True)
            swept.append(node_id)
        finally:
            os.close(fd)
    return swept


def remove_node(node_id: str, cgroup_fs: Path = _CGROUP_FS) -> None:
    """Kill node ``node_id``'s marked processes and its containers; remove its cgroups."""
    kill_until_none(lambda: marked_processes(node_id) | _cgroup_processes(node_id, cgroup_fs))
    # A killed process leaves cgroup.procs at once but keeps its cgroup busy (EBUSY) until
    # its parent has reaped it: try again for a while.
    deadline = time.monotonic() + 10
    while (left := cgroups(node_id, cgroup_fs)) and time.monotonic() < deadline:
        for cgroup in left:
            with contextlib.suppress(OSError):
                cgroup.rmdir()
        time.sleep(0.1)


def kill_contained(node_id: str, cgroup_fs: Path = _CGROUP_FS) -> None:
    """SIGKILL every process in node ``node_id``'s cgroups (its containers) until none is left."""
    kill_until_none(lambda: _cgroup_processes(node_id, cgroup_fs))


def kill_until_none(find: Callable[[], set[int]], timeout: float = 15) -> None:
    """SIGKILL the processes ``find`` returns, again, until it returns none (or time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = find()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def marked_processes(node_id: str, name: str = MARKER) -> set[int]:
    """The processes whose environment carries ``name=node_id`` (by default a node's marker)."""
    marker = f"{name}={node_id}".encode()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.add(int(entry.name))
    return found


def cgroups(node_id: str, cgroup_fs: Path = _CGROUP_FS) -> list[Path]:
    """Every cgroup of node ``node_id`` in every hierarchy, deepest first."""
    found: list[Path] = []
    for hierarchy in cgroup_fs.iterdir():
        top = hierarchy / f"{CGROUP_PREFIX}{node_id}"
        if top.is_dir():
            found.extend(p for p in top.rglob("*") if p.is_dir())
            found.append(top)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _cgroup_processes(node_id: str, cgroup_fs: Path) -> set[int]:
    pids: set[int] = set()
    for cgroup in cgroups(node_id, cgroup_fs):
        with contextlib.suppress(OSError):
            pids.update(int(line) for line in (cgroup / "cgroup.procs").read_text().split())
    return pids
