"""Leases on a sweep directory's groups, so that two launchers (two people, a retried cluster job,
local and Ray executors) never train the same group twice.

A launcher claims a group by creating `<root>/leases/<group>.json` atomically (O_EXCL: one
creator wins), with its host, pid and start time, and renews it while training by touching the
file: the heartbeat is the file's own modification time, so hosts' clocks need not agree. A lease
is alive unless its process is gone (checkable on the same host) or its heartbeat is older than
`stale_seconds`; a dead one is taken over by renaming it away first (one renamer wins).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LEASE_DIR = "leases"
HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 120.0  # a heartbeat this old marks a lease dead (a launcher on another host)


def lease_path(root: Path, run_ids: list[str]) -> Path:
    key = hashlib.sha256(" ".join(sorted(run_ids)).encode()).hexdigest()[:16]
    return Path(root) / LEASE_DIR / f"{key}.json"


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "start": time.time()}, f)
    return True


def alive(path: Path, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether a lease file is held by a live launcher."""
    try:
        age = time.time() - path.stat().st_mtime
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except ValueError:  # being written this instant, or damaged: trust the heartbeat alone
        return age < stale_seconds
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder["pid"]), 0)
        except (OSError, KeyError, ValueError):
            return False
    return age < stale_seconds


def acquire(root: Path, run_ids: list[str], stale_seconds: float = STALE_SECONDS) -> Path | None:
    """The lease file if this process now holds the group's lease, else None (held elsewhere)."""
    path = lease_path(root, run_ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _create(path):
        return path
    if alive(path, stale_seconds):
        return None
    taken = path.with_name(f"{path.name}.dead.{socket.gethostname()}.{os.getpid()}")
    try:
        os.rename(path, taken)  # only one of several takers succeeds
    except FileNotFoundError:
        return None
    taken.unlink(missing_ok=True)
    return path if _create(path) else None


@contextlib.contextmanager
def held(path: Path, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Renew the lease every `every` seconds in the background until the block ends; release it."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        path.unlink(missing_ok=True)


def wait_for(paths: list[Path], poll: float = 2.0, stale_seconds: float = STALE_SECONDS) -> None:
    """Block until none of `paths` is a live lease."""
    while any(alive(path, stale_seconds) for path in paths):
        time.sleep(poll)
