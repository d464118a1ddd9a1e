"""Compute, the data–compute frontier and budget-optimal σ (P1 §2.2–2.4; qscaled
`fitted/data_efficiency.py::_plot_compute_vs_data`, `fitted/budget.py`).

C_J(σ) = (FLOPs per env step at σ)·D_J(σ), where FLOPs per env step = q·B(σ)·σ: q = 10·N for the
papers' formula, or the XLA-counted FLOPs per sample of rlscale runs. With budget F = C + δ·D,
σ*_J = argmin over 100 log-spaced σ in the tested range; then log10 σ* = s·log10 F* + log10 k is
fitted on all thresholds but the top `holdout` ones, which are predicted as an extrapolation test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.fits import FitResult
from rlscale.analysis.hparams import HparamFit
from rlscale.analysis.load import CONFIG_COLUMNS


@dataclass(frozen=True)
class ComputeModel:
    """FLOPs per env step at σ: `per_sample`·B(σ)·σ (C = 10·N·B·σ·D in the papers).

    B(σ) is the env-mean of `batch` (qscaled `get_fit_mean_batch_size`).
    """

    per_sample: float
    batch: HparamFit
    source: str  # "flops" (measured by rlscale) or "formula"

    def per_env_step(self, utd: np.ndarray) -> np.ndarray:
        return self.per_sample * self.batch.mean_over_envs(utd) * np.asarray(utd, float)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "flops_per_sample": self.per_sample,
            "batch_size": {
                "name": self.batch.name,
                "slope": self.batch.slope,
                "intercept": self.batch.intercept,
            },
        }


def flops_per_sample(tidy: pd.DataFrame) -> float | None:
    """Median over runs of the XLA FLOPs of one update divided by its batch size, if recorded."""
    rows = tidy[tidy["metric"] == "compute/flops_per_update"]
    if rows.empty:
        return None
    per_run = rows.groupby([*CONFIG_COLUMNS, "seed"], dropna=False).agg(
        flops=("value", "median"), batch=("batch_size", "first")
    )
    return float(np.median(per_run["flops"] / per_run["batch"]))


def observed_compute(tidy: pd.DataFrame, times: pd.DataFrame, compute: ComputeModel) -> pd.Series:
    """Compute spent by each config up to its crossing time.

    Recorded cumulative `compute/flops` at the crossing step (seed mean) where the runs logged it,
    else the model's FLOPs per env step at the config's own batch size: q·B·σ·D.

    Args:
        tidy: tidy frame. times: rows with CONFIG_COLUMNS and `time` (env steps, may be inf).
        compute: the compute model.

    Returns:
        Series aligned with `times` (NaN where the threshold was never reached).
    """
    formula = compute.per_sample * times["batch_size"] * times["utd"] * times["time"]
    flops = tidy[tidy["metric"] == "compute/flops"]
    if compute.source != "flops" or flops.empty:
        return formula.where(np.isfinite(times["time"]))
    mean = flops.groupby([*CONFIG_COLUMNS, "env_steps"], dropna=False)["value"].mean()
    mean = mean.rename("recorded").reset_index().rename(columns={"env_steps": "time"})
    merged = times[[*CONFIG_COLUMNS, "time"]].merge(mean, on=[*CONFIG_COLUMNS, "time"], how="left")
    return pd.Series(merged["recorded"].to_numpy(), index=times.index)


def batch_line(utd: np.ndarray, batch: np.ndarray) -> HparamFit:
    """Log-log line through observed (σ, B): the batch size used when no B*(σ) fit exists."""
    utd, batch = np.asarray(utd, float), np.asarray(batch, float)
    if len(np.unique(utd)) < 2:
        slope, intercept = 0.0, float(np.mean(np.log10(batch)))
    else:
        slope, intercept = (float(v) for v in np.polyfit(np.log10(utd), np.log10(batch), 1))
    return HparamFit(
        "batch size of the selected configs (log-log line)", {"all": slope}, {"all": intercept}
    )


def constant_batch(batch: float) -> HparamFit:
    """B(σ) = batch for every σ (P2's budget code uses 256)."""
    return HparamFit("constant batch size", {"all": 0.0}, {"all": float(np.log10(batch))})


def data_curve(fit: FitResult, utd: np.ndarray) -> np.ndarray:
    """D_J(σ) in env steps from a P1 fit: m·(c + (σ/b)^(-a))."""
    p = fit.params
    with np.errstate(all="ignore"):
        return p["m"] * (p["c"] + (np.asarray(utd, float) / (p["b"] + 1e-12)) ** (-p["a"]))


def fitted_range(fit: FitResult, utd_range: tuple[float, float]) -> tuple[float, float]:
    """The σ range a D_J(σ) fit was made on, inside `utd_range` (all of it if not recorded)."""
    used = fit.info.get("utd")
    if not used:
        return float(utd_range[0]), float(utd_range[1])
    return max(float(min(used)), float(utd_range[0])), min(float(max(used)), float(utd_range[1]))


def frontier(
    fits: dict[int, FitResult],
    compute: ComputeModel,
    utd_range: tuple[float, float],
    delta: float,
    points: int = 100,
) -> pd.DataFrame:
    """The fitted (D, C, F) curve of every threshold on a log-spaced σ grid inside the tested range.

    The grid spans `utd_range`, narrowed per threshold to the σ values its fit used (info["utd"],
    when recorded): a threshold never reached at some tested σ has no data there, so its curve,
    and its budget optimum, stay where it was measured.

    Returns:
        Columns threshold_index, threshold, utd, data, compute, budget.
    """
    frames = []
    for index, fit in fits.items():
        low, high = fitted_range(fit, utd_range)
        grid = np.logspace(np.log10(low), np.log10(high), points)
        data = data_curve(fit, grid)
        compute_ = compute.per_env_step(grid) * data
        frames.append(
            pd.DataFrame(
                {
                    "threshold_index": index,
                    "threshold": fit.info["threshold"],
                    "utd": grid,
                    "data": data,
                    "compute": compute_,
                    "budget": compute_ + delta * data,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def budget_optima(curves: pd.DataFrame) -> pd.DataFrame:
    """Per threshold, the grid σ minimising F = C + δ·D.

    As qscaled `plot_compute_data_isoperformance`: an argmin on the grid, not a continuous optimum.
    """
    valid = curves[np.isfinite(curves["budget"]) & (curves["data"] > 0)]
    if valid.empty:
        raise AnalysisError("the fitted D_J(σ) curves are not positive anywhere: no budget optimum")
    best = valid.loc[valid.groupby("threshold_index")["budget"].idxmin()]
    return best.sort_values("threshold").reset_index(drop=True)


def budget_line(optima: pd.DataFrame, holdout: int) -> dict:
    """σ* = k·F^s fitted on all but the top `holdout` thresholds; held-out prediction errors.

    Returns:
        {coefficient k, exponent s, n_fit, holdout: [{threshold, budget, predicted, actual,
        relative_error}], data_vs_compute: {coefficient, exponent}} (D* = k'·C*^s').

    Raises:
        AnalysisError: fewer than 2 thresholds are left to fit.
    """
    optima = optima.sort_values("threshold")
    fitted = optima.iloc[: len(optima) - holdout] if holdout > 0 else optima
    if len(fitted) < 2:
        raise AnalysisError(
            f"σ*(F) needs 2+ fitted thresholds after holding out {holdout}, "
            f"have {len(fitted)}; add thresholds or lower budget.holdout_top_k"
        )
    exponent, intercept = np.polyfit(np.log10(fitted["budget"]), np.log10(fitted["utd"]), 1)
    held = optima.iloc[len(fitted) :]
    predicted = 10.0 ** (intercept + exponent * np.log10(held["budget"]))
    slope_dc, intercept_dc = np.polyfit(np.log10(optima["compute"]), np.log10(optima["data"]), 1)
    return {
        "coefficient": float(10.0**intercept),
        "exponent": float(exponent),
        "n_fit": len(fitted),
        "holdout": [
            {
                "threshold": float(t),
                "budget": float(f),
                "predicted": float(p),
                "actual": float(a),
                "relative_error": float(p / a - 1.0),
            }
            for t, f, p, a in zip(
                held["threshold"], held["budget"], predicted, held["utd"], strict=True
            )
        ],
        "data_vs_compute": {"coefficient": float(10.0**intercept_dc), "exponent": float(slope_dc)},
    }


def pareto_points(points: pd.DataFrame) -> pd.DataFrame:
    """Observed configs not dominated in (data, compute) within each threshold (both minimised)."""
    keep = []
    for _, rows in points[np.isfinite(points["data"])].groupby("threshold_index"):
        rows = rows.sort_values(["data", "compute"])
        best_compute = np.minimum.accumulate(rows["compute"].to_numpy())
        # a point survives if no point with less (or equal) data has strictly less compute
        previous = np.concatenate([[np.inf], best_compute[:-1]])
        keep.append(rows[rows["compute"].to_numpy() < previous])
    return pd.concat(keep, ignore_index=True) if keep else points.iloc[:0]
