"""Executors: run a sweep's groups (one compiled job each) into its directory, skipping finished
runs, locally (default; one job per accelerator at a time) or as Ray tasks on a cluster.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from rlscale.config import ConfigError
from rlscale.sweeps import lease, store
from rlscale.sweeps.lease import lease_path
from rlscale.sweeps.plan import split_groups
from rlscale.sweeps.spec import Sweep
from rlscale.training.group import Group, group_runs
from rlscale.training.loggers import RunLogs, group_label
from rlscale.training.progress import progress as progress_for
from rlscale.training.sharding import spans_devices


@dataclasses.dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local Ray instance; "auto" or host:port: join one
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0  # fractional GPUs let several jobs share a device
    max_retries: int = 3  # reruns of a job whose worker died


LEASED = "leased"  # a run_job result: another live launcher holds the group


class SweepInterrupted(Exception):  # noqa: N818 (a stop, not an error)
    """A sweep stopped by a signal between two chunks; its unfinished runs are `interrupted`."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Stop:
    """Set by `stop_on_signals`' handler; the drivers' chunk callback reads it."""

    def __init__(self):
        self.event, self.signum = threading.Event(), 0

    def check(self) -> None:
        if self.event.is_set():
            raise SweepInterrupted(self.signum)


STOP = _Stop()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM stop the sweep once the running chunk returns, instead of
    killing it mid-write; a second Ctrl-C interrupts at once."""

    def handler(signum: int, _frame) -> None:
        STOP.signum = signum
        STOP.event.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    STOP.event.clear()
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        STOP.event.clear()


def memory_budget(memory_gb: float | None = None, ray: bool = False) -> float | None:
    """Bytes one job may use: `memory_gb` if given; else the local device's memory, or half the
    RAM on a CPU; None (no split) for Ray, whose driver cannot see the workers' devices."""
    if memory_gb is not None:
        if not math.isfinite(memory_gb) or memory_gb <= 0:
            raise ConfigError(f"--memory-gb {memory_gb}: must be a finite number of GiB > 0")
        return memory_gb * 2**30
    if ray:
        return None
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2


def plan(sweep: Sweep, memory_bytes: float | None = None) -> list[Group]:
    """The sweep's groups, split where a device's share of a group would not fit `memory_bytes`."""
    groups = group_runs(list(sweep.runs))
    return groups if memory_bytes is None else split_groups(groups, memory_bytes)


def pending(groups: list[Group], root: Path) -> list[Group]:
    """Groups with at least one unfinished run.

    A group is rerun whole (its finished members recomputed but not rewritten), so every run
    is computed by the same compiled program, with the same siblings, as in an uninterrupted
    sweep: resumed metrics are bit-identical to uninterrupted ones.
    """
    return [g for g in groups if not all(store.is_finished(root, r.run_id) for r in g.runs)]


def run_sweep(
    sweep: Sweep,
    root: str | Path,
    memory_bytes: float | None = None,
    ray: RayOptions | None = None,
    progress: bool = True,
    groups: list[Group] | None = None,
    keep_checkpoints: bool = False,
) -> list[Group]:
    """Run every unfinished group of `sweep` into `root` (locally, or on Ray when `ray` is given).

    Args:
        groups: the sweep's plan when the caller already made it (`plan(sweep, memory_bytes)`);
            otherwise it is made here.
        keep_checkpoints: keep each run's last checkpoints once its group finished.

    Returns the groups that were pending before the call (empty: the sweep was already finished).
    """
    groups = plan(sweep, memory_bytes) if groups is None else groups
    store.prepare(Path(root), sweep)  # refuses a dir made from another spec before any work
    todo = pending(groups, Path(root))
    if not keep_checkpoints:  # a launcher killed between finishing a group and deleting them
        for run in (run for g in groups if g not in todo for run in g.runs):
            store.delete_checkpoints(Path(root), run.run_id)
    if ray is not None:
        run_ray(todo, root, ray, keep=keep_checkpoints)
    else:
        run_local(todo, root, progress, keep_checkpoints)
    return todo


def run_job(
    group: Group,
    root: str | Path,
    progress: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    keep: bool = False,
) -> dict[str, str]:
    """Train one group and write its unfinished runs; returns run_id -> final state, or LEASED
    for each when another live launcher holds the group's lease (nothing is done then). The
    group resumes from its runs' checkpoints, deleted once it finished unless `keep`."""
    root = Path(root)
    claim = lease.acquire(root, [run.run_id for run in group.runs])
    if claim is None:
        return {run.run_id: LEASED for run in group.runs}
    with lease.held(claim):
        # Checked under the lease: a launcher that held it before may have finished runs.
        todo = [run for run in group.runs if not store.is_finished(root, run.run_id)]
        return _train(group, todo, root, progress, on_chunk, keep) if todo else {}


def _train(group: Group, todo: list, root: Path, progress, on_chunk, keep) -> dict[str, str]:
    from rlscale.training.checkpoint import GroupCheckpoints  # local: Ray drivers need no JAX
    from rlscale.training.runner import run_group

    def after_chunk(index: int) -> None:
        if on_chunk is not None:
            on_chunk(index)
        STOP.check()

    STOP.check()
    names, sweep = store.log_settings(root)
    logs = RunLogs(
        names, todo, lambda run_id: store.run_dir(root, run_id), sweep, group_label(group)
    )
    for run in todo:
        store.mark_running(root, run)
    dirs = [store.run_dir(root, run.run_id) for run in group.runs]
    checkpoints = GroupCheckpoints(dirs, group.loop.checkpoint_every)
    try:
        result = run_group(
            group, progress=progress, on_chunk=after_chunk, on_rows=logs, checkpoints=checkpoints
        )
    except SweepInterrupted as stop:
        for run in todo:
            store.mark_failed(root, run, f"stopped by {stop}", state="interrupted")
        raise
    except Exception:
        error = traceback.format_exc(limit=3)
        for run in todo:
            store.mark_failed(root, run, error)
        raise
    finally:
        logs.close()
        checkpoints.close()  # a stopped launcher finishes the writes in flight
    states = {
        run.run_id: store.finish(root, run, result.frames[run.run_id], result, checkpoints.damaged)
        for run in todo
    }
    if not keep:
        checkpoints.delete()
    return states


def _leased(groups: list[Group], states: dict[str, str]) -> list[Group]:
    return [g for g in groups if any(states.get(r.run_id) == LEASED for r in g.runs)]


def wait_and_retry(groups: list[Group], root: Path, states: dict[str, str], run) -> dict[str, str]:
    """Groups another launcher held: wait for its leases to end, then run what it left undone
    (`run(groups) -> states`), until no group is held elsewhere."""
    waiting = _leased(groups, states)
    while waiting:
        print(f"waiting for {len(waiting)} groups another launcher is training", flush=True)
        lease.wait_for([lease_path(root, [r.run_id for r in g.runs]) for g in waiting])
        again = run(pending(waiting, root))
        states.update(again)
        waiting = _leased(waiting, again)
    return states


def _accelerators() -> list:
    import jax

    devices = jax.devices()
    return devices if devices[0].platform != "cpu" else []


def run_local(
    groups: list[Group], root: str | Path, progress: bool = True, keep: bool = False
) -> dict[str, str]:
    """Run `groups` here: one at a time (with several accelerators, a group with a run for each
    split over all, smaller ones one per device concurrently). A failed job's runs are marked.
    keep: keep each run's checkpoints once its group finished."""
    import jax

    root = Path(root)
    total = sum(g.loop.total_steps * len(g.runs) for g in groups)
    overall = progress_for(total, "sweep", progress, position=0)
    states: dict[str, str] = {}
    devices = _accelerators()
    # On a terminal each job has its own bar; in a log file only the sweep's lines are written.
    job_bars = progress and len(devices) < 2 and sys.stderr.isatty()

    def job(group: Group, device=None) -> dict[str, str]:
        advance = lambda _: overall.update(group.loop.segment_steps * len(group.runs))  # noqa: E731
        if device is None:
            return run_job(group, root, job_bars, advance, keep)
        with jax.default_device(device):
            return run_job(group, root, False, advance, keep)

    whole = [g for g in groups if len(devices) < 2 or spans_devices(len(g.runs), len(devices))]
    for group in whole:  # one at a time; a group spanning the devices is one program over all
        states.update(_guard(job, group))
    if len(whole) < len(groups):
        free = list(devices)
        with concurrent.futures.ThreadPoolExecutor(len(devices)) as pool:

            def on_device(group: Group) -> dict[str, str]:
                device = free.pop()  # at most len(devices) jobs hold one at a time
                try:
                    return _guard(job, group, device)
                finally:
                    free.append(device)

            for result in pool.map(on_device, [g for g in groups if g not in whole]):
                states.update(result)
    overall.close()
    if _leased(groups, states):
        states = wait_and_retry(groups, root, states, lambda g: run_local(g, root, progress, keep))
    return states


def _guard(job: Callable, group: Group, *args) -> dict[str, str]:
    try:
        return job(group, *args)
    except SweepInterrupted:
        raise
    except Exception as error:  # recorded in each run's status.json by run_job
        print(f"job of {len(group.runs)} runs failed: {type(error).__name__}: {error}")
        return {run.run_id: "failed" for run in group.runs}


def run_ray(
    groups: list[Group],
    root: str | Path,
    options: RayOptions,
    on_chunk: Callable[[int], None] | None = None,
    keep: bool = False,
) -> dict[str, str]:
    """Run each group as a Ray task writing into `root` (a filesystem all workers share).

    Each task declares its CPUs/GPUs, turns off JAX's GPU memory preallocation (so fractional
    GPUs can share a device), and is retried up to `max_retries` times if its worker dies.
    """
    import ray

    root = Path(root).resolve()
    if not ray.is_initialized():
        ray.init(address=options.address, ignore_reinit_error=True)
    task = ray.remote(run_job).options(
        num_cpus=options.cpus_per_job,
        num_gpus=options.gpus_per_job,
        max_retries=options.max_retries,
        retry_exceptions=False,
        runtime_env={"env_vars": {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}},
    )
    futures = {task.remote(group, str(root), False, on_chunk, keep): group for group in groups}
    states: dict[str, str] = {}
    for future, group in futures.items():
        try:
            states.update(ray.get(future))
        except Exception as error:  # a job that failed after all retries; the rest go on
            print(f"ray job of {len(group.runs)} runs failed: {type(error).__name__}: {error}")
            for run in group.runs:
                if not store.is_finished(root, run.run_id):  # a dead worker left "running"
                    store.mark_failed(root, run, f"{type(error).__name__}: {error}")
                states[run.run_id] = store.state(root, run.run_id) or "failed"
    if _leased(groups, states):
        retry = lambda g: run_ray(g, root, options, on_chunk, keep)  # noqa: E731
        states = wait_and_retry(groups, root, states, retry)
    return states
