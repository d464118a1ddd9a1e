"""What mid-run checkpoints cost (not CI):

    python benchmarks/checkpoint_overhead.py --spec sweeps/quickstart.yaml --checkpoint-every 1000

1. Each group of the sweep spec trained twice, without checkpoints and with them every
   `--checkpoint-every` env steps; wall time of the chunks (compile excluded) of both.
2. One save of a group state holding a replay buffer of `--buffer` transitions of a 67-dim
   observation (a DMC humanoid's) per run: the seconds training waits (the copy to the host and
   the CRC; orbax writes the files in the background) and until the files are complete.

The overhead at the default interval (checkpoint_every 0: one checkpoint per CHECKPOINT_SECONDS
of training) is the blocking seconds of one save over that interval. Writes, via
`rlscale.provenance`, `benchmarks/results/checkpoint_overhead/<spec>.json` and `.md`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from rlscale import replay
from rlscale.provenance import write_result
from rlscale.sweeps.execute import plan
from rlscale.sweeps.spec import load_sweep
from rlscale.training.checkpoint import CHECKPOINT_SECONDS, GroupCheckpoints
from rlscale.training.group import Group
from rlscale.training.runner import run_group
from rlscale.types import Transition

RESULTS = Path(__file__).resolve().parent / "results" / "checkpoint_overhead"


def _with_interval(group: Group, every: int) -> Group:
    runs = [type(run)({**run.config, "checkpoint_every": every}) for run in group.runs]
    return Group(tuple(runs))


def train_both(group: Group, every: int, folder: Path) -> dict:
    """Chunk wall seconds of `group` without and with checkpoints every `every` env steps (the
    same compiled program: the split is the same in both)."""
    group = _with_interval(group, every)
    plain = run_group(group, progress=False).train_seconds
    checkpoints = GroupCheckpoints([folder / run.run_id for run in group.runs], every)
    saved = run_group(group, progress=False, checkpoints=checkpoints).train_seconds
    checkpoints.close()
    checkpoints.delete()
    return {"runs": len(group.runs), "utd": group.loop.utd, "plain_s": plain, "saved_s": saved}


def large_buffer_save(capacity: int, runs: int, folder: Path) -> dict:
    """Seconds one save of `runs` full replay buffers of `capacity` 67-dim transitions (and
    their RNG keys) blocks training, and seconds until every file is written."""
    example = Transition(jnp.zeros(67), jnp.zeros(21), jnp.zeros(()), jnp.zeros(67), jnp.zeros(()))
    buffer = replay.init(example, capacity)
    # A full buffer of noise: zeros would compress to nothing and time nothing.
    keys = iter(jax.random.split(jax.random.key(0), 8))
    data = jax.tree.map(lambda x: jax.random.normal(next(keys), (runs, *x.shape)), buffer.data)
    state = jax.block_until_ready(
        {"buffer": data, "key": jax.random.split(jax.random.key(1), runs)}
    )
    checkpoints = GroupCheckpoints([folder / f"run{i}" for i in range(runs)], 1)
    start = time.perf_counter()
    checkpoints.save(1, 1, state, [], 0.0)
    blocking = time.perf_counter() - start
    checkpoints.close()
    total = time.perf_counter() - start
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    checkpoints.delete()
    return {
        "capacity": capacity,
        "runs": runs,
        "blocking_s": blocking,
        "written_s": total,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", default="sweeps/quickstart.yaml")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=0, help="only the first N groups (0: all)")
    parser.add_argument("--buffer", type=int, default=1_000_000)
    parser.add_argument("--buffer-runs", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rlscale-ckpt-bench-"))
    groups = plan(load_sweep(args.spec))
    groups = groups[: args.groups] if args.groups else groups
    trained = [train_both(g, args.checkpoint_every, folder) for g in groups]
    plain, saved = sum(t["plain_s"] for t in trained), sum(t["saved_s"] for t in trained)
    large = large_buffer_save(args.buffer, args.buffer_runs, folder)
    shutil.rmtree(folder, ignore_errors=True)
    default = large["blocking_s"] / CHECKPOINT_SECONDS
    table = "\n".join(
        [
            f"Checkpoint overhead: {args.spec} ({len(groups)} groups), checkpoint_every "
            f"{args.checkpoint_every}; one save of {large['runs']} run(s) with a "
            f"{large['capacity']:,}-transition 67-dim replay buffer.",
            "",
            "| measurement | value |",
            "|---|---|",
            f"| sweep chunks without checkpoints | {plain:.1f} s |",
            f"| sweep chunks with checkpoints | {saved:.1f} s ({saved / plain - 1:+.1%}) |",
            f"| large buffer: checkpoint size | {large['bytes'] / 2**30:.2f} GiB |",
            f"| large buffer: training blocked per save | {large['blocking_s']:.2f} s |",
            f"| large buffer: files complete after | {large['written_s']:.2f} s |",
            f"| large buffer: overhead at the default ({CHECKPOINT_SECONDS:.0f} s) interval | "
            f"{default:.2%} |",
        ]
    )
    data = {"groups": trained, "large_buffer": large, "default_overhead": default}
    name = Path(args.spec).stem
    print(table)
    print(write_result(RESULTS, name, {"args": vars(args), **data}, table))


if __name__ == "__main__":
    main()
