"""What each seed extra changes on jax:pendulum at small width (not CI):

    python benchmarks/extras_pendulum.py --steps 6000 --seeds 4

SAC at width 64 against the same SAC with Normalize-and-Project (`nap`), the semi-gradient Huber
loss and the saddle-point Huber loss (rlscale.losses.robust), in one process. Writes, via the one
result writer (`rlscale.provenance`), `benchmarks/results/extras/pendulum-<steps>.json` (every
variant's eval curve per seed) and `.md` (final return, mean and a 95% interval over seeds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import stats

from rlscale import config as rlconfig
from rlscale.provenance import write_result
from rlscale.training.train import train

BASE = {"critic_width": 64, "actor_width": 64, "learning_rate": 1e-3, "batch_size": 64}
VARIANTS = {
    "sac": {},
    "sac + nap": {"nap": True},
    "sac + huber (semi-gradient)": {"value_loss": "huber", "huber_delta": 10.0},
    "sac + huber (saddle point)": {
        "value_loss": "huber",
        "robust": "saddle_point",
        "huber_delta": 10.0,
    },
}
RESULTS = Path(__file__).resolve().parent / "results" / "extras"


def interval(values: np.ndarray) -> tuple[float, float]:
    """95% t-interval of the mean over seeds."""
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    curves, rows = {}, []
    for name, extra in VARIANTS.items():
        run = rlconfig.resolve({**BASE, "steps": args.steps, "warmup_steps": 500, **extra})
        start = time.perf_counter()
        frame, _ = train(run, args.seeds, progress=False)
        minutes = (time.perf_counter() - start) / 60
        returns = frame[frame["metric"] == "eval/return"]
        curve = returns.pivot(index="env_steps", columns="seed", values="value")
        curves[name] = {"config": run, "eval_return": curve.reset_index().to_dict(orient="list")}
        final = curve.iloc[-1].to_numpy()
        low, high = interval(final)
        rows.append(f"| {name} | {final.mean():.0f} | [{low:.0f}, {high:.0f}] | {minutes:.1f} |")
        print(f"{name:30s} {final.mean():8.1f}  95% CI [{low:.0f}, {high:.0f}]", flush=True)
    table = "\n".join(
        [
            f"Final eval return on jax:pendulum after {args.steps} env steps, width 64, "
            f"{args.seeds} seeds (mean, 95% t-interval over seeds).",
            "",
            "| variant | final return | 95% CI | minutes |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    write_result(RESULTS, f"pendulum-{args.steps}", {"curves": curves}, table)


if __name__ == "__main__":
    main()
