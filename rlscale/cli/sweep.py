"""`rlscale sweep` and `rlscale status`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlscale.sweeps import estimate, execute, store
from rlscale.sweeps.spec import load_sweep

DETERMINISTIC = (
    "deterministic GPU ops for this process (XLA flag; also the spec key `deterministic: true`), "
    "recorded in every run's config"
)


def register(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="run a sweep spec (YAML); resumes where it stopped")
    sweep.add_argument("spec", help="sweep spec, e.g. sweeps/quickstart.yaml")
    sweep.add_argument("--out", help="sweep directory (default runs/<name>)")
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="print runs, groups and their cost (updates, FLOPs); run nothing",
    )
    sweep.add_argument(
        "--throughput",
        metavar="DIR|FLOPS",
        help="dry run: convert FLOPs to device-hours at the rate a finished sweep "
        "DIR achieved on the target device (or a FLOP/s number)",
    )
    sweep.add_argument("--executor", choices=("local", "ray"), default="local")
    sweep.add_argument("--address", help="Ray cluster address ('auto' joins a running one)")
    sweep.add_argument("--cpus-per-job", type=float, default=1.0, help="Ray: CPUs per job")
    sweep.add_argument("--gpus-per-job", type=float, default=0.0, help="Ray: GPUs (fractional ok)")
    sweep.add_argument("--max-retries", type=int, default=3, help="Ray: reruns of a dead job")
    sweep.add_argument(
        "--memory-gb",
        type=float,
        help="memory one job may use; groups are split to fit (default: the "
        "local device's memory, or half the RAM on CPU; Ray: no split)",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bars")
    sweep.add_argument("--deterministic", action="store_true", help=DETERMINISTIC)
    sweep.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep each run's last checkpoints once its group finished (default: deleted)",
    )
    sweep.set_defaults(func=_sweep)
    status = commands.add_parser("status", help="state of each run of a sweep directory")
    status.add_argument("sweep_dir", help="e.g. runs/quickstart")
    status.set_defaults(func=_status)


def _sweep(args: argparse.Namespace) -> int:
    from rlscale.training import precision

    # validates everything before anything is written
    sweep = load_sweep(args.spec, args.deterministic or precision.deterministic() or None)
    if any(run.config["deterministic"] for run in sweep.runs):
        precision.relaunch_deterministic()  # XLA reads its flags once per process
    root = Path(args.out or Path("runs") / sweep.name)
    memory = execute.memory_budget(args.memory_gb, ray=args.executor == "ray")
    groups = execute.plan(sweep, memory)
    if args.dry_run:
        rate, where = estimate.throughput(args.throughput) if args.throughput else (None, "")
        print("\n".join(estimate.plan_lines(sweep, groups, root)))
        table = estimate.costs(groups)
        print("\n".join(estimate.describe(table, rate, where)))
        print("\n".join(estimate.checkpoint_lines(groups, table, rate)))
        return 0
    options = None
    if args.executor == "ray":
        options = execute.RayOptions(
            args.address, args.cpus_per_job, args.gpus_per_job, args.max_retries
        )
    print(f"sweep {sweep.name}: {len(sweep.runs)} runs in {len(groups)} groups -> {root}")
    for run_id, why in store.corrupt_runs(root, sweep).items():
        print(f"re-queued corrupt run {run_id}: {why}")
    try:
        with execute.stop_on_signals():
            todo = execute.run_sweep(
                sweep, root, memory, options, not args.quiet, groups, args.keep_checkpoints
            )
    except execute.SweepInterrupted as stop:
        print(f"stopped by {stop}: unfinished runs are marked interrupted; rerun to resume")
        return 128 + stop.signum
    print(f"{len(groups) - len(todo)} groups were already finished")
    return _print_summary(root)


def _print_summary(root: Path) -> int:
    """One line of run counts per state; exit 1 unless every run finished."""
    counts = store.summary(root).state.value_counts()
    print(", ".join(f"{count} {state}" for state, count in counts.items()))
    return 0 if set(counts.index) <= set(store.FINISHED) else 1


def _status(args: argparse.Namespace) -> int:
    print(store.summary(Path(args.sweep_dir)).to_string(index=False))
    _print_summary(Path(args.sweep_dir))
    return 0
