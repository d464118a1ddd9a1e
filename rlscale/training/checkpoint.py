"""Mid-run checkpoints of a vmapped group, stored per run with orbax.

Each run of a group has its own orbax directory (`<run dir>/checkpoints/<env steps>/`) holding
its slice of the runner state (parameters, optimiser states, hyperparameters, replay buffer, RNG
keys, env states, observer statistics) and a JSON record (the iteration counter, the wall clock,
the metrics rows so far, a CRC of the state's bytes). A group restores by stacking its runs'
slices, so a checkpoint restores whatever group, device count or sharding the runs land in next.

Writes are atomic through orbax's own finalisation (a temporary directory renamed once complete)
and asynchronous: training goes on while the files are written. Each run keeps its last `keep`
checkpoints (at least 2, so a kill between two runs' writes leaves a step every run has).
"""

from __future__ import annotations

import dataclasses
import shutil
import zlib
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

CHECKPOINT_DIR = "checkpoints"  # also named in rlscale.sweeps.store (which imports no JAX)
CHECKPOINT_SECONDS = 300.0  # checkpoint_every 0 (auto): wall seconds between two checkpoints


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(x, "dtype", np.float32), jax.dtypes.prng_key)


def to_host(state: Any) -> Any:
    """The state as numpy arrays; new-style PRNG keys as their raw key data (orbax stores arrays
    of standard dtypes only)."""
    raw = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, state)
    return jax.tree.map(np.asarray, jax.device_get(raw))


def like(template: Any, host: Any) -> Any:
    """`host` (from `to_host`) as device arrays placed like `template`, keys re-wrapped."""

    def place(t: jax.Array, x: np.ndarray) -> jax.Array:
        if _is_key(t):
            x = jax.random.wrap_key_data(x, impl=jax.random.key_impl(t))
            return jax.device_put(x, t.sharding)
        return jax.device_put(x.astype(t.dtype), t.sharding)

    return jax.tree.map(place, template, host)


def crc(tree: Any) -> int:
    """A CRC-32 of every leaf's bytes: orbax does not checksum array data."""
    value = 0
    for leaf in jax.tree.leaves(tree):
        value = zlib.crc32(np.ascontiguousarray(leaf).tobytes(), value)
    return value


@dataclasses.dataclass
class Restored:
    state: Any  # host arrays, leading axis = run
    iterations: int
    wall: float
    rows: list[dict]  # every run's rows, run by run


class GroupCheckpoints:
    """The checkpoints of one group's runs: save at a chunk boundary, restore the newest step
    every run has intact, delete once the group finished."""

    def __init__(self, dirs: list[Path], every: int, keep: int = 2, log=print):
        self.dirs, self.every, self.log = [Path(d) / CHECKPOINT_DIR for d in dirs], every, log
        options = ocp.CheckpointManagerOptions(max_to_keep=max(keep, 2), create=True)
        self.managers = [ocp.CheckpointManager(d, options=options) for d in self.dirs]
        self.damaged: list[str] = []  # what restore found damaged, for the runs' status

    def due(self, env_steps: int, total_steps: int, since_last: float) -> bool:
        """Whether to checkpoint after `env_steps` (never after the last chunk: results follow)."""
        if env_steps >= total_steps:
            return False
        if self.every:
            return env_steps % self.every == 0
        return since_last >= CHECKPOINT_SECONDS

    def save(self, env_steps: int, iterations: int, state: Any, rows: list[dict], wall: float):
        """Start writing every run's slice of `state` (returns once the data is on the host)."""
        host = to_host(state)
        for index, manager in enumerate(self.managers):
            one = jax.tree.map(lambda x: x[index], host)  # noqa: B023
            run_id = self.dirs[index].parent.name
            meta = {
                "env_steps": env_steps,
                "iterations": iterations,
                "wall": wall,
                "crc32": crc(one),
                "rows": [row for row in rows if row["run_id"] == run_id],
            }
            args = ocp.args.Composite(
                state=ocp.args.StandardSave(one), meta=ocp.args.JsonSave(meta)
            )
            manager.save(env_steps, args=args)

    def restore(self, template: Any, segment_iterations: int) -> Restored | None:
        """The newest step every run has a sound checkpoint of (a damaged one is reported and
        an older step tried), or None: start from step 0."""
        self.damaged = []
        steps = set.intersection(*(set(m.all_steps()) for m in self.managers))
        one = jax.tree.map(lambda x: np.zeros(x.shape[1:], x.dtype), to_host(template))
        for step in sorted(steps, reverse=True):
            pairs = zip(self.managers, self.dirs, strict=True)
            runs = [self._restore_one(m, d, step, one) for m, d in pairs]
            if any(r is None for r in runs):
                continue
            metas = [meta for _, meta in runs]
            if metas[0]["iterations"] % segment_iterations:
                self.log(f"checkpoint at {step} env steps does not fit this chunking; skipped")
                continue
            state = jax.tree.map(lambda *xs: np.stack(xs), *[s for s, _ in runs])
            rows = [row for meta in metas for row in meta["rows"]]
            return Restored(state, metas[0]["iterations"], metas[0]["wall"], rows)
        if steps or self.damaged:
            self.log("no sound checkpoint every run of the group has: starting from step 0")
        return None

    def _restore_one(self, manager, path: Path, step: int, one: Any):
        args = ocp.args.Composite(state=ocp.args.StandardRestore(one), meta=ocp.args.JsonRestore())
        try:
            restored = manager.restore(step, args=args)
            state, meta = restored.state, restored.meta
            if crc(state) != meta["crc32"]:
                raise ValueError("its arrays fail their CRC-32")
        except Exception as error:  # any damage: fall back, never crash the resume
            why = f"{path / str(step)} is damaged ({type(error).__name__}: {error})"
            self.damaged.append(why)
            self.log(f"checkpoint {why}; falling back to an older one")
            return None
        return state, meta

    def close(self) -> None:
        """Wait for the writes in flight."""
        for manager in self.managers:
            manager.wait_until_finished()
            manager.close()

    def delete(self) -> None:
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)
