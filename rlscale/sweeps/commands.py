"""`rlscale sweep` and `rlscale status`: parse, call rlscale.sweeps, print."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rlscale.config import ConfigError
from rlscale.sweeps import estimate, execute, store
from rlscale.sweeps.plan import Group
from rlscale.sweeps.spec import Sweep, load_sweep


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `sweep` and `status` subcommands to the `rlscale` parser."""
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
    sweep.set_defaults(func=_guarded(_sweep))
    status = commands.add_parser("status", help="state of each run of a sweep directory")
    status.add_argument("sweep_dir", help="e.g. runs/quickstart")
    status.set_defaults(func=_guarded(_status))


def _guarded(command):
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ConfigError as error:
            print(f"rlscale {args.command}: error: {error}", file=sys.stderr)
            return 2

    return run


def _memory_bytes(args: argparse.Namespace) -> float | None:
    if args.memory_gb is not None:
        return args.memory_gb * 2**30
    if args.executor == "ray":
        return None  # the driver cannot see the workers' devices
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2


def _describe(sweep: Sweep, groups: list[Group], root: Path) -> str:
    configs = [run.config for run in sweep.runs]
    varying = [k for k in configs[0] if len({str(c[k]) for c in configs}) > 1]
    lines = [
        f"sweep {sweep.name}: {len(sweep.runs)} runs in {len(groups)} compiled groups -> {root}"
    ]
    for index, group in enumerate(groups):
        static = group.static
        shown = " ".join(f"{k}={static[k]}" for k in varying if k in static)
        lines.append(
            f"group {index}: {len(group.runs)} runs, {static['agent']} on "
            f"{static['env']}, {static['steps']} steps  {shown}"
        )
        for run in group.runs:
            dynamic = " ".join(f"{k}={run.config[k]}" for k in varying if k not in static)
            state = store.state(root, run.run_id) or "pending"
            lines.append(f"  {run.run_id}  {dynamic}  [{state}]")
    return "\n".join(lines)


def _cost(groups: list[Group], throughput: str | None) -> list[str]:
    table = estimate.costs(groups)
    rate, where = None, ""
    if throughput is not None:
        try:
            rate = float(throughput)
        except ValueError:
            rate, where = estimate.measured_rate(throughput), f" by {throughput}"
    return estimate.describe(table, rate, where)


def _sweep(args: argparse.Namespace) -> int:
    sweep = load_sweep(args.spec)  # validates everything before anything is written
    root = Path(args.out or Path("runs") / sweep.name)
    groups = execute.plan(sweep, _memory_bytes(args))
    if args.dry_run:
        print(_describe(sweep, groups, root))
        print("\n".join(_cost(groups, args.throughput)))
        return 0
    options = None
    if args.executor == "ray":
        options = execute.RayOptions(
            args.address, args.cpus_per_job, args.gpus_per_job, args.max_retries
        )
    print(f"sweep {sweep.name}: {len(sweep.runs)} runs in {len(groups)} groups -> {root}")
    todo = execute.run_sweep(sweep, root, _memory_bytes(args), options, not args.quiet)
    print(f"{len(groups) - len(todo)} groups were already finished")
    return _print_summary(root)


def _print_summary(root: Path) -> int:
    table = store.summary(root)
    counts = table.state.value_counts()
    print(", ".join(f"{count} {state}" for state, count in counts.items()))
    return 0 if set(counts.index) <= set(store.FINISHED) else 1


def _status(args: argparse.Namespace) -> int:
    table = store.summary(Path(args.sweep_dir))
    print(table.to_string(index=False))
    _print_summary(Path(args.sweep_dir))
    return 0
