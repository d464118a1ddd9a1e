"""P1 data efficiency D_J(σ) = D_min + (β/σ)^α (Rybkin et al. 2025 §2.1; qscaled `power_law.py`,
`fitted/data_efficiency.py`).

As in qscaled the fit is made on median-normalised, env-averaged crossing times y(σ) with the form
y = c + (σ/b)^(-a), by a 5x5x5 brute grid followed by L-BFGS-B from every grid point (linear MSE).
With m the median of the env medians, D_J(σ) = m·y(σ): D_min = m·c, α = a, β = b·m^(1/a).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.threads import one_blas_thread

# qscaled `fit_powerlaw`: brute grid over (a, b, c), then L-BFGS-B from the best `top_k` points.
BRUTE_RANGES = (slice(-2, 2, 0.8), slice(0, 1, 0.2), slice(-2, 2, 0.8))
BRUTE_TOP_K = 500


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters with bootstrap confidence intervals (`ci[name] = (low, high)`)."""

    form: str
    params: dict[str, float]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    loss: float = float("nan")
    info: dict = field(default_factory=dict)
    draws: pd.DataFrame | None = field(default=None, compare=False, repr=False)  # bootstrap refits

    def to_json(self) -> dict:
        """{form, loss, info, params: {name: {value, ci_low, ci_high}}} with plain floats."""
        params = {}
        for name, value in self.params.items():
            low, high = self.ci.get(name, (float("nan"), float("nan")))
            params[name] = {"value": float(value), "ci_low": float(low), "ci_high": float(high)}
        return {"form": self.form, "loss": float(self.loss), "info": self.info, "params": params}


def power_law_with_const(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """qscaled `power_law_with_const`: c + (x/b)^(-a); the 1e-12 guards b = 0 on the brute grid."""
    return c + (x / (b + 1e-12)) ** (-a)


def _mse(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        loss = np.mean((power_law_with_const(x, *theta) - y) ** 2)
    return float(loss) if np.isfinite(loss) else np.inf


def _mse_and_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """MSE and its exact gradient: the same optimum as qscaled's finite differences, ~4x cheaper."""
    a, b, c = theta
    with np.errstate(all="ignore"):
        ratio = x / (b + 1e-12)
        power = ratio ** (-a)
        residual = 2.0 * (c + power - y) / len(x)
        loss = np.sum(residual**2) * len(x) / 4.0
        grad = np.array(
            [
                np.sum(residual * -power * np.log(ratio)),
                np.sum(residual * power * a / (b + 1e-12)),
                np.sum(residual),
            ]
        )
    if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
        return np.inf, np.zeros(3)
    return float(loss), grad


def fit_power_law(
    x: np.ndarray, y: np.ndarray, start: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Least-squares fit of y = c + (x/b)^(-a), the qscaled way.

    Args:
        x: σ values, shape (n,). y: targets, shape (n,).
        start: if given, a single L-BFGS-B run from here (used for the bootstrap refits, which
            start from the full-data optimum instead of re-running the 125-point grid).

    Returns:
        ((a, b, c), mean squared error).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore", RuntimeWarning)
        if start is None:
            _, _, grid, losses = optimize.brute(
                _mse, BRUTE_RANGES, args=(x, y), full_output=True, finish=None
            )
            points = grid.reshape(3, -1).T
            order = np.argsort(np.nan_to_num(losses.reshape(-1), nan=np.inf), kind="stable")
            starts = points[order[:BRUTE_TOP_K]]
        else:
            starts = [start]
        best, best_loss = np.full(3, np.nan), np.inf
        for point in starts:
            result = optimize.minimize(
                _mse_and_grad, point, args=(x, y), jac=True, method="L-BFGS-B"
            )
            if np.isfinite(result.fun) and result.fun < best_loss:
                best, best_loss = result.x, float(result.fun)
    return best, best_loss


def normalized_times(times: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Median-normalise each env and average over envs (qscaled `compute_normalized_times`).

    Args:
        times: columns env, utd, threshold_index, time (+inf = never reached).

    Returns:
        (frame with utd, threshold_index, y, n_envs; m = median of the env medians). Never-reached
        times are left out of the medians and of the env average.
    """
    finite = times[np.isfinite(times["time"])]
    if finite.empty:
        raise AnalysisError("no config reached any threshold: nothing to fit D_J(σ) on")
    medians = finite.groupby("env")["time"].median()
    scaled = finite.assign(y=finite["time"] / finite["env"].map(medians))
    table = scaled.groupby(["utd", "threshold_index"], as_index=False).agg(
        y=("y", "mean"), n_envs=("env", "nunique")
    )
    return table, float(np.median(medians))


def paper_params(theta: np.ndarray, median: float) -> dict[str, float]:
    """(a, b, c) of the normalised fit -> (D_min, α, β) of D_J(σ) = D_min + (β/σ)^α in env steps."""
    a, b, c = theta
    with np.errstate(all="ignore"):
        beta = b * median ** (1.0 / a)
    return {"D_min": median * c, "alpha": a, "beta": beta, "a": a, "b": b, "c": c, "m": median}


def fit_data_efficiency(
    times: pd.DataFrame, samples: pd.DataFrame | None = None, ci: float = 0.95
) -> dict[int, FitResult]:
    """One D_J(σ) fit per threshold, with bootstrap CIs.

    Args:
        times: all-seeds times; columns env, utd, threshold_index, threshold, time.
        samples: the same per bootstrap sample (extra column `sample`), or None for no CIs.
        ci: confidence level of the percentile intervals.

    Returns:
        threshold_index -> FitResult (params D_min, alpha, beta and the normalised a, b, c, m).
        Thresholds reached at fewer than 2 σ values are left out.

    Raises:
        AnalysisError: fewer than 2 σ values overall, or no threshold has 2 reached σ values.
    """
    if times["utd"].nunique() < 2:
        found = sorted(map(float, times["utd"].unique()))
        raise AnalysisError(f"D_J(σ) needs at least 2 σ values, got {found}")
    table, median = normalized_times(times)
    per_sample = _sample_tables(samples) if samples is not None else None
    fits = {}
    for index, rows in table.groupby("threshold_index"):
        if rows["utd"].nunique() < 2:
            continue
        theta, loss = fit_power_law(rows["utd"], rows["y"])
        threshold = float(times.loc[times["threshold_index"] == index, "threshold"].iloc[0])
        draws = _bootstrap_draws(per_sample, index, theta) if per_sample is not None else None
        fits[int(index)] = FitResult(
            "D_J(σ) = D_min + (beta/σ)^alpha",
            paper_params(theta, median),
            percentile_ci(draws, ci) if draws is not None else {},
            loss,
            {"threshold": threshold, "utd": rows["utd"].tolist(), "y": rows["y"].tolist()},
            draws,
        )
    if not fits:
        raise AnalysisError("no threshold was reached at 2 or more σ values: D_J(σ) not fitted")
    return fits


def _sample_tables(samples: pd.DataFrame) -> list[tuple[int, pd.DataFrame, float]]:
    """(sample id, `normalized_times`) of every bootstrap sample that reached anything."""
    tables = []
    for sample_id, sample in samples.groupby("sample"):
        try:
            tables.append((int(sample_id), *normalized_times(sample)))
        except AnalysisError:
            continue
    return tables


def _bootstrap_draws(
    tables: list[tuple[int, pd.DataFrame, float]], index: int, theta: np.ndarray
) -> pd.DataFrame:
    """Paper parameters refitted on each bootstrap sample (warm-started at `theta`)."""
    draws = []
    for sample_id, table, median in tables:
        rows = table[table["threshold_index"] == index]
        if rows["utd"].nunique() < 2:
            continue
        fitted, _ = fit_power_law(rows["utd"], rows["y"], start=theta)
        draws.append({"sample": sample_id, **paper_params(fitted, median)})
    return pd.DataFrame(draws)


def percentile_ci(draws: pd.DataFrame, ci: float) -> dict[str, tuple[float, float]]:
    """name -> (low, high) percentile interval of each column, ignoring non-finite draws."""
    tail = 100.0 * (1.0 - ci) / 2.0
    out = {}
    for name in draws.columns.drop("sample", errors="ignore"):
        values = draws[name].to_numpy(float)
        values = values[np.isfinite(values)]
        if len(values):
            out[name] = (
                float(np.percentile(values, tail)),
                float(np.percentile(values, 100 - tail)),
            )
    return out
