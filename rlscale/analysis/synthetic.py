"""Synthetic sweeps with known scaling laws, for tests and for trying the analysis without training.

Each seed's return curve is r(t) = low + (high - low)·(1 - exp(-t/τ)) plus noise; τ is set so that
the noise-free curve crosses `reference` (on the 0–1000 scale) after exactly D(σ) env steps, times
a quadratic penalty in log B and log η around B*(σ) = b_one·σ^b_slope and η*(σ) = lr_one·σ^lr_slope.
So every threshold's crossing time is proportional to D(σ) at the best hyperparameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlscale import results


@dataclass(frozen=True)
class SyntheticLaw:
    """Ground truth: D(σ) = d_min + (beta/σ)^alpha at J = `reference`, B*(σ), η*(σ)."""

    d_min: float = 2e4
    beta: float = 3e4 ** (1 / 0.8)
    alpha: float = 0.8
    reference: float = 800.0
    b_one: float = 256.0
    b_slope: float = -0.3
    lr_one: float = 1e-3
    lr_slope: float = -0.25
    penalty: float = 0.3
    env_scale: dict[str, float] = field(default_factory=lambda: {"jax:pendulum": 1.0})

    def data(self, utd: np.ndarray | float) -> np.ndarray:
        return self.d_min + (self.beta / np.asarray(utd, float)) ** self.alpha


@dataclass(frozen=True)
class SyntheticRuns:
    """How each config is run: seeds, length and eval interval (env steps), noise, raw scale."""

    seeds: int = 4
    steps: int = 100_000
    eval_every: int = 1000
    noise: float = 20.0  # std of the per-eval return noise, on the 0–1000 scale
    bounds: tuple[float, float] = (-1500.0, 0.0)  # raw returns of 0 and 1000 (pendulum)
    rng_seed: int = 0


def sweep_frame(
    law: SyntheticLaw,
    utds: list[float],
    batch_sizes: list[float],
    learning_rates: list[float],
    runs: SyntheticRuns = SyntheticRuns(),
) -> pd.DataFrame:
    """Long-format metrics of `results.RUN_COLUMNS` + `POINT_COLUMNS` for a σ x B x η x seed grid.

    Args:
        law: the ground truth. utds, batch_sizes, learning_rates: the grid.
        runs: seeds, run length, eval interval, noise and raw return scale.

    Returns:
        Frame with eval/return, compute/flops_per_update, compute/flops, model/critic_params rows.
    """
    rng = np.random.default_rng(runs.rng_seed)
    rate = -np.log(1.0 - law.reference / 1000.0)
    frames = []
    for env in law.env_scale:
        for utd, batch, lr in itertools.product(utds, batch_sizes, learning_rates):
            miss_b = np.log(batch / (law.b_one * utd**law.b_slope))
            miss_lr = np.log(lr / (law.lr_one * utd**law.lr_slope))
            tau = law.env_scale[env] * float(law.data(utd)) / rate
            tau *= 1.0 + law.penalty * (miss_b**2 + miss_lr**2)
            run = {
                "agent": "sac",
                "env": env,
                "utd": utd,
                "batch_size": batch,
                "critic_width": 256,
                "learning_rate": lr,
            }
            frames += [
                _run_rows(run | {"seed": seed}, tau, runs, rng) for seed in range(runs.seeds)
            ]
    return pd.concat(frames, ignore_index=True)


def _run_rows(run: dict, tau: float, runs: SyntheticRuns, rng: np.random.Generator) -> pd.DataFrame:
    """All logged metrics of one run whose noise-free normalised return is 1000(1 - e^(-t/τ))."""
    t = np.arange(runs.eval_every, runs.steps + 1, runs.eval_every, dtype=float)
    score = 1000.0 * (1.0 - np.exp(-t / tau)) + rng.normal(0.0, runs.noise, len(t))
    low, high = runs.bounds
    updates = run["utd"] * t
    flops_per_update = 10.0 * 5e4 * run["batch_size"] * 1.1  # ~10·N·B plus 10% XLA overhead
    logged = {
        "eval/return": low + (high - low) * score / 1000.0,
        "compute/flops": updates * flops_per_update,
        "compute/flops_per_update": np.full(len(t), flops_per_update),
        "model/critic_params": np.full(len(t), 5e4),
    }
    run_id = "-".join(str(run[k]) for k in ("env", "utd", "batch_size", "learning_rate", "seed"))
    return pd.concat(
        [
            pd.DataFrame(
                {
                    **run,
                    "run_id": run_id,
                    "env_steps": t,
                    "updates": updates,
                    "wall_time": t / 1e4,
                    "metric": metric,
                    "value": value,
                }
            )
            for metric, value in logged.items()
        ]
    )


def write_sweep(frame: pd.DataFrame, root: str | Path) -> Path:
    """Write one rlscale run dir per run_id under `root` (metrics.parquet + status.json)."""
    root = Path(root)
    for run_id, run in frame.groupby("run_id"):
        run_dir = root / str(run_id)
        results.write_metrics(run.reset_index(drop=True), run_dir / results.METRICS_FILE)
        results.write_status(run_dir / results.STATUS_FILE, {"state": "done"})
    return root
