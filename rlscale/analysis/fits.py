"""P1 data efficiency D_J(σ) = D_min + (β/σ)^α (Rybkin et al. 2025 §2.1; qscaled `power_law.py`,
`fitted/data_efficiency.py`).

As in qscaled the fit is made on median-normalised, env-averaged crossing times y(σ) with the form
y = c + (σ/b)^(-a), by a 5x5x5 brute grid followed by L-BFGS-B from every grid point (linear MSE).
With m the median of the env medians, D_J(σ) = m·y(σ): D_min = m·c, α = a, β = b·m^(1/a).

Unlike qscaled, the fit stays in the physical domain: c ≥ 0 (D_min ≥ 0), a > 0, b > 0 are L-BFGS-B
bounds, and grid points outside them are clipped onto them. Every fit gets a `status`
(`status.assess`); bootstrap refits run the same grid on their own sample (from its best
BOOTSTRAP_TOP_K points), never starting at the point estimate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from rlscale.analysis import status
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.threads import one_blas_thread

# qscaled `fit_powerlaw`: brute grid over (a, b, c), then L-BFGS-B from the best `top_k` points.
BRUTE_RANGES = (slice(-2, 2, 0.8), slice(0, 1, 0.2), slice(-2, 2, 0.8))
BRUTE_TOP_K = 500
# The physical domain as L-BFGS-B bounds on (a, b, c): α > 0, b > 0 (its 1e-12 guard), D_min ≥ 0.
BOUNDS = ((1e-6, None), (1e-12, None), (0.0, None))
# Bootstrap refits: the grid on the sample itself, L-BFGS-B from its best few points only (the full
# 125 starts on 100 samples x 10 thresholds would take minutes on 2 cores).
BOOTSTRAP_TOP_K = 5
# The profile of the status check: which of (a, b, c) each judged parameter moves.
PROFILE_INDEX = {"alpha": 0, "b": 1, "D_min": 2}

__all__ = ["FitResult", "fit_data_efficiency", "fit_power_law", "paper_params"]


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters with bootstrap confidence intervals (`ci[name] = (low, high)`)."""

    form: str
    params: dict[str, float]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    loss: float = float("nan")
    info: dict = field(default_factory=dict)
    draws: pd.DataFrame | None = field(default=None, compare=False, repr=False)  # bootstrap refits
    status: str = "unassessed"  # status.OK, AT_BOUND or UNIDENTIFIED once `status.assess`ed
    status_reason: str = ""

    def to_json(self) -> dict:
        """{form, status, status_reason, loss, info, params: {name: {value, ci_low, ci_high}}}."""
        params = {}
        for name, value in self.params.items():
            low, high = self.ci.get(name, (float("nan"), float("nan")))
            params[name] = {"value": float(value), "ci_low": float(low), "ci_high": float(high)}
        return {
            "form": self.form,
            "status": self.status,
            "status_reason": self.status_reason,
            "loss": float(self.loss),
            "info": self.info,
            "params": params,
        }


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
    x: np.ndarray,
    y: np.ndarray,
    start: np.ndarray | None = None,
    top_k: int = BRUTE_TOP_K,
    fixed: tuple[int, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Least-squares fit of y = c + (x/b)^(-a) inside the domain a, b > 0, c ≥ 0, the qscaled way.

    Args:
        x: σ values, shape (n,). y: targets, shape (n,).
        start: if given, a single L-BFGS-B run from here (the status profile's refits) instead of
            the brute grid.
        top_k: L-BFGS-B runs from the best `top_k` grid points (qscaled: all 125).
        fixed: (index into (a, b, c), value) held fixed while the others are fitted.

    Returns:
        ((a, b, c), mean squared error).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    bounds = list(BOUNDS)
    if fixed is not None:
        bounds[fixed[0]] = (fixed[1], fixed[1])
    low = np.array([b[0] for b in bounds])
    high = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore", RuntimeWarning)
        if start is None:
            grid = np.mgrid[BRUTE_RANGES].reshape(3, -1).T
            # points outside the domain are clipped onto it (qscaled's grid reaches a, c < 0)
            points = np.unique(np.clip(grid, low, high), axis=0)
            losses = np.array([_mse(point, x, y) for point in points])
            order = np.argsort(np.nan_to_num(losses, nan=np.inf), kind="stable")
            starts = points[order[:top_k]]
        else:
            starts = [np.clip(np.asarray(start, float), low, high)]
        best, best_loss = np.full(3, np.nan), np.inf
        for point in starts:
            result = optimize.minimize(
                _mse_and_grad, point, args=(x, y), jac=True, method="L-BFGS-B", bounds=bounds
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
    """One D_J(σ) fit per threshold, with bootstrap CIs and a status.

    Args:
        times: all-seeds times; columns env, utd, threshold_index, threshold, time.
        samples: the same per bootstrap sample (extra column `sample`), or None for no CIs.
        ci: confidence level of the percentile intervals.

    Returns:
        threshold_index -> FitResult (params D_min, alpha, beta and the normalised a, b, c, m;
        status judged on D_min, alpha and b = β·m^(-1/α), the σ at which the power term equals
        the median data m; info["bootstrap"] counts the failed refits). Thresholds reached at
        fewer than 2 σ values are left out.

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
        x, y = rows["utd"].to_numpy(float), rows["y"].to_numpy(float)
        theta, loss = fit_power_law(x, y)
        threshold = float(times.loc[times["threshold_index"] == index, "threshold"].iloc[0])
        boot = _bootstrap(per_sample, index, ci)
        info = {"threshold": threshold, "utd": x.tolist(), "y": y.tolist(), **boot.info}
        params = paper_params(theta, median)
        verdict = status.assess(
            params,
            _domains(x, y, median),
            len(np.unique(x)),
            loss,
            lambda name, factor, x=x, y=y, theta=theta: _profile(x, y, theta, name, factor),
            boot.intervals,
            ci,
        )
        fits[int(index)] = FitResult(
            "D_J(σ) = D_min + (beta/σ)^alpha",
            params,
            boot.intervals or {},
            loss,
            info,
            boot.draws,
            *verdict,
        )
    if not fits:
        raise AnalysisError("no threshold was reached at 2 or more σ values: D_J(σ) not fitted")
    return fits


def _domains(x: np.ndarray, y: np.ndarray, median: float) -> dict[str, status.Domain]:
    """D_min ≥ 0 against the smallest observed D, α > 0, b against the tested σ range."""
    return {
        "D_min": status.floor(median * float(np.min(y)), "D (env steps)"),
        "alpha": status.exponent(),
        "b": status.scale(
            float(np.min(x)), float(np.max(x)), "σ", "b = β·m^(-1/α) (the σ where (β/σ)^α = m)"
        ),
    }


def _profile(x: np.ndarray, y: np.ndarray, theta: np.ndarray, name: str, factor: float) -> float:
    """The loss with one of D_min, alpha, b multiplied by `factor`, the others refitted."""
    index = PROFILE_INDEX[name]
    _, loss = fit_power_law(x, y, start=theta, fixed=(index, float(theta[index] * factor)))
    return loss


SampleTables = list[tuple[int, pd.DataFrame | None, float]]


def _sample_tables(samples: pd.DataFrame) -> SampleTables:
    """(sample id, `normalized_times`) of every bootstrap sample (None: nothing was reached)."""
    tables = []
    for sample_id, sample in samples.groupby("sample"):
        try:
            tables.append((int(sample_id), *normalized_times(sample)))
        except AnalysisError:
            tables.append((int(sample_id), None, np.nan))
    return tables


def _bootstrap(tables: SampleTables | None, index: int, ci: float) -> status.Refits:
    """Paper parameters refitted on each bootstrap sample from its own grid (not the point fit).

    A sample where the threshold was reached at fewer than 2 σ values counts as a failed refit.
    """

    def refit(data: tuple[pd.DataFrame | None, float]) -> dict | None:
        table, median = data
        if table is None:
            return None
        rows = table[table["threshold_index"] == index]
        if rows["utd"].nunique() < 2:
            return None
        fitted, loss = fit_power_law(rows["utd"], rows["y"], top_k=BOOTSTRAP_TOP_K)
        return paper_params(fitted, median) if np.isfinite(loss) else None

    samples = None if tables is None else [(i, (t, m)) for i, t, m in tables]
    return status.bootstrap_refits(samples, refit, ci)
