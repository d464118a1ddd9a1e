"""A group's run axis split over every local device, in ONE compiled program.

When a group has at least as many runs as there are local devices, its vmapped inputs are placed
with a NamedSharding over a 1-D mesh ('runs') and jit partitions the one program: each device
holds len(runs) / n_devices of every state leaf. A run count that does not divide is padded with
copies of the last run, whose rows are dropped (a log line says so). Runs are independent under
vmap, so a sharded group's metrics are the single-device run's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "runs"


@dataclasses.dataclass(frozen=True)
class RunSharding:
    sharding: NamedSharding  # leading (run) axis split over the mesh, the rest replicated
    n_runs: int  # the group's own runs
    padded: int  # runs the program computes: n_runs rounded up to a multiple of the devices

    @property
    def n_devices(self) -> int:
        return self.sharding.mesh.size

    def jit_options(self) -> dict[str, Any]:
        """jit keywords for (init, chunk): state in and out split over runs; chunk's iteration
        and evaluate flag (training.loop.make_chunk) not."""
        return {
            "init": {"out_shardings": self.sharding},
            "chunk": {
                "in_shardings": (self.sharding, None, None),
                "out_shardings": (self.sharding, self.sharding),
            },
        }

    def place(self, tree: Any) -> Any:
        """Pad the leading axis with copies of the last run, then split it over the devices."""
        extra = self.padded - self.n_runs

        def pad(x: jax.Array) -> jax.Array:
            if extra:
                x = jax.numpy.concatenate([x, jax.numpy.repeat(x[-1:], extra, axis=0)])
            return jax.device_put(x, self.sharding)

        return jax.tree.map(pad, tree)

    def unpad(self, tree: Any) -> Any:
        """The group's own runs' rows of host arrays (padded runs' rows dropped)."""
        return jax.tree.map(lambda x: np.asarray(x)[: self.n_runs], tree)


def spans_devices(n_runs: int, n_devices: int | None = None) -> bool:
    """Whether a group of `n_runs` is split over the local devices (at least one run each)."""
    n_devices = jax.local_device_count() if n_devices is None else n_devices
    return n_devices > 1 and n_runs >= n_devices


def for_group(n_runs: int) -> RunSharding | None:
    """The run sharding of a group of `n_runs` over every local device; None on one device or
    for a group with fewer runs than devices (run_local gives those one device each)."""
    if not spans_devices(n_runs):
        return None
    devices = jax.local_devices()
    padded = math.ceil(n_runs / len(devices)) * len(devices)
    mesh = Mesh(np.array(devices), (AXIS,))
    what = (
        f"padded with {padded - n_runs} copies of the last run (their rows are dropped)"
        if padded > n_runs
        else "no padding"
    )
    print(
        f"group of {n_runs} runs sharded over {len(devices)} {devices[0].platform} devices "
        f"({padded // len(devices)} runs each): {what}",
        flush=True,
    )
    return RunSharding(NamedSharding(mesh, PartitionSpec(AXIS)), n_runs, padded)


def per_device_runs(n_runs: int, n_devices: int) -> int:
    """Runs one device holds when a group of `n_runs` is planned over `n_devices` devices."""
    return math.ceil(n_runs / n_devices) if spans_devices(n_runs, n_devices) else n_runs
