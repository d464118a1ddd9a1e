"""Numerics of a compiled group: its matmul precision (a run key, so part of the group's shape
key) and deterministic GPU ops (a process-wide XLA flag, so a launcher option).

`matmul_precision` picks the algorithm of every float32 dot XLA emits: `highest` is true float32
(the default, so GPU results match CPU ones); `high` and `default` let the device use faster,
less exact modes (tf32 or bf16 passes on NVIDIA tensor cores). The CPU computes float32 at any
level. `benchmarks/device_check.py` measures what each level does to speed and to correctness.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

import jax

DETERMINISTIC_FLAG = "--xla_gpu_deterministic_ops=true"


def scoped(fn: Callable, level: str) -> Callable:
    """`fn` traced with every dot at matmul precision `level` (read when jit traces it)."""

    @functools.wraps(fn)
    def traced(*args):
        with jax.default_matmul_precision(level):
            return fn(*args)

    return traced


def deterministic() -> bool:
    """Whether this process's XLA flags ask for deterministic GPU ops."""
    return DETERMINISTIC_FLAG in os.environ.get("XLA_FLAGS", "").split()


def _flags(on: bool) -> str:
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if f != DETERMINISTIC_FLAG]
    return " ".join([*flags, DETERMINISTIC_FLAG] if on else flags)


def set_deterministic(on: bool) -> None:
    """Turn deterministic GPU ops on or off for this process, before JAX starts its backends.

    Raises:
        RuntimeError: the backends already started with the other setting (XLA reads its flags
            once; importing rlscale starts them); the message names the launcher option.
    """
    if on == deterministic():
        return
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        raise RuntimeError(
            f"deterministic={on}, but this process's JAX backends already started with "
            f"deterministic={not on}: XLA reads its flags once per process; pass --deterministic "
            "to the launcher (or set deterministic: true in the sweep spec) instead"
        )
    os.environ["XLA_FLAGS"] = _flags(on)


def relaunch_deterministic() -> None:
    """Re-execute this very command with deterministic GPU ops on, unless they are: the
    launcher's way to turn them on once importing rlscale has started JAX's backends."""
    if deterministic():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, {**os.environ, "XLA_FLAGS": _flags(True)})
